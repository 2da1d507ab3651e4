import {
  type CallReply,
  DEFAULT_IN_FLIGHT_LIMITS,
  InFlightLimit,
  type InFlightLimits,
} from '../core/index.js';
import type { Health, Metrics } from '../observability/index.js';
import { MAX_PATH_SITES } from '../protocol/index.js';
import {
  answerWith,
  type CallRequest,
  type ConnectionOptions,
  checkConnectionOptions,
} from '../transport/index.js';
import { Closeable, checkLimits, type Logger, silentLogger } from '../util/index.js';
import { BridgeHalf } from './bridge-half.js';
import { checkGlobs, globFilter } from './policy.js';
import { Relay } from './relay.js';
import { type RouteAdvert, RouteTable } from './route-table.js';
import type { SiteView } from './site-watcher.js';

/** Options of a {@link Bridge}. */
export interface BridgeOptions {
  /** How to reach the local site's NATS. */
  local: ConnectionOptions;
  /** How to reach the remote site's NATS (its own URL and credentials). */
  remote: ConnectionOptions;
  /**
   * Services of the local side (glob patterns) offered to the remote side.
   * @default every service
   */
  export?: string[];
  /**
   * Services of the remote side (glob patterns) let into the local side.
   * @default every service
   */
  import?: string[];
  /**
   * Longest path, in bridges crossed, of a route or a call (at most 64).
   * @default 8
   */
  maxHops?: number;
  /**
   * How many relayed calls, and bytes of their bodies, the bridge holds at
   * once, both directions together, and of those how many from one origin
   * site; past either, a call is refused with `UNAVAILABLE` (completion
   * `no`). See {@link InFlightLimits}.
   * @default 20,000 calls, 256 MiB; half of each from one site
   */
  inFlight?: Partial<InFlightLimits>;
  /**
   * Renewal interval of the advertised routes' lease session (one message
   * renews them all); a route whose link was cut expires at the far broker
   * after three intervals.
   * @default 500
   */
  heartbeatMs?: number;
  /**
   * Full resynchronisation with each side's registry, a safety net for missed events.
   * @default 5000
   */
  refreshMs?: number;
  /** Where logs go (overridden per side by `local.logger` / `remote.logger`). @default silent */
  logger?: Logger;
  /** Where the bridge counts what it relays, per link and direction (see `Metrics`). @default none */
  metrics?: Metrics;
}

function checkOptions(options: BridgeOptions): void {
  if (!options.local || !options.remote) {
    throw new TypeError(`bridge options 'local' and 'remote' are both required`);
  }
  checkConnectionOptions(options.local, (field) => `bridge option 'local.${field}'`);
  checkConnectionOptions(options.remote, (field) => `bridge option 'remote.${field}'`);
  for (const field of ['maxHops', 'heartbeatMs', 'refreshMs'] as const) {
    const value = options[field];
    if (value !== undefined && !(value >= 1)) {
      throw new TypeError(`bridge option '${field}' must be a positive number (got ${value})`);
    }
  }
  if (options.maxHops !== undefined && options.maxHops > MAX_PATH_SITES) {
    throw new TypeError(
      `bridge option 'maxHops' must be at most ${MAX_PATH_SITES}, the longest path a route carries (got ${options.maxHops})`,
    );
  }
  checkLimits(
    options.inFlight,
    DEFAULT_IN_FLIGHT_LIMITS,
    (field) => `bridge option 'inFlight.${field}'`,
    'an in-flight limit',
  );
  for (const field of ['export', 'import'] as const) {
    const value = options[field];
    if (
      value !== undefined &&
      !(Array.isArray(value) && value.every((p) => typeof p === 'string'))
    ) {
      throw new TypeError(`bridge option '${field}' must be a list of glob patterns`);
    }
    if (value !== undefined) checkGlobs(value, `bridge option '${field}'`);
  }
}

/**
 * Links two sites. Each half tells its broker which services of the other
 * side are reachable through it (path vector: the route carries the sites it
 * crosses, loops are refused, only the shortest paths are kept), and relays
 * the calls sent to those routes to the other side on headers alone, the body
 * untouched, with the deadline budget shrunk by the time spent here.
 *
 * `close()` withdraws every route (callers move to other paths at once) and
 * disconnects from both sites.
 */
export class Bridge extends Closeable {
  readonly local: BridgeHalf;
  readonly remote: BridgeHalf;
  readonly #maxHops: number;
  readonly #inFlight: InFlightLimit;
  readonly #exports: (service: string) => boolean;
  readonly #imports: (service: string) => boolean;
  readonly #logger: Logger;
  readonly #ready: Promise<boolean>;
  readonly #metrics: Metrics | undefined;
  #relayed: ReturnType<Metrics['bridgeCounters']> | undefined;
  #unwatch: (() => void) | undefined;
  #linked = false;

  private constructor(local: BridgeHalf, remote: BridgeHalf, options: BridgeOptions) {
    super();
    this.local = local;
    this.remote = remote;
    this.#maxHops = options.maxHops ?? 8;
    this.#inFlight = new InFlightLimit(options.inFlight);
    this.#exports = globFilter(options.export);
    this.#imports = globFilter(options.import);
    this.#logger = options.logger ?? silentLogger;
    this.#metrics = options.metrics;
    this.#relayed = options.metrics?.bridgeCounters();
    this.#ready = this.#link();
  }

  /**
   * Connects to both sites and starts linking them. Resolves once both NATS
   * connections are open; the link itself waits for a broker on each side
   * (see {@link Bridge.ready}).
   */
  static async start(options: BridgeOptions): Promise<Bridge> {
    checkOptions(options);
    const timings = {
      heartbeatMs: options.heartbeatMs ?? 500,
      refreshMs: options.refreshMs ?? 5000,
    };
    const withLogger = (side: ConnectionOptions): ConnectionOptions => ({
      logger: options.logger,
      ...side,
    });
    const local = await BridgeHalf.open('local', withLogger(options.local), timings);
    let remote: BridgeHalf;
    try {
      remote = await BridgeHalf.open('remote', withLogger(options.remote), timings);
    } catch (err) {
      await local.close();
      throw err;
    }
    return new Bridge(local, remote, options);
  }

  /**
   * Resolves true once both sides' site names are known and the link is up,
   * false if the bridge was closed first or both sides are the same site.
   */
  ready(): Promise<boolean> {
    return this.#ready;
  }

  /** Names of the two sites, once learned. */
  get sites(): { local: string | undefined; remote: string | undefined } {
    return { local: this.local.site, remote: this.remote.site };
  }

  /** Whether the bridge is doing its job: linked, and connected to both sites. */
  health(): Health {
    const { local, remote } = this.sites;
    const link = `bridge ${local ?? '?'}-${remote ?? '?'}`;
    if (this.closing) return { ok: false, reason: `${link}: closing` };
    if (!this.#linked) return { ok: false, reason: `${link}: waiting for a broker on each side` };
    for (const half of [this.local, this.remote]) {
      if (!half.connected) return { ok: false, reason: `${link}: lost ${half.where}` };
    }
    return { ok: true, reason: '' };
  }

  protected async shutdown(): Promise<void> {
    this.#unwatch?.();
    await Promise.all([this.local.close(), this.remote.close()]);
    this.#logger.info('bridge stopped', this.sites);
  }

  async #link(): Promise<boolean> {
    const [localSite, remoteSite] = await Promise.all([
      this.local.learnSite(),
      this.remote.learnSite(),
    ]);
    if (localSite === undefined || remoteSite === undefined || this.closing) return false;
    if (localSite === remoteSite) {
      this.#logger.error(
        `both sides of the bridge are site '${localSite}': a bridge links two different sites`,
      );
      return false;
    }
    const maxHops = this.#maxHops;
    const intoLocal = new RouteTable({
      into: localSite,
      from: remoteSite,
      maxHops,
      allows: this.#imports,
    });
    const intoRemote = new RouteTable({
      into: remoteSite,
      from: localSite,
      maxHops,
      allows: this.#exports,
    });
    // Routes at the local side lead to remote services: calls arriving there go out, and back.
    const outward = this.#relay(this.local, this.remote, this.#imports);
    const inward = this.#relay(this.remote, this.local, this.#exports);
    this.local.onCall(
      (route, call, at) => this.#onCall(this.local, outward, route, call, at),
      (callIds) => outward.held(callIds),
    );
    this.remote.onCall(
      (route, call, at) => this.#onCall(this.remote, inward, route, call, at),
      (callIds) => inward.held(callIds),
    );
    this.remote.watch((view) => this.local.advertise(apply(intoLocal, view)));
    this.local.watch((view) => this.remote.advertise(apply(intoRemote, view)));
    this.local.pairWith(this.remote);
    this.remote.pairWith(this.local);
    this.#linked = true;
    if (this.#metrics)
      this.#unwatch = this.#watchGauges(this.#metrics, [localSite, remoteSite].sort().join('-'));
    this.#logger.info(`bridge linked site '${localSite}' and site '${remoteSite}'`);
    return true;
  }

  #watchGauges(metrics: Metrics, link: string): () => void {
    const halves = [this.local, this.remote];
    const stops = [
      metrics.gauge('switchboard_bridge_routes', () =>
        halves.map((h) => ({ labels: { site: h.site ?? '', link }, value: h.routeCount })),
      ),
      metrics.gauge('switchboard_bridge_link_up', () =>
        halves.map((h) => ({
          labels: { site: h.site ?? '', link, side: h.label },
          value: h.connected ? 1 : 0,
        })),
      ),
      metrics.gauge('switchboard_bridge_calls_in_flight', () => [
        { labels: { link }, value: this.#inFlight.calls },
      ]),
    ];
    return () => {
      for (const stop of stops) stop();
    };
  }

  #relay(near: BridgeHalf, far: BridgeHalf, allows: (service: string) => boolean): Relay {
    return new Relay(
      {
        nearSite: near.site!,
        farSite: far.site!,
        allows,
        maxHops: this.#maxHops,
        farReachable: () => far.link.reachable,
        far: far.dispatcher,
      },
      this.#inFlight,
    );
  }

  /** A call arrived at `near` on one of its routes: relay it, and pass the reply back. */
  #onCall(
    near: BridgeHalf,
    relay: Relay,
    route: RouteAdvert,
    call: CallRequest,
    receivedAt: number,
  ): Promise<void> | undefined {
    // A cancel notice follows the call across the link.
    if (call.cancel) {
      relay.cancel(call.meta);
      return undefined;
    }
    if (!call.msg.reply) {
      // Nobody could receive the answer: the call is not sent on (nor run), as at an instance.
      near.link.conn.peerLog.warn('dropped a call without reply subject', {
        service: call.meta.service,
      });
      return undefined;
    }
    // nats.js cuts the body from the message anew at every read of msg.data.
    const body = call.msg.data;
    return relay
      .relay(route, call.meta, body, receivedAt)
      .then((reply) => this.#passBack(near, relay, route, call, body.length, receivedAt, reply));
  }

  /** Gives the caller the reply to a call relayed on `route`, and counts the call. */
  #passBack(
    near: BridgeHalf,
    relay: Relay,
    route: RouteAdvert,
    call: CallRequest,
    bytes: number,
    receivedAt: number,
    reply: CallReply,
  ): void {
    const { conn, codec } = near.link;
    answerWith(conn.nc, call, codec, reply, conn.peerLog);
    const ms = Date.now() - receivedAt;
    const { path, method } = call.meta;
    near.recordCall(route, method, ms, path, reply.ok ? undefined : reply.error);
    this.#relayed?.(
      { site: near.site ?? '', link: relay.link, direction: relay.direction },
      reply.ok ? 'OK' : reply.error.code,
      ms / 1000,
      bytes,
      reply.ok || reply.body ? (reply.body?.length ?? 0) : 0,
    );
  }
}

function apply(table: RouteTable, view: SiteView) {
  switch (view.kind) {
    case 'full':
      return table.replaceAll(view.instances);
    case 'service':
      return table.update(view.service, view.instances);
    case 'lost':
      return { added: [], removed: table.clear() };
  }
}
