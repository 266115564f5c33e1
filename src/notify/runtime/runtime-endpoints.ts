import type { Logger } from 'pino';
import type { EndpointDefinition, EndpointStatus, PendingPolicy } from '../admin.ts';
import { checkTarget, TargetForbiddenError } from '../endpoint-targets.ts';
import type { EndpointOptions, TargetPolicy } from '../options.ts';
import { EndpointChangeError, readOnly, unknown } from './endpoint-change-error.ts';
import type { EndpointParse } from './endpoint-parse.ts';
import type { RuntimeEndpointStore, StoredEndpoint } from './endpoint-store.ts';
import { withRuntime, type Entry } from './runtime-status.ts';

/** What the notifier does when the set of runtime endpoints changes. */
export interface RuntimeHooks {
  /** The runtime endpoints to route events to from now on (the config's stay as they are). */
  route(endpoints: EndpointOptions[]): void;
  /** Starts (or restarts with new options) the endpoint's delivery worker. */
  put(endpoint: EndpointOptions): Promise<void>;
  /** Stops the endpoint's delivery worker. */
  drop(name: string): Promise<void>;
  /** Resolves once every event routed so far is committed (a barrier in the outbox writer). */
  flushed(): Promise<void>;
  /** Every endpoint's status, as `GET /notifications/endpoints` lists it (already decorated). */
  status(): Promise<EndpointStatus[]>;
}

export interface RuntimeTimings {
  /** How often the store's revision is read (changes made by other replicas), or null: never. */
  pollMs: number | null;
  /** How often a draining endpoint's queue is looked at. */
  drainMs: number;
}

/**
 * Endpoints created through the operator API, kept in the outbox store beside the config's:
 * validated with the config's own schema, checked by the target guard, effective at once (the
 * router and the delivery thread are told), and picked up from the store at start and, on the
 * shared outbox, from other replicas' changes by polling its revision. Changes run one at a time.
 */
export class RuntimeEndpoints {
  private readonly entries = new Map<string, Entry>();
  private queue: Promise<unknown> = Promise.resolve();
  private revision = -1;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly store: RuntimeEndpointStore,
    /** Every endpoint of the config file, disabled ones included: their names are taken, and read-only. */
    private readonly configured: ReadonlySet<string>,
    private readonly policy: TargetPolicy,
    /** null: this process cannot parse definitions (none handed in), so it has no runtime endpoints. */
    private readonly parse: EndpointParse | null,
    private readonly hooks: RuntimeHooks,
    private readonly timings: RuntimeTimings,
    private readonly logger: Logger,
  ) {}

  /** Reads the stored endpoints and starts them (before the first request), then keeps watching. */
  async start(): Promise<void> {
    if (!this.parse) return;
    await this.serial(() => this.sync());
    const { pollMs, drainMs } = this.timings;
    if (pollMs !== null) this.every(pollMs, () => this.serial(() => this.sync()), 'runtime endpoints not read again');
    this.every(drainMs, () => this.drainStep(), 'draining endpoints not looked at');
  }

  private every(ms: number, task: () => Promise<unknown>, failure: string): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.closed) return;
      busy = true;
      task()
        .catch((err: unknown) => this.logger.warn({ err }, failure))
        .finally(() => {
          busy = false;
        });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Runtime endpoints with options, for a delivery thread that (re)starts. */
  delivered(): EndpointOptions[] {
    return [...this.entries.values()].filter((e) => e.options && !e.disabled).map((e) => e.options!);
  }

  definition(name: string): EndpointDefinition | null {
    const e = this.entries.get(name);
    if (e) return { name, source: 'runtime', definition: e.stored.definition, inbox: e.stored.inbox };
    return this.configured.has(name) ? { name, source: 'config', definition: null, inbox: false } : null;
  }

  secrets(name: string): string[] | null {
    const e = this.entries.get(name);
    return e?.stored.inbox && e.options ? e.options.secrets : null;
  }

  /** Marks each status with its source; lists runtime endpoints the delivery thread does not run (disabled). */
  decorate(statuses: EndpointStatus[]): Promise<EndpointStatus[]> {
    return withRuntime(statuses, this.entries, (name) => this.store.pending(name));
  }

  /** Creates the endpoint; its status once it runs. */
  async create(definition: Record<string, unknown>, inbox: boolean): Promise<EndpointStatus> {
    await this.serial(async () => {
      if (!this.parse) throw new EndpointChangeError('UNAVAILABLE', 'runtime endpoints are not available in this process');
      const name = typeof definition.name === 'string' ? definition.name : '';
      if (this.configured.has(name) || this.entries.has(name)) {
        throw new EndpointChangeError('ENDPOINT_EXISTS', `an endpoint named "${name}" exists already`, { endpoint: name });
      }
      const stored: StoredEndpoint = { name, definition, inbox, draining: false };
      const entry = await this.validate(stored);
      if (await this.store.hasEvents(name)) {
        // A removed endpoint's retained events would be delivered to the new one's target.
        throw new EndpointChangeError('ENDPOINT_EXISTS', `the outbox still holds events of a removed endpoint "${name}" (listed until pruned): choose another name`, {
          endpoint: name,
          removed: true,
        });
      }
      if (!(await this.store.insert(stored))) {
        throw new EndpointChangeError('ENDPOINT_EXISTS', `an endpoint named "${name}" exists already`, { endpoint: name });
      }
      await this.apply(name, entry);
    });
    return this.statusOf(String(definition.name));
  }

  /** Replaces the endpoint's definition; its status once it runs with it. */
  async replace(name: string, definition: Record<string, unknown>): Promise<EndpointStatus> {
    await this.serial(async () => {
      const current = this.writable(name);
      if (definition.name !== name) {
        throw new EndpointChangeError('INVALID_ENDPOINT', `the definition's name must be "${name}" (an endpoint cannot be renamed)`, {
          issues: [{ path: 'name', message: `must be "${name}"` }],
        });
      }
      // An inbox stays one only while it keeps the registry's own target.
      const inbox = current.stored.inbox && definition.url === current.stored.definition.url;
      const stored: StoredEndpoint = { name, definition, inbox, draining: current.stored.draining };
      const entry = await this.validate(stored);
      await this.store.update(stored);
      await this.apply(name, entry);
    });
    return this.statusOf(name);
  }

  private async statusOf(name: string): Promise<EndpointStatus> {
    const status = (await this.hooks.status()).find((s) => s.name === name);
    if (!status) throw new Error(`endpoint ${name} is not listed after its change`);
    return status;
  }

  remove(name: string, pending: PendingPolicy | null): Promise<'removed' | 'draining'> {
    return this.serial(async () => {
      const current = this.writable(name);
      if (pending === null) {
        // Refused with routing untouched: not one event is lost to a removal that did not happen.
        await this.hooks.flushed();
        const queued = await this.store.pending(name);
        if (queued > 0) {
          throw new EndpointChangeError(
            'ENDPOINT_NOT_DRAINED',
            `endpoint "${name}" has ${queued} queued events: ask pending=drain (deliver them, then remove) or pending=discard (drop them)`,
            { endpoint: name, pending: queued },
          );
        }
      }
      this.route(name); // removed from here on: no new events
      await this.hooks.flushed(); // those routed before are in the queue: drained or dropped with it
      if (pending === 'drain' && (await this.store.pending(name)) > 0) {
        current.stored = { ...current.stored, draining: true };
        await this.store.update(current.stored);
        this.route();
        return 'draining';
      }
      await this.purge(name);
      return 'removed';
    });
  }

  /** A runtime endpoint the API may change: not the config's, not unknown. */
  private writable(name: string): Entry {
    const e = this.entries.get(name);
    if (e) return e;
    throw this.configured.has(name) ? readOnly(name) : unknown(name);
  }

  /** Parses the definition with the config's schema and checks its target (an inbox: only its own). */
  private async validate(stored: StoredEndpoint): Promise<Entry> {
    const parsed = this.parse!(stored.definition);
    if (!parsed.ok) {
      const first = parsed.issues[0];
      throw new EndpointChangeError('INVALID_ENDPOINT', first ? `${first.path || 'endpoint'}: ${first.message}` : 'invalid endpoint', {
        issues: parsed.issues,
      });
    }
    const options = { ...parsed.options, targets: this.targetsOf(parsed.options.url, stored) };
    try {
      await checkTarget(options.url, options.targets);
    } catch (err) {
      if (!(err instanceof TargetForbiddenError)) throw err;
      throw new EndpointChangeError('TARGET_FORBIDDEN', err.message, { host: err.host, address: err.address });
    }
    return { stored, options, disabled: parsed.disabled };
  }

  /** The guard of one endpoint: the registry's; an inbox's also allows exactly its own `host:port`. */
  private targetsOf(url: string, stored: StoredEndpoint): TargetPolicy {
    if (!stored.inbox) return this.policy;
    const u = new URL(url);
    if (u.pathname !== `/ui/inbox/${stored.name}`) throw new Error(`inbox endpoint ${stored.name}: ${url} is not its inbox`);
    return { ...this.policy, allow: [...this.policy.allow, u.host] };
  }

  /** Tells the router and the delivery thread what an entry now says. */
  private async apply(name: string, entry: Entry): Promise<void> {
    this.entries.set(name, entry);
    this.route();
    if (entry.options && !entry.disabled) await this.hooks.put(entry.options);
    else await this.hooks.drop(name);
  }

  /** Routes to every runtime endpoint that takes events, except `without` (being removed). */
  private route(without?: string): void {
    const routed = [...this.entries.values()]
      .filter((e) => e.options && !e.disabled && !e.stored.draining && e.stored.name !== without)
      .map((e) => e.options!);
    this.hooks.route(routed);
  }

  private async purge(name: string): Promise<void> {
    this.entries.delete(name);
    this.route();
    await this.hooks.drop(name);
    await this.store.purge(name);
    const { pollMs } = this.timings;
    if (pollMs === null) return;
    // Other replicas route to it until their next poll: what they queued meanwhile goes too.
    const later = setTimeout(() => {
      if (this.closed) return;
      this.store.purgeLeftovers(name).catch((err: unknown) => this.logger.warn({ err, endpoint: name }, 'a removed endpoint\'s leftovers not purged'));
    }, 2 * pollMs + 500);
    later.unref();
  }

  /** Reads the store again if its revision moved (another replica's change, or start), and applies the difference. */
  private async sync(): Promise<void> {
    const revision = await this.store.revision();
    if (revision === this.revision) return;
    const stored = await this.store.list();
    this.revision = revision;
    const seen = new Set<string>();
    for (const s of stored) {
      seen.add(s.name);
      if (this.configured.has(s.name)) {
        this.logger.warn({ endpoint: s.name }, 'a runtime endpoint has the name of a config endpoint: the config one is used');
        continue;
      }
      const current = this.entries.get(s.name);
      if (current && JSON.stringify(current.stored) === JSON.stringify(s)) continue;
      await this.apply(s.name, await this.loaded(s));
    }
    for (const name of [...this.entries.keys()]) {
      if (seen.has(name)) continue;
      this.entries.delete(name);
      this.route();
      await this.hooks.drop(name);
    }
  }

  /** A stored endpoint as it is now read; one that no longer validates is kept but not delivered. */
  private async loaded(s: StoredEndpoint): Promise<Entry> {
    try {
      return await this.validate(s);
    } catch (err) {
      this.logger.error({ err, endpoint: s.name }, 'a stored runtime endpoint is not valid now: not delivered until it is replaced');
      return { stored: s, options: null, disabled: true };
    }
  }

  /** Removes each draining endpoint whose queue is empty (every replica may: the purge is idempotent). */
  private async drainStep(): Promise<void> {
    for (const [name, e] of this.entries) {
      if (!e.stored.draining) continue;
      if ((await this.store.pending(name)) > 0) continue;
      await this.serial(async () => {
        if (this.entries.get(name)?.stored.draining && (await this.store.pending(name)) === 0) {
          await this.purge(name);
          this.logger.info({ endpoint: name }, 'runtime endpoint drained and removed');
        }
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.queue;
    await this.store.close();
  }
}
