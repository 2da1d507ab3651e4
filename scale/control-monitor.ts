/**
 * Counts the control traffic of each site (registrations, heartbeats,
 * renewals, lookups, listings, events, control messages) through wildcard
 * subscriptions on the site's subjects, by kind of message. Replies travel
 * on inbox subjects and are not counted here.
 */
import type { NatsConnection, Subscription } from 'nats';

/** One site to watch: a connection to its NATS and the site's subject prefix. */
export interface WatchedSite {
  site: string;
  nc: NatsConnection;
  prefix: string;
}

/** Messages and bytes of one kind. */
export interface Tally {
  msgs: number;
  bytes: number;
}

/** Kind of a control subject, with the prefix stripped (`route.heartbeat`, `lookup`, `events.registry`). */
export function controlKind(subject: string, prefix: string): string {
  const rest = subject.slice(prefix.length + 1).split('.');
  if (rest[0] === 'broker') {
    if (rest[1] === 'route') return `route.${rest[2] ?? ''}`;
    return rest[1] ?? 'broker';
  }
  if (rest[0] === 'events') return `events.${rest[1] ?? ''}`;
  return rest[0] ?? 'other';
}

export class ControlMonitor {
  readonly #sites: readonly WatchedSite[];
  readonly #subs: Subscription[] = [];
  /** site → kind → tally */
  #counts = new Map<string, Map<string, Tally>>();
  #since = 0;

  constructor(sites: readonly WatchedSite[]) {
    this.#sites = sites;
  }

  /** Subscribes (if not yet) and starts counting from zero. */
  async start(): Promise<void> {
    this.reset();
    if (this.#subs.length > 0) return;
    for (const { site, nc, prefix } of this.#sites) {
      for (const pattern of ['broker.>', 'events.>', 'control.>']) {
        this.#subs.push(
          nc.subscribe(`${prefix}.${pattern}`, {
            callback: (_err, msg) =>
              this.#count(site, controlKind(msg.subject, prefix), msg.data.length),
          }),
        );
      }
    }
    await Promise.all([...new Set(this.#sites.map((s) => s.nc))].map((nc) => nc.flush()));
  }

  /** Starts counting from zero. */
  reset(): void {
    this.#counts = new Map();
    this.#since = performance.now();
  }

  /** Per site and kind, messages and bytes per second since the last reset. */
  rates(): Map<string, Map<string, Tally>> {
    const seconds = Math.max(0.001, (performance.now() - this.#since) / 1000);
    const out = new Map<string, Map<string, Tally>>();
    for (const { site } of this.#sites) {
      const kinds = new Map<string, Tally>();
      for (const [kind, t] of this.#counts.get(site) ?? []) {
        kinds.set(kind, { msgs: t.msgs / seconds, bytes: t.bytes / seconds });
      }
      out.set(site, kinds);
    }
    return out;
  }

  /** Unsubscribes. */
  stop(): void {
    for (const sub of this.#subs.splice(0)) sub.unsubscribe();
  }

  #count(site: string, kind: string, bytes: number): void {
    let kinds = this.#counts.get(site);
    if (!kinds) {
      kinds = new Map();
      this.#counts.set(site, kinds);
    }
    const t = kinds.get(kind);
    if (t) {
      t.msgs++;
      t.bytes += bytes;
    } else kinds.set(kind, { msgs: 1, bytes });
  }
}
