import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  buildImage, buildIndex, descriptor, imageBlobs, indexBlobs, MediaType, Skopeo, tar, writeLayout, type Image, type Index,
} from '../e2e/skopeo-fixtures.ts';
import { sha256 } from './oci.ts';
import { startTestRegistry } from './registry.ts';

/**
 * Real image archives for the import tests: images with random layers pushed by skopeo into a
 * source registry of their own (so its pushes queue no events anywhere), then copied out by
 * skopeo as an OCI archive (`oci-archive:`) and a `docker save` tarball (`docker-archive:`).
 * Also a legacy `docker save` tarball (`<id>/layer.tar` files, gzip'd whole) written here.
 */
export interface SourceArchives {
  image: Image;
  index: Index;
  /** skopeo `oci-archive:` of `image`, tagged v1 in its index.json. */
  ociArchive: string;
  /** skopeo `docker-archive:` of `image`, RepoTags src/app:v1. */
  dockerArchive: string;
  /** skopeo `oci-archive:` (`--all`) of the two-platform `index`, tagged m1. */
  multiArchive: string;
}

export async function makeSourceArchives(work: string, skopeo: Skopeo): Promise<SourceArchives> {
  const source = await startTestRegistry();
  try {
    const host = `127.0.0.1:${source.port}`;
    const image = buildImage('oci', 2);
    const index = buildIndex();
    await writeLayout(path.join(work, 'image'), imageBlobs(image), descriptor(image.mediaType, image.manifest), 'v1');
    await writeLayout(path.join(work, 'index'), indexBlobs(index), descriptor(MediaType.ociIndex, index.index), 'm1');
    await skopeo.run('copy', '--dest-tls-verify=false', `oci:${path.join(work, 'image')}:v1`, `docker://${host}/src/app:v1`);
    await skopeo.run('copy', '--all', '--dest-tls-verify=false', `oci:${path.join(work, 'index')}:m1`, `docker://${host}/src/multi:m1`);
    const archives = {
      ociArchive: path.join(work, 'oci.tar'),
      dockerArchive: path.join(work, 'docker.tar'),
      multiArchive: path.join(work, 'multi.tar'),
    };
    await skopeo.run('copy', '--src-tls-verify=false', `docker://${host}/src/app:v1`, `oci-archive:${archives.ociArchive}:v1`);
    await skopeo.run('copy', '--src-tls-verify=false', `docker://${host}/src/app:v1`, `docker-archive:${archives.dockerArchive}:src/app:v1`);
    await skopeo.run('copy', '--all', '--src-tls-verify=false', `docker://${host}/src/multi:m1`, `oci-archive:${archives.multiArchive}:m1`);
    return { image, index, ...archives };
  } finally {
    await source.stop();
  }
}

/** A legacy `docker save` tarball (Docker before 25), gzip'd: `<id>/layer.tar` files, `<hex>.json` config. */
export async function writeLegacyDockerSave(file: string, repoTag: string): Promise<{ config: Buffer; layers: Buffer[] }> {
  const layers = [0, 1].map((i) => tar([{ name: `legacy${i}/${randomBytes(4).toString('hex')}.bin`, data: randomBytes(2000 + i * 700) }]));
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
    history: layers.map((_, i) => ({ created_by: `legacy layer ${i}` })),
  }));
  const configName = `${sha256(config).slice(7)}.json`;
  const ids = layers.map(() => randomBytes(32).toString('hex'));
  const manifest = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: ids.map((id) => `${id}/layer.tar`) }]));
  const files = [
    ...ids.flatMap((id, i) => [
      { name: `${id}/VERSION`, data: Buffer.from('1.0') },
      { name: `${id}/json`, data: Buffer.from(JSON.stringify({ id })) },
      { name: `${id}/layer.tar`, data: layers[i]! },
    ]),
    { name: configName, data: config },
    { name: 'manifest.json', data: manifest },
    { name: 'repositories', data: Buffer.from('{}') },
  ];
  await writeFile(file, gzipSync(tar(files)));
  return { config, layers };
}

/** An OCI layout tarball whose one layer's bytes are not those its digest names (same size). */
export async function writeTamperedLayout(file: string): Promise<Image> {
  const image = buildImage('oci', 2);
  const blobs = imageBlobs(image).map((b) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, data: b.data }));
  const last = blobs.at(-1)!;
  last.data = randomBytes(last.data.length);
  const index = { schemaVersion: 2, manifests: [{ ...descriptor(image.mediaType, image.manifest), annotations: { 'org.opencontainers.image.ref.name': 'bad' } }] };
  await writeFile(file, tar([
    { name: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { name: 'index.json', data: Buffer.from(JSON.stringify(index)) },
    ...blobs,
  ]));
  return image;
}

/**
 * An OCI layout tarball whose index.json lists two platform images directly, unnamed (as
 * index.json is itself an image index); returns the images and index.json's bytes.
 */
export async function writeUnnamedPlatformsLayout(file: string): Promise<{ images: Image[]; indexJson: Buffer }> {
  const images = [buildImage('oci', 1, 'amd64'), buildImage('oci', 1, 'arm64')];
  const indexJson = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: images.map((img) => descriptor(img.mediaType, img.manifest, { platform: { architecture: JSON.parse(img.config.data.toString()).architecture, os: 'linux' } })),
  }));
  const blobs = images.flatMap(imageBlobs).map((b) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, data: b.data }));
  await writeFile(file, tar([{ name: 'index.json', data: indexJson }, { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, ...blobs]));
  return { images, indexJson };
}

/**
 * An OCI layout tarball of `images`, index.json naming each by its ref.name (`names`), with
 * `extra` files beside (Docker 25 and later add a manifest.json to the layout they write).
 */
export async function writeNamedLayout(file: string, images: Image[], names: string[], extra: { name: string; data: Buffer }[] = []): Promise<void> {
  const index = {
    schemaVersion: 2,
    manifests: images.map((img, i) => descriptor(img.mediaType, img.manifest, { annotations: { 'org.opencontainers.image.ref.name': names[i]! } })),
  };
  const blobs = images.flatMap(imageBlobs).map((b) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, data: b.data }));
  await writeFile(file, tar([{ name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { name: 'index.json', data: Buffer.from(JSON.stringify(index)) }, ...extra, ...blobs]));
}

/** An OCI layout tarball whose manifest names a layer the archive does not hold. */
export async function writeLayoutMissingBlob(file: string): Promise<Image> {
  const image = buildImage('oci', 2);
  const blobs = imageBlobs(image).slice(0, -1).map((b) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, data: b.data }));
  const index = { schemaVersion: 2, manifests: [descriptor(image.mediaType, image.manifest)] };
  await writeFile(file, tar([{ name: 'index.json', data: Buffer.from(JSON.stringify(index)) }, ...blobs]));
  return image;
}

/** The uncompressed bytes of a gzip'd layer. */
export function gunzip(data: Buffer): Buffer {
  return gunzipSync(data);
}

/** Uploads `file` to POST /ui/import as a browser form would (multipart/form-data). */
export async function postImport(
  base: string,
  fields: { repository?: string; tag?: string; archive?: string },
  authorization?: string,
): Promise<Response> {
  const form = new FormData();
  if (fields.repository !== undefined) form.set('repository', fields.repository);
  if (fields.tag !== undefined) form.set('tag', fields.tag);
  if (fields.archive !== undefined) form.set('archive', await openAsBlob(fields.archive), path.basename(fields.archive));
  return fetch(new URL('/ui/import', base), { method: 'POST', body: form, headers: authorization ? { authorization } : {} });
}

/** The operator API's first error of `res`, which must have `status` and `code`. */
export async function expectAdminError(res: Response, status: number, code: string): Promise<{ code: string; message: string; detail?: unknown }> {
  const body = (await res.json()) as { errors: { code: string; message: string; detail?: unknown }[] };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.errors[0]!.code, code);
  return body.errors[0]!;
}

/** Polls `condition` every 20 ms for up to 5 s. */
export async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`waited 5 s: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
