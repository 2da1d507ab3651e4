import {
  type BrokerInfo,
  type CallMeta,
  Codec,
  callHeaders,
  cancelHeaders,
  ErrorCode,
  type InstanceView,
  isErrorReply,
  type ListReply,
  PROTOCOL_VERSION,
  parse,
  RETRYABLE_CODES,
  SwitchboardError,
} from '../protocol/index.js';
import {
  type ConnectionOptions,
  openSiteConnection,
  RequestChannel,
  type SiteConnection,
} from '../transport/index.js';
import { Closeable, newId } from '../util/index.js';
import { BALANCE_POLICIES, type BalancePolicy, LoadBalancer } from './load-balancer.js';
import { Resolver } from './resolver.js';
import type { CallOptions, ClientProxy, ProxyOptions } from './types.js';

/** Options of a {@link Client}. */
export interface ClientOptions extends ConnectionOptions {
  /**
   * Default time a call may take, in milliseconds.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * How calls are spread over the nearest instances.
   * @default 'least-outstanding'
   */
  policy?: BalancePolicy;
  /**
   * Send every call through the broker's call subject (a thin client) instead
   * of resolving instances and calling them directly.
   * @default false
   */
  viaBroker?: boolean;
  /**
   * Longest a lookup may take, in milliseconds.
   * @default 2000
   */
  lookupTimeoutMs?: number;
  /**
   * Longest a cached resolution is trusted without a registry event.
   * @default 30000
   */
  cacheTtlMs?: number;
  /**
   * Largest request body sent, in bytes.
   * @default the NATS server's max_payload
   */
  maxPayload?: number;
}

function checkOptions(options: ClientOptions): void {
  for (const field of ['timeoutMs', 'lookupTimeoutMs', 'cacheTtlMs', 'maxPayload'] as const) {
    const value = options[field];
    if (value !== undefined && !(value > 0)) {
      throw new TypeError(`client option '${field}' must be a positive number (got ${value})`);
    }
  }
  if (options.policy !== undefined && !BALANCE_POLICIES.includes(options.policy)) {
    throw new TypeError(`client option 'policy' must be one of ${BALANCE_POLICIES.join(', ')}`);
  }
}

/**
 * The entry point of callers: resolves services through the site's broker,
 * calls their instances, and hands out typed client-side proxies. `close()`
 * rejects calls in flight with `UNAVAILABLE`, stops listening, disconnects.
 */
export class Client extends Closeable {
  readonly #conn: SiteConnection;
  readonly #codec = new Codec();
  readonly #channel: RequestChannel;
  readonly #resolver: Resolver;
  readonly #balancer: LoadBalancer;
  readonly #id = newId(8);
  readonly #timeoutMs: number;
  readonly #viaBroker: boolean;
  readonly #maxPayload: number;
  #seq = 0;

  private constructor(conn: SiteConnection, options: ClientOptions) {
    super();
    this.#conn = conn;
    this.#channel = new RequestChannel(conn.nc);
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#viaBroker = options.viaBroker ?? false;
    this.#maxPayload = options.maxPayload ?? conn.nc.info?.max_payload ?? 1024 * 1024;
    this.#balancer = new LoadBalancer(options.policy ?? 'least-outstanding');
    this.#resolver = new Resolver(conn, this.#channel, this.#codec, {
      ttlMs: options.cacheTtlMs ?? 30_000,
      lookupTimeoutMs: options.lookupTimeoutMs ?? 2000,
    });
  }

  /** Connects to the site's NATS. */
  static async connect(options: ClientOptions = {}): Promise<Client> {
    checkOptions(options);
    const conn = await openSiteConnection(options, 'switchboard-client');
    return new Client(conn, options);
  }

  /** Site of this client's broker, once a lookup has told it. */
  get site(): string | undefined {
    return this.#resolver.site;
  }

  /**
   * A typed client-side proxy: `client.proxy<Calculator>('calculator').add(1, 2)`.
   * Proxies are cheap; make one per set of options (e.g. per `signal`).
   */
  proxy<T>(service: string, options: ProxyOptions = {}): ClientProxy<T> {
    const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
    const { idempotent, ...callOptions } = options;
    const isIdempotent = (method: string): boolean =>
      idempotent === true || (Array.isArray(idempotent) && idempotent.includes(method));
    return new Proxy(Object.create(null) as object, {
      get: (_target, prop) => {
        // `then` must stay undefined, or `await proxy` would treat it as a promise.
        if (typeof prop !== 'string' || prop === 'then') return undefined;
        let fn = methods.get(prop);
        if (!fn) {
          const opts: CallOptions = { ...callOptions, idempotent: isIdempotent(prop) };
          fn = (...args: unknown[]) => this.call(service, prop, args, opts);
          methods.set(prop, fn);
        }
        return fn;
      },
    }) as ClientProxy<T>;
  }

  /**
   * Calls `service.method(...args)`. Resolves with the result or rejects with a
   * {@link SwitchboardError}; never outlives its deadline.
   */
  async call<R = unknown>(
    service: string,
    method: string,
    args: readonly unknown[] = [],
    options: CallOptions = {},
  ): Promise<R> {
    const deadline = options.deadline ?? Date.now() + (options.timeoutMs ?? this.#timeoutMs);
    const body = this.#codec.encode(args);
    if (body.length > this.#maxPayload) {
      throw new SwitchboardError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `arguments of ${service}.${method} take ${body.length} bytes, over the limit of ${this.#maxPayload}`,
        { completed: 'no', service },
      );
    }
    const meta: CallMeta = {
      callId: `${this.#id}-${(++this.#seq).toString(36)}`,
      service,
      method,
      budgetMs: 0,
      path: [],
      versionRange: options.version,
    };
    if (this.#viaBroker) return this.#callViaBroker(meta, body, deadline, options) as Promise<R>;
    let skipped: Set<string> | undefined;
    let lastError: SwitchboardError | undefined;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw lastError ?? this.#timeout(meta, 'no');
      const instances =
        this.#resolver.cached(service, options.version) ??
        (await this.#resolver.resolve(service, options.version, remaining));
      if (instances.length === 0 && !lastError) {
        throw new SwitchboardError(
          ErrorCode.SERVICE_NOT_FOUND,
          `service '${describe(meta)}' is not registered`,
          { completed: 'no', site: this.site, service },
        );
      }
      const target = this.#balancer.pick(instances, skipped);
      if (!target) {
        throw (
          lastError ??
          new SwitchboardError(ErrorCode.UNAVAILABLE, `no live instance of '${describe(meta)}'`, {
            completed: 'no',
            site: this.site,
            service,
          })
        );
      }
      meta.path = this.site === undefined ? [] : [this.site];
      this.#balancer.begin(target.id);
      try {
        return (await this.#send(
          this.#conn.subjects.instance(target.id),
          meta,
          body,
          deadline,
          options.signal,
        )) as R;
      } catch (thrown) {
        const err = thrown as SwitchboardError;
        if (!canRetry(err, options.idempotent ?? false)) throw err;
        lastError = err;
        skipped ??= new Set();
        skipped.add(target.id);
        if (err.completed === 'no' && err.code === ErrorCode.UNAVAILABLE) {
          this.#resolver.forget(service, target.id);
        }
      } finally {
        this.#balancer.end(target.id);
      }
    }
  }

  /**
   * A thin client's call: the broker picks the instance. Retried (through the
   * broker, which moves on round robin) only where it is safe, a few times.
   */
  async #callViaBroker(
    meta: CallMeta,
    body: Uint8Array,
    deadline: number,
    options: CallOptions,
  ): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#send(this.#conn.subjects.call, meta, body, deadline, options.signal);
      } catch (thrown) {
        const err = thrown as SwitchboardError;
        if (attempt >= BROKER_ATTEMPTS || !canRetry(err, options.idempotent ?? false)) throw err;
      }
    }
  }

  /** Instances of a service, asked of the broker now (no cache). */
  lookup(service: string, version?: string): Promise<InstanceView[]> {
    return this.#resolver.lookup(service, version, this.#timeoutMs);
  }

  /** Every service of the site registry with its instances. */
  async list(): Promise<ListReply> {
    const body = await this.#resolver.request(
      this.#conn.subjects.list,
      { v: PROTOCOL_VERSION },
      this.#timeoutMs,
    );
    return parse.listReply(body);
  }

  /** Identity of one of the site's brokers. */
  async brokerInfo(): Promise<BrokerInfo> {
    const body = await this.#resolver.request(
      this.#conn.subjects.info,
      { v: PROTOCOL_VERSION },
      this.#timeoutMs,
    );
    return parse.brokerInfo(body);
  }

  protected async shutdown(): Promise<void> {
    this.#resolver.close();
    this.#channel.close();
    await this.#conn.release();
  }

  async #send(
    subject: string,
    meta: CallMeta,
    body: Uint8Array,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw this.#timeout(meta, 'no');
    meta.budgetMs = remaining;
    let msg: Awaited<ReturnType<RequestChannel['request']>>;
    try {
      msg = await this.#channel.request(subject, {
        data: body,
        headers: callHeaders(meta),
        timeoutMs: remaining,
        signal,
        target: `${meta.service}.${meta.method}`,
        onAbort:
          signal && subject !== this.#conn.subjects.call
            ? () => this.#cancel(subject, meta)
            : undefined,
      });
    } catch (err) {
      const e = err as SwitchboardError;
      throw new SwitchboardError(e.code, e.message, {
        completed: e.completed,
        site: this.site,
        service: meta.service,
        path: meta.path,
        cause: err,
      });
    }
    const value = this.#codec.decode(msg.data);
    if (isErrorReply(msg.headers)) throw SwitchboardError.fromData(parse.errorData(value));
    return value;
  }

  /** Tells the instance that the caller gave up, so its handler's signal aborts. */
  #cancel(subject: string, meta: CallMeta): void {
    if (this.#conn.nc.isClosed()) return;
    this.#conn.nc.publish(subject, undefined, { headers: cancelHeaders(meta) });
  }

  #timeout(meta: CallMeta, completed: 'no' | 'maybe'): SwitchboardError {
    return new SwitchboardError(
      ErrorCode.TIMEOUT,
      `${meta.service}.${meta.method}: deadline passed`,
      { completed, site: this.site, service: meta.service },
    );
  }
}

/** How many times a thin client sends one call through the broker at most. */
const BROKER_ATTEMPTS = 3;

/** Whether another instance may be tried after `err`. */
function canRetry(err: SwitchboardError, idempotent: boolean): boolean {
  if (!RETRYABLE_CODES.has(err.code)) return false;
  return err.completed === 'no' || (idempotent && err.completed === 'maybe');
}

function describe(meta: CallMeta): string {
  return meta.versionRange ? `${meta.service}@${meta.versionRange}` : meta.service;
}
