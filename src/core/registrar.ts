import {
  type InstanceRegistration,
  isRefusedByNats,
  MAX_GONE_ROUTES,
  SwitchboardError,
} from '../protocol/index.js';
import { type Logger, throttled } from '../util/index.js';
import { RouteBatcher } from './route-batcher.js';
import type {
  BrokerClient,
  LeaseSession,
  RegistrationAck,
  SessionCounts,
  Unsubscribe,
} from './types.js';

/**
 * After the connection comes back, the `resumed` heartbeat is sent at once
 * and again after these delays, in case the site's brokers were still
 * reconnecting themselves.
 */
const RESUME_REPEATS_MS = [250, 750];

/**
 * How long a deregistration is remembered, to send again after a
 * reconnection and, in a lease session, to name in every renewal: one
 * written just before a connection (ours or a broker's) broke may never have
 * reached the broker (NATS is at-most-once), and a route of a lease session
 * would then be renewed with the rest for ever.
 */
const DEREGISTRATION_MEMORY_MS = 10_000;

/**
 * Shortest wait for a broker's answer to a registration. A busy broker (or a
 * busy process of ours) may answer after a heartbeat; asking again meanwhile
 * only adds to its load, and an answer that comes after its wait is lost.
 */
const MIN_REGISTRATION_WAIT_MS = 2000;

/** Most deregistrations remembered at once (the oldest are forgotten first). */
const MAX_REMEMBERED_DEREGISTRATIONS = 10_000;

interface Entry {
  readonly registration: InstanceRegistration;
  registered: boolean;
  /** Why the last attempt failed, when a broker refused it. */
  refusal: SwitchboardError | undefined;
  /** Resolved at the next confirmation. */
  waiters: Array<(ok: boolean) => void>;
  attempt: Promise<boolean> | undefined;
  readonly stopReregister: Unsubscribe;
}

/**
 * Keeps instances registered with the site's brokers: registers them,
 * heartbeats, and registers again when a broker starts or says it does not
 * know one. Used by the server-side proxy (one instance) and by bridge halves
 * (one instance per route they advertise).
 *
 * With a lease session (bridge halves), the instances are registered in it,
 * in batches, and one renewal per interval keeps them all, instead of a
 * heartbeat each; a broker that knows fewer of them than renewed gets them
 * all again, and one that still holds a route deregistered lately drops it.
 */
export class Registrar {
  readonly #brokers: BrokerClient;
  readonly #logger: Logger;
  /** Refusals, which brokers word: a few lines per kind and window (see {@link throttled}). */
  readonly #refusals: Logger;
  readonly #heartbeatMs: number;
  /** How long each registration attempt waits for its answer. */
  readonly #waitMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #session: LeaseSession | undefined;
  /** Gathers the registrations of a session's routes into batches. */
  readonly #batcher: RouteBatcher | undefined;
  /** Whether routes go in batches: until a broker of an earlier revision asks for them. */
  #batches = true;
  readonly #stops: Unsubscribe[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #site: string | undefined;
  #closed = false;
  #resumeRepeats: ReturnType<typeof setTimeout>[] = [];
  /** Recent deregistrations, oldest first, with when they were sent. */
  readonly #deregistered = new Map<string, { registration: InstanceRegistration; at: number }>();

  constructor(brokers: BrokerClient, logger: Logger, heartbeatMs: number, session?: LeaseSession) {
    this.#brokers = brokers;
    this.#logger = logger;
    this.#refusals = throttled(logger);
    this.#heartbeatMs = heartbeatMs;
    this.#waitMs = Math.max(heartbeatMs, MIN_REGISTRATION_WAIT_MS);
    this.#session = session;
    this.#batcher = session
      ? new RouteBatcher(
          brokers,
          (route) => !this.#closed && this.#entries.get(route.id)?.registration === route,
        )
      : undefined;
    this.#stops.push(
      brokers.onBrokerEvent((event) => {
        if (event.kind === 'started') this.#registerAll();
      }),
    );
    if (session) {
      this.#stops.push(
        brokers.onSessionLost(session, ({ batches }) => {
          this.#logger.info('broker asked for the routes of the session again', {
            session: session.id,
          });
          // A broker that hears no batch (of an earlier revision): from now on, each route on
          // its own, at once (another such broker's ask then joins those attempts).
          const switching = !batches && this.#batches;
          if (switching) {
            this.#batches = false;
            this.#logger.info('a broker that takes no batches: routes go one request each', {
              session: session.id,
            });
          }
          this.#registerAll(switching);
        }),
      );
    }
    // Back after a disconnection (perhaps on another node of the site's cluster): calls sent
    // meanwhile may be lost, so say so at once; callers then probe theirs. A broker on the
    // same failed node may still be reconnecting and miss the first word: say it again
    // (brokers announce it at most once a second per instance, so a repeat that arrives
    // costs nothing).
    this.#stops.push(
      brokers.onLinkState((state) => {
        this.#stopResumeRepeats();
        if (state !== 'up') return;
        // An attempt under way was sent before or while the link was down and may wait
        // seconds for an answer that will never come: ask again now, over the link that is
        // back (the beat below joins these, and starts one for each unconfirmed instance
        // with none under way).
        for (const entry of this.#entries.values()) {
          if (!entry.registered && entry.attempt) void this.#register(entry, this.#waitMs, true);
        }
        this.#beat(true);
        this.#deregisterAgain();
        this.#resumeRepeats = RESUME_REPEATS_MS.map((delayMs) =>
          setTimeout(() => this.#beat(true), delayMs),
        );
      }),
      () => this.#stopResumeRepeats(),
    );
    this.#timer = setInterval(() => this.#beat(), heartbeatMs);
  }

  /** Site named by the broker that last confirmed a registration. */
  get site(): string | undefined {
    return this.#site;
  }

  /** Whether a broker has confirmed the registration of `id`. */
  isRegistered(id: string): boolean {
    return this.#entries.get(id)?.registered ?? false;
  }

  /**
   * Resolves with true once a broker has confirmed the registration of `id`,
   * or with false if the instance is removed first.
   */
  whenRegistered(id: string): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry) return Promise.resolve(false);
    if (entry.registered) return Promise.resolve(true);
    return new Promise((resolve) => entry.waiters.push(resolve));
  }

  /**
   * Why the last registration of `id` was refused (`BAD_REQUEST` past a
   * limit, `FORBIDDEN` when another holds the id — or, {@link isRefusedByNats},
   * when NATS does not let the credential register it — `UNAVAILABLE` when the
   * registry is full); undefined when none was.
   */
  refusal(id: string): SwitchboardError | undefined {
    return this.#entries.get(id)?.refusal;
  }

  /** Instances held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds an instance (its `heartbeatMs` is overwritten with the registrar's,
   * its `session` and `secret` with the registrar's session when it has one)
   * and registers it; resolves with whether a broker confirmed it within
   * `timeoutMs` (by default a heartbeat, at least 2 s). Unconfirmed
   * registrations are retried at every heartbeat, once the attempt under way
   * has ended, and at once after a reconnection.
   */
  add(registration: InstanceRegistration, timeoutMs = this.#waitMs): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    const id = registration.id;
    if (this.#entries.has(id)) this.remove(id);
    this.#deregistered.delete(id);
    const session = this.#session;
    const entry: Entry = {
      registration: session
        ? {
            ...registration,
            heartbeatMs: this.#heartbeatMs,
            session: session.id,
            secret: session.secret,
          }
        : { ...registration, heartbeatMs: this.#heartbeatMs },
      registered: false,
      refusal: undefined,
      waiters: [],
      attempt: undefined,
      // In a session, brokers ask through the session (it heartbeats no instance alone).
      stopReregister: session
        ? () => {}
        : this.#brokers.onReregister(registration, () => {
            this.#logger.info('broker asked to register again', { id });
            entry.registered = false;
            void this.#register(entry, this.#waitMs);
          }),
    };
    this.#entries.set(id, entry);
    const first = this.#register(entry, timeoutMs);
    // True at the first confirmation (a newer attempt, after a reconnection, may confirm it
    // before this one ends); else false once this attempt has ended.
    return new Promise((resolve) => {
      entry.waiters.push(resolve);
      void first.then(() => resolve(false));
    });
  }

  /** Deregisters an instance: brokers drop it at once. */
  remove(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    for (const wake of entry.waiters.splice(0)) wake(false);
    entry.stopReregister();
    this.#brokers.deregister(entry.registration);
    if (this.#closed) return;
    this.#deregistered.delete(id);
    this.#deregistered.set(id, { registration: entry.registration, at: Date.now() });
    if (this.#deregistered.size > MAX_REMEMBERED_DEREGISTRATIONS) {
      this.#deregistered.delete(this.#deregistered.keys().next().value!);
    }
  }

  /** Sends the recent deregistrations again (see {@link DEREGISTRATION_MEMORY_MS}). */
  #deregisterAgain(): void {
    this.#forgetOldDeregistrations();
    for (const { registration } of this.#deregistered.values()) {
      this.#brokers.deregister(registration);
    }
  }

  #forgetOldDeregistrations(): void {
    const oldest = Date.now() - DEREGISTRATION_MEMORY_MS;
    for (const [id, { at }] of this.#deregistered) {
      if (at > oldest) return;
      this.#deregistered.delete(id);
    }
  }

  /** Deregisters everything and stops heartbeating. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const id of [...this.#entries.keys()]) this.remove(id);
    this.#deregistered.clear();
    for (const stop of this.#stops.splice(0)) stop();
  }

  #stopResumeRepeats(): void {
    for (const timer of this.#resumeRepeats.splice(0)) clearTimeout(timer);
  }

  /**
   * Registers every instance again; when `alone`, each route in a request
   * of its own, at once (not joining a batch under way).
   */
  #registerAll(alone = false): void {
    for (const entry of this.#entries.values()) {
      entry.registered = false;
      void this.#register(entry, this.#waitMs, alone, alone);
    }
  }

  /**
   * Heartbeats every registered instance, or, in a session, renews them all
   * with one message (saying, after a reconnection, that they all resumed);
   * registers the others.
   *
   * A session is renewed while any of its instances is held, confirmed or
   * not: a broker may hold one whose confirmation is still on its way (or
   * came too late), and its lease must not end meanwhile. The renewal counts
   * the confirmed ones only, so that a broker asks for them all again only
   * when it lacks one it did confirm.
   */
  #beat(resumed = false): void {
    this.#forgetOldDeregistrations();
    let registered = 0;
    let refused = 0;
    for (const entry of this.#entries.values()) {
      if (!entry.registered) {
        if (entry.refusal) refused++;
        void this.#register(entry, this.#waitMs);
      } else if (this.#session) registered++;
      else this.#brokers.heartbeat(entry.registration, resumed);
    }
    if (this.#session && this.#entries.size > 0) {
      const counts: SessionCounts = {
        routes: registered,
        // A route the broker refused is none of its entries.
        held: this.#entries.size - refused,
        gone: this.#gone(),
      };
      if (resumed) counts.resumed = true;
      this.#brokers.renewSession(this.#session, counts);
    }
  }

  /** The ids deregistered lately, newest last, as many as one renewal names. */
  #gone(): string[] {
    const ids = [...this.#deregistered.keys()];
    return ids.length > MAX_GONE_ROUTES ? ids.slice(-MAX_GONE_ROUTES) : ids;
  }

  /**
   * One registration attempt: joined if one is under way, unless `anew`
   * (then the attempt under way may still confirm it, but is no longer
   * waited for). A route goes in a batch unless `alone`.
   */
  #register(entry: Entry, timeoutMs: number, anew = false, alone = false): Promise<boolean> {
    if (entry.attempt && !anew) return entry.attempt;
    const attempt = this.#registerOnce(entry, timeoutMs, alone).finally(() => {
      if (entry.attempt === attempt) entry.attempt = undefined;
    });
    entry.attempt = attempt;
    return attempt;
  }

  #send(
    registration: InstanceRegistration,
    timeoutMs: number,
    alone: boolean,
  ): Promise<RegistrationAck> {
    const batcher = alone || !this.#batches ? undefined : this.#batcher;
    return batcher
      ? batcher.register(registration, timeoutMs)
      : this.#brokers.register(registration, timeoutMs);
  }

  async #registerOnce(entry: Entry, timeoutMs: number, alone: boolean): Promise<boolean> {
    if (this.#closed) return false;
    const { registration } = entry;
    try {
      const ack = await this.#send(registration, timeoutMs, alone);
      // Removed while the request was in flight: the broker must forget it again. (If the id
      // was added again meanwhile, this answer may have overwritten the new registration: the
      // deregistration makes the broker ask for it again at its next heartbeat.)
      if (this.#entries.get(registration.id) !== entry) {
        this.#brokers.deregister(registration);
        return false;
      }
      this.#site = ack.site;
      entry.registered = true;
      entry.refusal = undefined;
      for (const wake of entry.waiters.splice(0)) wake(true);
      this.#logger.info('registered', {
        service: registration.service,
        id: registration.id,
        site: ack.site,
        broker: ack.brokerId,
      });
      return true;
    } catch (err) {
      // A broker's own answer names its site; a failure to reach one does not. NATS
      // refusing the credential is a refusal too; a FORBIDDEN from anything else
      // that names no site is not (no broker sent it: a forged answer).
      const refused =
        err instanceof SwitchboardError && (err.site !== undefined || isRefusedByNats(err));
      // A refusal after a newer attempt confirmed the instance no longer applies.
      if (refused && !entry.registered) {
        // Asked again at every heartbeat: the same refusal is said once.
        const again = entry.refusal?.code === err.code && entry.refusal.message === err.message;
        entry.refusal = err;
        // A broker's words: held to a few lines, each of a bounded length.
        const line = `registration refused: ${clip(err.message)}`;
        const fields = { id: registration.id, code: err.code };
        if (again) this.#logger.debug(line, fields);
        else this.#refusals.warn(line, fields);
      } else {
        // This attempt may have reached a broker after all: no longer counted refused.
        entry.refusal = undefined;
        this.#logger.debug('registration failed', {
          id: registration.id,
          error: (err as Error).message,
        });
      }
      return false;
    }
  }
}

/** Longest refusal message logged as a broker worded it. */
const MAX_LOGGED_MESSAGE = 1000;

function clip(message: string): string {
  return message.length > MAX_LOGGED_MESSAGE ? `${message.slice(0, MAX_LOGGED_MESSAGE)}…` : message;
}
