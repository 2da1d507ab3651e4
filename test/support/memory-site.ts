/**
 * In-memory fakes of the call core's two seams, so that failover, forwarding,
 * relays and registration are unit-tested without NATS (as grpc-js tests
 * pickers through a mock helper, and Moleculer ships a fake transporter).
 *
 * - {@link MemoryBrokerClient}: a real {@link Registry} behind the
 *   `BrokerClient` interface, with events a test can also raise by hand.
 * - {@link MemoryInvoker}: instances as functions from a call to a reply; a
 *   subject with no function is "no responders". Every call is recorded with
 *   a copy of its metadata as it was when sent.
 * - {@link memoryWatchedSite}: what a bridge half tells its site watcher,
 *   over a {@link MemoryBrokerClient}'s link states.
 */

import { afterEach, beforeEach, vi } from 'vitest';
import {
  type BrokerClient,
  type BrokerIdentity,
  type BrokerLifecycleEvent,
  type CallReply,
  Dispatcher,
  type InstanceEvent,
  InstanceRouter,
  type Invoker,
  type LeaseSession,
  type LinkState,
  LoadBalancer,
  type OutgoingCall,
  type RegistrationAck,
  type Resolution,
  Resolver,
  type RouteResult,
  type SessionAsk,
  type SessionCounts,
  type SiteListing,
  type Unsubscribe,
} from '../../src/core/index.js';
import {
  type CallMeta,
  Codec,
  type Completion,
  ErrorCode,
  type GracefulLinkState,
  type InstanceRegistration,
  type InstanceView,
  lastToken,
  linkGrace,
  Registry,
  type RegistryChange,
  SwitchboardError,
  subjectsFor,
  viewSize,
  type WatchedSite,
} from '../../src/internal.js';

const codec = new Codec();

/** A result reply carrying `value`. */
export function result(value: unknown): CallReply {
  return { ok: true, body: codec.encode(value) };
}

/** A failure raised on the caller's side (no reply body): what the transport reports. */
export function failure(code: ErrorCode, completed: Completion, message: string = code): CallReply {
  return { ok: false, error: new SwitchboardError(code, message, { completed }) };
}

/** An error reply as a far end sends it (with its encoded body). */
export function errorReply(
  code: ErrorCode,
  completed: Completion,
  message: string = code,
): CallReply {
  const error = new SwitchboardError(code, message, { completed });
  return { ok: false, error, body: codec.encode(error.toData()) };
}

/** The value of a result reply. */
export function resultOf(reply: CallReply): unknown {
  if (!reply.ok) throw reply.error;
  return codec.decode(reply.body);
}

/** The error of a failed reply. */
export function errorOf(reply: CallReply): SwitchboardError {
  if (reply.ok) throw new Error(`expected a failure, got ${JSON.stringify(resultOf(reply))}`);
  return reply.error;
}

/** The SwitchboardError `fn` throws (anything else thrown, or nothing, fails the test). */
export function thrownBy(fn: () => unknown): SwitchboardError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SwitchboardError) return err;
    throw new Error(`expected a SwitchboardError, got ${String(err)}`);
  }
  throw new Error('expected a SwitchboardError, nothing was thrown');
}

/** Encodes call arguments as a client does. */
export function args(...values: unknown[]): Uint8Array {
  return codec.encode(values);
}

/** A call's metadata as a client starts it. */
export function callMeta(service: string, fields: Partial<CallMeta> = {}): CallMeta {
  return { callId: 'c1', service, method: 'm', budgetMs: 0, path: [], ...fields };
}

/** What an instance function receives and returns. */
export type InstanceFn = (call: OutgoingCall) => CallReply | Promise<CallReply>;

/** One call the invoker sent. */
export interface SentCall {
  subject: string;
  /** The last token of the subject: the instance (or route) id it went to. */
  to: string;
  meta: CallMeta;
  timeoutMs: number;
  replyTo: string | undefined;
}

/** Instances as functions; see the module comment. */
export class MemoryInvoker implements Invoker {
  readonly sent: SentCall[] = [];
  readonly cancels: Array<{ subject: string; callId: string }> = [];
  readonly #instances = new Map<string, InstanceFn>();

  /** Makes `fn` answer calls sent to `target`: a whole subject, or its last token (an instance id). */
  on(target: string, fn: InstanceFn): void {
    this.#instances.set(target, fn);
  }

  /** Stops answering on `target` (calls there get "no responders"). */
  off(target: string): void {
    this.#instances.delete(target);
  }

  invoke(subject: string, call: OutgoingCall): Promise<CallReply> {
    const to = lastToken(subject);
    this.sent.push({
      subject,
      to,
      meta: { ...call.meta, path: [...call.meta.path] },
      timeoutMs: call.timeoutMs,
      replyTo: call.replyTo,
    });
    const fn = this.#instances.get(subject) ?? this.#instances.get(to);
    if (!fn) return Promise.resolve(failure(ErrorCode.UNAVAILABLE, 'no', 'no responders'));
    return Promise.resolve(fn(call));
  }

  cancel(subject: string, meta: CallMeta): void {
    this.cancels.push({ subject, callId: meta.callId });
  }

  /** Subjects whose calls in flight were abandoned. */
  readonly abandoned: string[] = [];

  abandon(subject: string): void {
    this.abandoned.push(subject);
  }

  /** Subjects probed, with the reason given. */
  readonly probed: Array<{ subject: string; reason: string }> = [];

  async probe(subject: string, reason: string): Promise<void> {
    this.probed.push({ subject, reason });
  }
}

/** A site's brokers in memory: a real Registry behind the BrokerClient seam. */
export class MemoryBrokerClient implements BrokerClient {
  readonly registry: Registry;
  /** Set false to make every request fail as if no broker answered. */
  available = true;
  /** Set true to send the instance's view with each `up` event, as brokers of this version do. */
  sendsViews = false;
  /** Set true to send the registry's generation before and after each change with its event, as brokers of this version do. */
  sendsGenerations = false;
  /** Set true to answer every lookup as if its instances did not all fit in one message. */
  truncatesLookups = false;
  /** Requests made, by kind. */
  readonly requests: Array<{ kind: string; service?: string; heartbeatMs?: number }> = [];
  readonly heartbeats: string[] = [];
  /** Session renewals: the session, the routes confirmed and held, the ids named gone, and whether they resumed. */
  readonly renewals: Array<{
    session: string;
    routes: number;
    held: number;
    gone: string[];
    resumed?: boolean;
  }> = [];
  #site: string | undefined;
  readonly #instanceListeners = new Set<(e: InstanceEvent) => void>();
  readonly #brokerListeners = new Set<(e: BrokerLifecycleEvent) => void>();
  readonly #linkListeners = new Set<(s: LinkState) => void>();
  readonly #reregister = new Map<string, Set<() => void>>();
  readonly #sessionLost = new Map<
    string,
    Set<{ secret: string; listener: (ask: SessionAsk) => void }>
  >();

  /** A site named `site`, or the given registry (to pass registry options such as a clock). */
  constructor(site: string | Registry) {
    this.registry = typeof site === 'string' ? new Registry({ site }) : site;
  }

  get site(): string | undefined {
    return this.#site;
  }

  async lookup(service: string, range: string | undefined): Promise<Resolution> {
    this.#answer('lookup', service);
    const instances = [...this.registry.lookup(service, range)];
    const departedFrom = instances.length === 0 ? this.registry.departedFrom(service) : undefined;
    const departedSites = this.registry.departedSites(service);
    const truncated = this.truncatesLookups || undefined;
    return { site: this.registry.site, instances, truncated, departedFrom, departedSites };
  }

  async list(_timeoutMs?: number, unless?: string): Promise<SiteListing> {
    this.#answer('list');
    const generation = `memory.${this.registry.generation}`;
    if (unless === generation) {
      return { site: this.registry.site, services: [], generation, unchanged: true };
    }
    return { site: this.registry.site, services: this.registry.list(), generation };
  }

  async info(): Promise<BrokerIdentity> {
    this.#answer('info');
    return { site: this.registry.site, brokerId: 'memory', startedAt: 0 };
  }

  async register(instance: InstanceRegistration): Promise<RegistrationAck> {
    this.#answer('register', instance.service, instance.heartbeatMs);
    let changes: ReturnType<Registry['register']>;
    try {
      changes = this.registry.register(instance);
    } catch (err) {
      // A broker's refusal names its site, as a real broker's error reply does.
      if (!(err instanceof SwitchboardError) || err.site !== undefined) throw err;
      throw SwitchboardError.fromData({ ...err.toData(), site: this.registry.site });
    }
    for (const change of changes) this.#publish(change);
    const leaseMs = this.registry.leaseFor(instance.heartbeatMs);
    return { site: this.registry.site, brokerId: 'memory', leaseMs };
  }

  /** Sizes of the batches of routes asked with {@link registerRoutes}, in order. */
  readonly batches: number[] = [];
  /** Set false to answer batches as a site whose brokers do not take them (earlier revision). */
  takesBatches = true;

  /** Registers each route as {@link register} would (each counted in {@link requests}). */
  async registerRoutes(routes: readonly InstanceRegistration[]): Promise<RouteResult[]> {
    this.batches.push(routes.length);
    if (!this.takesBatches) return routes.map(() => undefined);
    return Promise.all(
      routes.map((route) => this.register(route).catch((err: unknown) => err as SwitchboardError)),
    );
  }

  /** Ids of the heartbeats that said the instance's connection moved. */
  readonly resumedBeats: string[] = [];

  heartbeat(instance: InstanceRegistration, resumed = false): void {
    this.heartbeats.push(instance.id);
    if (resumed) this.resumedBeats.push(instance.id);
    if (!this.registry.heartbeat(instance) || !resumed) return;
    const view = this.registry.resumed(instance.id);
    if (view) this.#announceResumed(view);
  }

  #announceResumed({ service, id, site }: InstanceView): void {
    const event: InstanceEvent = { kind: 'resumed', service, id, site };
    for (const l of [...this.#instanceListeners]) l(event);
  }

  deregister(instance: InstanceRegistration): void {
    this.#publish(this.registry.deregister(instance.id, instance));
  }

  onInstanceEvent(listener: (event: InstanceEvent) => void): Unsubscribe {
    this.#instanceListeners.add(listener);
    return () => this.#instanceListeners.delete(listener);
  }

  onBrokerEvent(listener: (event: BrokerLifecycleEvent) => void): Unsubscribe {
    this.#brokerListeners.add(listener);
    return () => this.#brokerListeners.delete(listener);
  }

  onReregister(instance: InstanceRegistration, listener: () => void): Unsubscribe {
    const { id } = instance;
    let set = this.#reregister.get(id);
    if (!set) {
      set = new Set();
      this.#reregister.set(id, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Renews as a broker would, asking for the routes again when it knows fewer. */
  renewSession(session: LeaseSession, { routes, held, gone, resumed }: SessionCounts): void {
    const counts = { session: session.id, routes, held, gone: [...gone] };
    this.renewals.push(resumed ? { ...counts, resumed } : counts);
    const renewal = { v: 1, secret: session.secret, ...counts, session: session.id, resumed };
    const outcome = this.registry.renewSession(renewal);
    for (const change of outcome.changes) this.#publish(change);
    for (const view of outcome.resumed) this.#announceResumed(view);
    if (outcome.reregister) this.loseSession(session.id, true, session.secret);
  }

  onSessionLost(session: LeaseSession, listener: (ask: SessionAsk) => void): Unsubscribe {
    let set = this.#sessionLost.get(session.id);
    if (!set) {
      set = new Set();
      this.#sessionLost.set(session.id, set);
    }
    const heard = { secret: session.secret, listener };
    set.add(heard);
    return () => set.delete(heard);
  }

  /**
   * Asks the holder of a session for its routes again, as a broker that
   * lacks some would (one of an earlier revision, without batches, when
   * `batches` is false); an ask for `secret` only reaches the holder of it,
   * as the broker's `holder` tag makes NATS clients heed it.
   */
  loseSession(session: string, batches = true, secret?: string): void {
    for (const heard of [...(this.#sessionLost.get(session) ?? [])]) {
      if (secret === undefined || heard.secret === secret) heard.listener({ batches });
    }
  }

  onLinkState(listener: (state: LinkState) => void): Unsubscribe {
    this.#linkListeners.add(listener);
    return () => this.#linkListeners.delete(listener);
  }

  close(): void {
    this.#instanceListeners.clear();
    this.#brokerListeners.clear();
    this.#linkListeners.clear();
    this.#reregister.clear();
    this.#sessionLost.clear();
  }

  /** Raises a broker event, as a broker starting would. */
  brokerEvent(kind: BrokerLifecycleEvent['kind']): void {
    for (const l of [...this.#brokerListeners])
      l({ kind, site: this.registry.site, brokerId: 'x' });
  }

  /** Publishes a registry event as it is, as a broker (or a forger on an open site) would. */
  raise(event: InstanceEvent): void {
    for (const l of [...this.#instanceListeners]) l(event);
  }

  /** Raises a link state change, as nats.js would. */
  linkState(state: LinkState): void {
    for (const l of [...this.#linkListeners]) l(state);
  }

  /** Asks instance `id` to register again, as a broker that does not know it would. */
  askToReregister(id: string): void {
    for (const l of [...(this.#reregister.get(id) ?? [])]) l();
  }

  /** Listeners of each kind still attached (to check that close() detaches them). */
  listenerCounts(): { instance: number; broker: number; link: number; reregister: number } {
    let reregister = 0;
    for (const set of this.#reregister.values()) reregister += set.size;
    for (const set of this.#sessionLost.values()) reregister += set.size;
    return {
      instance: this.#instanceListeners.size,
      broker: this.#brokerListeners.size,
      link: this.#linkListeners.size,
      reregister,
    };
  }

  #answer(kind: string, service?: string, heartbeatMs?: number): void {
    this.requests.push({ kind, service, ...(heartbeatMs === undefined ? {} : { heartbeatMs }) });
    if (!this.available) {
      throw new SwitchboardError(ErrorCode.UNAVAILABLE, 'no broker answered on this site', {
        completed: 'no',
      });
    }
    this.#site = this.registry.site;
  }

  #publish(change: RegistryChange | undefined): void {
    if (!change) return;
    const { view } = change;
    const event: InstanceEvent = {
      kind: change.kind,
      service: view.service,
      id: view.id,
      site: view.site,
    };
    if (this.sendsViews && change.kind === 'up') event.view = view;
    if (this.sendsGenerations) {
      event.since = `memory.${change.since}`;
      event.generation = `memory.${change.generation}`;
    }
    for (const l of [...this.#instanceListeners]) l(event);
  }
}

/** A {@link WatchedSite} over a memory client; `stop()` detaches it, `listeners()` counts its own. */
export interface MemoryWatchedSite extends WatchedSite {
  stop(): void;
  listeners(): number;
}

/**
 * What a bridge half tells its site watcher about site `a`: the link states
 * `brokers` raises, seen through a grace of `graceMs` as a `SiteLink` sees
 * them (it listens to the link before the watcher does, as a link does); ids
 * starting with `own-` are the half's own routes.
 */
export function memoryWatchedSite(brokers: MemoryBrokerClient, graceMs = 0): MemoryWatchedSite {
  const listeners = new Set<(state: GracefulLinkState) => void>();
  const grace = linkGrace(graceMs, (state) => {
    for (const l of [...listeners]) l(state);
  });
  const stopLink = brokers.onLinkState((state) => grace.onState(state));
  return {
    where: () => "site 'a'",
    graceMs,
    onGracefulState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    isOwn: (id) => id.startsWith('own-'),
    stop() {
      grace.stop();
      stopLink();
    },
    listeners: () => listeners.size,
  };
}

/** The default subjects, as every site of these tests uses. */
export const subjects = subjectsFor();

/** A registration for instance `id` of `service` (a route when `route` is given). */
export function registration(
  id: string,
  service: string,
  fields: Partial<InstanceRegistration> = {},
): InstanceRegistration {
  return {
    id,
    service,
    version: '1.0.0',
    methods: ['m'],
    metadata: {},
    heartbeatMs: 1000,
    secret: SECRET,
    ...fields,
  };
}

/** The view a registry gives of instance `id` of `calculator` at site `a`, with `fields` changed. */
export function instanceView(id: string, fields: Partial<InstanceView> = {}): InstanceView {
  return {
    id,
    service: 'calculator',
    version: '1.0.0',
    methods: ['add'],
    metadata: {},
    site: 'a',
    path: [],
    hops: 0,
    ...fields,
  };
}

/**
 * The metadata value `blob` that makes `view` (given with or without it)
 * weigh exactly `bytes` by `viewSize`.
 */
export function blobFilling(view: InstanceView, bytes: number): string {
  return 'x'.repeat(bytes - viewSize({ ...view, metadata: { ...view.metadata, blob: '' } }));
}

/** The secret every registration of these tests holds its instance by. */
export const SECRET = 'test-secret-0123456789';

/** How many entries of `session` held with `secret` a renewal naming none gone renews now. */
export function renewedIn(registry: Registry, session: string, secret = SECRET): number {
  return registry.renewSession({ v: 1, session, secret, routes: 0 }).renewed;
}

/** The subject instance `id` of `service` takes calls on. */
export function instanceSubject(service: string, id: string): string {
  return subjects.instance(service, id);
}

/** Registers an instance directly in the registry (no event), returning its view. */
export function seed(
  brokers: MemoryBrokerClient,
  id: string,
  service: string,
  fields: Partial<InstanceRegistration> = {},
): InstanceView {
  brokers.registry.register(registration(id, service, fields));
  return brokers.registry.get(id)!;
}

/**
 * Freezes `Date.now()` at `at` for each test of the calling file (timers stay
 * real), so budgets and deadlines can be checked to the millisecond.
 */
export function frozenClock(at = 1_700_000_000_000): number {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  return at;
}

/** Fakes every timer (and `Date`) for each test of the calling file. */
export function fakeTimers(): void {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** A client-side call path over the fakes: resolver, round-robin balancer, dispatcher. */
export function memoryDispatcher(brokers: MemoryBrokerClient, invoker: MemoryInvoker) {
  const resolver = new Resolver(brokers, { ttlMs: 30_000, lookupTimeoutMs: 2000 });
  const balancer = new LoadBalancer('round-robin');
  const dispatcher = new Dispatcher(invoker, new InstanceRouter(resolver, balancer, subjects));
  return { resolver, balancer, dispatcher };
}
