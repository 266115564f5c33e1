import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isNotFound, type StorageDriver } from '../../src/storage/driver.ts';

export interface DriverUnderTest {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

/**
 * What any StorageDriver must do, as the registry relies on it: one suite, run against every
 * driver (the filesystem one now, S3 next). Each test works under its own prefix.
 */
export function driverContract(name: string, makeDriver: () => Promise<DriverUnderTest>): void {
  describe(`storage driver contract: ${name}`, () => {
    let d: DriverUnderTest;
    let n = 0;
    /** A fresh prefix for one test. */
    const prefix = () => `contract/t${++n}`;
    const driver = () => d.driver;
    before(async () => {
      d = await makeDriver();
    });
    after(() => d.cleanup());

    describe('small files', () => {
      it('reads back what putContent stored, creating the directories above it', async () => {
        const p = `${prefix()}/a/b/c/file`;
        await driver().putContent(p, 'hello');
        assert.equal((await driver().getContent(p)).toString(), 'hello');
        const info = await driver().stat(p);
        assert.equal(info.size, 5);
        assert.equal(info.isDirectory, false);
        assert.equal((await driver().stat(p.replace('/c/file', '/c'))).isDirectory, true);
      });

      it('replaces a file with putContent, bytes exactly as given', async () => {
        const p = `${prefix()}/file`;
        await driver().putContent(p, randomBytes(5000));
        const second = randomBytes(17);
        await driver().putContent(p, second);
        assert.deepEqual(await driver().getContent(p), second);
      });

      it('stores an empty file', async () => {
        const p = `${prefix()}/empty`;
        await driver().putContent(p, Buffer.alloc(0));
        assert.equal((await driver().getContent(p)).length, 0);
        assert.equal((await driver().stat(p)).size, 0);
      });

      it('never lets a reader see a partial or mixed file while putContent replaces it', async () => {
        const p = `${prefix()}/big`;
        const a = Buffer.alloc(2 * 1024 * 1024, 'a');
        const b = Buffer.alloc(3 * 1024 * 1024, 'b');
        await driver().putContent(p, a);
        let done = false;
        const reads: Promise<number> = (async () => {
          let count = 0;
          while (!done) {
            const got = await driver().getContent(p);
            assert.ok(got.equals(a) || got.equals(b), `a reader saw ${got.length} bytes that are neither value`);
            count++;
          }
          return count;
        })();
        for (let i = 0; i < 10; i++) await driver().putContent(p, i % 2 ? a : b);
        done = true;
        assert.ok((await reads) > 0);
      });

      it('never lists a directory whose file is not readable yet, while files are created in new directories', async () => {
        const dir = `${prefix()}/tags`;
        await driver().putContent(`${dir}/seed/current/link`, 'seed');
        let done = false;
        let checked = 0;
        const reader = (async () => {
          while (!done) {
            for (const entry of await driver().list(dir)) {
              // Listed means readable: the directory and its file appeared in one step.
              const info = await driver().stat(`${dir}/${entry}/current/link`).catch(() => null);
              assert.ok(info && info.size > 0, `${entry} listed without its file`);
              checked++;
            }
          }
        })();
        // Large enough that writing one takes several turns of the event loop, so the reader runs between.
        const value = Buffer.alloc(512 * 1024, 'v');
        for (let i = 0; i < 40; i++) await driver().putContent(`${dir}/t${i}/current/link`, value);
        done = true;
        await reader;
        assert.ok(checked > 0);
        assert.equal((await driver().list(dir)).length, 41);
      });

      it('ends with one complete value when concurrent writers put the same path', async () => {
        const p = `${prefix()}/contended/current/link`;
        const values = Array.from({ length: 24 }, (_, i) => Buffer.alloc(10_000 + i, String.fromCharCode(97 + i)));
        await Promise.all(values.map((v) => driver().putContent(p, v)));
        const got = await driver().getContent(p);
        assert.ok(values.some((v) => v.equals(got)), 'the final content is not one of the values written');
        assert.deepEqual(await driver().list(p.replace('/current/link', '')), ['current']);
        assert.deepEqual(await driver().list(p.replace('/link', '')), ['link']);
      });

      it('keeps every file when concurrent writers create siblings in the same new directory', async () => {
        const dir = `${prefix()}/new/dir`;
        await Promise.all(Array.from({ length: 16 }, (_, i) => driver().putContent(`${dir}/f${i}`, `v${i}`)));
        assert.deepEqual((await driver().list(dir)).sort(), Array.from({ length: 16 }, (_, i) => `f${i}`).sort());
        for (let i = 0; i < 16; i++) assert.equal((await driver().getContent(`${dir}/f${i}`)).toString(), `v${i}`);
      });

      it('leaves either the whole file or nothing when a put and a delete of its directory race', async () => {
        const base = prefix();
        for (let i = 0; i < 20; i++) {
          const dir = `${base}/race${i}`;
          await Promise.allSettled([driver().putContent(`${dir}/current/link`, 'x'), driver().delete(dir)]);
          const listed = (await listOrEmpty(driver(), base)).includes(`race${i}`);
          if (listed) assert.equal((await driver().getContent(`${dir}/current/link`)).toString(), 'x');
        }
      });
    });

    describe('listing', () => {
      it('lists the names of direct children, files and directories, and nothing else', async () => {
        const dir = `${prefix()}/list`;
        await driver().putContent(`${dir}/file`, '1');
        await driver().putContent(`${dir}/sub/deeper/file`, '2');
        for (let i = 0; i < 5; i++) await driver().putContent(`${dir}/file`, `again ${i}`);
        assert.deepEqual((await driver().list(dir)).sort(), ['file', 'sub']);
        assert.deepEqual(await driver().list(`${dir}/sub`), ['deeper']);
      });

      it('lists names that look like temp files when they are real names', async () => {
        const dir = `${prefix()}/names`;
        await driver().putContent(`${dir}/v1.tmp/current/link`, 'x');
        assert.deepEqual(await driver().list(dir), ['v1.tmp']);
      });
    });

    describe('not found', () => {
      it('throws PathNotFoundError from getContent, stat, list, reader and delete of a missing path', async () => {
        const p = `${prefix()}/missing/file`;
        await rejectsNotFound(driver().getContent(p), 'getContent');
        await rejectsNotFound(driver().stat(p), 'stat');
        await rejectsNotFound(driver().list(p), 'list');
        await rejectsNotFound(driver().reader(p), 'reader');
        await rejectsNotFound(driver().delete(p), 'delete');
      });

      it('throws PathNotFoundError from move of a missing source and creates nothing at the destination', async () => {
        const base = prefix();
        await rejectsNotFound(driver().move(`${base}/nothing`, `${base}/dest/file`), 'move');
        await rejectsNotFound(driver().stat(`${base}/dest/file`), 'stat after the failed move');
      });
    });

    describe('ranges', () => {
      it('streams a whole file, from an offset, and an inclusive range', async () => {
        const p = `${prefix()}/blob`;
        const data = randomBytes(300_000);
        await driver().putContent(p, data);
        assert.deepEqual(await readAll(await driver().reader(p)), data);
        assert.deepEqual(await readAll(await driver().reader(p, { start: 1000 })), data.subarray(1000));
        assert.deepEqual(await readAll(await driver().reader(p, { start: 10, end: 19 })), data.subarray(10, 20));
        assert.deepEqual(await readAll(await driver().reader(p, { start: 299_999, end: 299_999 })), data.subarray(299_999));
      });
    });

    describe('move', () => {
      it('moves a file into new directories; the source is gone and the destination whole', async () => {
        const base = prefix();
        const data = randomBytes(100_000);
        await driver().putContent(`${base}/uploads/u1/data`, data);
        await driver().move(`${base}/uploads/u1/data`, `${base}/blobs/ab/abcd/data`);
        assert.deepEqual(await driver().getContent(`${base}/blobs/ab/abcd/data`), data);
        await rejectsNotFound(driver().stat(`${base}/uploads/u1/data`), 'the moved source');
        assert.deepEqual(await driver().list(`${base}/blobs/ab/abcd`), ['data']);
      });

      it('replaces the destination atomically: a reader sees the old or the new file, whole', async () => {
        const base = prefix();
        const a = Buffer.alloc(1024 * 1024, 'a');
        const b = Buffer.alloc(2 * 1024 * 1024, 'b');
        await driver().putContent(`${base}/dest`, a);
        let done = false;
        const reads = (async () => {
          while (!done) {
            const got = await driver().getContent(`${base}/dest`);
            assert.ok(got.equals(a) || got.equals(b), `a reader saw ${got.length} bytes that are neither value`);
          }
        })();
        for (let i = 0; i < 8; i++) {
          await driver().putContent(`${base}/src${i}`, i % 2 ? a : b);
          await driver().move(`${base}/src${i}`, `${base}/dest`);
        }
        done = true;
        await reads;
      });

      it('never lists a new directory before the moved file is in it', async () => {
        const base = prefix();
        let done = false;
        const reader = (async () => {
          while (!done) {
            for (const entry of await listOrEmpty(driver(), `${base}/blobs`)) {
              assert.equal((await driver().getContent(`${base}/blobs/${entry}/data`)).length, 10, `${entry} listed without its data`);
            }
          }
        })();
        for (let i = 0; i < 30; i++) {
          await driver().putContent(`${base}/up/${i}/data`, randomBytes(10));
          await driver().move(`${base}/up/${i}/data`, `${base}/blobs/b${i}/data`);
        }
        done = true;
        await reader;
        assert.equal((await driver().list(`${base}/blobs`)).length, 30);
      });
    });

    describe('writer', () => {
      it('writes a new file, counts what it accepted, and commits it', async () => {
        const p = `${prefix()}/up/data`;
        const w = await driver().writer(p, true);
        assert.equal(w.startSize, 0);
        const data = randomBytes(70_000);
        await write(w.stream, data);
        assert.equal(w.written, data.length);
        await w.commit();
        assert.deepEqual(await driver().getContent(p), data);
      });

      it('appends to what is there, starting at its size', async () => {
        const p = `${prefix()}/up/data`;
        const first = randomBytes(1000);
        const second = randomBytes(2000);
        const w1 = await driver().writer(p, true);
        await write(w1.stream, first);
        await w1.commit();
        const w2 = await driver().writer(p, true);
        assert.equal(w2.startSize, 1000);
        await write(w2.stream, second);
        await w2.commit();
        assert.deepEqual(await driver().getContent(p), Buffer.concat([first, second]));
      });

      it('rolls an append back to its starting size on cancel', async () => {
        const p = `${prefix()}/up/data`;
        const first = randomBytes(1000);
        const w1 = await driver().writer(p, true);
        await write(w1.stream, first);
        await w1.commit();
        const w2 = await driver().writer(p, true);
        await write(w2.stream, randomBytes(5000));
        await w2.cancel();
        assert.deepEqual(await driver().getContent(p), first);
      });

      it('leaves nothing of a new file but an empty one (or none) on cancel', async () => {
        const p = `${prefix()}/up/data`;
        const w = await driver().writer(p, true);
        await write(w.stream, randomBytes(5000));
        await w.cancel();
        try {
          assert.equal((await driver().stat(p)).size, 0);
        } catch (err) {
          assert.ok(isNotFound(err), String(err));
        }
      });

      it('replaces the file when not appending', async () => {
        const p = `${prefix()}/up/data`;
        await driver().putContent(p, randomBytes(3000));
        const w = await driver().writer(p, false);
        assert.equal(w.startSize, 0);
        await write(w.stream, Buffer.from('short'));
        await w.commit();
        assert.equal((await driver().getContent(p)).toString(), 'short');
      });
    });

    describe('delete', () => {
      it('deletes a file and a directory tree; both are gone from stat and list', async () => {
        const base = prefix();
        await driver().putContent(`${base}/keep`, 'k');
        await driver().putContent(`${base}/file`, 'f');
        await driver().putContent(`${base}/tree/a/b`, '1');
        await driver().putContent(`${base}/tree/c`, '2');
        await driver().delete(`${base}/file`);
        await driver().delete(`${base}/tree`);
        await rejectsNotFound(driver().stat(`${base}/file`), 'deleted file');
        await rejectsNotFound(driver().stat(`${base}/tree/a/b`), 'file in a deleted tree');
        assert.deepEqual(await driver().list(base), ['keep']);
      });

      it('deletes a path that concurrent deletes race for exactly once', async () => {
        const p = `${prefix()}/tag`;
        await driver().putContent(`${p}/current/link`, 'x');
        const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => driver().delete(p)));
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
        for (const o of outcomes) if (o.status === 'rejected') assert.ok(isNotFound(o.reason), String(o.reason));
      });
    });
  });
}

async function rejectsNotFound(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isNotFound(err), `${what}: expected PathNotFoundError, got ${String(err)}`);
    return true;
  });
}

async function listOrEmpty(driver: StorageDriver, p: string): Promise<string[]> {
  try {
    return await driver.list(p);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function write(stream: NodeJS.WritableStream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
