import assert from 'node:assert/strict';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { Client, bytes } from '../helpers/client.ts';
import { ForwardingDriver } from '../helpers/forwarding-driver.ts';
import { sha256, type ImageFixture } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

/** What the garbage-collection tests share: a registry per test, pulls checked whole, pauses. */

export const logger = createLogger('silent');

/** A fresh registry (and a client of it) for each test of the describe block this is called in. */
export function registryPerTest(config: Record<string, unknown> = {}): { readonly registry: TestRegistry; readonly client: Client } {
  let registry: TestRegistry | undefined;
  let client: Client | undefined;
  beforeEach(async () => {
    registry = await startTestRegistry(config);
    client = new Client(registry.url);
  });
  afterEach(() => registry?.stop());
  return {
    get registry() {
      return registry!;
    },
    get client() {
      return client!;
    },
  };
}

/** Ages everything written so far past a delay of 0 (mtimes have ms resolution). */
export const aged = (): Promise<void> => sleep(20);

/**
 * Fetches a manifest and every blob and child it references, checking each digest (the
 * manifest's own too, against `expected` or a digest reference).
 */
export async function pullsCompletely(client: Client, name: string, reference: string, expected?: string): Promise<void> {
  const res = await client.fetch(`/v2/${name}/manifests/${reference}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
  });
  assert.equal(res.status, 200, `${name}:${reference} manifest`);
  const body = Buffer.from(await res.arrayBuffer());
  const want = expected ?? (reference.startsWith('sha256:') ? reference : undefined);
  if (want) assert.equal(sha256(body), want, `${name}:${reference} bytes`);
  const json = JSON.parse(body.toString('utf8')) as {
    config?: { digest: string };
    layers?: { digest: string }[];
    manifests?: { digest: string }[];
  };
  for (const child of json.manifests ?? []) await pullsCompletely(client, name, child.digest);
  for (const d of [...(json.config ? [json.config] : []), ...(json.layers ?? [])]) {
    const blob = await client.fetch(`/v2/${name}/blobs/${d.digest}`, { redirect: 'follow' });
    assert.equal(blob.status, 200, `${name} blob ${d.digest}`);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), d.digest);
  }
}

export async function status(client: Client, p: string, method = 'GET'): Promise<number> {
  const res = await client.fetch(p, { method });
  await res.arrayBuffer();
  return res.status;
}

export async function deleteManifest(client: Client, name: string, digest: string): Promise<void> {
  assert.equal(await status(client, `/v2/${name}/manifests/${digest}`, 'DELETE'), 202);
}

export async function pushManifest(client: Client, name: string, tag: string, image: ImageFixture): Promise<void> {
  const res = await client.pushManifest(name, tag, image.manifest, image.mediaType);
  assert.equal(res.status, 201, await res.text());
}

/** A blob into `name`: mounted from `from` when the registry lets it, else uploaded in the session it opened. */
export async function mountOrPush(client: Client, name: string, from: string, blob: { data: Buffer; digest: string }): Promise<void> {
  const res = await client.fetch(`/v2/${name}/blobs/uploads/?mount=${blob.digest}&from=${from}`, { method: 'POST' });
  await res.arrayBuffer();
  if (res.status === 201) return;
  assert.equal(res.status, 202);
  const location = res.headers.get('location')!;
  const sep = location.includes('?') ? '&' : '?';
  const put = await client.fetch(`${location}${sep}digest=${blob.digest}`, { method: 'PUT', body: bytes(blob.data) });
  await put.arrayBuffer();
  assert.equal(put.status, 201);
}

/** Where a blob's data lives under a filesystem root. */
export function blobFile(root: string, digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return path.join(root, 'docker/registry/v2/blobs', digest.slice(0, digest.indexOf(':')), hex.slice(0, 2), hex, 'data');
}

type PausedMethod = 'move' | 'delete' | 'putContent';

/** A call held until released: `reached` once it is waiting. */
export interface Pause {
  reached: Promise<void>;
  release: () => void;
}

function gate(): Pause & { wait: Promise<void>; arrive: () => void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { reached, release, wait, arrive };
}

/** Holds the first call that matches until released: the collector stopped between two of its steps. */
export class PausingDriver extends ForwardingDriver {
  private pending: { method: PausedMethod; match: (p: string) => boolean; gate: ReturnType<typeof gate> } | null = null;

  pauseAt(method: PausedMethod, match: (p: string) => boolean): Pause {
    const g = gate();
    this.pending = { method, match, gate: g };
    return g;
  }

  private async hold(method: PausedMethod, p: string): Promise<void> {
    const pending = this.pending;
    if (!pending || pending.method !== method || !pending.match(p)) return;
    this.pending = null;
    pending.gate.arrive();
    await pending.gate.wait;
  }

  override async move(source: string, dest: string): Promise<void> {
    await this.hold('move', dest);
    return super.move(source, dest);
  }

  override async putContent(p: string, content: Buffer | string): Promise<void> {
    await this.hold('putContent', p);
    return super.putContent(p, content);
  }

  override async delete(p: string): Promise<void> {
    await this.hold('delete', p);
    return super.delete(p);
  }
}

/**
 * Holds the first matching call of a running registry's own driver (the served one, which no
 * wrapper can reach) until released: a request stopped between its check and its write. The
 * driver's method is restored once the call went through.
 */
export function holdServedCall(driver: StorageDriver, method: PausedMethod, match: (p: string) => boolean): Pause {
  const g = gate();
  const target = driver as unknown as Record<PausedMethod, (...args: unknown[]) => Promise<void>>;
  const original = target[method];
  target[method] = async function (this: unknown, ...args: unknown[]) {
    const p = String(method === 'move' ? args[1] : args[0]);
    if (!match(p)) return original.apply(driver, args);
    target[method] = original;
    g.arrive();
    await g.wait;
    return original.apply(driver, args);
  };
  return g;
}
