import type { BrokerClient, InstanceEvent, Unsubscribe } from '../core/index.js';
import { type InstanceView, viewSize } from '../protocol/index.js';
import type { GracefulLinkState } from '../transport/index.js';
import type { Logger } from '../util/index.js';
import { MAX_BYTES_ADDED_BY_EVENTS, RegistryCopy } from './registry-copy.js';
import { type EventPlace, placeEvent } from './registry-generation.js';

/** What a half has seen of its site's registry. */
export type SiteView =
  | { kind: 'full'; instances: InstanceView[] }
  | { kind: 'service'; service: string; instances: InstanceView[] }
  /** The connection to the site is down: nothing is reachable through it. */
  | { kind: 'lost' };

/** Timings of a bridge half. */
export interface HalfTimings {
  heartbeatMs: number;
  /** Full resynchronisation of the site's registry, as a safety net for missed events. */
  refreshMs: number;
}

/** What a {@link SiteWatcher} needs to know of the half it works for, besides the site's brokers. */
export interface WatchedSite {
  /** Names the site in log lines (`site 'a'`, or `the remote side` before its name is known). */
  where(): string;
  /** How long the connection may be down before its routes go (for log lines). */
  readonly graceMs: number;
  /**
   * Calls `listener` with the connection's state as seen through that grace
   * (`SiteLink.onGracefulState`); returns a function that stops it.
   */
  onGracefulState(listener: (state: GracefulLinkState) => void): Unsubscribe;
  /**
   * Whether a registry event about instance `id` is no news: a half's own
   * routes lead back across the bridge, which the route table refuses anyway,
   * and looking them up would cost a request per route.
   */
  isOwn(id: string): boolean;
}

/** Delay that gathers the registry events of one burst into one round of lookups. */
const GATHER_MS = 2;
/**
 * Past this many services changed in one burst, one listing (a few pages)
 * costs less than a lookup each: a hub's half sees every spoke's services.
 */
const LIST_OVER = 16;
/** Longest a request to the site's broker may take. */
export const BROKER_TIMEOUT_MS = 2000;
/** Ends a registry read made stale by a change of the link's state. */
const STALE = Symbol('stale registry read');
/**
 * Registry events kept while a full read is under way, to apply on top of
 * it; past this many (or {@link MAX_BYTES_ADDED_BY_EVENTS} of views),
 * another full read follows instead.
 */
export const MAX_REPLAYED_EVENTS = 10_000;
/**
 * How long the going of an instance hosted at the site is held back before
 * it is passed on: an instance restarted in place (gone, and back within this
 * time) then changes no route, where passing the gap on would withdraw and
 * advertise its routes again across the whole mesh. A withdrawal reaches the
 * other sites this much later (once: a route's going is not held again).
 */
export const WITHDRAW_HOLD_MS = 100;

/**
 * Follows one site's registry for a bridge half, through the site's
 * {@link BrokerClient} alone (so it is unit-tested over the in-memory fake):
 * a full view at the start, then the services named by registry events, a
 * full view again after a broker starts, after a reconnection and every
 * `refreshMs`; `lost` when the connection has been down for its whole grace.
 *
 * It keeps a copy of the registry from the last full view and applies the
 * events to it: an `up` event carrying the instance's view and every `down`
 * event cost no request. An `up` without a view (a broker that does not send
 * one), or any event while there is no copy (after a link change), makes it
 * look the service up; a lookup whose reply held only the instances that
 * fitted in it is not used: a full read (paged) follows a heartbeat later.
 *
 * Events name the broker's registry generation before and after their
 * change: the copy follows the generation from event to event, so a
 * periodic refresh after changes heard in full is answered "unchanged"
 * (nothing listed) rather than with the whole registry. An event showing a
 * missed one brings a full read a heartbeat later. After events that did
 * not follow on (another broker's, an older broker's without generations,
 * forged ones) changed the copy, or a lookup did, the copy may differ from
 * the broker's registry: the next refresh reads it whole.
 */
export class SiteWatcher {
  readonly #brokers: BrokerClient;
  readonly #logger: Logger;
  readonly #timings: HalfTimings;
  readonly #site: WatchedSite;
  readonly #stops: Unsubscribe[] = [];
  #refresh: ReturnType<typeof setInterval> | undefined;
  #onView: ((view: SiteView) => void) | undefined;
  #dirtyAll = false;
  /**
   * The generation of the registry the copy is at: the last full view's,
   * moved on by each event that follows on from it. A periodic refresh skips
   * a registry still there.
   */
  #generation: string | undefined;
  /** Services to look up (an event without the instance's view); at most {@link LIST_OVER}. */
  readonly #dirty = new Set<string>();
  /** Services whose lookup did not fit in one reply since the last full read: listed instead. */
  readonly #tooBig = new Set<string>();
  /** Services whose copy changed by events, to pass on. */
  readonly #changed = new Set<string>();
  /** The registry as last seen; undefined until a full view (and after a link change). */
  #copy: RegistryCopy | undefined;
  /**
   * Whether events that did not follow on from {@link #generation}, or a
   * lookup, changed the copy since the listing: then a broker's registry
   * still at that generation does not prove the copy right, and the next
   * refresh reads it whole.
   */
  #unconfirmed = false;
  /** Services changed by `down` events, passed on when their hold ({@link WITHDRAW_HOLD_MS}) ends. */
  readonly #held = new Map<string, ReturnType<typeof setTimeout>>();
  /** Events heard while a full read is under way, applied on top of it; undefined when none is. */
  #replay: InstanceEvent[] | undefined;
  /** Bytes of the views in {@link #replay}. */
  #replayBytes = 0;
  /** A full read due a heartbeat from now (see {@link #resyncLater}). */
  #later: ReturnType<typeof setTimeout> | undefined;
  #working = false;
  /** Ends the registry read under way with {@link STALE} (the link went down or came back). */
  #interrupt: (() => void) | undefined;
  #closed = false;
  #connected = true;

  constructor(brokers: BrokerClient, logger: Logger, timings: HalfTimings, site: WatchedSite) {
    this.#brokers = brokers;
    this.#logger = logger;
    this.#timings = timings;
    this.#site = site;
  }

  /** Whether the connection to the site is up (as seen since {@link watch}). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Starts following the registry; `onView` gets each view (see the class comment). */
  watch(onView: (view: SiteView) => void): void {
    this.#onView = onView;
    const brokers = this.#brokers;
    const site = this.#site;
    // Within the grace (a NATS cluster moving us to another node), the routes stay.
    const stopGrace = site.onGracefulState((state) => {
      if (state === 'lost') {
        this.#logger.warn(`lost the connection to ${site.where()}; withdrawing its routes`);
        this.#onView?.({ kind: 'lost' });
        return;
      }
      this.#logger.info(
        state === 'moved'
          ? `reconnected to ${site.where()} within ${site.graceMs} ms; its routes stay`
          : `reconnected to ${site.where()}`,
      );
      this.#resync();
    });
    this.#stops.push(
      brokers.onInstanceEvent((event) => this.#onEvent(event)),
      brokers.onBrokerEvent((event) => {
        if (event.kind === 'started') this.#resync();
      }),
      brokers.onLinkState((state) => {
        // A read sent before the change may never be answered: start again from now.
        this.#interrupt?.();
        this.#connected = state === 'up';
        // Events may have been missed meanwhile: the copy is good again after a full view.
        this.#copy = undefined;
      }),
      stopGrace,
    );
    this.#refresh = setInterval(() => this.#resync(true), this.#timings.refreshMs);
    this.#resync();
  }

  /** Stops following: no view is given after this. Safe to call twice. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#refresh);
    clearTimeout(this.#later);
    for (const timer of this.#held.values()) clearTimeout(timer);
    this.#held.clear();
    for (const stop of this.#stops.splice(0)) stop();
  }

  #onEvent(event: InstanceEvent): void {
    if (event.kind === 'resumed') return;
    if (this.#replay) return this.#keep(event);
    const place = this.#track(event);
    if (place === 'past' || this.#site.isOwn(event.id)) return;
    const copy = this.#copy;
    if (!copy || (event.kind === 'up' && !event.view)) this.#lookUp(event.service);
    else {
      const known = copy.get(event.service, event.id);
      // The going of an instance the copy does not hold changes nothing.
      if (event.kind === 'down' && !known) return;
      // Only an instance hosted here is held: a route's going was held where it is hosted.
      const hosted = event.kind === 'down' && known!.hops === 0;
      if (!copy.apply(event)) return this.#readAgain();
      if (place !== 'follows') this.#unconfirmed = true;
      if (hosted) return this.#hold(event.service);
      this.#changed.add(event.service);
    }
    this.#kick();
  }

  /**
   * Keeps an event heard while a full read is under way, to apply on top of
   * it; past {@link MAX_REPLAYED_EVENTS} or {@link MAX_BYTES_ADDED_BY_EVENTS}
   * of views, another full read follows instead.
   */
  #keep(event: InstanceEvent): void {
    const bytes = event.view ? viewSize(event.view) : 0;
    const full = this.#replayBytes + bytes > MAX_BYTES_ADDED_BY_EVENTS;
    if (this.#replay!.length >= MAX_REPLAYED_EVENTS || full) this.#dirtyAll = true;
    else {
      this.#replay!.push(event);
      this.#replayBytes += bytes;
    }
  }

  /**
   * Applies the events kept during a full read to `copy`, as if heard after
   * it; false when they would grow it past its bounds.
   */
  #replayOnto(copy: RegistryCopy, replay: readonly InstanceEvent[]): boolean {
    for (const event of replay) {
      const place = this.#track(event, true);
      if (place === 'past' || this.#site.isOwn(event.id)) continue;
      if (event.kind === 'up' && !event.view) {
        this.#lookUp(event.service);
        continue;
      }
      const changes = event.kind === 'up' || copy.get(event.service, event.id) !== undefined;
      if (!copy.apply(event)) return false;
      if (!changes) continue;
      if (place !== 'follows') this.#unconfirmed = true;
      this.#changed.add(event.service);
    }
    return true;
  }

  /**
   * Places `event` against the copy's generation ({@link placeEvent}) and
   * moves the generation on when the event follows on from it. A half's own
   * routes count too: their events move the broker's generation. An event
   * showing that one was missed, or one the copy is past heard live (a
   * broker never sends one: it is forged, or a forged one went before it),
   * asks for a full read a heartbeat from now rather than at the next
   * refresh; events `replayed` from a full read may be past it (the listing
   * held them already).
   */
  #track(event: InstanceEvent, replayed = false): EventPlace {
    const place = placeEvent(this.#generation, event.since, event.generation);
    if (place === 'follows') this.#generation = event.generation;
    else if (place === 'gap' || (place === 'past' && !replayed)) this.#resyncLater();
    return place;
  }

  /**
   * Looks `service` up in the next round: past {@link LIST_OVER} services
   * (events are untrusted: they may name any number), or for a service whose
   * lookup did not fit in one reply, the registry is listed instead.
   */
  #lookUp(service: string): void {
    if (this.#tooBig.has(service)) this.#resyncLater();
    else if (this.#dirty.size >= LIST_OVER) this.#dirtyAll = true;
    else this.#dirty.add(service);
  }

  /** Drops the copy (events would grow it past its bound) and reads the registry whole. */
  #readAgain(): void {
    this.#copy = undefined;
    this.#resync();
  }

  /**
   * Passes `service` on once {@link WITHDRAW_HOLD_MS} has passed (an `up`
   * of the service meanwhile passes it on sooner, with the rest).
   */
  #hold(service: string): void {
    if (this.#held.has(service)) return;
    const timer = setTimeout(() => {
      this.#held.delete(service);
      this.#changed.add(service);
      this.#kick();
    }, WITHDRAW_HOLD_MS);
    this.#held.set(service, timer);
  }

  /** Asks for a full view a heartbeat from now, once however often asked meanwhile. */
  #resyncLater(): void {
    if (this.#later !== undefined || this.#closed) return;
    this.#later = setTimeout(() => {
      this.#later = undefined;
      this.#resync();
    }, this.#timings.heartbeatMs);
    this.#later.unref?.();
  }

  /**
   * Asks for a full view. The periodic refresh (`ifChanged`) lets the broker
   * answer that nothing changed since the last one; after a reconnection or
   * a broker start the view is always taken whole.
   */
  #resync(ifChanged = false): void {
    if (!ifChanged) this.#generation = undefined;
    this.#dirtyAll = true;
    this.#kick();
  }

  /** Runs the pending lookups, one round at a time, a little after the first event of a burst. */
  #kick(): void {
    if (this.#working || this.#closed || !this.#onView) return;
    this.#working = true;
    setTimeout(() => void this.#work(), GATHER_MS);
  }

  /**
   * Reads the registry while there is something to read and the link is up
   * (a reconnection asks for a full read again). A read cut short by the link
   * going down or coming back is started again at once; a read no broker
   * answered, after a heartbeat.
   */
  async #work(): Promise<void> {
    const brokers = this.#brokers;
    while (
      !this.#closed &&
      this.#connected &&
      (this.#dirtyAll || this.#dirty.size > 0 || this.#changed.size > 0)
    ) {
      try {
        if (this.#dirtyAll) {
          await this.#readAll();
          continue;
        }
        const changed = [...this.#changed];
        this.#changed.clear();
        for (const service of changed) this.#emitService(service);
        const services = [...this.#dirty];
        this.#dirty.clear();
        // Cut short, the rest is read again by the full read that follows.
        for (const service of services) {
          const found = await this.#read(brokers.lookup(service, undefined, BROKER_TIMEOUT_MS));
          // Only some instances fitted in the reply: the listing, paged, has them all.
          if (found.truncated) {
            this.#tooBig.add(service);
            this.#resyncLater();
            continue;
          }
          if (this.#copy) {
            this.#copy.set(service, found.instances);
            // A lookup's answer is no event of the followed generation (another broker may give it).
            this.#unconfirmed = true;
          }
          this.#emit({ kind: 'service', service, instances: [...found.instances] });
        }
      } catch (err) {
        // The events heard during a full read that failed are lost: so is the copy.
        if (this.#replay) this.#copy = undefined;
        this.#replay = undefined;
        if (err === STALE) continue;
        this.#logger.debug(
          `cannot read the registry at ${this.#site.where()}: ${(err as Error).message}`,
        );
        // No broker right now (or it restarted): try again with a full view.
        this.#resyncLater();
        break;
      }
    }
    this.#working = false;
  }

  /**
   * Reads the whole registry and passes it on (unless the broker says it is
   * unchanged), with the events heard meanwhile applied on top.
   */
  async #readAll(): Promise<void> {
    this.#dirtyAll = false;
    this.#dirty.clear();
    this.#tooBig.clear();
    // This read is the one a delayed full read was due for.
    clearTimeout(this.#later);
    this.#later = undefined;
    this.#replay = [];
    this.#replayBytes = 0;
    // A copy unconfirmed would be read whole again after an "unchanged": ask for the whole at once.
    const unless = this.#unconfirmed ? undefined : this.#generation;
    const listing = await this.#read(this.#brokers.list(BROKER_TIMEOUT_MS, unless));
    const replay = this.#replay;
    this.#replay = undefined;
    if (listing.unchanged) {
      // Not asked for: a broken (or hostile) broker. Asking again at once
      // would loop; a heartbeat later, it may be another broker that answers.
      if (unless === undefined) {
        // Nor is the copy to be trusted: events heard during this read are gone.
        this.#copy = undefined;
        return this.#resyncLater();
      }
      const copy = this.#copy;
      if (copy && !this.#unconfirmed && this.#replayOnto(copy, replay)) return;
      // Nothing to apply the events to, or a copy that events may have made differ.
      return this.#readAgain();
    }
    const copy = new RegistryCopy(listing.services.flatMap((service) => service.instances));
    this.#generation = listing.generation;
    this.#unconfirmed = false;
    if (!this.#replayOnto(copy, replay)) return this.#readAgain();
    this.#copy = copy;
    this.#changed.clear();
    // Only a view that is passed on may be skipped next time.
    if (!this.#connected) this.#generation = undefined;
    this.#emit({ kind: 'full', instances: copy.all() });
  }

  /** Passes on the copy's instances of `service`; with no copy (the link changed), looks it up. */
  #emitService(service: string): void {
    if (!this.#copy) {
      this.#lookUp(service);
      return;
    }
    this.#emit({ kind: 'service', service, instances: this.#copy.instances(service) });
  }

  /** `read`, or {@link STALE} as soon as the link changes state. */
  #read<T>(read: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const interrupt = () => reject(STALE);
      this.#interrupt = interrupt;
      read.then(resolve, reject).finally(() => {
        if (this.#interrupt === interrupt) this.#interrupt = undefined;
      });
    });
  }

  #emit(view: SiteView): void {
    if (!this.#closed && this.#connected) this.#onView?.(view);
  }
}
