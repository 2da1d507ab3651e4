import type { Msg, Subscription } from 'nats';
import {
  type CallMeta,
  Codec,
  ErrorCode,
  errorReplyHeaders,
  type HeaderBlock,
  ID_PATTERN,
  type InstanceRegistration,
  isCancelNotice,
  isValidVersion,
  NAME_PATTERN,
  readCallMeta,
  SwitchboardError,
  toSwitchboardError,
} from '../protocol/index.js';
import {
  answerCall,
  type ConnectionOptions,
  headersOf,
  openSiteConnection,
  publishError,
  RequestChannel,
  type SiteConnection,
} from '../transport/index.js';
import { Closeable, newId } from '../util/index.js';
import { ServerCallContext } from './call-context.js';
import { Registrar } from './registrar.js';

/** A service to expose: a name, a version, and the object whose methods serve it. */
export interface ServiceDefinition {
  /** Service name: letters, digits, `_` and `-`. */
  name: string;
  /** Semantic version. @default '1.0.0' */
  version?: string;
  /**
   * A plain object or a class instance. Its function-valued properties (own and
   * inherited, except `constructor` and names starting with `_`) become methods;
   * each gets the caller's arguments followed by a `CallContext`.
   */
  methods: object;
  /** Free-form labels shown in lookups and listings. */
  metadata?: Record<string, string>;
}

/** Options of a {@link ServerProxy}. */
export interface ServerOptions extends ConnectionOptions {
  /** Instance id. @default a random id */
  instanceId?: string;
  /**
   * Heartbeat interval; the broker drops the instance after a few missed beats.
   * @default 1000
   */
  heartbeatMs?: number;
  /**
   * Calls run at once; further calls wait in a queue.
   * @default 256
   */
  maxConcurrent?: number;
  /**
   * Calls that may wait; beyond it calls are refused with `UNAVAILABLE`
   * (completion `no`, so callers retry elsewhere).
   * @default 4096
   */
  maxQueued?: number;
  /**
   * How long `close()` waits for calls in flight before aborting them.
   * @default 10000
   */
  drainTimeoutMs?: number;
  /**
   * Largest request body accepted, in bytes.
   * @default the NATS server's max_payload
   */
  maxPayload?: number;
  /**
   * How long `serve()` waits for a broker to confirm the registration before
   * returning anyway (registration goes on in the background).
   * @default 2000
   */
  registerTimeoutMs?: number;
}

type Handler = (...args: unknown[]) => unknown;

interface QueuedCall {
  msg: Msg;
  meta: CallMeta;
  handler: Handler;
  args: unknown[];
  deadline: number;
}

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`server option '${field}' must be a positive number (got ${value})`);
  }
  return value;
}

/** Collects the callable methods of a plain object or class instance. */
export function methodsOf(target: object): Map<string, Handler> {
  const handlers = new Map<string, Handler>();
  for (let o: object | null = target; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === 'constructor' || key.startsWith('_') || handlers.has(key)) continue;
      const value = (target as Record<string, unknown>)[key];
      if (typeof value !== 'function') continue;
      if (!NAME_PATTERN.test(key)) {
        throw new TypeError(`method name '${key}' is not valid: use letters, digits, '_' or '-'`);
      }
      handlers.set(key, (value as Handler).bind(target));
    }
  }
  return handlers;
}

/**
 * The server-side proxy: exposes one service instance on the site. It
 * registers and heartbeats with the site's brokers (registering again when a
 * broker restarts), decodes requests, runs handlers within their deadline and
 * concurrency limit, and encodes results and thrown errors.
 *
 * `close()` stops gracefully: it deregisters (callers stop choosing this
 * instance at once), finishes calls in flight (aborting those still running
 * after `drainTimeoutMs`), unsubscribes and disconnects.
 */
export class ServerProxy extends Closeable {
  readonly instanceId: string;
  readonly service: string;
  readonly version: string;

  readonly #conn: SiteConnection;
  readonly #codec = new Codec();
  readonly #channel: RequestChannel;
  readonly #handlers: Map<string, Handler>;
  readonly #registration: InstanceRegistration;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #drainTimeoutMs: number;
  readonly #maxPayload: number;
  readonly #callSub: Subscription;
  readonly #registrar: Registrar;
  readonly #inflight = new Map<ServerCallContext, QueuedCall>();
  /** Running calls by call id, for cancel notices. */
  readonly #byCallId = new Map<string, ServerCallContext>();
  readonly #queue: QueuedCall[] = [];
  #draining = false;
  #idle: (() => void) | undefined;

  private constructor(conn: SiteConnection, service: ServiceDefinition, options: ServerOptions) {
    super();
    this.#conn = conn;
    this.instanceId = options.instanceId ?? newId();
    this.service = service.name;
    this.version = service.version ?? '1.0.0';
    this.#handlers = methodsOf(service.methods);
    const heartbeatMs = positive(options.heartbeatMs, 'heartbeatMs', 1000);
    this.#maxConcurrent = positive(options.maxConcurrent, 'maxConcurrent', 256);
    this.#maxQueued = options.maxQueued ?? 4096;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.#maxPayload = options.maxPayload ?? conn.nc.info?.max_payload ?? 1024 * 1024;
    this.#registration = {
      id: this.instanceId,
      service: this.service,
      version: this.version,
      methods: [...this.#handlers.keys()],
      metadata: service.metadata ?? {},
      heartbeatMs,
    };
    this.#channel = new RequestChannel(conn.nc);
    this.#registrar = new Registrar(conn, this.#channel, this.#codec, heartbeatMs);
    this.#callSub = conn.nc.subscribe(conn.subjects.instance(this.instanceId), {
      callback: (err, msg) => {
        if (!err) this.#onCall(msg);
      },
    });
  }

  /**
   * Exposes `service` on the site's NATS and registers it with the broker.
   * Resolves once a broker confirmed the registration, or after
   * `registerTimeoutMs` (registration then goes on in the background).
   */
  static async start(
    service: ServiceDefinition,
    options: ServerOptions = {},
  ): Promise<ServerProxy> {
    if (!NAME_PATTERN.test(service.name ?? '')) {
      throw new TypeError(
        `service name '${service.name}' is not valid: use letters, digits, '_' or '-'`,
      );
    }
    if (service.version !== undefined && !isValidVersion(service.version)) {
      throw new TypeError(`service version '${service.version}' is not MAJOR.MINOR.PATCH`);
    }
    if (options.instanceId !== undefined && !ID_PATTERN.test(options.instanceId)) {
      throw new TypeError(`server option 'instanceId' must be letters, digits, '_' or '-'`);
    }
    const conn = await openSiteConnection(options, `switchboard-server-${service.name}`);
    let server: ServerProxy;
    try {
      server = new ServerProxy(conn, service, options);
    } catch (err) {
      await conn.release();
      throw err;
    }
    await conn.nc.flush();
    const registered = await server.#registrar.add(
      server.#registration,
      options.registerTimeoutMs ?? 2000,
    );
    if (!registered) {
      conn.logger.warn('no broker confirmed the registration yet; retrying in the background', {
        service: service.name,
      });
    }
    return server;
  }

  /** Site of the broker that accepted the registration (undefined until then). */
  get site(): string | undefined {
    return this.#registrar.site;
  }

  /** Whether a broker has confirmed the registration. */
  get registered(): boolean {
    return this.#registrar.isRegistered(this.instanceId);
  }

  /** Resolves with true once a broker has confirmed the registration (false if closed first). */
  whenRegistered(): Promise<boolean> {
    return this.#registrar.whenRegistered(this.instanceId);
  }

  /** Calls running now. */
  get activeCalls(): number {
    return this.#inflight.size;
  }

  protected async shutdown(): Promise<void> {
    const { nc, logger } = this.#conn;
    this.#draining = true;
    // Deregister first: brokers drop the instance and callers stop choosing it.
    this.#registrar.close();
    if (!nc.isClosed()) {
      // Calls NATS already delivered are still served; new ones find no responder.
      await this.#callSub.drain().catch(() => {});
    }
    await this.#waitIdle();
    this.#channel.close();
    await this.#conn.release();
    logger.info('server stopped', { service: this.service, id: this.instanceId });
  }

  /**
   * Whether every call has been answered. A handler that was answered with a
   * deadline error may still run, but no caller waits for it any more.
   */
  #answeredAll(): boolean {
    if (this.#queue.length > 0) return false;
    for (const ctx of this.#inflight.keys()) if (!ctx.replied) return false;
    return true;
  }

  #checkIdle(): void {
    if (this.#idle && this.#answeredAll()) this.#idle();
  }

  async #waitIdle(): Promise<void> {
    if (this.#answeredAll()) return;
    const idle = new Promise<void>((resolve) => {
      this.#idle = resolve;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#drainTimeoutMs);
    });
    const late = await Promise.race([idle.then(() => false), timedOut]);
    clearTimeout(timer);
    if (!late) return;
    const closed = (completed: 'no' | 'maybe') =>
      new SwitchboardError(ErrorCode.UNAVAILABLE, 'server closed before the call finished', {
        completed,
      });
    for (const queued of this.#queue.splice(0)) {
      this.#reply(queued.msg, undefined, closed('no'), queued.meta);
    }
    for (const [ctx, call] of this.#inflight) {
      clearTimeout(ctx.timer);
      this.#abort(ctx, call.msg, call.meta, closed('maybe'));
    }
    this.#inflight.clear();
    this.#byCallId.clear();
  }

  #onCall(msg: Msg): void {
    const received = Date.now();
    let meta: CallMeta;
    try {
      meta = readCallMeta(headersOf(msg));
    } catch (err) {
      this.#conn.logger.warn(`rejected call: ${(err as Error).message}`);
      this.#reply(msg, undefined, err as SwitchboardError, undefined);
      return;
    }
    const refuse = (code: ErrorCode, message: string): void =>
      this.#reply(msg, undefined, new SwitchboardError(code, message, { completed: 'no' }), meta);
    if (isCancelNotice(headersOf(msg))) return this.#onCancel(meta);
    const handler = this.#handlers.get(meta.method);
    if (meta.service !== this.service) {
      return refuse(
        ErrorCode.SERVICE_NOT_FOUND,
        `this instance serves '${this.service}', not '${meta.service}'`,
      );
    }
    if (!handler) {
      return refuse(
        ErrorCode.METHOD_NOT_FOUND,
        `service '${this.service}' has no method '${meta.method}'`,
      );
    }
    if (msg.data.length > this.#maxPayload) {
      return refuse(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `request of ${msg.data.length} bytes exceeds the limit of ${this.#maxPayload}`,
      );
    }
    if (meta.budgetMs <= 0) {
      return refuse(ErrorCode.TIMEOUT, 'deadline passed before the call reached the server');
    }
    let args: unknown;
    try {
      args = this.#codec.decode(msg.data);
    } catch (err) {
      this.#conn.logger.warn(`rejected call to ${meta.method}: ${(err as Error).message}`);
      return this.#reply(msg, undefined, err as SwitchboardError, meta);
    }
    if (args === undefined) args = [];
    if (!Array.isArray(args)) {
      return refuse(ErrorCode.BAD_REQUEST, 'call arguments must be a msgpack array');
    }
    const call: QueuedCall = { msg, meta, handler, args, deadline: received + meta.budgetMs };
    if (this.#inflight.size < this.#maxConcurrent) {
      this.#run(call);
    } else if (this.#queue.length < this.#maxQueued && !this.#draining) {
      this.#queue.push(call);
    } else {
      refuse(
        ErrorCode.UNAVAILABLE,
        `server busy: ${this.#inflight.size} calls running, queue full`,
      );
    }
  }

  #run(call: QueuedCall): void {
    const { msg, meta, handler, args, deadline } = call;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const err = new SwitchboardError(
        ErrorCode.TIMEOUT,
        'deadline passed while the call was queued',
        {
          completed: 'no',
        },
      );
      return this.#reply(msg, undefined, err, meta);
    }
    const ctx = new ServerCallContext(meta, deadline);
    args.push(ctx);
    let result: unknown;
    try {
      result = handler(...args);
    } catch (thrown) {
      return this.#reply(msg, undefined, thrown, meta, true);
    }
    if (!isPromiseLike(result)) return this.#reply(msg, result, undefined, meta);
    this.#inflight.set(ctx, call);
    this.#byCallId.set(meta.callId, ctx);
    ctx.timer = setTimeout(() => {
      const err = new SwitchboardError(
        ErrorCode.TIMEOUT,
        `deadline passed while ${meta.method} ran`,
        {
          completed: 'maybe',
        },
      );
      // The slot stays taken until the handler settles: it may still be working.
      this.#abort(ctx, msg, meta, err);
    }, remaining);
    result.then(
      (value) => this.#settle(ctx, msg, meta, value, undefined),
      (thrown: unknown) => this.#settle(ctx, msg, meta, undefined, thrown, true),
    );
  }

  /** A handler's promise settled: reply unless a deadline reply went out, and free the slot. */
  #settle(
    ctx: ServerCallContext,
    msg: Msg,
    meta: CallMeta,
    value: unknown,
    thrown: unknown,
    threw = false,
  ): void {
    if (!ctx.replied) {
      ctx.replied = true;
      this.#reply(msg, value, thrown, meta, threw);
    }
    this.#release(ctx);
  }

  /** Aborts a running handler and replies `err` for it at once. */
  #abort(ctx: ServerCallContext, msg: Msg, meta: CallMeta, err: SwitchboardError): void {
    ctx.abort(err);
    if (ctx.replied) return;
    ctx.replied = true;
    this.#reply(msg, undefined, err, meta);
    this.#checkIdle();
  }

  #onCancel(meta: CallMeta): void {
    const ctx = this.#byCallId.get(meta.callId);
    const call = ctx && this.#inflight.get(ctx);
    if (!ctx || !call) return;
    const err = new SwitchboardError(
      ErrorCode.CANCELLED,
      `${meta.method} cancelled by the caller`,
      {
        completed: 'maybe',
      },
    );
    this.#abort(ctx, call.msg, call.meta, err);
  }

  #release(ctx: ServerCallContext): void {
    clearTimeout(ctx.timer);
    if (!this.#inflight.delete(ctx)) return;
    if (this.#byCallId.get(ctx.callId) === ctx) this.#byCallId.delete(ctx.callId);
    const next = this.#queue.shift();
    if (next) this.#run(next);
    else this.#checkIdle();
  }

  /** Sends the result, or the error: `thrown` from a handler, or one of ours. */
  #reply(
    msg: Msg,
    value: unknown,
    thrown: unknown,
    meta: CallMeta | undefined,
    fromHandler = false,
  ): void {
    if (!msg.reply) return;
    if (thrown === undefined && !fromHandler) {
      let body: Uint8Array;
      try {
        body = this.#codec.encode(value);
      } catch (err) {
        return this.#reply(
          msg,
          undefined,
          this.#internal(`cannot encode the result: ${(err as Error).message}`),
          meta,
        );
      }
      if (body.length > this.#maxPayload) {
        const err = new SwitchboardError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `result of ${body.length} bytes exceeds the limit of ${this.#maxPayload}`,
          { completed: 'yes' },
        );
        return this.#reply(msg, undefined, err, meta);
      }
      this.#send(msg, body, undefined);
      return;
    }
    const err = this.#describe(thrown, meta, fromHandler);
    this.#send(msg, this.#codec.encode(err.toData()), errorReplyHeaders());
  }

  /**
   * Sends an answer to the caller: to the message's reply subject, or, for a
   * call forwarded by a broker, to the caller's subject in `sb-reply`, with an
   * empty notice to the broker that the call ended.
   */
  #send(msg: Msg, body: Uint8Array, headers: HeaderBlock | undefined): void {
    try {
      answerCall(this.#conn.nc, msg, body, headers);
    } catch (err) {
      // NATS refused the message (too large for the server, or connection closed).
      this.#conn.logger.warn(`cannot send a reply: ${(err as Error).message}`);
      if (headers === undefined) {
        const cause = publishError(err, `reply of ${this.service}`);
        const fallback = new SwitchboardError(cause.code, cause.message, {
          completed: 'yes',
          site: this.#registrar.site,
          service: this.service,
        });
        this.#send(msg, this.#codec.encode(fallback.toData()), errorReplyHeaders());
      }
    }
  }

  #internal(message: string): SwitchboardError {
    return new SwitchboardError(ErrorCode.INTERNAL, message, { completed: 'yes' });
  }

  /**
   * Turns what went wrong into the error the caller sees, stamped with this
   * site and service. An error a handler threw means the call was carried out
   * (`yes`), even when it is a Switchboard error from a nested call.
   */
  #describe(thrown: unknown, meta: CallMeta | undefined, fromHandler: boolean): SwitchboardError {
    const origin = {
      site: this.#registrar.site,
      service: this.service,
      path: meta?.path as string[] | undefined,
    };
    const err = toSwitchboardError(thrown, { ...origin, completed: 'yes' });
    if (err !== thrown) return err;
    return new SwitchboardError(err.code, err.message, {
      name: err.remoteName,
      appCode: err.appCode,
      details: err.details,
      site: err.site ?? origin.site,
      service: err.service ?? origin.service,
      completed: fromHandler ? 'yes' : err.completed,
      path: err.path ?? origin.path,
    });
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Exposes a service on the site: shorthand for {@link ServerProxy.start}. */
export function serve(service: ServiceDefinition, options?: ServerOptions): Promise<ServerProxy> {
  return ServerProxy.start(service, options);
}
