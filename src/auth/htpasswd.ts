import bcrypt from 'bcryptjs';
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

/** How often the file's stat is looked at for changes (a user added needs no restart). */
const RECHECK_MS = 1_000;
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
/** Compared against for unknown users, so that a miss takes as long as a wrong password. */
const DUMMY_HASH = bcrypt.hashSync('dockyard-no-such-user', 5);
const MAX_CACHED = 1_000;

/**
 * An Apache htpasswd file of bcrypt entries (`htpasswd -B`), as Distribution reads it; other
 * hash kinds never match. Re-read when it changes. A successful check is remembered (keyed by an
 * HMAC with a per-process key, never the password) while the user's entry stays the same, so
 * Basic auth on every request does not pay bcrypt every time.
 */
export class HtpasswdFile {
  private entries = new Map<string, string>();
  private version = '';
  private checkedAt = 0;
  private reloading: Promise<void> | null = null;
  private readonly verified = new Map<string, string>();
  private readonly cacheKey = randomBytes(32);

  private constructor(
    readonly path: string,
    private readonly now: () => number,
  ) {}

  /** Reads the file; rejects when it cannot be read (the registry must not start without it). */
  static async open(path: string, now: () => number = Date.now): Promise<HtpasswdFile> {
    const file = new HtpasswdFile(path, now);
    await file.reload();
    return file;
  }

  async verify(user: string, password: string): Promise<boolean> {
    await this.fresh();
    const hash = this.entries.get(user);
    const key = createHmac('sha256', this.cacheKey).update(user).update('\0').update(password).digest('base64');
    if (hash !== undefined && this.verified.get(key) === hash) return true;
    const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH);
    if (!ok || hash === undefined) return false;
    if (this.verified.size >= MAX_CACHED) this.verified.clear();
    this.verified.set(key, hash);
    return true;
  }

  async has(user: string): Promise<boolean> {
    await this.fresh();
    return this.entries.has(user);
  }

  private async fresh(): Promise<void> {
    if (this.now() - this.checkedAt < RECHECK_MS) return;
    this.reloading ??= this.reload()
      .catch(() => undefined) // a file being rewritten or gone for a moment: keep the last good entries
      .finally(() => (this.reloading = null));
    await this.reloading;
  }

  private async reload(): Promise<void> {
    this.checkedAt = this.now();
    const info = await stat(this.path);
    const version = `${info.ino}:${info.size}:${info.mtimeMs}`;
    if (version === this.version) return;
    this.entries = parseHtpasswd(await readFile(this.path, 'utf8'));
    this.version = version;
  }
}

export function parseHtpasswd(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const hash = line.slice(colon + 1);
    if (BCRYPT.test(hash)) entries.set(line.slice(0, colon), hash);
  }
  return entries;
}
