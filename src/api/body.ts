import type { IncomingMessage } from 'node:http';
import { RegistryError, type ErrorCode } from '../oci/errors.ts';

/** Reads a small request body whole (a manifest), refusing it as soon as it passes `limit`. */
export async function readSmallBody(req: IncomingMessage, limit: number, code: ErrorCode): Promise<Buffer> {
  const tooLarge = () =>
    new RegistryError(code, `request body is larger than the limit of ${limit} bytes`, { status: 413, detail: { limit } });
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
