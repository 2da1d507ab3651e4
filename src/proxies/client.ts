import type { Tracer } from '@opentelemetry/api';
import {
  BALANCE_POLICIES,
  type BalancePolicy,
  type BrokerIdentity,
  type CallReply,
  Dispatcher,
  type FailoverCall,
  InstanceRouter,
  LoadBalancer,
  Resolver,
  type SiteListing,
  viaBroker,
} from '../core/index.js';
import type { Health, Metrics } from '../observability/index.js';
import { activeTracer, clientTracing } from '../observability/tracing.js';
import {
  type CallMeta,
  describeValue,
  ErrorCode,
  encodeMeta,
  type InstanceView,
  isName,
  MAX_BUDGET_MS,
  parseRange,
  SwitchboardError,
} from '../protocol/index.js';
import { type ConnectionOptions, SiteLink } from '../transport/index.js';
import { Closeable, newId } from '../util/index.js';
import { currentCall } from './call-scope.js';
import { type ClientInterceptor, intercept, type OutgoingRequest } from './interceptors.js';
import type { CallContext, CallOptions, ClientProxy, ProxyOptions, TraceContext } from './types.js';

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
  /**
   * Run around every call, the first outermost (metrics, tracing, adding
   * metadata...). See {@link ClientInterceptor}.
   * @default none
   */
  interceptors?: readonly ClientInterceptor[];
  /** Where the client counts and times its calls (see `Metrics`). @default none */
  metrics?: Metrics;
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
  readonly #link: SiteLink;
  readonly #resolver: Resolver;
  readonly #dispatcher: Dispatcher;
  readonly #id = newId(8);
  readonly #timeoutMs: number;
  readonly #viaBroker: boolean;
  readonly #maxPayload: number;
  readonly #interceptors: readonly ClientInterceptor[];
  #traced: { tracer: Tracer; chain: readonly ClientInterceptor[] } | undefined;
  readonly #retried: ((service: string) => void) | undefined;
  #seq = 0;

  private constructor(link: SiteLink, options: ClientOptions) {
    super();
    this.#link = link;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#viaBroker = options.viaBroker ?? false;
    const { metrics } = options;
    this.#interceptors = metrics
      ? [metrics.clientInterceptor(() => this.site), ...(options.interceptors ?? [])]
      : (options.interceptors ?? []);
    this.#retried = metrics?.retryCounter(() => this.site);
    this.#maxPayload = options.maxPayload ?? link.conn.nc.info?.max_payload ?? 1024 * 1024;
    this.#resolver = new Resolver(link.brokers, {
      ttlMs: options.cacheTtlMs ?? 30_000,
      lookupTimeoutMs: options.lookupTimeoutMs ?? 2000,
    });
    const balancer = new LoadBalancer(options.policy ?? 'least-outstanding');
    const router = new InstanceRouter(this.#resolver, balancer, link.conn.subjects);
    this.#dispatcher = new Dispatcher(link.invoker, router);
    link.abandonCallsOnDeparture();
  }

  /** Connects to the site's NATS. */
  static async connect(options: ClientOptions = {}): Promise<Client> {
    checkOptions(options);
    return new Client(await SiteLink.open(options, 'switchboard-client'), options);
  }

  /** Site of this client's broker, once a broker has told it. */
  get site(): string | undefined {
    return this.#link.brokers.site;
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
  call<R = unknown>(
    service: string,
    method: string,
    args: readonly unknown[] = [],
    options: CallOptions = {},
  ): Promise<R> {
    // Not an async function: the call's promise is #send's own, one promise
    // and two microtask turns fewer per call; what throws here rejects it.
    try {
      return this.#start(service, method, args, options) as Promise<R>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #start(
    service: string,
    method: string,
    args: readonly unknown[],
    options: CallOptions,
  ): Promise<unknown> {
    let site = options.site;
    const at = service.indexOf('@');
    if (at >= 0) {
      site = service.slice(at + 1);
      service = service.slice(0, at);
    }
    checkTarget(service, method, site, options.version);
    const parent = options.parent ?? currentCall();
    const deadline = deadlineOf(options, this.#timeoutMs, parent);
    const inherited = parent !== undefined || options.meta !== undefined;
    const trace = parent?.trace;
    const interceptors = this.#chain();
    if (interceptors.length === 0) {
      const meta = inherited ? { ...parent?.meta, ...options.meta } : NO_META;
      return this.#send(service, method, args, site, deadline, options, meta, trace);
    }
    // Interceptors may add to the metadata: theirs is a copy of its own.
    const meta = { ...parent?.meta, ...options.meta };
    const request: OutgoingRequest = {
      service,
      method,
      args,
      site,
      deadline,
      options,
      meta,
      trace,
    };
    return intercept(interceptors, request, () =>
      this.#send(
        service,
        method,
        request.args,
        site,
        deadline,
        options,
        request.meta,
        request.trace,
      ),
    );
  }

  #send(
    service: string,
    method: string,
    args: readonly unknown[],
    site: string | undefined,
    deadline: number,
    options: CallOptions,
    userMeta: Readonly<Record<string, string>>,
    trace: TraceContext | undefined,
  ): Promise<unknown> {
    const { codec } = this.#link;
    const body = codec.encode(args);
    if (body.length > this.#maxPayload) {
      return Promise.reject(
        new SwitchboardError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `arguments of ${service}.${method} take ${body.length} bytes, over the limit of ${this.#maxPayload}`,
          { completed: 'no', service },
        ),
      );
    }
    const meta: CallMeta = {
      callId: `${this.#id}-${(++this.#seq).toString(36)}`,
      service,
      method,
      budgetMs: 0,
      path: [],
      versionRange: options.version,
      site,
    };
    if (hasEntries(userMeta)) meta.meta = encodeMeta(userMeta);
    if (trace) {
      meta.traceparent = trace.traceparent;
      meta.tracestate = trace.tracestate;
    }
    const call: FailoverCall = {
      meta,
      body,
      deadline,
      signal: options.signal,
      idempotent: options.idempotent ?? false,
      onRetry: this.#retried && (() => this.#retried?.(service)),
    };
    // Not an async function either: one `then` costs less than a suspended frame.
    const sent = this.#viaBroker ? this.#viaBrokerCall(call) : this.#dispatcher.dispatch(call);
    return sent.then((reply) => (reply.ok ? codec.decode(reply.body) : afterEvents(reply.error)));
  }

  /** The interceptors of a call: tracing first when the application traces, then the client's. */
  #chain(): readonly ClientInterceptor[] {
    const tracer = activeTracer();
    if (!tracer) return this.#interceptors;
    if (this.#traced?.tracer !== tracer) {
      const tracing = clientTracing(tracer, () => this.site);
      this.#traced = { tracer, chain: [tracing, ...this.#interceptors] };
    }
    return this.#traced.chain;
  }

  /** A thin client's call: the broker picks the instance (see {@link viaBroker}). */
  #viaBrokerCall(call: FailoverCall): Promise<CallReply> {
    const subject = this.#link.conn.subjects.call(call.meta.service);
    return viaBroker(this.#link.invoker, call, subject, this.site);
  }

  /** Whether the client can call: connected to its site's NATS. */
  health(): Health {
    if (this.closing) return { ok: false, reason: 'client closed' };
    if (!this.#link.connected) return { ok: false, reason: 'client: not connected to NATS' };
    return { ok: true, reason: '' };
  }

  /** Instances of a service, asked of the broker now (no cache). */
  async lookup(service: string, version?: string): Promise<InstanceView[]> {
    return [...(await this.#link.brokers.lookup(service, version, this.#timeoutMs)).instances];
  }

  /** Every service of the site registry with its instances. */
  list(): Promise<SiteListing> {
    return this.#link.brokers.list(this.#timeoutMs);
  }

  /** Identity of one of the site's brokers. */
  brokerInfo(): Promise<BrokerIdentity> {
    return this.#link.brokers.info(this.#timeoutMs);
  }

  protected async shutdown(): Promise<void> {
    this.#resolver.close();
    await this.#link.close();
  }
}

/**
 * Checks what a call names before any of it is written into a header:
 * `BAD_REQUEST` (completion `no`) names the part that is wrong.
 */
function checkTarget(
  service: string,
  method: string,
  site: string | undefined,
  range: string | undefined,
): void {
  if (!isName(service)) throw invalid('service name', service, service);
  if (!isName(method)) throw invalid('method name', method, service);
  if (site !== undefined && !isName(site)) throw invalid('site name', site, service);
  if (range !== undefined && (range.includes(';') || parseRange(range) === undefined)) {
    throw invalid('version range', range, service);
  }
}

function invalid(what: string, value: string, service: string): SwitchboardError {
  return new SwitchboardError(
    ErrorCode.BAD_REQUEST,
    `${what} ${describeValue(value)} is not valid`,
    {
      completed: 'no',
      service,
    },
  );
}

/**
 * The call's deadline: its own, or now plus its timeout; no later than its
 * parent's, and at most {@link MAX_BUDGET_MS} away.
 */
function deadlineOf(
  options: CallOptions,
  defaultTimeoutMs: number,
  parent: CallContext | undefined,
): number {
  const now = Date.now();
  const deadline = options.deadline ?? now + (options.timeoutMs ?? defaultTimeoutMs);
  return Math.min(deadline, parent?.deadline ?? deadline, now + MAX_BUDGET_MS);
}

/** The metadata of a call that has none (never handed to interceptors, which may add some). */
const NO_META: Readonly<Record<string, string>> = Object.freeze({});

function hasEntries(map: Readonly<Record<string, string>>): boolean {
  for (const _key in map) return true;
  return false;
}

/**
 * Rejects with `error` on the next turn of the event loop. A failure may come
 * from the cache alone, with no I/O: yielding first lets a caller retrying in
 * a tight loop still take in the events that tell it the service is back.
 */
function afterEvents(error: SwitchboardError): Promise<never> {
  return new Promise((_, reject) => setImmediate(reject, error));
}
