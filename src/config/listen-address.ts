/** Splits Distribution's `http.addr` (`:5000`, `127.0.0.1:5000`, `[::1]:5000`) for `server.listen`. */
export function parseListenAddress(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`configuration key "http.addr": expected host:port, got "${addr}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`configuration key "http.addr": port ${port} is out of range`);
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port };
}
