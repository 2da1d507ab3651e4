import type { Msg, Status, Subscription } from 'nats';
import type {
  BrokerClient,
  BrokerIdentity,
  BrokerLifecycleEvent,
  InstanceEvent,
  LeaseSession,
  LinkState,
  RegistrationAck,
  Resolution,
  RouteResult,
  SessionAsk,
  SessionCounts,
  SiteListing,
  Unsubscribe,
} from '../core/index.js';
import {
  type Codec,
  ErrorCode,
  type InstanceClaim,
  type InstanceRegistration,
  isRefusedByNats,
  type ListRequest,
  MAX_BATCH_ROUTES,
  PROTOCOL_VERSION,
  parse,
  type RouteBatchRequest,
  type ServiceView,
  type SessionRenewal,
  SwitchboardError,
} from '../protocol/index.js';
import { holderTag } from '../util/index.js';
import { readReply } from './call-reply.js';
import type { SiteConnection } from './connection.js';
import { type ListenContext, listen } from './replies.js';
import { isNoResponders, type RequestChannel } from './request-channel.js';

/**
 * The site's brokers over NATS: requests (lookup, list, info, register) go
 * through the component's {@link RequestChannel}; heartbeats and
 * deregistrations are published; event streams are subscribed to on first
 * use and shared by every listener.
 */
export class NatsBrokerClient implements BrokerClient {
  readonly #conn: SiteConnection;
  readonly #channel: RequestChannel;
  readonly #codec: Codec;
  readonly #instanceEvents: EventStream<InstanceEvent>;
  readonly #brokerEvents: EventStream<BrokerLifecycleEvent>;
  readonly #linkListeners = new Set<(state: LinkState) => void>();
  readonly #subs = new Set<Subscription>();
  #status: (AsyncIterable<Status> & { stop(): void }) | undefined;
  #site: string | undefined;
  /** NATS refused a route batch: this connection's credential does not permit them. */
  #batchesForbidden = false;
  #closed = false;

  constructor(conn: SiteConnection, channel: RequestChannel, codec: Codec) {
    this.#conn = conn;
    this.#channel = channel;
    this.#codec = codec;
    this.#instanceEvents = new EventStream((emit) =>
      this.#listen(conn.subjects.registryEventsAll, (msg) => {
        const e = parse.registryEvent(codec.decode(msg.data));
        emit({
          kind: e.kind,
          service: e.service,
          id: e.id,
          site: e.site,
          reason: e.reason,
          view: e.view,
          since: e.since,
          generation: e.generation,
        });
      }),
    );
    this.#brokerEvents = new EventStream((emit) =>
      this.#listen(conn.subjects.brokerEvents, (msg) => {
        const e = parse.brokerEvent(codec.decode(msg.data));
        emit({ kind: e.kind, site: e.site, brokerId: e.brokerId });
      }),
    );
  }

  get site(): string | undefined {
    return this.#site;
  }

  async lookup(service: string, range: string | undefined, timeoutMs: number): Promise<Resolution> {
    const body: Record<string, unknown> = { v: PROTOCOL_VERSION, service };
    if (range !== undefined) body.version = range;
    const reply = parse.lookupReply(
      await this.#request(this.#conn.subjects.lookup, body, timeoutMs),
    );
    return this.#learn({
      site: reply.site,
      instances: reply.instances,
      truncated: reply.truncated,
      departedFrom: reply.departedFrom,
      departedSites: reply.departedSites,
      similar: reply.similar,
    });
  }

  /**
   * The whole listing, page after page (each page is one message, so a
   * registry of any size is listed). Each page gets `timeoutMs`. A service
   * version split across pages is joined again. With `unless`, a broker
   * whose registry is still at that generation answers `unchanged` instead.
   */
  async list(timeoutMs: number, unless?: string): Promise<SiteListing> {
    const services: ServiceView[] = [];
    let site = '';
    let generation: string | undefined;
    let after: string | undefined;
    let bytes = 0;
    for (let pages = 0; pages < MAX_LIST_PAGES; pages++) {
      const body: ListRequest = { v: PROTOCOL_VERSION };
      if (after !== undefined) body.after = after;
      else if (unless !== undefined) body.unless = unless;
      const reply = await this.#requestSized(this.#conn.subjects.list, body, timeoutMs);
      const page = parse.listReply(reply.value);
      bytes += reply.bytes;
      if (bytes > MAX_LISTING_BYTES) {
        // A site's brokers choose their page size (its max_payload) and count: bounded here.
        throw new SwitchboardError(
          ErrorCode.UNAVAILABLE,
          `the listing of site '${page.site}' exceeds ${MAX_LISTING_BYTES / 2 ** 20} MiB`,
          { completed: 'no' },
        );
      }
      site = page.site;
      // The first page's: a change while the pages come makes the next listing whole.
      if (pages === 0) generation = page.generation;
      if (page.unchanged && pages === 0) {
        return this.#learn({ site, services, generation, unchanged: true });
      }
      for (const service of page.services) {
        const last = services.at(-1);
        if (last && last.name === service.name && last.version === service.version) {
          last.instances.push(...service.instances);
        } else {
          services.push(service);
        }
      }
      if (page.next === undefined || page.next === after) break;
      after = page.next;
    }
    return this.#learn({ site, services, generation });
  }

  async info(timeoutMs: number): Promise<BrokerIdentity> {
    const reply = parse.brokerInfo(
      await this.#request(this.#conn.subjects.info, { v: PROTOCOL_VERSION }, timeoutMs),
    );
    return this.#learn({ site: reply.site, brokerId: reply.brokerId, startedAt: reply.startedAt });
  }

  async register(instance: InstanceRegistration, timeoutMs: number): Promise<RegistrationAck> {
    const body = { v: PROTOCOL_VERSION, instance };
    const subject = this.#kind(instance).register(instance.service);
    const reply = parse.registerReply(await this.#request(subject, body, timeoutMs));
    return this.#learn({ site: reply.site, brokerId: reply.brokerId, leaseMs: reply.leaseMs });
  }

  async registerRoutes(
    routes: readonly InstanceRegistration[],
    timeoutMs: number,
  ): Promise<RouteResult[]> {
    if (this.#batchesForbidden) return routes.map(() => undefined);
    const batches: InstanceRegistration[][] = [];
    for (let i = 0; i < routes.length; i += MAX_BATCH_ROUTES) {
      batches.push(routes.slice(i, i + MAX_BATCH_ROUTES));
    }
    const results = await Promise.all(batches.map((b) => this.#registerBatch(b, timeoutMs)));
    return results.flat();
  }

  /**
   * One batch request (halved until it fits the server's max_payload). Every
   * route of a batch no broker answered fails with the same error. None is
   * taken (`undefined`: each is to go on its own) when no broker takes
   * batches (brokers of an earlier revision), when a broker refuses the
   * batch as unreadable (one bad route would refuse the others with it),
   * nor from then on when NATS refuses them (a credential written for an
   * earlier revision).
   */
  async #registerBatch(routes: InstanceRegistration[], timeoutMs: number): Promise<RouteResult[]> {
    const failed = (err: unknown) => {
      const failure =
        err instanceof SwitchboardError
          ? err
          : new SwitchboardError(ErrorCode.INTERNAL, `cannot send the batch: ${String(err)}`, {
              completed: 'no',
              cause: err,
            });
      return routes.map(() => failure);
    };
    let data: Uint8Array;
    let value: unknown;
    try {
      data = this.#codec.encode({ v: PROTOCOL_VERSION, instances: routes } as RouteBatchRequest);
      if (routes.length > 1 && data.length > (this.#conn.nc.info?.max_payload ?? data.length)) {
        const half = Math.ceil(routes.length / 2);
        const parts = [routes.slice(0, half), routes.slice(half)];
        return (await Promise.all(parts.map((p) => this.#registerBatch(p, timeoutMs)))).flat();
      }
      value = (await this.#requestData(this.#conn.subjects.routeBatch, data, timeoutMs)).value;
    } catch (err) {
      const e = err as SwitchboardError;
      // NATS, not a broker, refused it: this credential may not send batches.
      const refusedByNats = isRefusedByNats(e);
      // A broker that cannot read the batch (one bad route refuses it whole): one by one, so
      // that the others are not refused with it at every attempt.
      const unreadable = e.code === ErrorCode.BAD_REQUEST && e.site !== undefined;
      if (refusedByNats) this.#batchesForbidden = true;
      else if (!unreadable && !isNoResponders(e.cause)) return failed(err);
      return routes.map(() => undefined);
    }
    try {
      const reply = parse.routeBatchReply(value);
      if (reply.results.length !== routes.length) {
        throw SwitchboardError.refusal(
          ErrorCode.BAD_REQUEST,
          `a broker answered ${reply.results.length} results to a batch of ${routes.length} routes`,
          { completed: 'maybe' },
        );
      }
      const { site, brokerId } = this.#learn(reply);
      return reply.results.map((r) =>
        // A refusal names the broker's site, as a refusal of one registration does.
        'error' in r
          ? SwitchboardError.fromData({ ...r.error, site: r.error.site ?? site })
          : { site, brokerId, leaseMs: r.leaseMs },
      );
    } catch (err) {
      return failed(err);
    }
  }

  heartbeat(instance: InstanceRegistration, resumed = false): void {
    const { id, secret, service } = instance;
    const claim: InstanceClaim = { v: PROTOCOL_VERSION, id, secret };
    if (resumed) claim.resumed = true;
    this.#publish(this.#kind(instance).heartbeat(service), claim);
  }

  deregister(instance: InstanceRegistration): void {
    const { id, secret, service } = instance;
    this.#publish(this.#kind(instance).deregister(service), { v: PROTOCOL_VERSION, id, secret });
  }

  onInstanceEvent(listener: (event: InstanceEvent) => void): Unsubscribe {
    return this.#instanceEvents.add(listener);
  }

  onBrokerEvent(listener: (event: BrokerLifecycleEvent) => void): Unsubscribe {
    return this.#brokerEvents.add(listener);
  }

  onReregister(instance: InstanceRegistration, listener: () => void): Unsubscribe {
    const subject = this.#conn.subjects.control(instance.service, instance.id);
    return this.#onControl(subject, instance.secret, listener);
  }

  renewSession(session: LeaseSession, { routes, held, gone, resumed }: SessionCounts): void {
    const { id, secret } = session;
    const renewal: SessionRenewal = { v: PROTOCOL_VERSION, session: id, secret, routes, held };
    if (gone.length > 0) renewal.gone = [...gone];
    if (resumed) renewal.resumed = true;
    this.#publish(this.#conn.subjects.routeRenew, renewal);
  }

  onSessionLost(session: LeaseSession, listener: (ask: SessionAsk) => void): Unsubscribe {
    return this.#onControl(this.#conn.subjects.session(session.id), session.secret, listener);
  }

  /**
   * Calls `listener` at each `reregister` on `subject` for the holder of
   * `secret` (a `ping` only needs us to listen; an ask tagged for another
   * secret was caused by a heartbeat or renewal someone else forged).
   */
  #onControl(subject: string, secret: string, listener: (ask: SessionAsk) => void): Unsubscribe {
    const tag = holderTag(secret);
    const sub = this.#listen(subject, (msg) => {
      const control = parse.control(this.#codec.decode(msg.data));
      if (control.kind !== 'reregister') return;
      if (control.holder !== undefined && control.holder !== tag) return;
      listener({ batches: control.batch === true });
    });
    return () => this.#unsubscribe(sub);
  }

  onLinkState(listener: (state: LinkState) => void): Unsubscribe {
    this.#linkListeners.add(listener);
    if (!this.#status && !this.#closed) {
      // nats.js types status() as a plain AsyncIterable; it is a QueuedIterator with stop().
      this.#status = this.#conn.nc.status() as AsyncIterable<Status> & { stop(): void };
      void this.#followStatus(this.#status);
    }
    return () => this.#linkListeners.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#status?.stop();
    this.#linkListeners.clear();
    for (const sub of [...this.#subs]) this.#unsubscribe(sub);
  }

  /** Where registrations of this kind of instance go: a server's, or a bridge's route. */
  #kind(instance: InstanceRegistration) {
    return instance.route ? this.#conn.subjects.routes : this.#conn.subjects.services;
  }

  /** Remembers the site named by a broker's answer. */
  #learn<T extends { site: string }>(answer: T): T {
    this.#site = answer.site;
    return answer;
  }

  /**
   * Sends a request to the site's brokers and returns the decoded reply body;
   * an error reply is thrown as it came, silence as `UNAVAILABLE`.
   */
  async #request(subject: string, body: unknown, timeoutMs: number): Promise<unknown> {
    return (await this.#requestSized(subject, body, timeoutMs)).value;
  }

  /** {@link #request}, with the size of the reply's body. */
  async #requestSized(
    subject: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<{ value: unknown; bytes: number }> {
    return this.#requestData(subject, this.#codec.encode(body), timeoutMs);
  }

  /** {@link #requestSized}, of a body already encoded. */
  async #requestData(
    subject: string,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<{ value: unknown; bytes: number }> {
    let msg: Msg;
    try {
      msg = await this.#channel.request(subject, { data, timeoutMs, target: 'broker' });
    } catch (err) {
      const e = err as SwitchboardError;
      if (e.code === ErrorCode.UNAVAILABLE || e.code === ErrorCode.TIMEOUT) {
        throw new SwitchboardError(
          ErrorCode.UNAVAILABLE,
          `no broker answered on this site (${e.message})`,
          { completed: 'no', cause: err },
        );
      }
      throw err;
    }
    const reply = readReply(msg, this.#codec);
    if (!reply.ok) throw reply.error;
    return { value: this.#codec.decode(reply.body), bytes: reply.body.length };
  }

  #publish(subject: string, body: unknown): void {
    if (this.#closed || this.#conn.nc.isClosed()) return;
    this.#conn.nc.publish(subject, this.#codec.encode(body));
  }

  #listen(subject: string, handler: (msg: Msg) => void): Subscription {
    const ctx: ListenContext = {
      nc: this.#conn.nc,
      codec: this.#codec,
      logger: this.#conn.peerLog,
      site: () => this.#site,
    };
    // Events and control messages are notices: nothing is answered.
    const sub = listen(ctx, subject, handler, { answers: false });
    this.#subs.add(sub);
    return sub;
  }

  #unsubscribe(sub: Subscription): void {
    if (!this.#subs.delete(sub)) return;
    if (!this.#conn.nc.isClosed()) sub.unsubscribe();
  }

  async #followStatus(status: AsyncIterable<Status>): Promise<void> {
    for await (const s of status) {
      const state: LinkState | undefined =
        s.type === 'disconnect' ? 'down' : s.type === 'reconnect' ? 'up' : undefined;
      if (state) for (const listener of [...this.#linkListeners]) listener(state);
    }
  }
}

/** Pages of a listing read at most (a broker that keeps sending cursors is cut off). */
const MAX_LIST_PAGES = 10_000;

/** Most bytes of listing pages taken for one listing (100,000 instances take about 30 MiB). */
export const MAX_LISTING_BYTES = 128 * 2 ** 20;

/** One subscription shared by many listeners, made on the first one. */
class EventStream<T> {
  readonly #subscribe: (emit: (event: T) => void) => unknown;
  readonly #listeners = new Set<(event: T) => void>();
  #subscribed = false;

  constructor(subscribe: (emit: (event: T) => void) => unknown) {
    this.#subscribe = subscribe;
  }

  add(listener: (event: T) => void): Unsubscribe {
    this.#listeners.add(listener);
    if (!this.#subscribed) {
      this.#subscribed = true;
      this.#subscribe((event) => {
        for (const l of [...this.#listeners]) l(event);
      });
    }
    return () => this.#listeners.delete(listener);
  }
}
