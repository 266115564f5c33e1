import type { EndpointStatus } from '../admin.ts';
import type { EndpointOptions } from '../options.ts';
import type { StoredEndpoint } from './endpoint-store.ts';

/** One runtime endpoint as the registry's thread holds it. */
export interface Entry {
  stored: StoredEndpoint;
  /** null for a stored definition that no longer parses (a newer release's keys): kept, not delivered. */
  options: EndpointOptions | null;
  disabled: boolean;
}

/**
 * The delivery thread's statuses with each endpoint's source (`config` unless it is a runtime
 * one), and the runtime endpoints it does not run (disabled ones) added, so none is out of view.
 */
export async function withRuntime(
  statuses: EndpointStatus[],
  entries: ReadonlyMap<string, Entry>,
  pending: (name: string) => Promise<number>,
): Promise<EndpointStatus[]> {
  const out = statuses.map((s) => {
    const e = entries.get(s.name);
    return e ? { ...s, source: 'runtime' as const, inbox: e.stored.inbox, draining: e.stored.draining } : s;
  });
  const listed = new Set(out.map((s) => s.name));
  for (const [name, e] of entries) {
    if (listed.has(name)) continue;
    out.push({
      name,
      url: e.options?.url ?? null,
      removed: false,
      disabled: true,
      disabledReason: e.options ? 'disabled in its definition' : 'its stored definition no longer validates',
      pending: await pending(name),
      delivered: 0,
      deadLetters: 0,
      failingSince: null,
      lastStatus: null,
      delivering: false,
      source: 'runtime',
      inbox: e.stored.inbox,
      draining: e.stored.draining,
    });
  }
  return out;
}
