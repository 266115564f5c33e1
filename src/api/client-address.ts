import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../config/auth.ts';

/**
 * Who the client is when proxies stand between: `X-Forwarded-For` is believed only from a peer
 * in `http.trustedproxies`, and then read from the right, skipping proxies we trust, so a client
 * cannot name itself by sending the header.
 */
export class ClientAddress {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const text of trustedProxies) {
      const cidr = parseCidr(text);
      if (cidr) this.trusted.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.any = trustedProxies.length > 0;
  }

  /** The client's IP, and whether a proxy named it (then there is no port to show). */
  resolve(socketIp: string, forwardedFor: string | string[] | undefined): { ip: string; proxied: boolean } {
    const peer = unmapped(socketIp);
    if (!this.any || forwardedFor === undefined || !this.isTrusted(peer)) return { ip: peer, proxied: false };
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((h) => unmapped(h.trim()))
      .filter((h) => isIP(h) !== 0);
    let client: string | undefined;
    while ((client = hops.pop()) !== undefined) {
      if (!this.isTrusted(client) || hops.length === 0) return { ip: client, proxied: true };
    }
    return { ip: peer, proxied: false };
  }

  private isTrusted(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.trusted.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

function unmapped(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
