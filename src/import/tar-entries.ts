import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { ArchiveError } from './archive-error.ts';

/** One entry of the archive, its name normalized (no `./`, no leading `/`). */
export interface TarEntry {
  name: string;
  kind: 'file' | 'symlink' | 'hardlink' | 'other';
  size: number;
  /** Of a link: what it points at, as written. */
  linkname: string | null;
}

/** Called for each entry in archive order; a body it leaves unread is skipped. */
export type EntryVisitor = (entry: TarEntry, body: Readable) => Promise<void>;

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Reads the archive file from start to end once, gunzipping it on the way when it starts with
 * the gzip magic (`docker save | gzip`). Each pass reads the file again: a gzip stream cannot be
 * entered in the middle, and nothing is ever held whole in memory but what a visitor keeps.
 */
export async function readEntries(file: string, visit: EntryVisitor): Promise<void> {
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  const extractor = extract();
  const stages: [Readable, ...NodeJS.ReadWriteStream[], NodeJS.WritableStream] = (await isGzip(file))
    ? [source, createGunzip(), extractor]
    : [source, extractor];
  const piping = pipeline(stages).then(() => null, (err: unknown) => err);
  // A visitor's error (a storage fault while pushing) is passed on as it is; only what the tar
  // reader or gunzip raise says the archive is broken.
  let visitorError: { err: unknown } | undefined;
  try {
    for await (const body of extractor) {
      const entry = toEntry(body.header);
      try {
        // tar-stream's entries are streamx streams: handed on as Node streams, read with backpressure.
        if (entry) await visit(entry, Readable.from(body, { objectMode: false }));
      } catch (err) {
        visitorError = { err };
        throw err;
      }
      body.resume(); // what the visitor did not read is skipped
    }
  } catch (err) {
    source.destroy();
    extractor.destroy();
    await piping;
    throw visitorError !== undefined ? visitorError.err : unreadable(err);
  }
  const failed = await piping;
  if (failed) throw unreadable(failed);
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

function toEntry(header: Header): TarEntry | null {
  const name = normalizeName(header.name);
  if (name === null) return null;
  const kind = header.type === 'file' || header.type === 'contiguous-file'
    ? 'file'
    : header.type === 'symlink' ? 'symlink' : header.type === 'link' ? 'hardlink' : 'other';
  return { name, kind, size: header.size ?? 0, linkname: header.linkname ?? null };
}

/** `./blobs/sha256/x` and `/blobs/sha256/x` are `blobs/sha256/x`; a name outside the archive is null. */
export function normalizeName(name: string): string | null {
  const normalized = path.posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  return normalized === '' ? null : normalized;
}

function unreadable(err: unknown): unknown {
  // Our own disk failing under the spooled file is not the archive's fault.
  if ((err as NodeJS.ErrnoException | null)?.syscall) return err;
  // tar-stream's and zlib's messages say what is wrong ("Invalid tar header", "unexpected end of file").
  const reason = err instanceof Error ? err.message.slice(0, 300) : String(err);
  return new ArchiveError(`the archive is not a readable tar (or gzip'd tar): ${reason}`, { reason });
}
