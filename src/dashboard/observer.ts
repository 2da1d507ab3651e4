/**
 * The dashboard's eyes: one connection to one site's NATS, as a plain
 * client. It lists the site's registry (on every registry or broker event,
 * and every look), asks every endpoint and bridge half for its
 * `$SRV.STATS` each look, and
 * hands a fresh {@link MeshSnapshot} to its listeners after each. It never
 * registers, calls or publishes anything but those requests.
 */
import type { Unsubscribe } from '../core/index.js';
import type { Health } from '../observability/index.js';
import { type ConnectionOptions, checkConnectionOptions, SiteLink } from '../transport/index.js';
import { Closeable, silentLogger } from '../util/index.js';
import { MeshMemory } from './mesh-memory.js';
import type { MeshSnapshot, ObserverState } from './snapshot.js';
import { buildSnapshot } from './snapshot-builder.js';
import type { BridgePresence } from './stats-reply.js';
import { readStats } from './stats-source.js';
import { type Topology, topologyOf } from './topology.js';
import { TrafficMeter } from './traffic.js';

/** Timings of a {@link MeshObserver}. */
export interface ObserverTimings {
  /** How often the observer looks (listing and `$SRV.STATS`), in ms. */
  lookMs: number;
  /** Seconds of traffic rates are averaged over, in ms. */
  windowMs: number;
}

/** Longest a listing (each page) or a stats collection may take, in ms. */
const REQUEST_MS = 800;
/** Registry events of one burst are gathered for this long before listing again. */
const GATHER_MS = 20;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2000;

/** Watches one site of the mesh; see the module comment. */
export class MeshObserver extends Closeable {
  readonly #connection: ConnectionOptions;
  readonly #nats: string;
  readonly #timings: ObserverTimings;
  readonly #memory = new MeshMemory();
  readonly #traffic: TrafficMeter;
  readonly #listeners = new Set<(snapshot: MeshSnapshot) => void>();
  readonly #stops: Unsubscribe[] = [];
  #link: SiteLink | undefined;
  #topology: Topology | undefined;
  /** The bridge halves that answered the latest look. */
  #bridges: BridgePresence[] = [];
  #state: ObserverState = 'no-nats';
  #message: string;
  #listing: Promise<void> | undefined;
  #listAgain = false;
  #relistTimer: ReturnType<typeof setTimeout> | undefined;
  #lookTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #looking: Promise<void> | undefined;

  private constructor(connection: ConnectionOptions, timings: ObserverTimings) {
    super();
    this.#connection = connection;
    this.#nats = [connection.nats ?? 'nats://127.0.0.1:4222'].flat().join(', ');
    this.#timings = timings;
    this.#traffic = new TrafficMeter(timings.windowMs);
    this.#message = `connecting to NATS at ${this.#nats}`;
  }

  /**
   * Starts watching; returns at once. The connection is made (and made
   * again after a failure) in the background: the snapshot says meanwhile
   * that there is no NATS, and why.
   */
  static start(connection: ConnectionOptions, timings: ObserverTimings): MeshObserver {
    checkConnectionOptions(connection);
    const observer = new MeshObserver(connection, timings);
    observer.#running = observer.#run();
    return observer;
  }

  /** The mesh as seen now. */
  snapshot(): MeshSnapshot {
    return buildSnapshot({
      state: this.#state,
      message: this.#message,
      nats: this.#nats,
      topology: this.#topology,
      memory: this.#memory,
      traffic: this.#traffic,
      windowMs: this.#timings.windowMs,
      now: Date.now(),
    });
  }

  /** Calls `listener` with each new snapshot. */
  onChange(listener: (snapshot: MeshSnapshot) => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Healthy while connected to the site's NATS with a broker answering. */
  health(): Health {
    return this.#state === 'live'
      ? { ok: true, reason: '' }
      : { ok: false, reason: `dashboard: ${this.#message}` };
  }

  protected async shutdown(): Promise<void> {
    clearTimeout(this.#relistTimer);
    clearTimeout(this.#lookTimer);
    this.#wake?.();
    await this.#running;
    await this.#looking;
    for (const stop of this.#stops.splice(0)) stop();
    this.#listeners.clear();
    await this.#listing;
    await this.#link?.close();
  }

  async #run(): Promise<void> {
    const link = await this.#connect();
    if (!link) return;
    this.#link = link;
    this.#stops.push(
      link.brokers.onInstanceEvent(() => this.#relistSoon()),
      link.brokers.onBrokerEvent(() => this.#relistSoon()),
      link.brokers.onLinkState((state) => {
        if (state === 'down') {
          this.#set('no-nats', `lost the connection to NATS at ${this.#nats}; reconnecting`);
          this.#emit();
        } else {
          this.#relistSoon();
        }
      }),
    );
    this.#lookNow();
  }

  /** Connects, trying again with a growing pause until it works or the observer closes. */
  async #connect(): Promise<SiteLink | undefined> {
    let pause = FIRST_RETRY_MS;
    while (!this.closing) {
      try {
        const link = await SiteLink.open(
          { ...this.#connection, waitForNats: false },
          'switchboard-dashboard',
        );
        if (!this.closing) return link;
        await link.close();
        return undefined;
      } catch (err) {
        this.#set('no-nats', (err as Error).message);
        this.#emit();
      }
      await this.#pause(pause);
      pause = Math.min(pause * 2, MAX_RETRY_MS);
    }
    return undefined;
  }

  /** Waits `ms`, or less if the observer closes meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  #lookNow(): void {
    if (this.closing) return;
    this.#looking = this.#look().finally(() => {
      this.#looking = undefined;
    });
  }

  /** One look: the listing, then the stats; then the next look is due a `lookMs` after this one began. */
  async #look(): Promise<void> {
    const began = Date.now();
    await this.#list();
    const link = this.#link;
    if (link && this.#topology && this.#state === 'live' && !this.closing) {
      const replies = await readStats(link.conn.nc, REQUEST_MS);
      const now = Date.now();
      this.#bridges = replies.flatMap((reply) => (reply.bridge ? [reply.bridge] : []));
      this.#memory.update(this.#topology, this.#bridges, now);
      this.#traffic.record(replies, this.#topology, now);
    }
    this.#emit();
    if (this.closing) return;
    const wait = Math.max(0, this.#timings.lookMs - (Date.now() - began));
    this.#lookTimer = setTimeout(() => this.#lookNow(), wait);
  }

  #relistSoon(): void {
    if (this.#relistTimer !== undefined || this.closing) return;
    this.#relistTimer = setTimeout(async () => {
      this.#relistTimer = undefined;
      await this.#list();
      this.#emit();
    }, GATHER_MS);
  }

  /** Lists the registry; one listing at a time, and one more if asked meanwhile. */
  #list(): Promise<void> {
    if (this.#listing) {
      this.#listAgain = true;
      return this.#listing;
    }
    this.#listing = (async () => {
      do {
        this.#listAgain = false;
        await this.#listOnce();
      } while (this.#listAgain && !this.closing);
    })().finally(() => {
      this.#listing = undefined;
    });
    return this.#listing;
  }

  async #listOnce(): Promise<void> {
    const link = this.#link;
    if (!link || this.closing) return;
    if (!link.connected) {
      this.#set('no-nats', `lost the connection to NATS at ${this.#nats}; reconnecting`);
      return;
    }
    try {
      const listing = await link.brokers.list(REQUEST_MS);
      const topology = topologyOf(listing.site, listing.services);
      this.#topology = topology;
      this.#memory.update(topology, this.#bridges, Date.now());
      this.#set('live', describe(topology.site, this.#memory, topology.services.size));
    } catch (err) {
      this.#set(
        'no-broker',
        `connected to NATS at ${this.#nats}, but no broker answers there (${(err as Error).message})`,
      );
    }
  }

  #set(state: ObserverState, message: string): void {
    if (state !== this.#state || (state !== 'live' && message !== this.#message)) {
      const logger = this.#connection.logger ?? silentLogger;
      if (state === 'live') logger.info(`watching ${message}`);
      else logger.warn(message);
    }
    this.#state = state;
    this.#message = message;
  }

  #emit(): void {
    if (this.#listeners.size === 0 || this.closing) return;
    const snapshot = this.snapshot();
    for (const listener of this.#listeners) listener(snapshot);
  }
}

function describe(site: string, memory: MeshMemory, services: number): string {
  const sites = memory.sites().filter((x) => x.reachable).length;
  return `site ${site}: ${sites} site${sites === 1 ? '' : 's'} reachable, ${services} service${services === 1 ? '' : 's'}`;
}
