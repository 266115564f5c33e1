import { ociImage, type ImageFixture } from './oci.ts';

/** Thin helpers over fetch for tests: every call is a real HTTP request to the registry. */
export class Client {
  constructor(readonly base: string) {}

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(new URL(path, this.base), { redirect: 'manual', ...init });
  }

  /** Monolithic push of one blob (POST then PUT). Returns the final response. */
  async pushBlob(name: string, data: Buffer, digest: string): Promise<Response> {
    const start = await this.fetch(`/v2/${name}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start answered ${start.status}: ${await start.text()}`);
    const location = start.headers.get('location')!;
    const sep = location.includes('?') ? '&' : '?';
    return this.fetch(`${location}${sep}digest=${encodeURIComponent(digest)}`, {
      method: 'PUT',
      body: bytes(data),
      headers: { 'content-type': 'application/octet-stream' },
    });
  }

  async pushManifest(name: string, reference: string, body: Buffer, mediaType: string): Promise<Response> {
    return this.fetch(`/v2/${name}/manifests/${reference}`, { method: 'PUT', body: bytes(body), headers: { 'content-type': mediaType } });
  }

  /** Starts an upload session; throws unless it answers 202. Returns the session's Location. */
  async startUpload(name: string): Promise<string> {
    const res = await this.fetch(`/v2/${name}/blobs/uploads/`, { method: 'POST' });
    if (res.status !== 202) throw new Error(`upload start answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    return res.headers.get('location')!;
  }

  /** Sends one chunk of an upload session with the spec's `Content-Range: <start>-<end>`. */
  patchChunk(location: string, data: Buffer, start: number): Promise<Response> {
    return this.fetch(location, {
      method: 'PATCH',
      body: bytes(data),
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `${start}-${start + data.length - 1}`,
      },
    });
  }

  /** Pushes an image's blobs and manifest; throws unless every step succeeds. */
  async pushImage(name: string, reference: string, image: ImageFixture = ociImage()): Promise<ImageFixture> {
    for (const blob of [image.config, ...image.layers]) {
      const res = await this.pushBlob(name, blob.data, blob.digest);
      if (res.status !== 201) throw new Error(`blob push answered ${res.status}: ${await res.text()}`);
    }
    const res = await this.pushManifest(name, reference, image.manifest, image.mediaType);
    if (res.status !== 201) throw new Error(`manifest push answered ${res.status}: ${await res.text()}`);
    return image;
  }
}

/** The spec's error body, parsed; fails loudly when the body is not one. */
export async function errorCodes(res: Response): Promise<string[]> {
  const body = (await res.json()) as { errors?: { code: string }[] };
  if (!Array.isArray(body.errors)) throw new Error(`not an error body: ${JSON.stringify(body)}`);
  return body.errors.map((e) => e.code);
}

/** A Buffer as a fetch body. */
export function bytes(data: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.length);
}

/** `location` with `?digest=` (or `&digest=`) appended. */
export function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}
