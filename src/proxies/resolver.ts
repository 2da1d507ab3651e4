import type { Status, Subscription } from 'nats';
import {
  type Codec,
  ErrorCode,
  type InstanceView,
  isErrorReply,
  PROTOCOL_VERSION,
  parse,
  SwitchboardError,
} from '../protocol/index.js';
import { listen, type RequestChannel, type SiteConnection } from '../transport/index.js';

/** What the broker said about a service. */
export interface Resolution {
  instances: readonly InstanceView[];
  /** Set when there is no instance but one went away recently: the site it was at. */
  departedFrom?: string | undefined;
}

interface CacheEntry extends Resolution {
  service: string;
  fetchedAt: number;
}

/** Options of a {@link Resolver}. */
export interface ResolverOptions {
  /** Longest a resolution is trusted without a registry event. */
  ttlMs: number;
  /** Longest a lookup may take. */
  lookupTimeoutMs: number;
}

/**
 * Resolves service names to instances through the site's broker, and caches
 * the answers until a registry event about the service (or the TTL, or a
 * reconnection) says they may be stale.
 */
export class Resolver {
  readonly #conn: SiteConnection;
  readonly #channel: RequestChannel;
  readonly #codec: Codec;
  readonly #options: ResolverOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<Resolution>>();
  readonly #events: Subscription;
  readonly #status: AsyncIterable<Status> & { stop(): void };
  #site: string | undefined;
  #generation = 0;

  constructor(
    conn: SiteConnection,
    channel: RequestChannel,
    codec: Codec,
    options: ResolverOptions,
  ) {
    this.#conn = conn;
    this.#channel = channel;
    this.#codec = codec;
    this.#options = options;
    this.#events = listen(
      { nc: conn.nc, codec, logger: conn.logger, site: () => this.#site },
      conn.subjects.registryEvents,
      (msg) => this.invalidate(parse.registryEvent(codec.decode(msg.data)).service),
    );
    // nats.js types status() as a plain AsyncIterable; it is a QueuedIterator with stop().
    this.#status = conn.nc.status() as AsyncIterable<Status> & { stop(): void };
    void this.#watchConnection();
  }

  /** Site of the broker that answered the last lookup. */
  get site(): string | undefined {
    return this.#site;
  }

  /** The cached resolution of a service, if fresh. */
  cached(service: string, range: string | undefined): Resolution | undefined {
    const entry = this.#cache.get(key(service, range));
    if (!entry) return undefined;
    if (Date.now() - entry.fetchedAt > this.#options.ttlMs) return undefined;
    return entry;
  }

  /** Instances of a service: from the cache, else from the broker (one lookup shared by concurrent callers). */
  resolve(service: string, range: string | undefined, timeoutMs: number): Promise<Resolution> {
    const k = key(service, range);
    const hit = this.cached(service, range);
    if (hit) return Promise.resolve(hit);
    let pending = this.#inflight.get(k);
    if (!pending) {
      const generation = this.#generation;
      pending = this.#fetch(service, range, timeoutMs)
        .then((resolution) => {
          // An event that arrived during the lookup may have made this answer stale.
          if (generation === this.#generation) {
            this.#cache.set(k, { ...resolution, service, fetchedAt: Date.now() });
          }
          return resolution;
        })
        .finally(() => this.#inflight.delete(k));
      this.#inflight.set(k, pending);
    }
    return pending;
  }

  /** Asks the broker for the instances of a service, bypassing the cache. */
  async lookup(
    service: string,
    range: string | undefined,
    timeoutMs: number,
  ): Promise<InstanceView[]> {
    return (await this.#fetch(service, range, timeoutMs)).instances;
  }

  async #fetch(
    service: string,
    range: string | undefined,
    timeoutMs: number,
  ): Promise<Resolution & { instances: InstanceView[] }> {
    const body: Record<string, unknown> = { v: PROTOCOL_VERSION, service };
    if (range !== undefined) body.version = range;
    const reply = parse.lookupReply(
      await this.request(this.#conn.subjects.lookup, body, timeoutMs),
    );
    this.#site = reply.site;
    return { instances: reply.instances, departedFrom: reply.departedFrom };
  }

  /**
   * Sends a request to the site's brokers and returns the decoded reply body;
   * an error reply is thrown as it came, silence as `UNAVAILABLE`.
   */
  async request(subject: string, body: unknown, timeoutMs: number): Promise<unknown> {
    let msg: Awaited<ReturnType<RequestChannel['request']>>;
    try {
      msg = await this.#channel.request(subject, {
        data: this.#codec.encode(body),
        timeoutMs: Math.min(timeoutMs, this.#options.lookupTimeoutMs),
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
    const decoded = this.#codec.decode(msg.data);
    if (isErrorReply(msg.headers)) throw SwitchboardError.fromData(parse.errorData(decoded));
    return decoded;
  }

  /** Drops the cached resolutions of a service. */
  invalidate(service: string): void {
    this.#generation++;
    for (const [k, entry] of this.#cache) if (entry.service === service) this.#cache.delete(k);
  }

  /** Drops one instance found dead from the cached resolutions of its service. */
  forget(service: string, instanceId: string): void {
    for (const entry of this.#cache.values()) {
      if (entry.service === service) {
        entry.instances = entry.instances.filter((i) => i.id !== instanceId);
      }
    }
  }

  /** Stops listening to registry events. */
  close(): void {
    this.#status.stop();
    if (!this.#conn.nc.isClosed()) this.#events.unsubscribe();
    this.#cache.clear();
  }

  async #watchConnection(): Promise<void> {
    // After a reconnection we may have missed registry events.
    for await (const status of this.#status) {
      if (status.type === 'reconnect') {
        this.#generation++;
        this.#cache.clear();
      }
    }
  }
}

function key(service: string, range: string | undefined): string {
  return range === undefined ? service : `${service}@${range}`;
}
