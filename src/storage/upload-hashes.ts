import { createHash, type Hash } from 'node:crypto';

/**
 * Running sha256 states of upload sessions, so that a chunked upload's digest is computed while
 * its bytes stream in. A Node hash cannot be saved to storage, so this lives in memory; when the
 * state is missing or stale (another replica took a chunk, or the process restarted) the upload
 * is hashed again from storage when it completes. It is a cache, never the source of truth.
 */
export class UploadHashes {
  private readonly states = new Map<string, { offset: number; hash: Hash }>();

  constructor(private readonly maxEntries = 10_000) {}

  /** The hash to feed a chunk that starts at `offset`, or null when the running state is lost. */
  forChunkAt(id: string, offset: number): Hash | null {
    const state = this.states.get(id);
    if (state && state.offset === offset) return state.hash;
    this.states.delete(id);
    if (offset !== 0) return null;
    return createHash('sha256');
  }

  /** Records that `hash` now covers the first `offset` bytes. */
  save(id: string, offset: number, hash: Hash): void {
    this.states.delete(id);
    if (this.states.size >= this.maxEntries) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
    }
    this.states.set(id, { offset, hash });
  }

  /** The sha256 of the first `offset` bytes, when the running state covers exactly that. */
  sha256At(id: string, offset: number): string | null {
    const state = this.states.get(id);
    return state && state.offset === offset ? state.hash.copy().digest('hex') : null;
  }

  forget(id: string): void {
    this.states.delete(id);
  }
}
