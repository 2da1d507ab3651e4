import { fileURLToPath } from 'node:url';
import type { Health } from '../observability/index.js';
import { type ConnectionOptions, checkConnectionOptions } from '../transport/index.js';
import { Closeable } from '../util/index.js';
import { DashboardServer } from './http-server.js';
import { MeshObserver } from './observer.js';
import type { MeshSnapshot } from './snapshot.js';

/** Options of a {@link Dashboard}: where to look (one site's NATS) and where to serve the page. */
export interface DashboardOptions extends ConnectionOptions {
  /**
   * Port of the page; 0 picks a free one (see {@link Dashboard.port}).
   * @default 9470
   */
  port?: number;
  /**
   * Address the page listens on. The page shows the mesh's services, sites
   * and error messages: keep it off public networks.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Host names the page may be asked for by, besides IP addresses and
   * `localhost` (a browser sends the name in the URL; others are refused,
   * against DNS rebinding).
   * @default none
   */
  allowedHosts?: string[];
  /**
   * How often the dashboard lists the site and reads `$SRV.STATS`, in ms.
   * Registry events make it list at once too.
   * @default 1000
   */
  lookMs?: number;
  /**
   * Traffic rates are averaged over this many ms.
   * @default 10000
   */
  windowMs?: number;
  /**
   * Folder of the page's compiled script.
   * @default the `page` folder next to this module (dist/dashboard/page)
   */
  scriptDir?: string;
}

/** The default port of the page. */
export const DEFAULT_DASHBOARD_PORT = 9470;

function checkOptions(options: DashboardOptions): void {
  checkConnectionOptions(options);
  const { port, host, allowedHosts, lookMs, windowMs } = options;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new TypeError(`dashboard option 'port' must be a port number, 0 to 65535 (got ${port})`);
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new TypeError(`dashboard option 'host' must be an address or a host name`);
  }
  if (
    allowedHosts !== undefined &&
    !(Array.isArray(allowedHosts) && allowedHosts.every((h) => typeof h === 'string' && h !== ''))
  ) {
    throw new TypeError(`dashboard option 'allowedHosts' must be a list of host names`);
  }
  if (lookMs !== undefined && !(lookMs >= 100 && Number.isFinite(lookMs))) {
    throw new TypeError(`dashboard option 'lookMs' must be at least 100 (got ${lookMs})`);
  }
  if (windowMs !== undefined && !(windowMs >= (lookMs ?? 1000) && Number.isFinite(windowMs))) {
    throw new TypeError(
      `dashboard option 'windowMs' must be at least 'lookMs' (${lookMs ?? 1000}; got ${windowMs})`,
    );
  }
}

/**
 * A live picture of the mesh for people: an HTTP server with one page that
 * draws the sites, links and services one site can see, with traffic and
 * errors, updated as they change. An observer only: it reads the site's
 * listing, registry events and `$SRV.STATS`, and changes nothing.
 *
 * `close()` ends the page's live feeds, stops the server and disconnects.
 */
export class Dashboard extends Closeable {
  readonly #observer: MeshObserver;
  readonly #server: DashboardServer;
  readonly #host: string;

  private constructor(observer: MeshObserver, server: DashboardServer, host: string) {
    super();
    this.#observer = observer;
    this.#server = server;
    this.#host = host;
  }

  /**
   * Starts serving the page, and watching the site in the background: the
   * page says plainly while there is no NATS or no broker to talk to.
   * Rejects if the port cannot be had.
   */
  static async start(options: DashboardOptions = {}): Promise<Dashboard> {
    checkOptions(options);
    const { port, host, allowedHosts, lookMs, windowMs, scriptDir, ...connection } = options;
    const observer = MeshObserver.start(connection, {
      lookMs: lookMs ?? 1000,
      windowMs: windowMs ?? 10_000,
    });
    try {
      const server = await DashboardServer.listen({
        port: port ?? DEFAULT_DASHBOARD_PORT,
        host: host ?? '127.0.0.1',
        allowedHosts: allowedHosts ?? [],
        scriptDir: scriptDir ?? fileURLToPath(new URL('./page/', import.meta.url)),
        source: observer,
      });
      return new Dashboard(observer, server, host ?? '127.0.0.1');
    } catch (err) {
      await observer.close();
      throw err;
    }
  }

  /** The port the page is served on. */
  get port(): number {
    return this.#server.port;
  }

  /** The page's address, as a browser on this machine opens it. */
  get url(): string {
    const host = this.#host === '0.0.0.0' || this.#host === '::' ? '127.0.0.1' : this.#host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}/`;
  }

  /** The mesh as the page sees it now. */
  snapshot(): MeshSnapshot {
    return this.#observer.snapshot();
  }

  /** Healthy while connected to the site's NATS with a broker answering. */
  health(): Health {
    if (this.closing) return { ok: false, reason: 'dashboard closed' };
    return this.#observer.health();
  }

  protected async shutdown(): Promise<void> {
    await this.#server.close();
    await this.#observer.close();
  }
}
