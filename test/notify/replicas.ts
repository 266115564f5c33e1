import * as path from 'node:path';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';

export interface ReplicaOptions {
  /** The shared PostgreSQL outbox. */
  outboxUrl: string;
  hookUrl: string;
  /** Added to the one endpoint (`hook`) of the replica. */
  endpoint?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Replicas for the shared-outbox tests: registry processes on one filesystem root (`<work>/data`)
 * and one PostgreSQL outbox, each with the same endpoint `hook`; every one started is kept in
 * `running`, for the test to kill.
 */
export class Replicas {
  readonly running: ChildRegistry[] = [];

  constructor(private readonly work: () => string) {}

  async start(name: string, options: ReplicaOptions): Promise<ChildRegistry> {
    const port = await freePort();
    const file = await writeConfig(
      this.work(),
      {
        version: 0.1,
        log: { level: 'warn' },
        http: { addr: `127.0.0.1:${port}` },
        storage: { filesystem: { rootdirectory: path.join(this.work(), 'data') }, delete: { enabled: true } },
        notifications: {
          endpoints: [{ name: 'hook', url: options.hookUrl, timeout: '500ms', backoff: '50ms', threshold: 2, maxbackoff: '200ms', ...options.endpoint }],
          outbox: { postgres: { url: options.outboxUrl } },
        },
      },
      `${name}.yml`,
    );
    const child = await ChildRegistry.start(file, port, 30_000, options.env ?? {});
    this.running.push(child);
    return child;
  }

  async killAll(): Promise<void> {
    for (const child of this.running) await child.kill();
  }
}
