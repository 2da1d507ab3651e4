/**
 * A loopback TCP relay in front of a site's NATS, through which one side of
 * a bridge connects: cutting it resets the connections it carries and
 * refuses new ones until it is restored, as a network link between two sites
 * that goes down and comes back.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export class LinkCutter {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #cut = false;
  #flickering = false;
  /** Times the link went down. */
  cuts = 0;
  /** Connections closed mid-handshake while {@link flicker}ing. */
  flickers = 0;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (client) => this.#accept(client));
  }

  /** Starts relaying from a free loopback port to `target` (a `nats://host:port` URL). */
  static async start(target: string): Promise<LinkCutter> {
    const url = new URL(target);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new LinkCutter(server, { host: url.hostname, port: Number(url.port) });
  }

  /** Where to connect through the relay. */
  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string')
      throw new Error('link cutter not listening');
    return `nats://127.0.0.1:${address.port}`;
  }

  /** Whether the link is down. */
  get isCut(): boolean {
    return this.#cut;
  }

  /** Resets every connection through the link and refuses new ones. */
  cut(): void {
    if (this.#cut) return;
    this.#cut = true;
    this.cuts++;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Lets connections through again. */
  restore(): void {
    this.#cut = false;
    this.#flickering = false;
  }

  /**
   * Resets every connection through the link, then lets new ones be made
   * but closes each as soon as the client answers the server's greeting: a
   * link that drops again just after coming back, every time.
   */
  flicker(): void {
    this.cut();
    this.#cut = false;
    this.#flickering = true;
  }

  /** Resets everything and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#cut) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(this.#target);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair = [client, upstream];
    for (const s of pair) {
      this.#sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.#sockets.delete(s);
        for (const other of pair) other.destroy();
      });
    }
    upstream.pipe(client);
    if (!this.#flickering) {
      client.pipe(upstream);
      return;
    }
    // What the server says reaches the client; the client's first words never reach the server
    // (unless the link was restored meanwhile).
    client.once('data', (first: Buffer) => {
      if (!this.#flickering) {
        upstream.write(first);
        client.pipe(upstream);
        return;
      }
      this.flickers++;
      client.destroy();
    });
  }
}
