import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on loopback between a client and a server, that can play a network cut: from
 * `cut()` on, nothing passes either way and the connections stay open, as a pulled cable leaves
 * them (the client notices only by its own timeouts). `serverGivesUp()` then closes the server's
 * side of each connection, as the server does once its keepalive gives up on a vanished peer.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; server: Socket | null }>();
  /** Every socket ever opened, to end them all at close. */
  private readonly sockets = new Set<Socket>();
  private severed = false;

  private constructor(
    private readonly listener: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const listener = createServer();
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const proxy = new TcpProxy(listener, (listener.address() as AddressInfo).port);
    listener.on('connection', (client) => proxy.relay(client, targetPort, targetHost));
    return proxy;
  }

  private relay(client: Socket, port: number, host: string): void {
    const pair: { client: Socket; server: Socket | null } = { client, server: null };
    this.pairs.add(pair);
    this.track(client);
    client.on('error', () => undefined);
    client.on('close', () => {
      // During a cut the server hears nothing of it: its side stays until serverGivesUp().
      if (this.severed) return;
      pair.server?.destroy();
      this.pairs.delete(pair);
    });
    if (this.severed) return; // a new connection during the cut: accepted by nobody, it hangs
    const server = connect(port, host);
    pair.server = server;
    this.track(server);
    server.on('error', () => undefined);
    server.on('close', () => {
      if (!this.severed) client.destroy();
    });
    client.on('data', (d: Buffer) => {
      if (!this.severed) server.write(d);
    });
    server.on('data', (d: Buffer) => {
      if (!this.severed) client.write(d);
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** Nothing passes from now on; connections stay open on both sides. */
  cut(): void {
    this.severed = true;
  }

  /** The server's side of every connection is closed (its keepalive gave up); the client's stays silent. */
  serverGivesUp(): void {
    for (const pair of this.pairs) pair.server?.destroy();
    this.pairs.clear();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
