/**
 * One load client: until its time is up (or MAX_CYCLES), push a distinct small image into its
 * repository (POST upload + PUT ?digest= for the layer and the config, PUT manifest by tag), pull
 * it back (manifest GET by tag, layer GET checked against its digest) and, every HEAD_EVERY-th
 * cycle, HEAD both. A failed step ends the cycle (what follows depends on it).
 */
import type { Pool } from 'undici';
import type { ServerKind } from '../requests/settings.ts';
import { owedEvent, type OpKind } from './events.ts';
import { makeImage, sha256, type Blob } from './image.ts';
import { HEAD_EVERY, MANIFEST_TYPE, MAX_CYCLES, REPO_PREFIX, REPOS, REQUEST_TIMEOUT_MS } from './settings.ts';
import type { Tally } from './tally.ts';

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

interface Reply {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

class Client {
  constructor(
    private readonly pool: Pool,
    private readonly server: ServerKind,
    private readonly repo: string,
    private readonly tally: Tally,
  ) {}

  /** One request; the reply when it had `status`, else null (counted as an error by class). */
  private async call(op: OpKind, method: 'GET' | 'HEAD' | 'POST' | 'PUT', path: string, status: number, headers: Record<string, string> = {}, body?: Buffer): Promise<Reply | null> {
    const t0 = nowMs();
    try {
      const res = await this.pool.request({ method, path, headers, body, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
      const got = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== status) {
        const cls = res.statusCode >= 500 ? 'server' : 'client';
        this.tally.fail(op, cls, res.statusCode, `${method} ${path}: ${got.toString('utf8').slice(0, 200)}`);
        return null;
      }
      this.tally.ok(op, nowMs() - t0);
      return { headers: res.headers, body: got };
    } catch (err) {
      this.tally.fail(op, 'server', null, `${method} ${path}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      return null;
    }
  }

  private async pushBlob(blob: Blob): Promise<boolean> {
    const post = await this.call('upload-post', 'POST', `/v2/${this.repo}/blobs/uploads/`, 202, { 'content-length': '0' });
    const location = post?.headers.location;
    if (!post || typeof location !== 'string') {
      if (post) this.tally.fail('upload-post', 'client', 202, 'no Location header');
      return false;
    }
    const url = new URL(location, 'http://registry');
    url.searchParams.set('digest', blob.digest);
    const put = await this.call('blob-put', 'PUT', `${url.pathname}${url.search}`, 201, { 'content-type': 'application/octet-stream' }, blob.bytes);
    if (put) this.tally.owe(owedEvent(this.server, 'blob-put', this.repo, blob.digest));
    return put !== null;
  }

  async cycle(tag: string, withHead: boolean): Promise<void> {
    const image = makeImage();
    if (!(await this.pushBlob(image.layer)) || !(await this.pushBlob(image.config))) return;
    const manifestPath = `/v2/${this.repo}/manifests/${tag}`;
    const layerPath = `/v2/${this.repo}/blobs/${image.layer.digest}`;
    const put = await this.call('manifest-put', 'PUT', manifestPath, 201, { 'content-type': MANIFEST_TYPE }, image.manifest.bytes);
    if (!put) return;
    this.tally.owe(owedEvent(this.server, 'manifest-put', this.repo, image.manifest.digest));
    const get = await this.call('manifest-get', 'GET', manifestPath, 200, { accept: MANIFEST_TYPE });
    if (!get) return;
    this.tally.owe(owedEvent(this.server, 'manifest-get', this.repo, image.manifest.digest));
    if (!get.body.equals(image.manifest.bytes)) this.tally.fail('manifest-get', 'content', 200, `${manifestPath}: ${get.body.length} bytes, not the manifest pushed`);
    const layer = await this.call('blob-get', 'GET', layerPath, 200);
    if (!layer) return;
    this.tally.owe(owedEvent(this.server, 'blob-get', this.repo, image.layer.digest));
    if (sha256(layer.body) !== image.layer.digest) this.tally.fail('blob-get', 'content', 200, `${layerPath}: body of ${layer.body.length} bytes has another digest`);
    if (!withHead) return;
    if (await this.call('manifest-head', 'HEAD', manifestPath, 200, { accept: MANIFEST_TYPE })) {
      this.tally.owe(owedEvent(this.server, 'manifest-head', this.repo, image.manifest.digest));
    }
    if (await this.call('blob-head', 'HEAD', layerPath, 200)) this.tally.owe(owedEvent(this.server, 'blob-head', this.repo, image.layer.digest));
  }
}

/** Client `index` of a run: its cycles until `untilMs` (hrtime ms). */
export async function runClient(index: number, pool: Pool, server: ServerKind, untilMs: number, tally: Tally): Promise<void> {
  const client = new Client(pool, server, `${REPO_PREFIX}${index % REPOS}`, tally);
  for (let i = 0; i < MAX_CYCLES && nowMs() < untilMs; i++) {
    await client.cycle(`c${index}-${i}`, i % HEAD_EVERY === HEAD_EVERY - 1);
    tally.cycles++;
  }
}

export { nowMs };
