import { existsSync } from 'node:fs';
import type { NotifyOptions } from './options.ts';

/**
 * Whether notifications need their threads from the start: a configured endpoint, a shared
 * outbox (another replica may create endpoints), or runtime endpoints stored in the SQLite
 * outbox. Reads the file without loading SQLite when there is none.
 */
export async function needsNotificationThreads(options: NotifyOptions): Promise<boolean> {
  if (options.endpoints.length > 0 || options.outbox.postgres !== null) return true;
  if (!existsSync(options.outbox.file)) return false;
  const { hasStoredEndpoints } = await import('./runtime/endpoint-store.ts');
  return hasStoredEndpoints(options.outbox.file);
}
