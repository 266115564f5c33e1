import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FilesystemDriver, TEMP_DIR } from '../../src/storage/filesystem-driver.ts';
import { driverContract } from './driver-contract.ts';

async function tempDriver(options: { fsync?: boolean } = {}) {
  const root = await mkdtemp(path.join(tmpdir(), 'dockyard-fsdriver-'));
  return { driver: new FilesystemDriver(root, options), root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

driverContract('filesystem (fsync on, the default)', () => tempDriver());
driverContract('filesystem (fsync off)', () => tempDriver({ fsync: false }));

describe('the filesystem driver', () => {
  let t: Awaited<ReturnType<typeof tempDriver>>;
  before(async () => {
    t = await tempDriver();
  });
  after(() => t.cleanup());

  it('fsyncs by default and not when told not to', () => {
    assert.equal(new FilesystemDriver(t.root).fsync, true);
    assert.equal(new FilesystemDriver(t.root, { fsync: false }).fsync, false);
  });

  it('fsyncs the file, its new directories and the directory it was renamed into, and nothing with fsync off', async () => {
    // Counts fsync calls, as the driver makes them (through node:fs's callback form), for the
    // length of `run`; the upload data's writer syncs through its FileHandle, counted too.
    const probe = await open(path.join(t.root, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const originalSync = proto.sync;
    const originalFsync = fs.fsync;
    const counted = async (run: () => Promise<void>) => {
      let syncs = 0;
      proto.sync = function (this: unknown) {
        syncs++;
        return originalSync.call(this);
      };
      fs.fsync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
        syncs++;
        originalFsync(fd, callback);
      }) as typeof fs.fsync;
      try {
        await run();
      } finally {
        proto.sync = originalSync;
        fs.fsync = originalFsync;
      }
      return syncs;
    };
    // A file in 4 new directories (sync/a/b/c): the file, the 4 staged directories, the root it lands in.
    assert.equal(await counted(() => t.driver.putContent('sync/a/b/c/link', 'x')), 6);
    // Replacing it: the file and its directory.
    assert.equal(await counted(() => t.driver.putContent('sync/a/b/c/link', 'y')), 2);
    // A delete: the directory that lost the entry.
    assert.equal(await counted(() => t.driver.delete('sync/a')), 1);
    // Scratch (an upload session's files): nothing, until a move takes one into the tree, which
    // syncs its bytes, the staged directory and the directory it lands in.
    assert.equal(await counted(() => t.driver.putContent('scratch/s/data', 'x', { scratch: true })), 0);
    assert.equal(await counted(async () => {
      const w = await t.driver.writer('scratch/s/data', true, { scratch: true });
      w.stream.end('yz');
      await new Promise((resolve) => w.stream.once('finish', resolve));
      await w.commit();
    }), 0);
    assert.equal(await counted(() => t.driver.move('scratch/s/data', 'moved/data')), 3);
    assert.equal((await readFile(path.join(t.root, 'moved/data'))).toString(), 'xyz');
    assert.equal(await counted(() => t.driver.delete('scratch/s', { scratch: true })), 0);
    const off = new FilesystemDriver(t.root, { fsync: false });
    assert.equal(await counted(() => off.putContent('nosync/a/b/link', 'x')), 0);
    assert.equal(await counted(() => off.delete('nosync')), 0);
  });

  it('leaves nothing in its temp directory after puts, moves, deletes and a failed move', async () => {
    await t.driver.putContent('a/b/c/link', 'x');
    await t.driver.putContent('a/b/c/link', 'y');
    await t.driver.putContent('up/data', 'z');
    await t.driver.move('up/data', 'blobs/zz/data');
    await t.driver.delete('a/b');
    await assert.rejects(t.driver.move('up/nothing', 'blobs/none/data'));
    assert.deepEqual(await readdir(path.join(t.root, TEMP_DIR)), []);
    assert.deepEqual((await readdir(t.root)).filter((n) => ['a', 'blobs', 'up', TEMP_DIR].includes(n)).sort(), [TEMP_DIR, 'a', 'blobs', 'up']);
  });

  it('keeps its temp directory out of a listing of the root and refuses paths into it', async () => {
    await t.driver.putContent('x', '1');
    assert.ok(!(await t.driver.list('')).includes(TEMP_DIR));
    await assert.rejects(t.driver.putContent(`${TEMP_DIR}/file`, 'x'), /temp directory/);
  });

  it('does not list the temp files an older version left beside their targets', async () => {
    await t.driver.putContent('old/current/link', 'sha256:1');
    await writeFile(path.join(t.root, 'old/current/link.0b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60.tmp'), 'sha2');
    assert.deepEqual(await t.driver.list('old/current'), ['link']);
  });

  it('sweeps crash leftovers made before this process started from its temp directory, and keeps later ones', async () => {
    const temp = path.join(t.root, TEMP_DIR);
    const old = `${Date.now() - 2 * 3_600_000}-0b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60.dir`;
    const young = `${Date.now()}-1b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60.file`;
    await mkdir(path.join(temp, old, 'current'), { recursive: true });
    await writeFile(path.join(temp, old, 'current', 'link'), 'x');
    await writeFile(path.join(temp, young), 'y');
    await utimes(path.join(temp, young), new Date(0), new Date(0)); // the name's time counts, not the mtime
    assert.equal(await t.driver.sweepTemp(), 1);
    assert.deepEqual(await readdir(temp), [young]);
    await rm(path.join(temp, young));
  });
});
