/**
 * The HTTP face of a process for operators: `GET /metrics` (Prometheus text
 * format) and `GET /healthz` (200 `ok` when every component is connected and
 * doing its job, 503 and the reasons otherwise).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Closeable } from '../util/index.js';
import type { Metrics } from './metrics.js';

/** Whether a component is doing its job, and if not, why. */
export interface Health {
  readonly ok: boolean;
  /** Why not, in words (empty when ok). */
  readonly reason: string;
}

/** Something whose health `/healthz` reports. */
export interface HealthSource {
  health(): Health;
}

/** Options of {@link serveObservability}. */
export interface ObservabilityOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /**
   * Address to listen on. Metrics name services and sites: keep them off
   * public networks.
   * @default '127.0.0.1'
   */
  host?: string;
  metrics: Metrics;
  /** Components whose health `/healthz` reports (all must be ok). */
  health: () => readonly HealthSource[];
}

/** A running observability endpoint. */
export class ObservabilityEndpoint extends Closeable {
  readonly #server: Server;

  constructor(server: Server) {
    super();
    this.#server = server;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  protected shutdown(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** Serves `/metrics` and `/healthz` until closed. */
export async function serveObservability(
  options: ObservabilityOptions,
): Promise<ObservabilityEndpoint> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      options.metrics.registry.metrics().then(
        (text) =>
          res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(`cannot collect metrics: ${String(err)}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      const unwell = options
        .health()
        .map((source) => source.health())
        .filter((h) => !h.ok)
        .map((h) => h.reason);
      const body = unwell.length === 0 ? 'ok\n' : `${unwell.join('\n')}\n`;
      res.writeHead(unwell.length === 0 ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new ObservabilityEndpoint(server);
}
