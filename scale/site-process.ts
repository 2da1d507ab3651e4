/**
 * One site's broker, and the bridges placed with it, in a node process of
 * their own (`npm run scale -- --processes`): as deployed, each site's
 * components then have their own event loop instead of sharing the
 * harness's. Driven by the harness over the IPC channel
 * ({@link SiteCommand}); keeps it informed ({@link SiteReport}) of the
 * broker's registry, as changes, of the route counts of the bridge halves
 * and of the messages this process's connections sent, per site.
 */
import type { NatsConnection } from 'nats';
import {
  Bridge,
  Broker,
  type InstanceView,
  openNatsConnection,
  silentLogger,
} from '../src/internal.js';

/** Connection settings of every component of the harness (see `mesh.ts`). */
export interface SiteConnection {
  pingIntervalMs: number;
  maxPingsOut: number;
  connectTimeoutMs: number;
}

/** A bridge to start here: its local side is this process's site. */
export interface PlacedBridge {
  id: string;
  /** Subject prefix and NATS URL of each side (the remote one through the link cutter). */
  local: { site: string; prefix: string; url: string };
  remote: { site: string; prefix: string; url: string };
  maxHops: number;
  heartbeatMs?: number | undefined;
  refreshMs?: number | undefined;
}

/** The broker timings the harness may set (the library's defaults for those left out). */
export interface BrokerTimings {
  leaseFactor?: number;
  probeAfterMs?: number;
}

/** The broker timings among `timings` that are set, as broker options. */
export function brokerTimings(
  timings: { leaseFactor?: number | undefined; probeAfterMs?: number | undefined } = {},
): BrokerTimings {
  const { leaseFactor, probeAfterMs } = timings;
  return {
    ...(leaseFactor === undefined ? {} : { leaseFactor }),
    ...(probeAfterMs === undefined ? {} : { probeAfterMs }),
  };
}

/** What the harness asks of a site process. */
export type SiteCommand =
  | {
      op: 'start';
      site: string;
      prefix: string;
      url: string;
      broker: BrokerTimings;
      connection: SiteConnection;
    }
  | { op: 'link'; bridges: PlacedBridge[] }
  | { op: 'close' };

/** What a site process tells the harness. */
export type SiteReport =
  | { op: 'started' }
  | { op: 'linked'; failed: string[] }
  | {
      op: 'state';
      /** Registry entries new or changed since the last report (all of them in the first). */
      upserted: InstanceView[];
      /** Ids of the entries gone since the last report. */
      removed: string[];
      /** Route counts of each bridge's halves. */
      routes: Record<string, { local: number; remote: number }>;
      /** Messages and bytes this process's connections sent, by the site each is attached to. */
      sent: Record<string, { msgs: number; bytes: number }>;
    }
  | { op: 'error'; message: string };

/** How often the registry's generation is looked at. */
const POLL_EVERY_MS = 10;
/**
 * Least time between two reports of changes: a report compares the whole
 * registry with the last one, and a hundred site processes converging at
 * once would otherwise spend their time on it.
 */
const CHANGES_EVERY_MS = 100;
/** How often counts are reported when the registry did not change. */
const COUNTS_EVERY_MS = 500;

class SiteProcess {
  #broker: Broker | undefined;
  readonly #bridges = new Map<string, Bridge>();
  /** Connections with the site they are attached to. */
  readonly #connections: Array<{ site: string; nc: NatsConnection }> = [];
  #connection: SiteConnection | undefined;
  /** The registry as last reported: id → view. */
  #reported = new Map<string, InstanceView>();
  #generation = -1;
  #reportedAt = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setInterval> | undefined;

  async handle(command: SiteCommand): Promise<void> {
    switch (command.op) {
      case 'start':
        return this.#start(command);
      case 'link':
        return this.#link(command.bridges);
      case 'close':
        await this.#close();
        process.disconnect?.();
        return;
    }
  }

  async #start(command: Extract<SiteCommand, { op: 'start' }>): Promise<void> {
    this.#connection = command.connection;
    const nc = await this.#connect(command.site, `broker@${command.site}`, command.url);
    this.#broker = await Broker.start({
      connection: nc,
      site: command.site,
      prefix: command.prefix,
      logger: silentLogger,
      ...command.broker,
    });
    this.#timer = setInterval(() => this.#report(), POLL_EVERY_MS);
    send({ op: 'started' });
    this.#report();
  }

  async #link(bridges: PlacedBridge[]): Promise<void> {
    const failed: string[] = [];
    await Promise.all(
      bridges.map(async (b) => {
        const name = `bridge-${b.id}`;
        const local = await this.#connect(b.local.site, `${name}@${b.local.site}`, b.local.url);
        const remote = await this.#connect(b.remote.site, `${name}@${b.remote.site}`, b.remote.url);
        const bridge = await Bridge.start({
          local: { connection: local, prefix: b.local.prefix },
          remote: { connection: remote, prefix: b.remote.prefix },
          maxHops: b.maxHops,
          heartbeatMs: b.heartbeatMs,
          refreshMs: b.refreshMs,
          logger: silentLogger,
        });
        this.#bridges.set(b.id, bridge);
        if (!(await bridge.ready())) failed.push(b.id);
      }),
    );
    send({ op: 'linked', failed });
  }

  async #connect(site: string, name: string, url: string): Promise<NatsConnection> {
    const nc = await openNatsConnection({ nats: url, ...this.#connection }, name);
    this.#connections.push({ site, nc });
    return nc;
  }

  /** Reports the registry's changes, when there are any, and the counts now and then. */
  #report(): void {
    const registry = this.#broker?.registry;
    if (!registry) return;
    const now = performance.now();
    const changed = registry.generation !== this.#generation;
    const since = now - this.#reportedAt;
    if (since < (changed ? CHANGES_EVERY_MS : COUNTS_EVERY_MS)) return;
    const upserted: InstanceView[] = [];
    const removed: string[] = [];
    if (changed) {
      this.#generation = registry.generation;
      const current = new Map<string, InstanceView>();
      for (const view of registry.instances()) {
        current.set(view.id, view);
        if (this.#reported.get(view.id) !== view) upserted.push(view);
      }
      for (const id of this.#reported.keys()) if (!current.has(id)) removed.push(id);
      this.#reported = current;
    }
    this.#reportedAt = now;
    const routes: Record<string, { local: number; remote: number }> = {};
    for (const [id, bridge] of this.#bridges) {
      routes[id] = { local: bridge.local.routeCount, remote: bridge.remote.routeCount };
    }
    const sent: Record<string, { msgs: number; bytes: number }> = {};
    for (const { site, nc } of this.#connections) {
      const stats = nc.stats();
      const before = sent[site] ?? { msgs: 0, bytes: 0 };
      sent[site] = { msgs: before.msgs + stats.outMsgs, bytes: before.bytes + stats.outBytes };
    }
    send({ op: 'state', upserted, removed, routes, sent });
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    const quietly = (p: Promise<unknown>) => p.catch(() => {});
    await Promise.all([...this.#bridges.values()].map((b) => quietly(b.close())));
    await quietly(this.#broker?.close() ?? Promise.resolve());
    await Promise.all(this.#connections.map(({ nc }) => quietly(nc.close())));
  }
}

function send(report: SiteReport): void {
  process.send?.(report);
}

const site = new SiteProcess();
process.on('message', (command: SiteCommand) => {
  site.handle(command).catch((err: unknown) => {
    send({ op: 'error', message: err instanceof Error ? err.message : String(err) });
  });
});
// The harness gone (even killed), nothing here is of use.
process.on('disconnect', () => process.exit(0));
