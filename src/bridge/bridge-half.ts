import type { Subscription } from 'nats';
import { Dispatcher, InstanceRouter, LoadBalancer, Registrar, Resolver } from '../core/index.js';
import type { SwitchboardError } from '../protocol/index.js';
import {
  type CallRequest,
  type ConnectionOptions,
  EndpointStats,
  type ListenContext,
  MicroResponder,
  type MicroService,
  type RecordedError,
  SiteLink,
  takeCalls,
} from '../transport/index.js';
import { newId, waitingNotice } from '../util/index.js';
import type { RouteAdvert, RouteChanges } from './route-table.js';
import { BROKER_TIMEOUT_MS, type HalfTimings, type SiteView, SiteWatcher } from './site-watcher.js';

/** What a half does with a call arriving on one of its routes. */
export type RouteCallHandler = (
  route: RouteAdvert,
  call: CallRequest,
  receivedAt: number,
) => void | Promise<void>;

/** A route this half advertises: its registered id, subscription, and discovery stats. */
interface HeldRoute {
  id: string;
  sub: Subscription;
  route: RouteAdvert;
  started: Date;
  stats: Map<string, EndpointStats>;
}

/**
 * The name under which each linked half answers the discovery protocol for
 * itself (no endpoints), so that an observer of its site sees the bridge,
 * and which site it links to, even while no route crosses it.
 */
export const BRIDGE_SERVICE_NAME = 'switchboard-bridge';

/** Longest wait between two attempts to reach a site's broker. */
const MAX_BACKOFF_MS = 2000;

/**
 * One half of a bridge, attached to one site's NATS. Towards its broker it
 * behaves like a server-side proxy for the services reachable through the other
 * side (it registers one route instance per advertised route and takes the calls
 * sent to them); towards its own site it behaves like a client-side proxy (it
 * watches the registry and dispatches calls relayed from the other side).
 */
export class BridgeHalf {
  /** `local` or `remote`, for logs. */
  readonly label: string;
  readonly link: SiteLink;
  /** Sends calls relayed from the other side to instances on this site. */
  readonly dispatcher: Dispatcher;
  /** Site name, learned from the site's broker. */
  site: string | undefined;

  readonly #id = newId(10);
  /** Routes advertised so far: a route's id is the half's id and this count (base 36). */
  #routeSeq = 0;
  /** Proof of ownership of every route this half registers. */
  readonly #secret = newId(24);
  readonly #resolver: Resolver;
  readonly #registrar: Registrar;
  readonly #timings: HalfTimings;
  /** This half's view of its site's registry. */
  readonly #watcher: SiteWatcher;
  readonly #routes = new Map<string, HeldRoute>();
  readonly #micro: MicroResponder;
  #onCall: RouteCallHandler | undefined;
  /** The other half, once the bridge is linked. */
  #peer: BridgeHalf | undefined;
  readonly #started = new Date();
  #held: (callIds: readonly string[]) => string[] = () => [];
  #closed = false;

  private constructor(label: string, link: SiteLink, timings: HalfTimings) {
    this.label = label;
    this.link = link;
    this.#timings = timings;
    this.#resolver = new Resolver(link.brokers, {
      ttlMs: 30_000,
      lookupTimeoutMs: BROKER_TIMEOUT_MS,
    });
    const balancer = new LoadBalancer('least-outstanding');
    this.dispatcher = new Dispatcher(
      link.invoker,
      new InstanceRouter(this.#resolver, balancer, link.conn.subjects),
    );
    // One lease for every route this half registers: one renewal per interval, not one per route.
    this.#registrar = new Registrar(link.brokers, link.conn.logger, timings.heartbeatMs, {
      id: this.#id,
      secret: this.#secret,
    });
    link.abandonCallsOnDeparture();
    this.#watcher = new SiteWatcher(link.brokers, link.conn.logger, timings, {
      where: () => this.where,
      graceMs: link.conn.reconnectGraceMs,
      onGracefulState: (listener) => link.onGracefulState(listener),
      isOwn: (id) => id.startsWith(`${this.#id}-`),
    });
    this.#micro = new MicroResponder(link.conn.nc, () => this.#discoverable(), link.conn.peerLog);
  }

  /** Says, from now on, that this half links its site to `peer`'s (see {@link BRIDGE_SERVICE_NAME}). */
  pairWith(peer: BridgeHalf): void {
    this.#peer = peer;
  }

  /**
   * This half, once linked, and the remote services it advertises, as the
   * NATS discovery protocol lists them.
   */
  *#discoverable(): Iterable<MicroService> {
    const { subjects } = this.link.conn;
    const peer = this.#peer;
    if (peer?.site !== undefined && this.site !== undefined) {
      yield {
        name: BRIDGE_SERVICE_NAME,
        id: this.#id,
        version: '1.0.0',
        description: `Switchboard bridge from site ${this.site} to site ${peer.site}`,
        metadata: {
          kind: 'bridge',
          site: this.site,
          peer: peer.site,
          peer_connected: String(peer.connected),
        },
        started: this.#started,
        endpoints: [],
      };
    }
    for (const { id, route, started, stats } of this.#routes.values()) {
      const subject = subjects.route(route.service, id);
      yield {
        name: route.service,
        id,
        version: route.version,
        description: `Switchboard service ${route.service} at site ${route.site}, through a bridge`,
        metadata: { site: route.site, path: route.path.join(','), kind: 'route', bridge: this.#id },
        started,
        endpoints: [...stats].map(([name, s]) => ({ name, subject, stats: s })),
      };
    }
  }

  /** Counts a call relayed on `route` (arrived with PATH `path`), for `$SRV.STATS`. */
  recordCall(
    route: RouteAdvert,
    method: string,
    ms: number,
    path: readonly string[],
    error?: RecordedError,
  ): void {
    this.#routes.get(route.key)?.stats.get(method)?.record(ms, path, error);
  }

  /** Connects to the site's NATS (waiting for it when it is not up yet). */
  static async open(
    label: string,
    options: ConnectionOptions,
    timings: HalfTimings,
  ): Promise<BridgeHalf> {
    const link = await SiteLink.open(
      { waitForNats: true, ...options },
      `switchboard-bridge-${label}`,
    );
    return new BridgeHalf(label, link, timings);
  }

  /** Whether the NATS connection is up. */
  get connected(): boolean {
    return this.#watcher.connected;
  }

  /** Where this half is attached, for messages. */
  get where(): string {
    return this.site === undefined ? `the ${this.label} side` : `site '${this.site}'`;
  }

  /**
   * Asks the site's brokers for the site name until one answers, saying
   * every few seconds that it is waiting, and why. Resolves undefined if the
   * half is closed first.
   */
  async learnSite(): Promise<string | undefined> {
    let delay = 100;
    const notice = waitingNotice(this.link.conn.logger, `a broker on the ${this.label} side`);
    try {
      while (!this.#closed) {
        try {
          this.site = (await this.link.brokers.info(1000)).site;
          this.link.conn.logger.info(`${this.label} side is site '${this.site}'`);
          return this.site;
        } catch (err) {
          notice.failed((err as SwitchboardError).message);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      }
      return undefined;
    } finally {
      notice.stop();
    }
  }

  /**
   * Starts following the site's registry: a full view now, then the services
   * named by registry events, a full view again after a broker starts, after a
   * reconnection and every `refreshMs`; `lost` when the connection drops
   * (see {@link SiteWatcher}).
   */
  watch(onView: (view: SiteView) => void): void {
    this.#watcher.watch(onView);
  }

  /**
   * Sets what happens to calls arriving on the routes this half advertises,
   * and which of them are still being carried (for probes).
   */
  onCall(handler: RouteCallHandler, held: (callIds: readonly string[]) => string[]): void {
    this.#onCall = handler;
    this.#held = held;
  }

  #doorContext(): ListenContext {
    const { conn, codec } = this.link;
    return { nc: conn.nc, codec, logger: conn.peerLog, site: () => this.site };
  }

  /** Registers added routes with the site's broker and deregisters removed ones. */
  advertise(changes: RouteChanges): void {
    const { nc, subjects, logger } = this.link.conn;
    for (const route of changes.removed) {
      const held = this.#routes.get(route.key);
      if (!held) continue;
      this.#routes.delete(route.key);
      this.#registrar.remove(held.id);
      void this.#stopTaking(held.sub);
      logger.info(`withdrew route to ${describeRoute(route)} at ${this.where}`);
    }
    for (const route of changes.added) {
      if (this.#routes.has(route.key) || nc.isClosed()) continue;
      const id = `${this.#id}-${(++this.#routeSeq).toString(36)}`;
      const sub = takeCalls(
        this.#doorContext(),
        subjects.route(route.service, id),
        (call, at) => this.#onCall?.(route, call, at),
        (callIds) => this.#held(callIds),
      );
      const stats = new Map(route.methods.map((m) => [m, new EndpointStats()]));
      this.#routes.set(route.key, { id, sub, route, stats, started: new Date() });
      void this.#registrar.add({
        id,
        service: route.service,
        version: route.version,
        methods: route.methods,
        metadata: { bridge: this.#id },
        heartbeatMs: this.#timings.heartbeatMs,
        secret: this.#secret,
        route: { site: route.site, path: route.path },
      });
      logger.info(`advertised route to ${describeRoute(route)} at ${this.where}`);
    }
  }

  /** Routes this half advertises now. */
  get routeCount(): number {
    return this.#routes.size;
  }

  /** Withdraws every route, stops watching, disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher.close();
    this.#micro.close();
    const { nc } = this.link.conn;
    this.#registrar.close();
    await Promise.all([...this.#routes.values()].map(({ sub }) => this.#stopTaking(sub)));
    this.#routes.clear();
    this.#resolver.close();
    await nc.flush().catch(() => {});
    await this.link.close();
  }

  /**
   * Stops taking calls on a route. Draining, not unsubscribing: a call
   * already on its way when the route goes is still answered (an
   * unsubscribed nats.js subscription drops it, and its caller would wait
   * for its deadline).
   */
  #stopTaking(sub: Subscription): Promise<void> {
    if (this.link.conn.nc.isClosed()) return Promise.resolve();
    return sub.drain().catch(() => {});
  }
}

function describeRoute(route: RouteAdvert): string {
  return `${route.service}@${route.version} at site '${route.site}' (via ${route.path.join(' → ')})`;
}
