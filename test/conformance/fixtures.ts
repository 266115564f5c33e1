import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { sha256 } from '../helpers/oci.ts';

/**
 * The suite's fixtures (conformance/setup.go and image.go of opencontainers/distribution-spec,
 * v1.1.x), built the same way: same structures, same field order and omitempty rules, and the
 * same encoding as Go's json.MarshalIndent(v, "", "\t") (byte slices as base64, the
 * non-omitempty `newUnspecifiedField` as `null` when unset). Digests are computed here, at
 * test time. Go seeds its random blobs from the Ginkgo seed; these use fresh random bytes.
 */

export interface TestBlob {
  content: Buffer;
  contentLength: string;
  digest: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  data?: Buffer;
  artifactType?: string;
  newUnspecifiedField?: Buffer;
}

export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** setup.go: a base64 encoding of a simple tarball (a gzipped tar of one text file). */
const LAYER_BASE64 =
  'H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0' +
  'WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD' +
  'jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA';

/**
 * In setup.go `numWorkflows` shares a const block with `pull = 1 << iota`, so it is 1<<4 = 16:
 * the suite builds 16 configs and 16 manifests (it uses indices 0 to 4).
 */
const NUM_WORKFLOWS = 16;

export const testTagName = 'tagtest0';
export const emptyLayerTestTag = 'emptylayer';
export const artifactTypeFilter = 'artifactType';
export const testAnnotationKey = 'org.opencontainers.conformance.test';
export const nonexistentManifest = '.INVALID_MANIFEST_NAME';
export const invalidManifestContent = Buffer.from('blablabla');
export const dummyDigest = sha256('hello world');

/** The error codes list of setup.go (its iota quirk also puts five "" entries first; see the report). */
export const errorCodes = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'MANIFEST_UNVERIFIED', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID',
  'TAG_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED',
] as const;

/** A descriptor as image.go's struct marshals it (field order, omitempty, base64 bytes). */
function descriptorJson(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = sortedKeys(d.annotations);
  if (d.data && d.data.length > 0) out.data = d.data.toString('base64');
  if (d.artifactType) out.artifactType = d.artifactType;
  out.newUnspecifiedField = d.newUnspecifiedField ? d.newUnspecifiedField.toString('base64') : null;
  return out;
}

interface ManifestSpec {
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

function manifestJson(m: ManifestSpec): Buffer {
  const out: Record<string, unknown> = { schemaVersion: 2 };
  if (m.mediaType) out.mediaType = m.mediaType;
  if (m.artifactType) out.artifactType = m.artifactType;
  out.config = descriptorJson(m.config);
  out.layers = m.layers.map(descriptorJson);
  if (m.subject) out.subject = descriptorJson(m.subject);
  if (m.annotations && Object.keys(m.annotations).length > 0) out.annotations = sortedKeys(m.annotations);
  return marshalIndent(out);
}

function indexJson(i: { artifactType?: string; manifests: Descriptor[]; subject?: Descriptor; annotations?: Record<string, string> }): Buffer {
  const out: Record<string, unknown> = { schemaVersion: 2, mediaType: INDEX_TYPE };
  if (i.artifactType) out.artifactType = i.artifactType;
  out.manifests = i.manifests.map(descriptorJson);
  if (i.subject) out.subject = descriptorJson(i.subject);
  if (i.annotations && Object.keys(i.annotations).length > 0) out.annotations = sortedKeys(i.annotations);
  return marshalIndent(out);
}

/** json.MarshalIndent(v, "", "\t") for the plain values used here (Go sorts map keys). */
function marshalIndent(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, '\t'));
}

function sortedKeys(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function testBlob(content: Buffer): TestBlob {
  return { content, contentLength: String(content.length), digest: sha256(content) };
}

/** setup.go randomString: crypto-random characters from the same alphabet. */
function randomString(n: number): string {
  const letters = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-';
  return Array.from({ length: n }, () => letters[randomInt(letters.length)]).join('');
}

function manifestDescriptor(m: TestBlob): Descriptor {
  return { mediaType: MANIFEST_TYPE, size: m.content.length, digest: sha256(m.content) };
}

export function buildFixtures() {
  const configs: TestBlob[] = [];
  for (let i = 0; i < NUM_WORKFLOWS; i++) {
    // image.go's `image` struct: author (omitempty), architecture, os, rootfs{type, diff_ids}.
    const config = { author: randomString(16), architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
    configs.push(testBlob(marshalIndent(config)));
  }

  const layerBlobData = Buffer.from(LAYER_BASE64, 'base64');
  const layerBlobDigest = sha256(layerBlobData);
  const layerBlobContentLength = String(layerBlobData.length);
  const layers: Descriptor[] = [{ mediaType: LAYER_TYPE, size: layerBlobData.length, digest: layerBlobDigest }];
  const configDescriptor = (c: TestBlob): Descriptor => ({
    mediaType: CONFIG_TYPE,
    digest: c.digest,
    size: c.content.length,
    data: c.content, // must be the config content
    newUnspecifiedField: Buffer.from('hello world'), // content doesn't matter
  });

  const manifests: TestBlob[] = [];
  for (let i = 0; i < NUM_WORKFLOWS; i++) {
    manifests.push(testBlob(manifestJson({ mediaType: MANIFEST_TYPE, config: configDescriptor(configs[i]!), layers })));
  }

  // used in push test: no mediaType field (omitempty), no layers
  const emptyLayerManifestContent = manifestJson({ config: configDescriptor(configs[1]!), layers: [] });
  const emptyLayerManifestDigest = sha256(emptyLayerManifestContent);

  const testBlobA = testBlob(randomBytes(42));

  // used in referrers test (artifacts with Subject field set)
  const emptyJSONBlob = Buffer.from('{}');
  const emptyJSONDescriptor: Descriptor = { mediaType: 'application/vnd.oci.empty.v1+json', size: emptyJSONBlob.length, digest: sha256(emptyJSONBlob) };

  const testRefBlobA = testBlob(Buffer.from('NHL Peanut Butter on my NHL bagel'));
  const testRefArtifactTypeA = 'application/vnd.nhl.peanut.butter.bagel';
  const testRefBlobB = testBlob(Buffer.from('NBA Strawberry Jam on my NBA croissant'));
  const testRefArtifactTypeB = 'application/vnd.nba.strawberry.jam.croissant';
  const testRefArtifactTypeIndex = 'application/vnd.food.stand';
  const testAnnotationValues: Record<string, string> = {};
  const subject4 = manifestDescriptor(manifests[4]!);
  const subject3 = manifestDescriptor(manifests[3]!);

  const artifact = (spec: ManifestSpec): TestBlob => {
    const blob = testBlob(manifestJson(spec));
    const value = spec.annotations?.[testAnnotationKey];
    if (value !== undefined) testAnnotationValues[blob.digest] = value;
    return blob;
  };
  // artifact with Subject ref using config.MediaType = artifactType
  const refsManifestAConfigArtifact = artifact({
    mediaType: MANIFEST_TYPE,
    config: { mediaType: testRefArtifactTypeA, size: testRefBlobA.content.length, digest: testRefBlobA.digest },
    subject: subject4,
    layers: [emptyJSONDescriptor],
    annotations: { [testAnnotationKey]: 'test config a' },
  });
  const refsManifestBConfigArtifact = artifact({
    mediaType: MANIFEST_TYPE,
    config: { mediaType: testRefArtifactTypeB, size: testRefBlobB.content.length, digest: testRefBlobB.digest },
    subject: subject4,
    layers: [emptyJSONDescriptor],
    annotations: { [testAnnotationKey]: 'test config b' },
  });
  // artifact with Subject ref using ArtifactType, config.MediaType = emptyJSON
  const refsManifestALayerArtifact = artifact({
    mediaType: MANIFEST_TYPE,
    artifactType: testRefArtifactTypeA,
    config: emptyJSONDescriptor,
    subject: subject4,
    layers: [{ mediaType: testRefArtifactTypeA, size: testRefBlobA.content.length, digest: testRefBlobA.digest }],
    annotations: { [testAnnotationKey]: 'test layer a' },
  });
  const refsManifestBLayerArtifact = artifact({
    mediaType: MANIFEST_TYPE,
    artifactType: testRefArtifactTypeB,
    config: emptyJSONDescriptor,
    subject: subject4,
    layers: [{ mediaType: testRefArtifactTypeB, size: testRefBlobB.content.length, digest: testRefBlobB.digest }],
    annotations: { [testAnnotationKey]: 'test layer b' },
  });
  // ManifestCLayerArtifact is the same as B but based on a subject that has not been pushed
  const refsManifestCLayerArtifact = artifact({
    mediaType: MANIFEST_TYPE,
    artifactType: testRefArtifactTypeB,
    config: emptyJSONDescriptor,
    subject: subject3,
    layers: [{ mediaType: testRefArtifactTypeB, size: testRefBlobB.content.length, digest: testRefBlobB.digest }],
  });
  const refsIndexArtifact = testBlob(
    indexJson({
      artifactType: testRefArtifactTypeIndex,
      manifests: [manifestDescriptor(refsManifestAConfigArtifact), manifestDescriptor(refsManifestALayerArtifact)],
      subject: subject4,
      annotations: { [testAnnotationKey]: 'test index' },
    }),
  );
  testAnnotationValues[refsIndexArtifact.digest] = 'test index';

  const fx = {
    configs,
    manifests,
    layerBlobData,
    layerBlobDigest,
    layerBlobContentLength,
    emptyLayerManifestContent,
    emptyLayerManifestDigest,
    testBlobA: testBlobA.content,
    testBlobALength: testBlobA.contentLength,
    testBlobADigest: testBlobA.digest,
    testBlobB: Buffer.alloc(0),
    testBlobBDigest: '',
    testBlobBChunk1: Buffer.alloc(0),
    testBlobBChunk1Length: '',
    testBlobBChunk1Range: '',
    testBlobBChunk2: Buffer.alloc(0),
    testBlobBChunk2Length: '',
    testBlobBChunk2Range: '',
    emptyJSONBlob,
    emptyJSONDescriptor,
    testRefBlobA,
    testRefBlobB,
    testRefArtifactTypeA,
    testRefArtifactTypeB,
    testRefArtifactTypeIndex,
    testAnnotationValues,
    refsManifestAConfigArtifact,
    refsManifestBConfigArtifact,
    refsManifestALayerArtifact,
    refsManifestBLayerArtifact,
    refsManifestCLayerArtifact,
    refsIndexArtifact,
    /** setup.go setupChunkedBlob: a random blob split after size/2+1 bytes; ranges are `start-end` (no `bytes `). */
    setupChunkedBlob(size: number): void {
      const blob = randomBytes(size);
      const cut = Math.floor(size / 2) + 1;
      fx.testBlobB = blob;
      fx.testBlobBDigest = sha256(blob);
      fx.testBlobBChunk1 = blob.subarray(0, cut);
      fx.testBlobBChunk1Length = String(cut);
      fx.testBlobBChunk1Range = `0-${cut - 1}`;
      fx.testBlobBChunk2 = blob.subarray(cut);
      fx.testBlobBChunk2Length = String(blob.length - cut);
      fx.testBlobBChunk2Range = `${cut}-${blob.length - 1}`;
    },
  };
  fx.setupChunkedBlob(42);
  return fx;
}

export type Fixtures = ReturnType<typeof buildFixtures>;

/** The suite's environment switches, with this port's defaults: every workflow on, cross-mount and automatic cross-mount on. */
export interface Settings {
  namespace: string;
  crossmountNamespace: string;
  deleteManifestBeforeBlobs: boolean;
  runAutomaticCrossmountTest: boolean;
  automaticCrossmountEnabled: boolean;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const automatic = env.OCI_AUTOMATIC_CROSSMOUNT ?? 'true';
  return {
    namespace: env.OCI_NAMESPACE || 'oci-conformance/dockyard',
    crossmountNamespace: env.OCI_CROSSMOUNT_NAMESPACE || `conformance-${randomUUID()}`,
    deleteManifestBeforeBlobs: env.OCI_DELETE_MANIFEST_BEFORE_BLOBS === undefined ? true : parseGoBool(env.OCI_DELETE_MANIFEST_BEFORE_BLOBS),
    runAutomaticCrossmountTest: true,
    automaticCrossmountEnabled: parseGoBool(automatic),
  };
}

/** strconv.ParseBool, with errors read as false as setup.go does. */
function parseGoBool(v: string): boolean {
  return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v);
}
