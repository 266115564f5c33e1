import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { bytes } from '../helpers/client.ts';
import { MediaTypes, randomBlob, sha256 } from '../helpers/oci.ts';

/**
 * Pieces of the kill -9 soak: a raw registry client that says which requests were acknowledged
 * (a 2xx arrived) and which died with the process, a ledger of what each client did, and a model
 * of what its repository must hold given only the acknowledged operations.
 */

/** Media types the soak counts as manifests (anything else in a push event is a blob). */
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
]);

const REQUEST_TIMEOUT_MS = 15_000;

/** How one request ended: a status (acknowledged when 2xx), or no answer at all (the process died). */
export type Outcome =
  | { kind: 'answered'; status: number; headers: Headers; body: Buffer }
  | { kind: 'dropped'; reason: string };

export function acked(o: Outcome): boolean {
  return o.kind === 'answered' && o.status >= 200 && o.status < 300;
}

/** fetch that never throws: a connection error (refused, reset, closed) becomes `dropped`. */
export async function send(url: string, init: RequestInit = {}): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    return { kind: 'dropped', reason: reason(err) };
  }
  // The status line is the acknowledgement: a body cut short after it does not undo it.
  const body = await res.arrayBuffer().then((b) => Buffer.from(b), () => Buffer.alloc(0));
  return { kind: 'answered', status: res.status, headers: res.headers, body };
}

function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? String(err);
}

export type OpKind = 'blob' | 'manifest-tag' | 'manifest-digest' | 'delete-tag' | 'delete-manifest';

/** One operation a client attempted. `acked`: the registry answered its final request with 2xx. */
export interface Op {
  client: number;
  kind: OpKind;
  repository: string;
  digest?: string;
  tag?: string;
  /** For blobs: chunked or monolithic. */
  mode?: 'chunked' | 'monolithic' | 'single-post';
  acked: boolean;
  /** The status of a non-2xx answer, or the connection error. */
  failure?: string;
}

/** A blob or manifest to push. */
export interface Content {
  data: Buffer;
  digest: string;
}

/** A blob already in the repository that a new manifest may reference again. */
export interface Layer {
  digest: string;
  size: number;
}

/**
 * An OCI image over a fresh config (so a fresh manifest digest), `fresh` new random layers of
 * varied sizes (some big enough to chunk) and the `reused` layers already pushed.
 */
export function soakImage(fresh: number, reused: Layer[] = []): { config: Content; layers: Content[]; manifest: Content } {
  const configData = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const config = { data: configData, digest: sha256(configData) };
  const layerBlobs = Array.from({ length: fresh }, () => randomBlob(randomInt(256, 64 * 1024)));
  const body = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: config.digest, size: configData.length },
    layers: [...reused, ...layerBlobs.map((l) => ({ digest: l.digest, size: l.data.length }))].map((l) => ({ mediaType: MediaTypes.ociLayer, ...l })),
  };
  const data = Buffer.from(JSON.stringify(body));
  return { config, layers: layerBlobs, manifest: { data, digest: sha256(data) } };
}

/** Registry requests spelled out, so the soak controls monolithic vs. chunked uploads. */
export class RawClient {
  constructor(private readonly base: string) {}

  private url(p: string): string {
    return new URL(p, this.base).toString();
  }

  /** The upload session's URL with `digest` added to its query. */
  private withDigest(location: string, digest: string): string {
    const u = new URL(location, this.base);
    u.searchParams.set('digest', digest);
    return u.toString();
  }

  private async startUpload(repository: string): Promise<{ location: string } | { outcome: Outcome }> {
    const o = await send(this.url(`/v2/${repository}/blobs/uploads/`), { method: 'POST' });
    if (o.kind !== 'answered' || o.status !== 202) return { outcome: o };
    const location = o.headers.get('location');
    if (!location) return { outcome: { kind: 'answered', status: 599, headers: o.headers, body: Buffer.from('no Location') } };
    return { location };
  }

  /** POST to start, then PUT the whole body with the digest. */
  async pushMonolithic(repository: string, blob: Content): Promise<Outcome> {
    const started = await this.startUpload(repository);
    if ('outcome' in started) return started.outcome;
    return send(this.withDigest(started.location, blob.digest), {
      method: 'PUT',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
  }

  /** One POST with `?digest=` and the whole body. */
  async pushSinglePost(repository: string, blob: Content): Promise<Outcome> {
    return send(this.url(`/v2/${repository}/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`), {
      method: 'POST',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
  }

  /** POST, PATCH chunks with `Content-Range: <start>-<end>`, then a PUT with the digest and no body. */
  async pushChunked(repository: string, blob: Content, chunks: number): Promise<Outcome> {
    const started = await this.startUpload(repository);
    if ('outcome' in started) return started.outcome;
    let location = started.location;
    const size = Math.ceil(blob.data.length / chunks);
    for (let start = 0; start < blob.data.length; start += size) {
      const chunk = blob.data.subarray(start, Math.min(start + size, blob.data.length));
      const o = await send(new URL(location, this.base).toString(), {
        method: 'PATCH',
        body: bytes(chunk),
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${start}-${start + chunk.length - 1}`,
          'content-length': String(chunk.length),
        },
      });
      if (o.kind !== 'answered' || o.status !== 202) return o;
      location = o.headers.get('location') ?? location;
    }
    return send(this.withDigest(location, blob.digest), { method: 'PUT' });
  }

  async putManifest(repository: string, reference: string, manifest: Content): Promise<Outcome> {
    return send(this.url(`/v2/${repository}/manifests/${reference}`), {
      method: 'PUT',
      body: bytes(manifest.data),
      headers: { 'content-type': MediaTypes.ociManifest },
    });
  }

  async deleteManifest(repository: string, reference: string): Promise<Outcome> {
    return send(this.url(`/v2/${repository}/manifests/${reference}`), { method: 'DELETE' });
  }
}

/**
 * What one client's repository must hold, from acknowledged operations only. Anything touched by a
 * request that got no answer is `uncertain` (the registry may or may not have done it).
 */
export type Known = { state: 'present'; digest: string } | { state: 'absent' } | { state: 'uncertain' };

export class RepoModel {
  /** Acknowledged blob pushes: digest to size (blobs are never deleted here). */
  readonly blobs = new Map<string, number>();
  readonly manifests = new Map<string, Known>();
  readonly tags = new Map<string, Known>();

  pushedManifest(digest: string, tag: string | undefined, ok: boolean): void {
    this.manifests.set(digest, ok ? { state: 'present', digest } : { state: 'uncertain' });
    if (tag !== undefined) this.tags.set(tag, ok ? { state: 'present', digest } : { state: 'uncertain' });
  }

  deletedTag(tag: string, ok: boolean): void {
    this.tags.set(tag, ok ? { state: 'absent' } : { state: 'uncertain' });
  }

  /** A manifest delete also removes every tag that pointed at it. */
  deletedManifest(digest: string, ok: boolean): void {
    this.manifests.set(digest, ok ? { state: 'absent' } : { state: 'uncertain' });
    for (const [tag, known] of this.tags) {
      if (known.state === 'present' && known.digest === digest) this.tags.set(tag, ok ? { state: 'absent' } : { state: 'uncertain' });
    }
  }

  presentTags(): [string, string][] {
    return [...this.tags].flatMap(([tag, k]) => (k.state === 'present' ? [[tag, k.digest] as [string, string]] : []));
  }

  presentManifests(): string[] {
    return [...this.manifests].flatMap(([digest, k]) => (k.state === 'present' ? [digest] : []));
  }
}

/** A random element, or undefined for an empty list. */
export function pick<T>(items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[randomInt(items.length)];
}

export function randomDelay(minMs: number, maxMs: number): Promise<void> {
  return sleep(randomInt(minMs, maxMs + 1));
}

/** Follows `Link: <...>; rel="next"` pages of a JSON list (`_catalog`, `tags/list`). */
export async function listAll(base: string, first: string, key: 'repositories' | 'tags'): Promise<string[]> {
  const all: string[] = [];
  let next: string | undefined = first;
  while (next !== undefined) {
    const res: Response = await fetch(new URL(next, base), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`GET ${next} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const body = (await res.json()) as Record<string, string[] | null | undefined>;
    all.push(...(body[key] ?? []));
    next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
  }
  return all;
}
