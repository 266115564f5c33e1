import pg from 'pg';
import type { Logger } from 'pino';
import type { PostgresOutboxOptions } from '../options.ts';
import { CHANNEL, LockSpace, pgClientConfig } from '../outbox/pg-schema.ts';

/** What the leases tell the delivery engine. */
export interface LeaseEvents {
  /** This replica now delivers the endpoint (`held`), or no longer does. */
  changed(endpoint: string, held: boolean): void;
  /** Some replica queued events for these endpoints. */
  woken(endpoints: string[]): void;
}

/**
 * Which endpoints this replica delivers. Per-endpoint order holds only if one process at a time
 * delivers an endpoint: with the embedded outbox that is the only process (LocalLeases); with
 * the shared one, the replica holding the endpoint's lease (PgLeases).
 */
export interface EndpointLeases {
  holds(endpoint: string): boolean;
  start(events: LeaseEvents): void;
  /** A runtime endpoint appeared: try for its lease too. */
  add(endpoint: string): void;
  /** A runtime endpoint went: give its lease up. */
  remove(endpoint: string): void;
  close(): Promise<void>;
}

export class LocalLeases implements EndpointLeases {
  holds(): boolean {
    return true;
  }

  start(): void {}

  add(): void {}

  remove(): void {}

  async close(): Promise<void> {}
}

/** A guest of the outbox (NotifyOptions.deliver false): it delivers nothing; the registry does. */
export class NoLeases implements EndpointLeases {
  holds(): boolean {
    return false;
  }

  start(): void {}

  add(): void {}

  remove(): void {}

  async close(): Promise<void> {}
}

export interface PgLeaseTimings {
  /** How often a replica tries for the endpoints it does not hold (and checks its session). */
  pollMs: number;
  /** A check of the session that takes longer than this counts as a lost session. */
  queryTimeoutMs: number;
}

export const DEFAULT_LEASE_TIMINGS: PgLeaseTimings = { pollMs: 1_000, queryTimeoutMs: 5_000 };

/**
 * Leases in the shared outbox: a session-level advisory lock per endpoint, on one connection of
 * the delivery thread's. A replica that dies (kill -9) closes its socket and PostgreSQL frees its
 * locks at once; one cut off the network is dropped by the server's TCP keepalive, set short on
 * this session (about 11 s). Every replica tries each endpoint it does not hold once per
 * `pollMs`, so an orphaned endpoint is taken over within about a second of its lock being free.
 * This session also LISTENs: every replica's commits wake the holder at once.
 *
 * A replica that loses its session stops delivering at once (changed(..., false)) and tries again;
 * an attempt already in flight may still complete, so a takeover can repeat an event: at least once.
 */
export class PgLeases implements EndpointLeases {
  private client: pg.Client | null = null;
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private events: LeaseEvents | null = null;
  private ticking = false;
  private closed = false;
  private readonly endpoints: Set<string>;

  constructor(
    private readonly options: PostgresOutboxOptions,
    endpoints: string[],
    private readonly logger: Logger,
    private readonly timings: PgLeaseTimings = DEFAULT_LEASE_TIMINGS,
  ) {
    this.endpoints = new Set(endpoints);
  }

  add(endpoint: string): void {
    this.endpoints.add(endpoint);
    void this.tick();
  }

  remove(endpoint: string): void {
    this.endpoints.delete(endpoint);
    if (!this.held.delete(endpoint)) return;
    this.client
      ?.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LockSpace.endpoint, endpoint])
      .catch((err: unknown) => this.lost(err));
  }

  holds(endpoint: string): boolean {
    return this.held.has(endpoint);
  }

  start(events: LeaseEvents): void {
    this.events = events;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.timings.pollMs);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      const client = this.client ?? (await this.connect());
      for (const endpoint of [...this.endpoints]) {
        if (this.held.has(endpoint) || this.closed) continue;
        const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
          LockSpace.endpoint,
          endpoint,
        ]);
        if (rows[0]?.ok && this.client === client && !this.endpoints.has(endpoint)) {
          // Removed while the lock was being taken: give it back.
          await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LockSpace.endpoint, endpoint]);
        } else if (rows[0]?.ok && this.client === client) {
          this.held.add(endpoint);
          this.logger.info({ endpoint }, 'delivering this endpoint (lease taken)');
          this.events?.changed(endpoint, true);
        }
      }
      if (this.held.size === this.endpoints.size) await client.query('SELECT 1'); // the session still lives
    } catch (err) {
      this.lost(err);
    } finally {
      this.ticking = false;
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ ...pgClientConfig(this.options, 'dockyard-delivery-leases'), query_timeout: this.timings.queryTimeoutMs });
    client.on('error', (err) => this.lost(err));
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      try {
        this.events?.woken(JSON.parse(n.payload) as string[]);
      } catch {
        // not ours
      }
    });
    await client.connect();
    // The server notices a vanished replica by keepalive: short, so its leases are freed soon.
    await client.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
    return client;
  }

  private lost(err: unknown): void {
    const client = this.client;
    this.client = null;
    if (client) client.end().catch(() => undefined);
    if (this.closed) return;
    if (this.held.size > 0) this.logger.warn({ err, endpoints: [...this.held] }, 'lease session lost: not delivering until it is back');
    const lost = [...this.held];
    this.held.clear();
    for (const endpoint of lost) this.events?.changed(endpoint, false);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const client = this.client;
    this.client = null;
    this.held.clear();
    await client?.end().catch(() => undefined); // frees the locks
  }
}
