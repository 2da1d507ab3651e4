import {
  type BrokerInfo,
  type CallMeta,
  Codec,
  callHeaders,
  ErrorCode,
  type InstanceView,
  isErrorReply,
  type ListReply,
  PROTOCOL_VERSION,
  parse,
  SwitchboardError,
} from '../protocol/index.js';
import {
  type ConnectionOptions,
  openSiteConnection,
  RequestChannel,
  type SiteConnection,
} from '../transport/index.js';
import { Closeable, newId } from '../util/index.js';
import { canRetry, Dispatcher } from './dispatcher.js';
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
  readonly #dispatcher: Dispatcher;
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
    this.#resolver = new Resolver(conn, this.#channel, this.#codec, {
      ttlMs: options.cacheTtlMs ?? 30_000,
      lookupTimeoutMs: options.lookupTimeoutMs ?? 2000,
    });
    this.#dispatcher = new Dispatcher(
      conn,
      this.#channel,
      this.#resolver,
      new LoadBalancer(options.policy ?? 'least-outstanding'),
      this.#codec,
    );
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
   * Calls `service.method(...args)`; `service@site` pins the site. Resolves with
   * the result or rejects with a {@link SwitchboardError}; never outlives its deadline.
   */
  async call<R = unknown>(
    service: string,
    method: string,
    args: readonly unknown[] = [],
    options: CallOptions = {},
  ): Promise<R> {
    const at = service.indexOf('@');
    if (at >= 0) {
      options = { ...options, site: service.slice(at + 1) };
      service = service.slice(0, at);
    }
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
    const result = await this.#dispatcher.dispatch({
      meta,
      body,
      deadline,
      signal: options.signal,
      idempotent: options.idempotent ?? false,
      site: options.site,
    });
    if (result.error) throw result.error;
    return this.#codec.decode(result.reply.data) as R;
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

  /** Sends a thin client's call to the broker, which forwards it. */
  async #send(
    subject: string,
    meta: CallMeta,
    body: Uint8Array,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    meta.budgetMs = deadline - Date.now();
    if (meta.budgetMs <= 0) {
      throw new SwitchboardError(
        ErrorCode.TIMEOUT,
        `${meta.service}.${meta.method}: deadline passed`,
        {
          completed: 'no',
          service: meta.service,
        },
      );
    }
    let msg: Awaited<ReturnType<RequestChannel['request']>>;
    try {
      msg = await this.#channel.request(subject, {
        data: body,
        headers: callHeaders(meta),
        timeoutMs: meta.budgetMs,
        signal,
        target: `${meta.service}.${meta.method}`,
      });
    } catch (err) {
      const e = err as SwitchboardError;
      throw new SwitchboardError(e.code, e.message, {
        completed: e.completed,
        service: meta.service,
        cause: err,
      });
    }
    const value = this.#codec.decode(msg.data);
    if (isErrorReply(msg.headers)) throw SwitchboardError.fromData(parse.errorData(value));
    return value;
  }
}

/** How many times a thin client sends one call through the broker at most. */
const BROKER_ATTEMPTS = 3;
