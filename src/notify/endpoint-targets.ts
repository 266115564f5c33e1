import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { TargetPolicy } from './options.ts';

/**
 * The SSRF guard of runtime endpoints: an operator API that can aim the registry's requests at any
 * address lets whoever holds it probe the registry's own network (why Harbor dropped its "test
 * endpoint" button). A target whose host resolves to any loopback, private, link-local or
 * unspecified address (IPv4-mapped IPv6 included) is refused, unless the policy allows it. Checked
 * when an endpoint is created or changed, and again on every connection the delivery thread makes
 * (guardedLookup), so a name that later resolves elsewhere (DNS rebinding) is still refused.
 * Config endpoints are trusted as written and never checked.
 */

/** A target refused by the guard: names the address. */
export class TargetForbiddenError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(
      `${host} resolves to ${address}, a loopback, private or link-local address: refused for runtime endpoints ` +
        '(allow it with notifications.admin.allowtargets, or allowprivatetargets: true)',
    );
    this.name = 'TargetForbiddenError';
  }
}

const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", the unspecified address
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['169.254.0.0', 16], // link-local, cloud metadata
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv4');
}
FORBIDDEN.addAddress('::', 'ipv6');
FORBIDDEN.addAddress('::1', 'ipv6');
FORBIDDEN.addSubnet('fc00::', 7, 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');

/** `::ffff:a.b.c.d` or `::ffff:xxxx:yyyy` as its IPv4 address; null for any other address. */
function mappedIpv4(address: string): string | null {
  const m = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(address);
  if (!m) return null;
  const tail = m[1]!;
  if (isIP(tail) === 4) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (!hex) return null;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Whether the guard refuses this address (an IP literal). */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return FORBIDDEN.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: nothing to vouch for it
  const v4 = mappedIpv4(address);
  return v4 !== null ? FORBIDDEN.check(v4, 'ipv4') : FORBIDDEN.check(address, 'ipv6');
}

/** The policy's allow list, parsed once: hosts, `host:port`, CIDRs. */
class Allowance {
  private readonly hosts = new Set<string>();
  private readonly hostPorts = new Set<string>();
  private readonly cidrs = new BlockList();

  constructor(readonly policy: TargetPolicy) {
    for (const raw of policy.allow) {
      const entry = raw.trim().toLowerCase();
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      if (cidr && isIP(cidr[1]!)) {
        this.cidrs.addSubnet(cidr[1]!, Number(cidr[2]), isIP(cidr[1]!) === 4 ? 'ipv4' : 'ipv6');
        continue;
      }
      const bare = entry.replace(/^\[|\]$/g, '');
      const hostPort = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
      if (isIP(bare) || !hostPort) this.hosts.add(bare);
      else this.hostPorts.add(`${hostPort[1]}:${Number(hostPort[2])}`);
    }
  }

  /** The target is allowed by name (the host as written, with or without its port). */
  byName(host: string, port: number): boolean {
    return this.policy.allowPrivate || this.hosts.has(host) || this.hostPorts.has(`${host}:${port}`);
  }

  /** One resolved address is allowed: not forbidden, or named by the list. */
  address(address: string, port: number): boolean {
    if (!isForbiddenAddress(address)) return true;
    const v4 = mappedIpv4(address);
    const plain = v4 ?? address;
    const family = isIP(plain) === 4 ? 'ipv4' : 'ipv6';
    return this.hosts.has(plain) || this.hostPorts.has(`${plain}:${port}`) || this.cidrs.check(plain, family);
  }
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'nats:': 4222, 'tls:': 4222 };

/** Host (brackets stripped, lower case) and port of a target URL. */
function hostAndPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, '').toLowerCase(), port: u.port ? Number(u.port) : (DEFAULT_PORTS[u.protocol] ?? 0) };
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
}

/**
 * Refuses (TargetForbiddenError) a target URL whose host is, or resolves to, a forbidden address
 * the policy does not allow; every address counts, not only the first. A host that does not
 * resolve passes: delivery to it fails like any unreachable endpoint, and is checked on connect.
 */
export async function checkTarget(url: string, policy: TargetPolicy): Promise<void> {
  const allowance = new Allowance(policy);
  const { host, port } = hostAndPort(url);
  if (allowance.byName(host, port)) return;
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolveAll(host)).map((a) => a.address);
    } catch {
      return;
    }
  }
  for (const address of addresses) if (!allowance.address(address, port)) throw new TargetForbiddenError(host, address);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect (undici's `connect.lookup`) that refuses forbidden addresses: the
 * guard at connection time. `port` is the target's, for `host:port` entries. Node skips lookup for
 * an IP literal, which checkTarget has already judged and cannot resolve to anything else.
 */
export function guardedLookup(policy: TargetPolicy, port: number) {
  const allowance = new Allowance(policy);
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      if (!allowance.byName(host, port)) {
        const bad = addresses.find((a) => !allowance.address(a.address, port));
        if (bad) return callback(Object.assign(new TargetForbiddenError(host, bad.address), { code: 'ETARGETFORBIDDEN' }), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/** The port a target URL connects to (its own, or its scheme's default). */
export function targetPort(url: string): number {
  return hostAndPort(url).port;
}
