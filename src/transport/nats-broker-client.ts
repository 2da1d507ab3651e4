import type { Msg, Status, Subscription } from 'nats';
import type {
  BrokerClient,
  BrokerIdentity,
  BrokerLifecycleEvent,
  InstanceEvent,
  LinkState,
  RegistrationAck,
  Resolution,
  SiteListing,
  Unsubscribe,
} from '../core/index.js';
import {
  type Codec,
  ErrorCode,
  type InstanceRegistration,
  PROTOCOL_VERSION,
  parse,
  SwitchboardError,
} from '../protocol/index.js';
import { readReply } from './call-reply.js';
import type { SiteConnection } from './connection.js';
import { type ListenContext, listen } from './replies.js';
import type { RequestChannel } from './request-channel.js';

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
  #closed = false;

  constructor(conn: SiteConnection, channel: RequestChannel, codec: Codec) {
    this.#conn = conn;
    this.#channel = channel;
    this.#codec = codec;
    this.#instanceEvents = new EventStream((emit) =>
      this.#listen(conn.subjects.registryEvents, (msg) => {
        const e = parse.registryEvent(codec.decode(msg.data));
        emit({ kind: e.kind, service: e.service, id: e.id, site: e.site });
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
      departedFrom: reply.departedFrom,
    });
  }

  async list(timeoutMs: number): Promise<SiteListing> {
    const reply = parse.listReply(
      await this.#request(this.#conn.subjects.list, { v: PROTOCOL_VERSION }, timeoutMs),
    );
    return this.#learn({ site: reply.site, services: reply.services });
  }

  async info(timeoutMs: number): Promise<BrokerIdentity> {
    const reply = parse.brokerInfo(
      await this.#request(this.#conn.subjects.info, { v: PROTOCOL_VERSION }, timeoutMs),
    );
    return this.#learn({ site: reply.site, brokerId: reply.brokerId, startedAt: reply.startedAt });
  }

  async register(instance: InstanceRegistration, timeoutMs: number): Promise<RegistrationAck> {
    const body = { v: PROTOCOL_VERSION, instance };
    const reply = parse.registerReply(
      await this.#request(this.#conn.subjects.register, body, timeoutMs),
    );
    return this.#learn({ site: reply.site, brokerId: reply.brokerId, leaseMs: reply.leaseMs });
  }

  heartbeat(id: string): void {
    this.#publish(this.#conn.subjects.heartbeat, { v: PROTOCOL_VERSION, id });
  }

  deregister(id: string): void {
    this.#publish(this.#conn.subjects.deregister, { v: PROTOCOL_VERSION, id });
  }

  onInstanceEvent(listener: (event: InstanceEvent) => void): Unsubscribe {
    return this.#instanceEvents.add(listener);
  }

  onBrokerEvent(listener: (event: BrokerLifecycleEvent) => void): Unsubscribe {
    return this.#brokerEvents.add(listener);
  }

  onReregister(id: string, listener: () => void): Unsubscribe {
    const sub = this.#listen(this.#conn.subjects.control(id), (msg) => {
      parse.control(this.#codec.decode(msg.data));
      listener();
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
    let msg: Msg;
    try {
      msg = await this.#channel.request(subject, {
        data: this.#codec.encode(body),
        timeoutMs,
        target: 'broker',
      });
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
    return this.#codec.decode(reply.body);
  }

  #publish(subject: string, body: unknown): void {
    if (this.#closed || this.#conn.nc.isClosed()) return;
    this.#conn.nc.publish(subject, this.#codec.encode(body));
  }

  #listen(subject: string, handler: (msg: Msg) => void): Subscription {
    const ctx: ListenContext = {
      nc: this.#conn.nc,
      codec: this.#codec,
      logger: this.#conn.logger,
      site: () => this.#site,
    };
    const sub = listen(ctx, subject, handler);
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
