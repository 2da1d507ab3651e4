import type { Subscription } from 'nats';
import {
  type Codec,
  type InstanceRegistration,
  isErrorReply,
  PROTOCOL_VERSION,
  parse,
  SwitchboardError,
} from '../protocol/index.js';
import { listen, type RequestChannel, type SiteConnection } from '../transport/index.js';

interface Entry {
  registration: InstanceRegistration;
  registered: boolean;
  /** Resolved at the next confirmation. */
  waiters: Array<(ok: boolean) => void>;
  attempt: Promise<boolean> | undefined;
  control: Subscription;
}

/**
 * Keeps instances registered with the site's brokers: registers them,
 * heartbeats, and registers again when a broker restarts or says it does not
 * know one. Used by the server-side proxy (one instance) and by bridge halves
 * (one instance per route they advertise).
 */
export class Registrar {
  readonly #conn: SiteConnection;
  readonly #channel: RequestChannel;
  readonly #codec: Codec;
  readonly #heartbeatMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #brokerEvents: Subscription;
  readonly #timer: ReturnType<typeof setInterval>;
  #site: string | undefined;
  #closed = false;

  constructor(conn: SiteConnection, channel: RequestChannel, codec: Codec, heartbeatMs: number) {
    this.#conn = conn;
    this.#channel = channel;
    this.#codec = codec;
    this.#heartbeatMs = heartbeatMs;
    this.#brokerEvents = listen(this.#listenContext(), conn.subjects.brokerEvents, (msg) => {
      const event = parse.brokerEvent(codec.decode(msg.data));
      if (event.kind === 'started') this.#registerAll();
    });
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

  /** Instances held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds an instance (its `heartbeatMs` is overwritten with the registrar's)
   * and registers it; resolves with whether a broker confirmed it within
   * `timeoutMs`. Unconfirmed registrations are retried at every heartbeat.
   */
  add(registration: InstanceRegistration, timeoutMs = this.#heartbeatMs): Promise<boolean> {
    const id = registration.id;
    if (this.#entries.has(id)) this.remove(id);
    const entry: Entry = {
      registration: { ...registration, heartbeatMs: this.#heartbeatMs },
      registered: false,
      waiters: [],
      attempt: undefined,
      control: listen(this.#listenContext(), this.#conn.subjects.control(id), (msg) => {
        parse.control(this.#codec.decode(msg.data));
        this.#conn.logger.info('broker asked to register again', { id });
        entry.registered = false;
        void this.#register(entry, this.#heartbeatMs);
      }),
    };
    this.#entries.set(id, entry);
    return this.#register(entry, timeoutMs);
  }

  /** Deregisters an instance: brokers drop it at once. */
  remove(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    for (const wake of entry.waiters.splice(0)) wake(false);
    if (this.#conn.nc.isClosed()) return;
    entry.control.unsubscribe();
    this.#deregister(id);
  }

  #deregister(id: string): void {
    this.#conn.nc.publish(
      this.#conn.subjects.deregister,
      this.#codec.encode({ v: PROTOCOL_VERSION, id }),
    );
  }

  /** Deregisters everything and stops heartbeating. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const id of [...this.#entries.keys()]) this.remove(id);
    if (!this.#conn.nc.isClosed()) this.#brokerEvents.unsubscribe();
  }

  #listenContext() {
    return {
      nc: this.#conn.nc,
      codec: this.#codec,
      logger: this.#conn.logger,
      site: () => this.#site,
    };
  }

  #registerAll(): void {
    for (const entry of this.#entries.values()) {
      entry.registered = false;
      void this.#register(entry, this.#heartbeatMs);
    }
  }

  #beat(): void {
    const { nc, subjects } = this.#conn;
    if (nc.isClosed()) return;
    for (const entry of this.#entries.values()) {
      if (!entry.registered) {
        void this.#register(entry, this.#heartbeatMs);
        continue;
      }
      nc.publish(
        subjects.heartbeat,
        this.#codec.encode({ v: PROTOCOL_VERSION, id: entry.registration.id }),
      );
    }
  }

  /** One registration attempt (joined if one is under way). */
  #register(entry: Entry, timeoutMs: number): Promise<boolean> {
    entry.attempt ??= this.#registerOnce(entry, timeoutMs).finally(() => {
      entry.attempt = undefined;
    });
    return entry.attempt;
  }

  async #registerOnce(entry: Entry, timeoutMs: number): Promise<boolean> {
    if (this.#closed || this.#conn.nc.isClosed()) return false;
    const { registration } = entry;
    try {
      const msg = await this.#channel.request(this.#conn.subjects.register, {
        data: this.#codec.encode({ v: PROTOCOL_VERSION, instance: registration }),
        timeoutMs,
        target: 'broker register',
      });
      const body = this.#codec.decode(msg.data);
      if (isErrorReply(msg.headers)) throw SwitchboardError.fromData(parse.errorData(body));
      const reply = parse.registerReply(body);
      // Removed while the request was in flight: the broker must forget it again.
      if (this.#entries.get(registration.id) !== entry) {
        this.#deregister(registration.id);
        return false;
      }
      this.#site = reply.site;
      entry.registered = true;
      for (const wake of entry.waiters.splice(0)) wake(true);
      this.#conn.logger.info('registered', {
        service: registration.service,
        id: registration.id,
        site: reply.site,
        broker: reply.brokerId,
      });
      return true;
    } catch (err) {
      this.#conn.logger.debug('registration failed', {
        id: registration.id,
        error: (err as Error).message,
      });
      return false;
    }
  }
}
