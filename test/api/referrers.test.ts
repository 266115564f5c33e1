import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { MediaTypes, imageIndex, manifestDescriptor, ociImage, sha256, type ImageFixture, type ManifestDescriptor } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: (ManifestDescriptor & { artifactType?: string; annotations?: Record<string, string> })[];
}

const SBOM = 'application/vnd.example.sbom.v1';
const SIG_CONFIG = 'application/vnd.example.signature.config.v1+json';
const BUNDLE = 'application/vnd.example.bundle.v1';

describe('referrers', () => {
  const h = useTestRegistry();
  let subject: ImageFixture;
  let subjectDesc: ManifestDescriptor;
  let sbom: ImageFixture;
  let sig: ImageFixture;
  let bundleDigest: string;
  let plainIndexDigest: string;
  let sbomPush: Response;

  async function referrers(name: string, digest: string, query = ''): Promise<{ res: Response; body: ReferrersIndex }> {
    const res = await h.client.fetch(`/v2/${name}/referrers/${digest}${query}`);
    assert.equal(res.status, 200, `referrers of ${digest}`);
    return { res, body: (await res.json()) as ReferrersIndex };
  }

  before(async () => {
    subject = await h.client.pushImage('ref/app', 'v1', ociImage({ layers: 1 }));
    subjectDesc = manifestDescriptor(subject);
    sbom = ociImage({ layers: 1, subject: subjectDesc, artifactType: SBOM, annotations: { 'org.example.sbom.format': 'json' } });
    for (const b of [sbom.config, ...sbom.layers]) await h.client.pushBlob('ref/app', b.data, b.digest);
    sbomPush = await h.client.pushManifest('ref/app', sbom.digest, sbom.manifest, sbom.mediaType);
    sig = await h.client.pushImage('ref/app', 'sig', ociImage({ layers: 0, subject: subjectDesc, configMediaType: SIG_CONFIG, annotations: { 'org.example.fingerprint': 'abcd' } }));
    const child = await h.client.pushImage('ref/app', 'child', ociImage({ layers: 1 }));
    const bundle = imageIndex([manifestDescriptor(child)], { subject: subjectDesc, artifactType: BUNDLE, annotations: { kind: 'bundle' } });
    assert.equal((await h.client.pushManifest('ref/app', 'bundle', bundle.manifest, bundle.mediaType)).status, 201);
    bundleDigest = bundle.digest;
    const plain = imageIndex([manifestDescriptor(child)], { subject: subjectDesc, annotations: { kind: 'plain' } });
    assert.equal((await h.client.pushManifest('ref/app', 'plain-index', plain.manifest, plain.mediaType)).status, 201);
    plainIndexDigest = plain.digest;
  });

  it('answers a push with a subject with OCI-Subject naming the subject digest', async () => {
    assert.equal(sbomPush.status, 201);
    assert.equal(sbomPush.headers.get('oci-subject'), subject.digest);
  });

  it('sends no OCI-Subject for a manifest without a subject', async () => {
    const image = ociImage({ layers: 1 });
    for (const b of [image.config, ...image.layers]) await h.client.pushBlob('ref/app', b.data, b.digest);
    const res = await h.client.pushManifest('ref/app', 'no-subject', image.manifest, image.mediaType);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('oci-subject'), null);
  });

  it('serves the referrers as an OCI index with exactly the index Content-Type', async () => {
    const { res, body } = await referrers('ref/app', subject.digest);
    assert.equal(res.headers.get('content-type'), MediaTypes.ociIndex);
    assert.equal(body.schemaVersion, 2);
    assert.equal(body.mediaType, MediaTypes.ociIndex);
    assert.deepEqual(new Set(body.manifests.map((m) => m.digest)), new Set([sbom.digest, sig.digest, bundleDigest, plainIndexDigest]));
  });

  it('describes an image referrer with its artifactType, size, media type and annotations', async () => {
    const { body } = await referrers('ref/app', subject.digest);
    const d = body.manifests.find((m) => m.digest === sbom.digest);
    assert.deepEqual(d, { mediaType: MediaTypes.ociManifest, digest: sbom.digest, size: sbom.manifest.length, artifactType: SBOM, annotations: { 'org.example.sbom.format': 'json' } });
  });

  it('uses the config media type as artifactType for an image without one', async () => {
    const { body } = await referrers('ref/app', subject.digest);
    const d = body.manifests.find((m) => m.digest === sig.digest);
    assert.equal(d?.artifactType, SIG_CONFIG);
    assert.deepEqual(d?.annotations, { 'org.example.fingerprint': 'abcd' });
  });

  it('describes an index referrer with its artifactType, and omits artifactType for an index without one', async () => {
    const { body } = await referrers('ref/app', subject.digest);
    const bundle = body.manifests.find((m) => m.digest === bundleDigest);
    assert.equal(bundle?.mediaType, MediaTypes.ociIndex);
    assert.equal(bundle?.artifactType, BUNDLE);
    assert.deepEqual(bundle?.annotations, { kind: 'bundle' });
    const plain = body.manifests.find((m) => m.digest === plainIndexDigest);
    assert.ok(plain);
    assert.equal('artifactType' in plain, false);
  });

  it('filters by artifactType and says so with OCI-Filters-Applied', async () => {
    const { res, body } = await referrers('ref/app', subject.digest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(body.manifests.map((m) => m.digest), [sbom.digest]);
    const sigs = await referrers('ref/app', subject.digest, `?artifactType=${encodeURIComponent(SIG_CONFIG)}`);
    assert.deepEqual(sigs.body.manifests.map((m) => m.digest), [sig.digest]);
  });

  it('answers a filter that matches nothing with an empty index and the filter header', async () => {
    const { res, body } = await referrers('ref/app', subject.digest, '?artifactType=application%2Fnone');
    assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(body.manifests, []);
  });

  it('sends no OCI-Filters-Applied when no filter was asked for', async () => {
    const { res } = await referrers('ref/app', subject.digest);
    assert.equal(res.headers.get('oci-filters-applied'), null);
  });

  it('answers an unknown subject, and an unknown repository, with an empty index (never 404)', async () => {
    for (const name of ['ref/app', 'ref/never-pushed']) {
      const { body } = await referrers(name, sha256(`unknown ${name}`));
      assert.deepEqual(body, { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] });
    }
  });

  it('keeps referrers per repository', async () => {
    const { body } = await referrers('ref/other', subject.digest);
    assert.deepEqual(body.manifests, []);
  });

  it('answers a malformed subject digest with 400 DIGEST_INVALID', async () => {
    for (const d of ['sha256:xyz', 'latest', `sha256:${'A'.repeat(64)}`]) {
      await expectError(await h.client.fetch(`/v2/ref/app/referrers/${d}`), 400, 'DIGEST_INVALID', d);
    }
  });

  it('accepts a referrer whose subject does not exist yet and lists it', async () => {
    const ghost = { mediaType: MediaTypes.ociManifest, digest: sha256('ghost subject'), size: 123 };
    const art = ociImage({ layers: 0, subject: ghost, artifactType: SBOM });
    await h.client.pushBlob('ref/ghost', art.config.data, art.config.digest);
    const res = await h.client.pushManifest('ref/ghost', art.digest, art.manifest, art.mediaType);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('oci-subject'), ghost.digest);
    const { body } = await referrers('ref/ghost', ghost.digest);
    assert.deepEqual(body.manifests.map((m) => m.digest), [art.digest]);
  });

  it('lists a referrer once however often it is pushed', async () => {
    const art = ociImage({ layers: 0, subject: subjectDesc, artifactType: 'application/vnd.example.once' });
    await h.client.pushImage('ref/once', 'a', art);
    await h.client.pushManifest('ref/once', 'b', art.manifest, art.mediaType);
    await h.client.pushManifest('ref/once', art.digest, art.manifest, art.mediaType);
    const { body } = await referrers('ref/once', subject.digest);
    assert.deepEqual(body.manifests.map((m) => m.digest), [art.digest]);
  });

  it('drops a referrer from the list when it is deleted', async () => {
    const art = await h.client.pushImage('ref/deleted', 'art', ociImage({ layers: 0, subject: subjectDesc, artifactType: SBOM }));
    assert.equal((await referrers('ref/deleted', subject.digest)).body.manifests.length, 1);
    assert.equal((await h.client.fetch(`/v2/ref/deleted/manifests/${art.digest}`, { method: 'DELETE' })).status, 202);
    assert.deepEqual((await referrers('ref/deleted', subject.digest)).body.manifests, []);
  });

  it('uses the config media type when the image artifactType is empty', async () => {
    const base = ociImage({ layers: 0, subject: subjectDesc, configMediaType: SIG_CONFIG });
    const manifest = Buffer.from(JSON.stringify({ ...JSON.parse(base.manifest.toString('utf8')), artifactType: '' }));
    assert.match(manifest.toString('utf8'), /"artifactType":""/);
    const art = { ...base, manifest, digest: sha256(manifest) };
    await h.client.pushImage('ref/empty-type', art.digest, art);
    const { body } = await referrers('ref/empty-type', subject.digest);
    assert.equal(body.manifests[0]?.artifactType, SIG_CONFIG);
  });

  it('omits artifactType for an index whose artifactType is empty', async () => {
    const child = await h.client.pushImage('ref/empty-index', 'child', ociImage({ layers: 1 }));
    const index = imageIndex([manifestDescriptor(child)], { subject: subjectDesc, artifactType: '' });
    assert.equal((await h.client.pushManifest('ref/empty-index', index.digest, index.manifest, index.mediaType)).status, 201);
    const { body } = await referrers('ref/empty-index', subject.digest);
    assert.ok(body.manifests[0]);
    assert.equal('artifactType' in body.manifests[0], false, JSON.stringify(body.manifests[0]));
  });
});
