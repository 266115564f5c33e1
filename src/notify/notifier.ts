import type { RequestContext } from '../oci/request-context.ts';
import type { Repository } from '../storage/repository.ts';
import type { NotificationAdmin, NotificationsHealth } from './admin.ts';
import { EndpointChangeError, unknown } from './runtime/endpoint-change-error.ts';

/**
 * The seam between the registry and its notifications: the API asks for a repository, and the
 * notifier hands back one whose services report each completed operation. Two of them: with
 * endpoints, ThreadedNotifier (threaded-notifier.ts); with none, the do-nothing twin below, so no
 * code asks "are notifications on?".
 */
export interface Notifier {
  listen(repository: Repository, ctx: RequestContext): Repository;
  close(): Promise<void>;
}

export class NoopNotifier implements Notifier, NotificationAdmin {
  listen(repository: Repository): Repository {
    return repository;
  }

  async close(): Promise<void> {}

  async status() {
    return [];
  }

  has() {
    return false;
  }

  async deliveries() {
    return [];
  }

  async deadLetters() {
    return [];
  }

  async redeliver() {
    return false;
  }

  async replay() {
    return 0;
  }

  async events() {
    return [];
  }

  ping(): never {
    throw new Error('no notification endpoints are configured');
  }

  async enable(): Promise<void> {}

  /** Runtime endpoints need the threads: LazyNotifier (lazy-notifier.ts) starts them for the first one. */
  createEndpoint(): never {
    throw new EndpointChangeError('UNAVAILABLE', 'notifications are not running: runtime endpoints cannot be created in this process');
  }

  replaceEndpoint(name: string): never {
    throw unknown(name);
  }

  removeEndpoint(name: string): never {
    throw unknown(name);
  }

  endpointDefinition() {
    return null;
  }

  endpointSecrets() {
    return null;
  }

  /** No threads, no outbox: nothing can be down. */
  async health(): Promise<NotificationsHealth> {
    return {
      writer: 'up',
      delivery: 'up',
      outbox: 'writable',
      restarts: { writer: 0, delivery: 0 },
      errors: { writer: null, delivery: null, outbox: null },
    };
  }
}
