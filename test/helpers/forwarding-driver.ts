import type { Readable } from 'node:stream';
import type { FileInfo, FileWriter, StorageDriver, WriteOptions } from '../../src/storage/driver.ts';

/**
 * A real driver seen through a wrapper that passes every call on: tests extend it to inject a
 * fault or a pause at one method (a disk error, a slow delete), never to fake the storage.
 */
export class ForwardingDriver implements StorageDriver {
  constructor(
    readonly inner: StorageDriver,
    readonly name = `forwarding(${inner.name})`,
  ) {}
  get shared(): boolean | undefined {
    return this.inner.shared;
  }
  getContent(p: string): Promise<Buffer> {
    return this.inner.getContent(p);
  }
  putContent(p: string, content: Buffer | string, options?: WriteOptions): Promise<void> {
    return this.inner.putContent(p, content, options);
  }
  reader(p: string, range?: { start: number; end?: number }): Promise<Readable> {
    return this.inner.reader(p, range);
  }
  writer(p: string, append: boolean, options?: WriteOptions): Promise<FileWriter> {
    return this.inner.writer(p, append, options);
  }
  stat(p: string): Promise<FileInfo> {
    return this.inner.stat(p);
  }
  list(p: string): Promise<string[]> {
    return this.inner.list(p);
  }
  move(source: string, dest: string): Promise<void> {
    return this.inner.move(source, dest);
  }
  delete(p: string, options?: WriteOptions): Promise<void> {
    return this.inner.delete(p, options);
  }
}
