import type { Readable } from 'node:stream';
import { Histogram, type Registry } from 'prom-client';
import type { FileInfo, FileWriter, StorageDriver, WriteOptions } from './driver.ts';

/** Distribution's (docker/go-metrics timer) default buckets. */
const ACTION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * `registry_storage_action_seconds{driver,action}`, as Distribution's base driver records it:
 * registered once per metrics registry, shared by every MeteredDriver on it.
 */
export function storageActionSeconds(registry: Registry): Histogram<'driver' | 'action'> {
  const existing = registry.getSingleMetric('registry_storage_action_seconds');
  if (existing) return existing as Histogram<'driver' | 'action'>;
  return new Histogram({
    name: 'registry_storage_action_seconds',
    help: 'The number of seconds that the storage action takes',
    labelNames: ['driver', 'action'],
    buckets: ACTION_BUCKETS,
    registers: [registry],
  });
}

/**
 * A StorageDriver decorator that times each call, failed ones included, under Distribution's
 * action names (GetContent, PutContent, Stat, List, Move, Delete, URLFor); Reader and Writer
 * time the opening, Commit a writer's commit (where the filesystem driver fsyncs). It adds and
 * changes nothing else, so decorators compose in any order.
 */
export class MeteredDriver implements StorageDriver {
  readonly name: string;
  readonly shared?: boolean;
  readonly redirectUrl?: (path: string) => Promise<string | null>;
  readonly purgeIncompleteWrites?: (before: Date) => Promise<number | null>;
  readonly check?: () => Promise<void>;

  constructor(
    private readonly inner: StorageDriver,
    private readonly seconds: Histogram<'driver' | 'action'>,
  ) {
    this.name = inner.name;
    if (inner.shared !== undefined) this.shared = inner.shared;
    const { redirectUrl, purgeIncompleteWrites, check } = inner;
    if (redirectUrl) this.redirectUrl = (path) => this.timed('URLFor', () => redirectUrl.call(inner, path));
    if (purgeIncompleteWrites) {
      this.purgeIncompleteWrites = (before) => this.timed('PurgeIncompleteWrites', () => purgeIncompleteWrites.call(inner, before));
    }
    if (check) this.check = () => this.timed('Check', () => check.call(inner));
  }

  getContent(path: string): Promise<Buffer> {
    return this.timed('GetContent', () => this.inner.getContent(path));
  }

  putContent(path: string, content: Buffer | string, options?: WriteOptions): Promise<void> {
    return this.timed('PutContent', () => this.inner.putContent(path, content, options));
  }

  reader(path: string, range?: { start: number; end?: number }): Promise<Readable> {
    return this.timed('Reader', () => this.inner.reader(path, range));
  }

  async writer(path: string, append: boolean, options?: WriteOptions): Promise<FileWriter> {
    const writer = await this.timed('Writer', () => this.inner.writer(path, append, options));
    const timed = this.timed.bind(this);
    return {
      get stream() { return writer.stream; },
      get startSize() { return writer.startSize; },
      get written() { return writer.written; },
      commit: () => timed('Commit', () => writer.commit()),
      cancel: () => writer.cancel(),
    };
  }

  stat(path: string): Promise<FileInfo> {
    return this.timed('Stat', () => this.inner.stat(path));
  }

  list(path: string): Promise<string[]> {
    return this.timed('List', () => this.inner.list(path));
  }

  move(source: string, dest: string): Promise<void> {
    return this.timed('Move', () => this.inner.move(source, dest));
  }

  delete(path: string, options?: WriteOptions): Promise<void> {
    return this.timed('Delete', () => this.inner.delete(path, options));
  }

  private async timed<T>(action: string, call: () => Promise<T>): Promise<T> {
    const end = this.seconds.startTimer({ driver: this.name, action });
    try {
      return await call();
    } finally {
      end();
    }
  }
}
