import type { RequestContext } from '../oci/request-context.ts';
import type { Repository } from '../storage/repository.ts';
import type { EndpointDefinition, EndpointStatus, EventRange, NotificationAdmin, NotificationsHealth, PendingPolicy } from './admin.ts';
import { NoopNotifier, type Notifier } from './notifier.ts';

type Full = Notifier & NotificationAdmin;

/**
 * Notifications that start when first needed: a registry with no endpoint keeps the cheap
 * NoopNotifier (the threads cost ~0.6 s and their memory), and the first runtime endpoint created
 * through the operator API starts the threaded notifier on the fly, then this delegates to it.
 * Each request asks for its repository through here, so every request after the swap is
 * decorated; requests already in flight simply emit nothing.
 */
export class LazyNotifier implements Full {
  private current: Full;
  private starting: Promise<Full> | null = null;

  constructor(
    /** Starts the threaded notifier (resolves once it is ready). */
    private readonly start: () => Promise<Full>,
    initial: Full = new NoopNotifier(),
  ) {
    this.current = initial;
  }

  private started(): Promise<Full> {
    if (!(this.current instanceof NoopNotifier)) return Promise.resolve(this.current);
    this.starting ??= this.start().then(
      (notifier) => {
        this.current = notifier;
        return notifier;
      },
      (err: unknown) => {
        this.starting = null; // the next request may try again
        throw err;
      },
    );
    return this.starting;
  }

  listen(repository: Repository, ctx: RequestContext): Repository {
    return this.current.listen(repository, ctx);
  }

  async createEndpoint(definition: Record<string, unknown>, options?: { inbox?: boolean }): Promise<EndpointStatus> {
    return (await this.started()).createEndpoint(definition, options);
  }

  replaceEndpoint(name: string, definition: Record<string, unknown>): Promise<EndpointStatus> {
    return this.current.replaceEndpoint(name, definition);
  }

  removeEndpoint(name: string, pending: PendingPolicy | null): Promise<'removed' | 'draining'> {
    return this.current.removeEndpoint(name, pending);
  }

  endpointDefinition(name: string): EndpointDefinition | null {
    return this.current.endpointDefinition(name);
  }

  endpointSecrets(name: string): string[] | null {
    return this.current.endpointSecrets(name);
  }

  status() {
    return this.current.status();
  }

  has(name: string): boolean {
    return this.current.has(name);
  }

  deliveries(name: string, limit: number) {
    return this.current.deliveries(name, limit);
  }

  deadLetters(name: string, limit: number) {
    return this.current.deadLetters(name, limit);
  }

  redeliver(name: string, eventId: string) {
    return this.current.redeliver(name, eventId);
  }

  replay(name: string, range: EventRange) {
    return this.current.replay(name, range);
  }

  events(range: EventRange, limit: number) {
    return this.current.events(range, limit);
  }

  ping(name: string) {
    return this.current.ping(name);
  }

  enable(name: string) {
    return this.current.enable(name);
  }

  health(): Promise<NotificationsHealth> {
    return this.current.health();
  }

  /** Closes what runs, including a notifier still starting. */
  async close(): Promise<void> {
    const starting = this.starting;
    if (starting) await starting.catch(() => undefined);
    await this.current.close();
  }
}
