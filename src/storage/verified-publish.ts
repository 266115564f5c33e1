import { createHash, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestAlgorithm, type Digest } from '../oci/digest.ts';
import { RegistryError } from '../oci/errors.ts';
import type { RepoName } from '../oci/names.ts';
import { listOptional, type ContentStore } from './content-store.ts';
import { isNotFound, type StorageDriver } from './driver.ts';
import { failpoint } from '../failpoint.ts';
import { Failpoints } from './failpoints.ts';
import { layout, type UploadId } from './layout.ts';

const STAGED = 'publishing-';

/**
 * Publishes an upload on storage that several processes share (S3 behind a load balancer), where
 * no lock of this process keeps another replica from appending to the same session while this
 * one completes it. The data is first moved to a key of this completion's own, out of reach of
 * appends; those bytes are hashed again and published only if they are the blob. So two
 * requests racing on one session can fail each other, but never publish what the digest does
 * not name. A completion retried after a crash finds what an earlier one staged.
 */
export async function publishVerified(driver: StorageDriver, content: ContentStore, name: RepoName, id: UploadId, digest: Digest): Promise<void> {
  if ((await content.size(digest)) !== null) return;
  const dir = layout.uploadDir(name, id);
  try {
    await driver.move(layout.uploadData(name, id), `${dir}/${STAGED}${randomUUID()}`);
  } catch (err) {
    if (!isNotFound(err)) throw err; // moved by an earlier (crashed or concurrent) completion
  }
  failpoint(Failpoints.publishStaged);
  for (const entry of await listOptional(driver, dir)) {
    if (!entry.startsWith(STAGED)) continue;
    const staged = `${dir}/${entry}`;
    if ((await hashOf(driver, staged, digestAlgorithm(digest))) === digest) {
      failpoint(Failpoints.publishVerified);
      await content.publish(digest, staged);
      return;
    }
  }
  throw new RegistryError('BLOB_UPLOAD_INVALID', `upload ${id} changed while it was completed as ${digest}; start the upload again`, {
    detail: { digest, reason: 'the stored bytes no longer have this digest (two requests on one upload at once?)' },
  });
}

async function hashOf(driver: StorageDriver, path: string, alg: 'sha256' | 'sha512'): Promise<Digest | null> {
  const hash = createHash(alg);
  try {
    await pipeline(
      await driver.reader(path),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb();
        },
      }),
    );
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  return `${alg}:${hash.digest('hex')}` as Digest;
}
