import type { Msg, Subscription } from 'nats';
import {
  BALANCE_POLICIES,
  type BalancePolicy,
  type CallFailure,
  type CallReply,
  DEFAULT_IN_FLIGHT_LIMITS,
  InFlightLimit,
  type InFlightLimits,
  LoadBalancer,
} from '../core/index.js';
import type { Health, Metrics } from '../observability/index.js';
import {
  type BrokerEvent,
  type BrokerInfo,
  type CallMeta,
  type ControlMessage,
  ErrorCode,
  errorReplyHeaders,
  type InstanceRegistration,
  type InstanceView,
  isCancelNotice,
  type ListReply,
  type LookupReply,
  lastToken,
  NAME_PATTERN,
  PROTOCOL_VERSION,
  parse,
  type RegisterReply,
  type RegistryEvent,
  type RouteBatchReply,
  type RouteBatchResult,
  readCallMeta,
  SwitchboardError,
} from '../protocol/index.js';
import {
  type ConnectionOptions,
  headersOf,
  type ListenContext,
  listen,
  respondError,
  respondValue,
  returnGraceMs,
  SiteLink,
} from '../transport/index.js';
import { afterArrivals, Closeable, checkLimits, holderTag, newId } from '../util/index.js';
import { Forwarder } from './forwarder.js';
import {
  DEFAULT_REGISTRY_LIMITS,
  fitting,
  type LeaseHolder,
  Registry,
  type RegistryChange,
  type RegistryLimits,
} from './registry.js';

/** Options of a {@link Broker}. */
export interface BrokerOptions extends ConnectionOptions {
  /** Name of the site this broker serves; every broker of a site uses the same. */
  site: string;
  /** Broker id. @default a random id */
  id?: string;
  /**
   * A lease lasts this many heartbeat intervals of the instance.
   * @default 3
   */
  leaseFactor?: number;
  /**
   * How often expired leases are swept.
   * @default 250
   */
  sweepIntervalMs?: number;
  /**
   * A holder silent for two heartbeats and this long is asked whether it
   * still listens, and its entries go at once when nothing does (see
   * docs/protocol.md, "Late holders are probed"). At least the time a
   * component's connection may take to move to another node of the site's
   * NATS cluster: its `reconnectGraceMs`.
   * Past 1500, it also holds probes back that long after the broker's own
   * connection comes back.
   * @default 1500 when the site's NATS is a cluster (its server says so) or
   *   the broker was given several URLs; else 500, a couple of reconnect
   *   waits (a connection can only come back to the same server); never
   *   less than the broker's `reconnectGraceMs`
   */
  probeAfterMs?: number;
  /**
   * How forwarded calls are spread over instances.
   * @default 'least-outstanding'
   */
  policy?: BalancePolicy;
  /**
   * Largest call body accepted for forwarding, in bytes.
   * @default the NATS server's max_payload
   */
  maxPayload?: number;
  /** What the registry accepts (instances, methods, metadata, heartbeat range); see {@link RegistryLimits}. */
  limits?: Partial<RegistryLimits>;
  /**
   * How many forwarded calls, and bytes of their bodies, the broker holds at
   * once, and of those how many of one thin client (told apart by their
   * reply inboxes); past either, a thin client's call is refused with
   * `UNAVAILABLE` (completion `no`). See {@link InFlightLimits}.
   * @default 20,000 calls, 256 MiB; half of each for one client
   */
  inFlight?: Partial<InFlightLimits>;
  /** Where the broker counts what it does (see `Metrics`). @default none */
  metrics?: Metrics;
  /**
   * For this long after it starts, the broker holds back answers that would
   * say a service has no instance (lookups, listings, forwarded calls) while
   * the servers it told of its start register again: a restarted broker must
   * not report a live service missing. 0 answers at once.
   * @default 250
   */
  warmupMs?: number;
}

function checkOptions(options: BrokerOptions): void {
  if (!NAME_PATTERN.test(options.site ?? '')) {
    throw new TypeError(
      `broker option 'site' must be a name of letters, digits, '_' or '-' (got '${options.site}')`,
    );
  }
  // Under 2, one late heartbeat would drop a live instance.
  if (options.leaseFactor !== undefined && !(options.leaseFactor >= 2)) {
    throw new TypeError(`broker option 'leaseFactor' must be at least 2`);
  }
  if (options.policy !== undefined && !BALANCE_POLICIES.includes(options.policy)) {
    throw new TypeError(`broker option 'policy' must be one of ${BALANCE_POLICIES.join(', ')}`);
  }
  if (options.warmupMs !== undefined && !(options.warmupMs >= 0)) {
    throw new TypeError(`broker option 'warmupMs' must be 0 or more`);
  }
  if (options.sweepIntervalMs !== undefined && !(options.sweepIntervalMs > 0)) {
    throw new TypeError(`broker option 'sweepIntervalMs' must be positive`);
  }
  if (options.probeAfterMs !== undefined && !(options.probeAfterMs >= 0)) {
    throw new TypeError(`broker option 'probeAfterMs' must be 0 or more`);
  }
  checkLimits(
    options.limits,
    DEFAULT_REGISTRY_LIMITS,
    (field) => `broker option 'limits.${field}'`,
    'a registry limit',
  );
  checkLimits(
    options.inFlight,
    DEFAULT_IN_FLIGHT_LIMITS,
    (field) => `broker option 'inFlight.${field}'`,
    'an in-flight limit',
  );
  const { minHeartbeatMs, maxHeartbeatMs } = { ...DEFAULT_REGISTRY_LIMITS, ...options.limits };
  if (minHeartbeatMs > maxHeartbeatMs) {
    throw new TypeError(`broker option 'limits.minHeartbeatMs' exceeds 'limits.maxHeartbeatMs'`);
  }
}

/**
 * The site's coordinator. It owns the site registry (servers register,
 * heartbeat and deregister; silent ones expire), answers lookups and listings,
 * forwards calls from thin clients, and announces registry changes.
 *
 * Its state is soft: a restarted broker rebuilds the registry from the
 * re-registrations its `started` event triggers, and several brokers of one
 * site run side by side, each with the whole registry.
 *
 * `close()` announces that it stops, unsubscribes and disconnects; the
 * registry goes with it (the other brokers of the site keep theirs).
 */
export class Broker extends Closeable {
  /** Site this broker serves. */
  readonly site: string;
  /** This broker's id. */
  readonly id: string;
  /** Tells this run of the broker from an earlier one with the same id (see {@link #generationName}). */
  readonly #run = newId(6);
  /** The site registry (read it; change it through the protocol). */
  readonly registry: Registry;
  readonly startedAt = Date.now();

  readonly #link: SiteLink;
  readonly #forwarder: Forwarder;
  readonly #inFlight: InFlightLimit;
  readonly #maxPayload: number;
  /** Room for the instances of one reply: the server's max_payload, less framing. */
  readonly #replyBytes: number;
  readonly #subs: Subscription[] = [];
  /** Route batches: closed by NATS when this broker's credential may not hear them. */
  readonly #batches: Subscription;
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #counters: ReturnType<Metrics['brokerCounters']> | undefined;
  readonly #unwatch: (() => void) | undefined;
  /** Probes of overdue lease holders awaiting NATS's word (see {@link #probeOverdue}). */
  #probing = 0;
  /** A sweep is reading what was sent before it ends leases (see {@link #sweep}). */
  #catchingUp = false;
  /** When our connection to NATS last came up (holders get time to come back too). */
  #upSince = Date.now();
  /** See {@link BrokerOptions.probeAfterMs}; undefined: from what our connection says. */
  readonly #probeAfterMs: number | undefined;
  /** Resolves once the registry has had time to fill again after the start; undefined then. */
  #warmup: Promise<void> | undefined;

  private constructor(link: SiteLink, options: BrokerOptions) {
    super();
    this.#link = link;
    const { conn } = link;
    this.site = options.site;
    this.id = options.id ?? newId();
    this.registry = new Registry({
      site: this.site,
      leaseFactor: options.leaseFactor,
      limits: options.limits,
    });
    this.#forwarder = new Forwarder(
      this.registry,
      link.invoker,
      new LoadBalancer(options.policy ?? 'least-outstanding'),
      conn.subjects,
    );
    this.#inFlight = new InFlightLimit(options.inFlight);
    this.#maxPayload = options.maxPayload ?? conn.nc.info?.max_payload ?? 1024 * 1024;
    this.#replyBytes = Math.max(4096, (conn.nc.info?.max_payload ?? 1024 * 1024) - 4096);
    const s = conn.subjects;
    const ctx: ListenContext = {
      nc: conn.nc,
      codec: link.codec,
      logger: conn.peerLog,
      site: () => this.site,
    };
    const queue = { queue: s.brokerQueue };
    for (const [kind, subjects] of [
      ['service', s.services],
      ['route', s.routes],
    ] as const) {
      this.#subs.push(
        listen(ctx, subjects.all.register, (m) => this.#onRegister(m, kind)),
        listen(ctx, subjects.all.heartbeat, (m) => this.#onHeartbeat(m), NOTICES),
        listen(ctx, subjects.all.deregister, (m) => this.#onDeregister(m), NOTICES),
      );
    }
    this.#batches = listen(ctx, s.routeBatch, (m) => this.#onRouteBatch(m));
    this.#subs.push(
      listen(ctx, s.routeRenew, (m) => this.#onRenew(m), NOTICES),
      this.#batches,
      listen(ctx, s.lookup, (m) => this.#onLookup(m), queue),
      listen(ctx, s.list, (m) => this.#onList(m), queue),
      listen(ctx, s.info, (m) => this.#onInfo(m), queue),
      listen(ctx, s.callAll, (m) => this.#onCall(m), queue),
    );
    const { metrics } = options;
    this.#counters = metrics?.brokerCounters(this.site);
    const labels = { site: this.site };
    const stops = metrics
      ? [
          metrics.gauge('switchboard_broker_instances', () => [
            { labels, value: this.registry.size },
          ]),
          metrics.gauge('switchboard_broker_calls_in_flight', () => [
            { labels, value: this.#inFlight.calls },
          ]),
        ]
      : [];
    this.#unwatch = () => {
      for (const stop of stops) stop();
    };
    this.#probeAfterMs = options.probeAfterMs;
    link.brokers.onLinkState((state) => {
      if (state === 'up') this.#upSince = Date.now();
    });
    const every = options.sweepIntervalMs ?? 250;
    let due = Date.now() + every;
    this.#sweeper = setInterval(() => {
      // A late sweep first takes the heartbeats and renewals already received.
      afterArrivals(due, () => {
        if (!this.closing) this.#sweep();
      });
      due = Date.now() + every;
    }, every);
    this.#sweeper.unref();
  }

  /** Connects to the site's NATS and starts serving. */
  static async start(options: BrokerOptions): Promise<Broker> {
    checkOptions(options);
    const link = await SiteLink.open(options, `switchboard-broker-${options.site}`, options.site);
    const broker = new Broker(link, options);
    // Make sure our subscriptions are live before servers are told to re-register.
    await link.conn.nc.flush();
    broker.#warmUp(options.warmupMs ?? DEFAULT_WARMUP_MS);
    broker.#announce('started');
    link.conn.logger.info('broker started', { site: broker.site, id: broker.id });
    return broker;
  }

  #warmUp(ms: number): void {
    if (ms <= 0) return;
    this.#warmup = new Promise<void>((resolve) => {
      setTimeout(() => {
        this.#warmup = undefined;
        resolve();
      }, ms).unref();
    });
  }

  /** Whether the broker is doing its job: connected to its site's NATS. */
  health(): Health {
    if (this.closing) return { ok: false, reason: `broker of site ${this.site}: closing` };
    if (!this.#link.connected) {
      return { ok: false, reason: `broker of site ${this.site}: not connected to NATS` };
    }
    return { ok: true, reason: '' };
  }

  protected async shutdown(): Promise<void> {
    this.#unwatch?.();
    clearInterval(this.#sweeper);
    const { nc, logger } = this.#link.conn;
    if (!nc.isClosed()) {
      this.#announce('stopping');
      // Drained, not unsubscribed: requests already on their way are still answered.
      await Promise.all(this.#subs.map((sub) => sub.drain().catch(() => {})));
    }
    await this.#link.close();
    logger.info('broker stopped', { site: this.site, id: this.id });
  }

  #decode<T>(msg: Msg, parser: (v: unknown) => T): T {
    return parser(this.#link.codec.decode(msg.data));
  }

  /**
   * A registration: of a server on the services subjects, of a bridge's
   * route on the routes subjects (which only bridges' credentials may use).
   * The service named by the subject must be the one registered.
   */
  #onRegister(msg: Msg, kind: 'service' | 'route'): void {
    const { instance } = this.#decode(msg, parse.registerRequest);
    checkSubjectService(msg.subject, instance.service);
    if (kind === 'service' && instance.route) {
      throw refused(`a route registers on ${this.#link.conn.subjects.routes.all.register}`);
    }
    const leaseMs = this.#register(instance, kind);
    if (msg.reply) {
      const reply: RegisterReply = {
        v: PROTOCOL_VERSION,
        site: this.site,
        brokerId: this.id,
        leaseMs,
      };
      respondValue(msg, this.#link.codec, reply);
    }
  }

  /**
   * Registers `instance` (a route must say where it leads), publishes the
   * change, and returns its lease.
   */
  #register(instance: InstanceRegistration, kind: 'service' | 'route'): number {
    if (kind === 'route' && !instance.route) {
      throw refused(`a route registration must say where the route leads (instance.route)`);
    }
    for (const change of this.registry.register(instance)) this.#publishChange(change);
    return this.registry.leaseFor(instance.heartbeatMs);
  }

  /**
   * Several routes of a bridge half at once, each registered as its own
   * request would be: one the registry refuses (past a limit, held by
   * another secret) is answered in its place and does not refuse the others.
   */
  #onRouteBatch(msg: Msg): void {
    const { instances } = this.#decode(msg, parse.routeBatchRequest);
    let refusals = 0;
    let first: SwitchboardError | undefined;
    const results = instances.map((instance): RouteBatchResult => {
      try {
        return { leaseMs: this.#register(instance, 'route') };
      } catch (err) {
        if (!(err instanceof SwitchboardError)) throw err;
        refusals++;
        first ??= err;
        const error = err.toData();
        error.site ??= this.site;
        return { error };
      }
    });
    if (first) {
      const what = `refused ${refusals} of the ${instances.length} routes of a batch`;
      this.#link.conn.peerLog.warn(`${what}: ${first.message}`, { code: first.code });
    }
    if (msg.reply) {
      const reply: RouteBatchReply = {
        v: PROTOCOL_VERSION,
        site: this.site,
        brokerId: this.id,
        results,
      };
      respondValue(msg, this.#link.codec, reply);
    }
  }

  #onHeartbeat(msg: Msg): void {
    const { id, secret, resumed } = this.#decode(msg, parse.heartbeat);
    const service = lastToken(msg.subject);
    if (!this.registry.heartbeat({ id, secret, service })) {
      // We do not know it (we restarted, or its lease ran out): ask it to register again.
      this.#publish(this.#link.conn.subjects.control(service, id), {
        v: PROTOCOL_VERSION,
        kind: 'reregister',
        holder: holderTag(secret),
      });
      return;
    }
    const view = resumed ? this.registry.resumed(id) : undefined;
    if (view) this.#announceResumed(view);
  }

  /** Calls sent to an instance while its connection moved may be lost: callers (this broker too) check. */
  #announceResumed(view: InstanceView): void {
    const { service, id, site } = view;
    this.#link.conn.logger.debug(`instance ${id} of ${service} resumed after its connection moved`);
    const event: RegistryEvent = { v: PROTOCOL_VERSION, kind: 'resumed', service, id, site };
    this.#publish(this.#link.conn.subjects.registryEvents(service), event);
    this.#forwarder.probe(view);
  }

  /**
   * A bridge half renews every route of its session at once, naming the
   * routes it deregistered lately (in case a deregistration was lost). If we
   * hold fewer than it does (we restarted, or missed a registration), it must
   * register them again: we cannot tell which, so all of them. If we hold
   * more than it says it holds, so it must too, and those it did not
   * register again go (see `Registry.renewSession`).
   */
  #onRenew(msg: Msg): void {
    const renewal = this.#decode(msg, parse.sessionRenewal);
    const { changes, reregister, resumed } = this.registry.renewSession(renewal);
    for (const change of changes) this.#publishChange(change);
    for (const view of resumed) this.#announceResumed(view);
    if (reregister) {
      // Tagged with the renewal's secret: a renewal forged with another one asks nobody.
      const ask: ControlMessage = {
        v: PROTOCOL_VERSION,
        kind: 'reregister',
        holder: holderTag(renewal.secret),
      };
      // We take them back in batches, if we hear them: then the holder need not send a request per route.
      if (!this.#batches.isClosed()) ask.batch = true;
      this.#publish(this.#link.conn.subjects.session(renewal.session), ask);
    }
  }

  #onDeregister(msg: Msg): void {
    const { id, secret } = this.#decode(msg, parse.deregister);
    this.#publishChange(
      this.registry.deregister(id, { id, secret, service: lastToken(msg.subject) }),
    );
  }

  async #onLookup(msg: Msg): Promise<void> {
    const req = this.#decode(msg, parse.lookupRequest);
    let found = this.registry.lookup(req.service, req.version);
    if (found.length === 0 && this.#warmup) {
      await this.#warmup;
      found = this.registry.lookup(req.service, req.version);
    }
    const { instances, truncated } = fitting(found, this.#replyBytes);
    const reply: LookupReply = { v: PROTOCOL_VERSION, site: this.site, instances };
    const departedFrom = found.length === 0 ? this.registry.departedFrom(req.service) : undefined;
    if (departedFrom !== undefined) reply.departedFrom = departedFrom;
    const departedSites = this.registry.departedSites(req.service);
    if (departedSites.length > 0) reply.departedSites = departedSites;
    if (found.length === 0 && departedFrom === undefined && departedSites.length === 0) {
      const similar = this.registry.similarService(req.service);
      if (similar !== undefined) reply.similar = similar;
    }
    if (truncated) reply.truncated = true;
    respondValue(msg, this.#link.codec, reply);
  }

  /**
   * One page of the listing (each fits in one NATS message), or, when the
   * asker already holds the registry as it is, word that nothing changed.
   */
  async #onList(msg: Msg): Promise<void> {
    const { after, unless } = this.#decode(msg, parse.listRequest);
    await this.#warmup;
    const generation = this.#generationName(this.registry.generation);
    if (after === undefined && unless === generation) {
      const reply: ListReply = {
        v: PROTOCOL_VERSION,
        site: this.site,
        services: [],
        generation,
        unchanged: true,
      };
      return respondValue(msg, this.#link.codec, reply);
    }
    const page = this.registry.listPage(after, this.#replyBytes);
    const reply: ListReply = {
      v: PROTOCOL_VERSION,
      site: this.site,
      services: page.services,
      generation,
    };
    if (page.next !== undefined) reply.next = page.next;
    respondValue(msg, this.#link.codec, reply);
  }

  #onInfo(msg: Msg): void {
    const reply: BrokerInfo = {
      v: PROTOCOL_VERSION,
      site: this.site,
      brokerId: this.id,
      startedAt: this.startedAt,
    };
    respondValue(msg, this.#link.codec, reply);
  }

  /**
   * A thin client's call: forwarded to an instance, which answers the caller
   * directly (so a broker that dies loses no call it already forwarded). The
   * broker answers when no instance took the call, when the instance taking
   * it stopped heartbeating, or when the instance answered the broker instead
   * of the caller. When the instance may still answer the caller itself (our
   * own connection broke, or the deadline passed), the broker stays silent.
   * A call past the broker's in-flight limits is refused at once.
   */
  #onCall(msg: Msg): Promise<void> | undefined {
    const received = Date.now();
    const headers = headersOf(msg);
    const meta = readCallMeta(headers);
    checkSubjectService(msg.subject, meta.service);
    if (isCancelNotice(headers)) {
      this.#forwarder.cancel(meta);
      return undefined;
    }
    // A thin client's call starts here: this site is its origin, in every answer too.
    if (meta.path.length === 0) meta.path = [this.site];
    if (!msg.reply) {
      this.#link.conn.peerLog.warn('dropped a call without reply subject', {
        service: meta.service,
      });
      return undefined;
    }
    // nats.js cuts the body from the message anew at every read of msg.data.
    const body = msg.data;
    const bytes = body.length;
    if (bytes > this.#maxPayload) {
      const message = `call body of ${bytes} bytes exceeds the limit of ${this.#maxPayload}`;
      throw this.#refusal(ErrorCode.PAYLOAD_TOO_LARGE, message, meta);
    }
    const replyTo = msg.reply;
    // The caller whose share of the room the call takes: the thin client, by its inbox.
    const dot = replyTo.lastIndexOf('.');
    const caller = dot < 0 ? replyTo : replyTo.slice(0, dot);
    const full = this.#inFlight.take(bytes, caller);
    if (full !== undefined) {
      this.#counters?.forwarded('-', ErrorCode.UNAVAILABLE);
      throw this.#refusal(ErrorCode.UNAVAILABLE, `broker busy: ${full}`, meta);
    }
    // Only counted calls need to know whether an instance held the name before.
    const heldBefore = this.#counters !== undefined && this.#holds(meta.service);
    return this.#inFlight.carry(
      bytes,
      caller,
      () => this.#forward(body, replyTo, meta, received),
      (reply) => this.#passBack(msg, meta, reply, heldBefore),
    );
  }

  /** An error refusing a thin client's call before it is forwarded: completion `no`. */
  #refusal(code: ErrorCode, message: string, meta: CallMeta): SwitchboardError {
    return new SwitchboardError(code, message, {
      completed: 'no',
      site: this.site,
      service: meta.service,
      path: meta.path,
    });
  }

  /** Whether an instance of `service` is registered here now. */
  #holds(service: string): boolean {
    return this.registry.lookup(service).length > 0;
  }

  /** Forwards a thin client's call (once the registry is warm, when it holds no instance yet). */
  #forward(
    body: Uint8Array,
    replyTo: string,
    meta: CallMeta,
    received: number,
  ): Promise<CallReply> {
    const warmup = this.#warmup;
    if (warmup && this.registry.lookup(meta.service, meta.versionRange).length === 0) {
      return warmup.then(() => this.#forwarder.forward(meta, body, replyTo, received));
    }
    return this.#forwarder.forward(meta, body, replyTo, received);
  }

  /** Answers the thin client where the instance did not, and counts the call. */
  #passBack(msg: Msg, meta: CallMeta, reply: CallReply, heldBefore: boolean): void {
    const counters = this.#counters;
    if (counters) {
      // A name no instance held, before or after, is the caller's choice: counted
      // as `-`, so that thin clients cannot add a metric series per name they make up.
      const counted = heldBefore || this.#holds(meta.service) ? meta.service : '-';
      counters.forwarded(counted, reply.ok ? 'OK' : reply.error.code);
    }
    if (reply.ok) {
      // An empty body is the instance's notice that it answered the caller.
      if (reply.body.length > 0) msg.respond(reply.body);
    } else if (reply.body) {
      msg.respond(reply.body, { headers: ERROR_HEADERS });
    } else if (!mayStillAnswer(reply)) {
      respondError(msg, this.#link.codec, reply.error);
    }
  }

  /**
   * Ends the leases that have run out, once this broker has read what was
   * sent to it before they did: heartbeats and renewals queued at the NATS
   * server or in our socket while this process was busy (a round trip to
   * the server, `flush`, brings them in first, up to {@link CATCH_UP_MS}).
   * A lease whose renewal was on its way is kept; one that ran out while
   * catching up waits for the next sweep's round trip.
   */
  #sweep(): void {
    this.#probeOverdue();
    if (this.#catchingUp) return;
    const asOf = this.registry.expiredAsOf();
    if (asOf === undefined) return;
    this.#catchingUp = true;
    void this.#caughtUp().then(() => {
      this.#catchingUp = false;
      if (!this.closing) {
        this.#publishExpired(this.registry.expire(asOf), 'instance lease expired');
      }
    });
  }

  /** Resolves once the server's answer to a ping is read, or after {@link CATCH_UP_MS}. */
  #caughtUp(): Promise<void> {
    const { nc } = this.#link.conn;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CATCH_UP_MS);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      let answered: Promise<void>;
      try {
        answered = nc.flush();
      } catch {
        answered = Promise.resolve();
      }
      answered.then(done, done);
    });
  }

  #publishExpired(expired: RegistryChange[], why: string): void {
    if (expired.length > 0) this.#counters?.expired(expired.length);
    for (const change of expired) {
      this.#link.conn.logger.info(why, { service: change.view.service, id: change.view.id });
      this.#publishChange(change);
    }
  }

  /**
   * Asks NATS whether the holders silent for two heartbeats and
   * `probeAfterMs` (see `Registry.overdue`) still listen on their control
   * subjects. One whose connection closed (its
   * process died, its link was cut) has no subscription left there: its
   * entries go now, not when the lease ends. A holder that is only late
   * (busy, or its renewals delayed) still listens and keeps its lease. None
   * while our own connection is down or just back: after a NATS restart the
   * holders reconnect too, some later than we do (a few reconnect waits).
   */
  #probeOverdue(): void {
    const room = MAX_HOLDER_PROBES - this.#probing;
    if (room <= 0 || !this.#link.connected) return;
    const { conn } = this.#link;
    // Read at each sweep: a connection that came back may be to a server that says otherwise.
    const probeAfterMs = this.#probeAfterMs ?? returnGraceMs(conn);
    if (Date.now() - this.#upSince < Math.max(probeAfterMs, HOLDERS_RECONNECT_MS)) return;
    const { subjects } = conn;
    for (const holder of this.registry.overdue(room, probeAfterMs)) {
      const subject =
        'session' in holder
          ? subjects.session(holder.session)
          : subjects.control(holder.service, holder.id);
      this.#probing++;
      void this.#link.channel
        .listens(subject, this.#link.codec.encode(PING), HOLDER_PROBE_WAIT_MS)
        .then((listens) => {
          this.#probing--;
          if (listens === false && !this.closing) this.#holderGone(holder, probeAfterMs);
        });
    }
  }

  #holderGone(holder: LeaseHolder, probeAfterMs: number): void {
    const gone = this.registry.holderGone(holder, probeAfterMs);
    this.#publishExpired(gone, 'lease holder gone from NATS');
  }

  #publishChange(change: RegistryChange | undefined): void {
    if (!change) return;
    const event: RegistryEvent = {
      v: PROTOCOL_VERSION,
      kind: change.kind,
      service: change.view.service,
      id: change.view.id,
      site: change.view.site,
    };
    if (change.reason) event.reason = change.reason;
    if (change.kind === 'up') event.view = change.view;
    event.since = this.#generationName(change.since);
    event.generation = this.#generationName(change.generation);
    this.#publish(this.#link.conn.subjects.registryEvents(event.service), event);
    // Calls this broker forwarded to an instance whose lease ran out get no answer.
    if (change.reason === 'expired') this.#forwarder.abandon(change.view);
  }

  /**
   * How listings and events name generation `n` of this broker's registry:
   * unique to this run of this broker (a broker restarted with the same id
   * counts from 0 again).
   */
  #generationName(n: number): string {
    return `${this.id}.${this.#run}.${n}`;
  }

  #announce(kind: BrokerEvent['kind']): void {
    const event: BrokerEvent = { v: PROTOCOL_VERSION, kind, site: this.site, brokerId: this.id };
    this.#publish(this.#link.conn.subjects.brokerEvents, event);
  }

  #publish(subject: string, body: unknown): void {
    const { nc } = this.#link.conn;
    if (!nc.isClosed()) nc.publish(subject, this.#link.codec.encode(body));
  }
}

const ERROR_HEADERS = errorReplyHeaders().forNats();

/** Whether the instance holding a forwarded call may still answer its caller itself. */
function mayStillAnswer(reply: CallFailure): boolean {
  return (
    reply.linkDown === true ||
    (reply.error.code === ErrorCode.TIMEOUT && reply.error.completed !== 'no')
  );
}

/** See {@link BrokerOptions.warmupMs}. */
const DEFAULT_WARMUP_MS = 250;

/**
 * Longest a sweep waits for the server's answer before it ends leases
 * anyway (our connection may be down: holders cannot renew then either).
 */
const CATCH_UP_MS = 1000;

/** Overdue lease holders probed at once, at most; the others wait for a later sweep. */
const MAX_HOLDER_PROBES = 64;
/**
 * How long after our own connection comes back no holder is probed: the
 * others reconnect too, within a few reconnect waits (250 ms each by default).
 */
const HOLDERS_RECONNECT_MS = 1500;
/** How long a probe waits for NATS's no-responders word; a listener never answers. */
const HOLDER_PROBE_WAIT_MS = 1000;
const PING = { v: PROTOCOL_VERSION, kind: 'ping' } as const;

/** Heartbeats and deregistrations are notices: a rejected one is logged, never answered. */
const NOTICES = { answers: false };

function refused(message: string): SwitchboardError {
  return new SwitchboardError(ErrorCode.BAD_REQUEST, message, { completed: 'no' });
}

/** The service token of a subject must name the service the message is about. */
function checkSubjectService(subject: string, service: string): void {
  const token = lastToken(subject);
  if (token !== service) {
    throw refused(`the subject names service '${token}' but the message is about '${service}'`);
  }
}
