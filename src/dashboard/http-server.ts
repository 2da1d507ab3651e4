/**
 * The dashboard's HTTP face: the page, its script, a live feed of snapshots
 * (server-sent events, `/events`), the latest snapshot as JSON
 * (`/snapshot.json`) and `/healthz`. Read-only: every other method is
 * refused. Headers keep the page to its own script and style (no inline
 * code runs), and a Host other than an address or `localhost` is refused, so
 * that a web page elsewhere cannot read the mesh through a DNS name that
 * points here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Unsubscribe } from '../core/index.js';
import type { Health } from '../observability/index.js';
import { ErrorCode, SwitchboardError } from '../protocol/index.js';
import { Closeable } from '../util/index.js';
import type { MeshSnapshot } from './snapshot.js';
import { INDEX_HTML, STYLE_CSS } from './static-page.js';

/** Where the snapshots come from. */
export interface SnapshotSource {
  snapshot(): MeshSnapshot;
  onChange(listener: (snapshot: MeshSnapshot) => void): Unsubscribe;
  health(): Health;
}

/** How the HTTP server listens and what it serves. */
export interface DashboardServerOptions {
  port: number;
  host: string;
  /** Host names (besides addresses and `localhost`) the page may be asked for by. */
  allowedHosts: readonly string[];
  /** The folder of the page's compiled script (`*.js`). */
  scriptDir: string;
  source: SnapshotSource;
}

/** Live feeds served at once at most; more wait for one to end (503). */
const MAX_FEEDS = 64;
/** A comment on each feed this often keeps proxies from closing it. */
const KEEPALIVE_MS = 15_000;

/**
 * Most bytes a feed may have waiting to be sent: a page that stopped reading
 * is let go (it reconnects when it reads again) rather than buffered for.
 */
const MAX_FEED_BACKLOG = 4 * 2 ** 20;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The HTTP server of a dashboard. */
export class DashboardServer extends Closeable {
  readonly #server: Server;
  /** Each live feed, with what ends it. */
  readonly #feeds = new Map<ServerResponse, () => void>();

  private constructor(server: Server) {
    super();
    this.#server = server;
  }

  /** Listens as `options` say; rejects if the port cannot be had or the page's script is missing. */
  static async listen(options: DashboardServerOptions): Promise<DashboardServer> {
    const scripts = loadScripts(options.scriptDir);
    const allowed = new Set(options.allowedHosts.map((h) => h.toLowerCase()));
    const server = createServer();
    const dashboard = new DashboardServer(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      dashboard.#answer(req, res, scripts, allowed, options.source),
    );
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.message;
        reject(
          new SwitchboardError(
            ErrorCode.UNAVAILABLE,
            `cannot serve the dashboard on ${options.host} port ${options.port}: ${why}`,
            { completed: 'no', cause: err },
          ),
        );
      };
      server.once('error', fail);
      server.listen(options.port, options.host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    return dashboard;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  protected shutdown(): Promise<void> {
    for (const [feed, end] of [...this.#feeds]) {
      end();
      feed.end();
    }
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #answer(
    req: IncomingMessage,
    res: ServerResponse,
    scripts: ReadonlyMap<string, string>,
    allowed: ReadonlySet<string>,
    source: SnapshotSource,
  ): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!hostAllowed(req.headers.host, allowed)) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('unknown host name\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/' || path === '/index.html') return send(res, 'text/html', INDEX_HTML);
    if (path === '/style.css') return send(res, 'text/css', STYLE_CSS);
    if (path === '/snapshot.json') {
      return send(res, 'application/json', JSON.stringify(source.snapshot()));
    }
    if (path === '/healthz') {
      const health = source.health();
      res
        .writeHead(health.ok ? 200 : 503, { 'content-type': 'text/plain' })
        .end(health.ok ? 'ok\n' : `${health.reason}\n`);
      return;
    }
    if (path === '/events') return this.#feed(req, res, source);
    // No icon: an empty answer, so a browser does not log a failure each time.
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    const script = path.startsWith('/app/') ? scripts.get(path.slice('/app/'.length)) : undefined;
    if (script !== undefined) return send(res, 'text/javascript', script);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  /** A live feed: the snapshot now, then each new one, until the page goes away. */
  #feed(req: IncomingMessage, res: ServerResponse, source: SnapshotSource): void {
    if (this.#feeds.size >= MAX_FEEDS || this.closing) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' }).end('busy\n');
      return;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    const send = (text: string): void => {
      if (res.writableLength > MAX_FEED_BACKLOG) res.destroy();
      else res.write(text);
    };
    const write = (snapshot: MeshSnapshot): void => send(`data: ${JSON.stringify(snapshot)}\n\n`);
    res.write('retry: 1000\n\n');
    write(source.snapshot());
    const stop = source.onChange(write);
    const keepalive = setInterval(() => send(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const end = (): void => {
      stop();
      clearInterval(keepalive);
      this.#feeds.delete(res);
    };
    this.#feeds.set(res, end);
    req.on('close', end);
  }
}

function send(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': `${type}; charset=utf-8` }).end(body);
}

/** A Host header that is an address, `localhost`, or a name allowed by the options. */
function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (header === undefined) return false;
  const host = header.toLowerCase().replace(/:\d+$/, '');
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) !== 0 || bare === 'localhost' || allowed.has(bare);
}

/** The page's script files, read once: the server serves only these. */
function loadScripts(dir: string): Map<string, string> {
  let names: string[];
  let missing = `no main.js in ${dir}`;
  try {
    names = readdirSync(dir).filter((name) => /^[a-z][a-z0-9-]*\.js$/.test(name));
  } catch (err) {
    names = [];
    missing = (err as Error).message;
  }
  if (!names.includes('main.js')) {
    throw new SwitchboardError(
      ErrorCode.INTERNAL,
      `the dashboard page's script is missing (${missing}): run \`npm run build\``,
      { completed: 'no' },
    );
  }
  return new Map(names.map((name) => [name, readFileSync(join(dir, name), 'utf8')]));
}
