/**
 * Which webhook events each successful operation owes, per server, as keys the receiver counts:
 * `<action> <request method> <manifest|blob> <repository>@<digest>`.
 *
 * Dockyard (src/notify/events/listener.ts): a blob push per completed upload, a manifest push per
 * manifest PUT, a pull per manifest GET and per blob GET whose body went out whole; a HEAD is a
 * pull event too, but an endpoint drops it unless `includehead` (filter.ts), and this endpoint has
 * it off. Distribution 2.8.2 emits the same, and a pull for every HEAD of a manifest or a blob
 * (its endpoints have no HEAD filter; FIELD-NOTES: "HEAD counted as pull").
 */
import type { ServerKind } from '../requests/settings.ts';

export type OpKind = 'upload-post' | 'blob-put' | 'manifest-put' | 'manifest-get' | 'blob-get' | 'manifest-head' | 'blob-head';
export const OP_KINDS: readonly OpKind[] = ['upload-post', 'blob-put', 'manifest-put', 'manifest-get', 'blob-get', 'manifest-head', 'blob-head'];

export type TargetKind = 'manifest' | 'blob';

/** The key's class (everything but the target), which the receiver also counts. */
export const classOf = (key: string): string => key.split(' ').slice(0, 3).join(' ');
export const targetKindOfClass = (cls: string): TargetKind => (cls.endsWith(' manifest') ? 'manifest' : 'blob');

const OWED: Record<OpKind, Record<ServerKind, string | null>> = {
  'upload-post': { dockyard: null, distribution: null },
  'blob-put': { dockyard: 'push PUT blob', distribution: 'push PUT blob' },
  'manifest-put': { dockyard: 'push PUT manifest', distribution: 'push PUT manifest' },
  'manifest-get': { dockyard: 'pull GET manifest', distribution: 'pull GET manifest' },
  'blob-get': { dockyard: 'pull GET blob', distribution: 'pull GET blob' },
  'manifest-head': { dockyard: null, distribution: 'pull HEAD manifest' },
  'blob-head': { dockyard: null, distribution: 'pull HEAD blob' },
};

/** The event key a successful `op` on `repository@digest` owes on `server`, or null. */
export function owedEvent(server: ServerKind, op: OpKind, repository: string, digest: string): string | null {
  const cls = OWED[op][server];
  return cls ? `${cls} ${repository}@${digest}` : null;
}
