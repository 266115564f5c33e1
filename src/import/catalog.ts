import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { ArchiveError } from './archive-error.ts';
import { readEntries, type TarEntry } from './tar-entries.ts';

/** The largest JSON file (index, manifest, image config) read whole; layers are never read whole. */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;
/** Entries an archive may hold: an image has a few per layer; this bounds the catalog's memory. */
export const MAX_ENTRIES = 100_000;
/** Links followed from one name before it is taken for a loop. */
const MAX_LINK_HOPS = 8;
/** The files at the archive's top that say which format it is; read in the first pass. */
const TOP_FILES = ['oci-layout', 'index.json', 'manifest.json'];

/**
 * What an archive holds (every entry's name, kind and size), learnt in one pass that also reads
 * the top files whole. Blob contents stay in the file; `readWhole` fetches small ones later.
 */
export class ArchiveCatalog {
  private constructor(
    readonly file: string,
    private readonly entries: Map<string, TarEntry>,
    readonly top: Map<string, Buffer>,
  ) {}

  static async scan(file: string): Promise<ArchiveCatalog> {
    const entries = new Map<string, TarEntry>();
    const top = new Map<string, Buffer>();
    await readEntries(file, async (entry, body) => {
      if (entries.size >= MAX_ENTRIES && !entries.has(entry.name)) {
        throw new ArchiveError(`the archive holds more than ${MAX_ENTRIES} entries`, { limit: MAX_ENTRIES });
      }
      entries.set(entry.name, entry); // a later entry of the same name replaces an earlier one, as tar does
      if (entry.kind === 'file' && TOP_FILES.includes(entry.name)) top.set(entry.name, await readSmall(entry, body));
    });
    return new ArchiveCatalog(file, entries, top);
  }

  /** The size of the regular file `name` (resolved), or 0. */
  sizeOf(name: string): number {
    return this.entries.get(name)?.size ?? 0;
  }

  /** The regular file `name` stands for, links followed; null when there is none. */
  resolve(name: string): TarEntry | null {
    let current = this.entries.get(name);
    for (let hop = 0; current && hop <= MAX_LINK_HOPS; hop++) {
      if (current.kind === 'file') return current;
      if (current.kind === 'other' || current.linkname === null) return null;
      // A symlink is relative to its own directory; a hard link names an earlier entry from the top.
      const target = current.kind === 'symlink' && !current.linkname.startsWith('/')
        ? path.posix.join(path.posix.dirname(current.name), current.linkname)
        : current.linkname;
      current = this.entries.get(path.posix.normalize(`/${target}`).slice(1));
    }
    return null;
  }

  /** The regular files `names` (already resolved) read whole, in one more pass over the archive. */
  async readWhole(names: Iterable<string>): Promise<Map<string, Buffer>> {
    const wanted = new Set(names);
    const found = new Map<string, Buffer>();
    if (wanted.size === 0) return found;
    await readEntries(this.file, async (entry, body) => {
      if (entry.kind === 'file' && wanted.has(entry.name)) found.set(entry.name, await readSmall(entry, body));
    });
    return found;
  }
}

async function readSmall(entry: TarEntry, body: Readable): Promise<Buffer> {
  if (entry.size > MAX_JSON_BYTES) {
    throw new ArchiveError(`${entry.name} is ${entry.size} bytes; a JSON file of an image may have at most ${MAX_JSON_BYTES}`, {
      entry: entry.name,
      size: entry.size,
      limit: MAX_JSON_BYTES,
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A JSON file of the archive, parsed; malformed JSON is the archive's fault. */
export function parseJson(name: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (err) {
    const reason = (err as Error).message.slice(0, 200);
    throw new ArchiveError(`${name} is not valid JSON: ${reason}`, { entry: name, reason });
  }
}
