/**
 * Prometheus metrics of Switchboard components (prom-client). One `Metrics`
 * per process, given to each component (`metrics` option); its `registry`
 * is what an application exposes, or `serveObservability` serves. Every
 * name starts with `switchboard_`, every series is labelled with its site.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SwitchboardError } from '../protocol/index.js';
import type { ClientInterceptor, ServerInterceptor } from '../proxies/interceptors.js';

/** Latency buckets, in seconds: from a fast local call to a slow one across sites. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A gauge reading: its labels and value. */
export interface GaugeReading {
  labels: Record<string, string>;
  value: number;
}

type GaugeName =
  | 'switchboard_server_calls_in_flight'
  | 'switchboard_server_queue_depth'
  | 'switchboard_broker_instances'
  | 'switchboard_broker_calls_in_flight'
  | 'switchboard_bridge_calls_in_flight'
  | 'switchboard_bridge_routes'
  | 'switchboard_bridge_link_up';

const GAUGES: Record<GaugeName, { help: string; labels: string[] }> = {
  switchboard_server_calls_in_flight: {
    help: 'Calls whose handler is running',
    labels: ['site', 'service'],
  },
  switchboard_server_queue_depth: {
    help: 'Calls waiting for a free slot',
    labels: ['site', 'service'],
  },
  switchboard_broker_instances: {
    help: 'Instances and routes in the site registry',
    labels: ['site'],
  },
  switchboard_broker_calls_in_flight: {
    help: 'Forwarded calls the broker holds (limit: the inFlight option)',
    labels: ['site'],
  },
  switchboard_bridge_calls_in_flight: {
    help: 'Relayed calls the bridge holds, both directions (limit: the inFlight option)',
    labels: ['link'],
  },
  switchboard_bridge_routes: {
    help: 'Routes a bridge advertises into a site, per link',
    labels: ['site', 'link'],
  },
  switchboard_bridge_link_up: {
    help: "1 when a bridge's connection to a site is up, else 0",
    labels: ['site', 'link', 'side'],
  },
};

/** The code a call ended with: `OK`, or its error's stable code. */
export function outcomeCode(err?: unknown): string {
  if (err === undefined) return 'OK';
  return (err as Partial<SwitchboardError>).code ?? 'APPLICATION';
}

/** Runs `next`, then counts it by result code and observes how long it took. */
async function timed(
  calls: Counter<string>,
  latency: Histogram<string>,
  labels: Record<string, string>,
  next: () => Promise<unknown>,
): Promise<unknown> {
  const start = performance.now();
  let code = 'OK';
  try {
    return await next();
  } catch (err) {
    code = outcomeCode(err);
    throw err;
  } finally {
    latency.observe(labels, (performance.now() - start) / 1000);
    calls.inc({ ...labels, code });
  }
}

/**
 * The metrics of one process. Families are made on first use, so a process
 * exposes only what it runs (a broker, a bridge, servers, clients).
 */
export class Metrics {
  /** The prom-client registry holding every series: expose it as you like. */
  readonly registry: Registry;
  readonly #sources = new Map<GaugeName, Set<() => GaugeReading[]>>();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
  }

  #counter(name: string, help: string, labels: string[]): Counter<string> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<string>;
    return new Counter({ name, help, labelNames: labels, registers: [this.registry] });
  }

  #histogram(name: string, help: string, labels: string[]): Histogram<string> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Histogram<string>;
    return new Histogram({
      name,
      help,
      labelNames: labels,
      buckets: BUCKETS,
      registers: [this.registry],
    });
  }

  /**
   * Adds a source of readings to a gauge; returns what removes it (when the
   * component closes).
   */
  gauge(name: GaugeName, read: () => GaugeReading[]): () => void {
    let sources = this.#sources.get(name);
    if (!sources) {
      const all = new Set<() => GaugeReading[]>();
      this.#sources.set(name, all);
      const { help, labels } = GAUGES[name];
      new Gauge({
        name,
        help,
        labelNames: labels,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const source of all) {
            for (const { labels: l, value } of source()) this.set(l, value);
          }
        },
      });
      sources = all;
    }
    sources.add(read);
    return () => sources.delete(read);
  }

  /** Counts and times a client's calls by result code. */
  clientInterceptor(site: () => string | undefined): ClientInterceptor {
    const calls = this.#counter('switchboard_client_calls_total', 'Calls made, by result code', [
      'site',
      'service',
      'method',
      'code',
    ]);
    const latency = this.#histogram(
      'switchboard_client_call_duration_seconds',
      'Time from sending a call to its result or error',
      ['site', 'service', 'method'],
    );
    return (request, next) =>
      timed(
        calls,
        latency,
        { site: site() ?? '', service: request.service, method: request.method },
        next,
      );
  }

  /** Counts the retries of a client's calls (another instance tried after a failure). */
  retryCounter(site: () => string | undefined): (service: string) => void {
    const retries = this.#counter('switchboard_client_retries_total', 'Calls sent again', [
      'site',
      'service',
    ]);
    return (service) => retries.inc({ site: site() ?? '', service });
  }

  /** Counts and times the calls a server's handlers serve, by result code. */
  serverInterceptor(site: () => string | undefined): ServerInterceptor {
    const calls = this.#counter('switchboard_server_calls_total', 'Calls served, by result code', [
      'site',
      'service',
      'method',
      'code',
    ]);
    const latency = this.#histogram(
      'switchboard_server_call_duration_seconds',
      'Time a handler took',
      ['site', 'service', 'method'],
    );
    return (request, next) => {
      const { service, method } = request.context;
      return timed(calls, latency, { site: site() ?? '', service, method }, next);
    };
  }

  /** Counts what a broker does: calls forwarded (by code) and leases that ran out. */
  brokerCounters(site: string) {
    const forwarded = this.#counter(
      'switchboard_broker_forwarded_calls_total',
      "Thin clients' calls forwarded, by outcome at the broker",
      ['site', 'service', 'code'],
    );
    const expired = this.#counter(
      'switchboard_broker_leases_expired_total',
      'Instances dropped because they stopped heartbeating',
      ['site'],
    );
    return {
      forwarded: (service: string, code: string) => forwarded.inc({ site, service, code }),
      expired: (count: number) => expired.inc({ site }, count),
    };
  }

  /** Counts and times what a bridge relays, per link and direction. */
  bridgeCounters() {
    const relayed = this.#counter(
      'switchboard_bridge_relayed_calls_total',
      'Calls relayed across a link, by direction and result code',
      ['site', 'link', 'direction', 'code'],
    );
    const bytes = this.#counter(
      'switchboard_bridge_relayed_bytes_total',
      'Bytes of call bodies relayed, requests and replies',
      ['site', 'link', 'direction', 'kind'],
    );
    const latency = this.#histogram(
      'switchboard_bridge_relay_duration_seconds',
      'Time from a call reaching the bridge to its reply leaving it',
      ['site', 'link', 'direction'],
    );
    return (
      labels: { site: string; link: string; direction: string },
      code: string,
      seconds: number,
      requestBytes: number,
      replyBytes: number,
    ) => {
      relayed.inc({ ...labels, code });
      latency.observe(labels, seconds);
      bytes.inc({ ...labels, kind: 'request' }, requestBytes);
      if (replyBytes > 0) bytes.inc({ ...labels, kind: 'reply' }, replyBytes);
    };
  }
}
