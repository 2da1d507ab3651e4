import type { Subscription } from 'nats';
import { Registrar } from '../core/index.js';
import type { Health, Metrics } from '../observability/index.js';
import {
  type CallMeta,
  ErrorCode,
  ID_PATTERN,
  type InstanceRegistration,
  isRefusedByNats,
  isValidVersion,
  NAME_PATTERN,
  SwitchboardError,
} from '../protocol/index.js';
import {
  type CallRequest,
  type ConnectionOptions,
  EndpointStats,
  MicroResponder,
  SiteLink,
  takeCalls,
} from '../transport/index.js';
import { Closeable, closest, newId } from '../util/index.js';
import { Admission } from './admission.js';
import { type ArgumentRules, checkArguments, type StandardSchemaV1 } from './arguments.js';
import type { AdmittedCall, Outcome, RunningCall } from './call-context.js';
import { CallReplier } from './call-replier.js';
import { type Handler, HandlerRunner } from './handler-runner.js';
import type { ServerInterceptor } from './interceptors.js';
import type { CallContext } from './types.js';

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
  /**
   * Per method, one Standard Schema per argument, in order (zod, valibot,
   * arktype or any validator implementing standardschema.dev v1): a call whose
   * arguments do not match is refused with `BAD_REQUEST` naming the argument
   * and the field, and the handler gets what the schemas output.
   */
  arguments?: Record<string, readonly StandardSchemaV1[]>;
  /**
   * Methods that take any number of arguments. Without schemas, a call with
   * more arguments than its handler declares is `BAD_REQUEST`; a handler's
   * declared count (`Function.length`) stops at its first default or rest
   * parameter, so list such methods here. (A handler that declares none,
   * such as a wrapper taking `...args`, is not checked; one that declares
   * its `CallContext` counts it as a parameter.)
   */
  variadic?: readonly string[];
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
  /**
   * Run around every handler, the first outermost (metrics, tracing, checks
   * of `ctx.meta`...). See {@link ServerInterceptor}.
   * @default none
   */
  interceptors?: readonly ServerInterceptor[];
  /**
   * Run handlers in an async context, so that the calls they make inherit
   * the deadline, trace and metadata of the call they serve without passing
   * `parent: ctx`. On Node 20 this makes every promise in the process a
   * little slower; passing `parent` costs nothing.
   * @default false
   */
  asyncContext?: boolean;
  /** Where the server counts and times the calls it serves (see `Metrics`). @default none */
  metrics?: Metrics;
  /**
   * Answer the NATS service discovery requests (`$SRV.PING`, `.INFO`,
   * `.STATS`), so that `nats micro ls` and the nats.js services client see
   * this instance.
   * @default true
   */
  discovery?: boolean;
}

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`server option '${field}' must be a positive number (got ${value})`);
  }
  return value;
}

/**
 * Random characters of an instance id (`[0-9a-z]`, 62 bits): unique in a
 * site, and short, since it ends the subject of every call to the instance.
 */
const INSTANCE_ID_CHARS = 12;

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

  readonly #link: SiteLink;
  readonly #handlers: Map<string, Handler>;
  readonly #argumentRules: Map<string, ArgumentRules>;
  readonly #registration: InstanceRegistration;
  readonly #drainTimeoutMs: number;
  readonly #maxPayload: number;
  readonly #registrar: Registrar;
  readonly #admission: Admission;
  readonly #replier: CallReplier;
  /** What every call of this server needs to run and answer. */
  readonly #parts: ServerParts;
  readonly #micro: MicroResponder | undefined;
  readonly #callSub: Subscription;
  #unwatch: (() => void) | undefined;

  private constructor(link: SiteLink, service: ServiceDefinition, options: ServerOptions) {
    super();
    this.#link = link;
    const { conn } = link;
    this.instanceId = options.instanceId ?? newId(INSTANCE_ID_CHARS);
    this.service = service.name;
    this.version = service.version ?? '1.0.0';
    this.#handlers = methodsOf(service.methods);
    this.#argumentRules = argumentRules(service, this.#handlers);
    const heartbeatMs = positive(options.heartbeatMs, 'heartbeatMs', 1000);
    this.#admission = new Admission({
      maxConcurrent: positive(options.maxConcurrent, 'maxConcurrent', 256),
      maxQueued: options.maxQueued ?? 4096,
    });
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.#maxPayload = options.maxPayload ?? conn.nc.info?.max_payload ?? 1024 * 1024;
    this.#registration = {
      id: this.instanceId,
      service: this.service,
      version: this.version,
      methods: [...this.#handlers.keys()],
      metadata: service.metadata ?? {},
      heartbeatMs,
      secret: newId(24),
    };
    this.#registrar = new Registrar(link.brokers, conn.logger, heartbeatMs);
    this.#replier = new CallReplier(
      conn.nc,
      link.codec,
      this.#maxPayload,
      { service: this.service, site: () => this.#registrar.site },
      // What it logs may come of a peer's data (an error a nested call got): held to a few lines.
      conn.peerLog,
    );
    const site = () => this.#registrar.site;
    const { metrics } = options;
    const interceptors = metrics
      ? [metrics.serverInterceptor(site), ...(options.interceptors ?? [])]
      : (options.interceptors ?? []);
    if (metrics) this.#unwatch = this.#watchGauges(metrics);
    const runner = new HandlerRunner(
      interceptors,
      options.asyncContext ?? false,
      () => this.#registrar.site,
    );
    const stats = new Map([...this.#handlers.keys()].map((m) => [m, new EndpointStats()]));
    this.#parts = { replier: this.#replier, runner, stats };
    const started = new Date();
    const subject = conn.subjects.instance(this.service, this.instanceId);
    const metadata = service.metadata ?? {};
    this.#micro =
      options.discovery === false
        ? undefined
        : new MicroResponder(
            conn.nc,
            () => [
              {
                name: this.service,
                id: this.instanceId,
                version: this.version,
                description: `Switchboard service ${this.service}`,
                metadata: { ...metadata, site: this.#registrar.site ?? '', kind: 'instance' },
                started,
                endpoints: [...stats].map(([name, s]) => ({ name, subject, stats: s })),
              },
            ],
            conn.peerLog,
            this.service,
          );
    this.#callSub = takeCalls(
      { nc: conn.nc, codec: link.codec, logger: conn.peerLog, site: () => this.#registrar.site },
      conn.subjects.instance(this.service, this.instanceId),
      (call, receivedAt) => this.#onCall(call, receivedAt),
      (callIds) => this.#admission.held(callIds),
    );
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
    const link = await SiteLink.open(options, `switchboard-server-${service.name}`);
    let server: ServerProxy;
    try {
      server = new ServerProxy(link, service, options);
    } catch (err) {
      await link.close();
      throw err;
    }
    await link.conn.nc.flush();
    const registered = await server.#registrar.add(
      server.#registration,
      options.registerTimeoutMs ?? 2000,
    );
    if (!registered) {
      const refusal = server.#registrar.refusal(server.instanceId);
      // Past a limit of the broker, or a credential NATS does not let register
      // this service: no attempt will do better.
      const final = refusal?.code === ErrorCode.BAD_REQUEST || isRefusedByNats(refusal);
      if (refusal && final) {
        await server.close();
        throw refusal;
      }
      link.conn.logger.warn(
        'no broker confirmed the registration yet; retrying in the background',
        {
          service: service.name,
          ...(refusal ? { refused: refusal.message } : {}),
        },
      );
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
    return this.#admission.active;
  }

  /** Whether the server is doing its job: connected, and registered with a broker. */
  health(): Health {
    if (this.closing) return { ok: false, reason: `${this.service}: server closing` };
    if (!this.#link.connected)
      return { ok: false, reason: `${this.service}: not connected to NATS` };
    if (!this.registered)
      return { ok: false, reason: `${this.service}: no broker has registered it` };
    return { ok: true, reason: '' };
  }

  #watchGauges(metrics: Metrics): () => void {
    const labels = () => ({ site: this.#registrar.site ?? '', service: this.service });
    const stops = [
      metrics.gauge('switchboard_server_calls_in_flight', () => [
        { labels: labels(), value: this.#admission.active },
      ]),
      metrics.gauge('switchboard_server_queue_depth', () => [
        { labels: labels(), value: this.#admission.queued },
      ]),
    ];
    return () => {
      for (const stop of stops) stop();
    };
  }

  protected async shutdown(): Promise<void> {
    this.#unwatch?.();
    this.#micro?.close();
    const { nc, logger } = this.#link.conn;
    // Deregister first: brokers drop the instance and callers stop choosing it.
    this.#registrar.close();
    if (!nc.isClosed()) {
      // Calls NATS already delivered are still served; new ones find no responder.
      await this.#callSub.drain().catch(() => {});
    }
    await this.#admission.drain(this.#drainTimeoutMs);
    await this.#link.close();
    logger.info('server stopped', { service: this.service, id: this.instanceId });
  }

  /** Checks a call as it arrives; the admission queue takes it from there. */
  #onCall(call: CallRequest, receivedAt: number): void {
    const { meta, msg } = call;
    if (call.cancel) return this.#admission.cancel(meta.callId);
    if (!msg.reply) {
      // Nobody could receive the answer: the handler does not run.
      this.#link.conn.peerLog.warn('dropped a call without reply subject', { method: meta.method });
      return;
    }
    const handler = this.#handlers.get(meta.method);
    const rules = this.#argumentRules.get(meta.method);
    if (meta.service !== this.service) {
      return this.#refuseWith(
        call,
        receivedAt,
        ErrorCode.SERVICE_NOT_FOUND,
        `this instance serves '${this.service}', not '${meta.service}'`,
      );
    }
    if (!handler || !rules) return this.#noSuchMethod(call);
    // Read once: nats.js cuts the body from the message anew at every read.
    const body = msg.data;
    if (body.length > this.#maxPayload) {
      return this.#refuseWith(
        call,
        receivedAt,
        ErrorCode.PAYLOAD_TOO_LARGE,
        `request of ${body.length} bytes exceeds the limit of ${this.#maxPayload}`,
      );
    }
    let args: unknown;
    try {
      args = this.#link.codec.decode(body);
    } catch (err) {
      this.#link.conn.peerLog.warn(`rejected a call: ${(err as Error).message}`, {
        method: meta.method,
      });
      return this.#refuse(call, err as SwitchboardError, receivedAt);
    }
    if (args === undefined) args = [];
    if (!Array.isArray(args)) {
      return this.#refuseWith(
        call,
        receivedAt,
        ErrorCode.BAD_REQUEST,
        'call arguments must be a msgpack array',
      );
    }
    let checked: unknown[] | Promise<unknown[]>;
    try {
      checked = checkArguments(meta.method, args, rules);
    } catch (err) {
      return this.#refuse(call, err as SwitchboardError, receivedAt);
    }
    // Closures only for arguments checked asynchronously: none on the common path.
    if (checked instanceof Promise) {
      checked.then(
        (ready) => this.#admit(call, handler, ready, receivedAt),
        (err: unknown) => this.#refuse(call, err as SwitchboardError, receivedAt),
      );
    } else {
      this.#admit(call, handler, checked, receivedAt);
    }
  }

  #admit(call: CallRequest, handler: Handler, args: unknown[], receivedAt: number): void {
    this.#admission.admit(new IncomingCall(this.#parts, call, handler, args, receivedAt));
  }

  /** Refuses a call with `code`, completion `no`, before its handler runs. */
  #refuseWith(call: CallRequest, receivedAt: number, code: ErrorCode, message: string): void {
    this.#refuse(call, new SwitchboardError(code, message, { completed: 'no' }), receivedAt);
  }

  /** Refuses a call before its handler runs, and counts it for `$SRV.STATS`. */
  #refuse(call: CallRequest, error: SwitchboardError, receivedAt: number): void {
    const sent = this.#replier.answer(call, refused(error));
    this.#parts.stats.get(call.meta.method)?.record(Date.now() - receivedAt, call.meta.path, sent);
  }

  /** `METHOD_NOT_FOUND`, with the methods there are (and the nearest one) in its details. */
  #noSuchMethod(call: CallRequest): void {
    const methods = [...this.#handlers.keys()].sort();
    const similar = closest(call.meta.method, methods);
    const hint = similar === undefined ? '' : ` (did you mean '${similar}'?)`;
    const message = `service '${this.service}' has no method '${call.meta.method}'${hint}; it has ${methods.join(', ')}`;
    const details = similar === undefined ? { methods } : { methods, didYouMean: similar };
    const error = new SwitchboardError(ErrorCode.METHOD_NOT_FOUND, message, {
      completed: 'no',
      details,
    });
    this.#replier.answer(call, refused(error));
  }
}

/** How each method's arguments are checked (see {@link checkArguments}). */
function argumentRules(
  service: ServiceDefinition,
  handlers: Map<string, Handler>,
): Map<string, ArgumentRules> {
  for (const name of [...Object.keys(service.arguments ?? {}), ...(service.variadic ?? [])]) {
    if (!handlers.has(name)) {
      throw new TypeError(
        `service '${service.name}' names method '${name}', which it does not have`,
      );
    }
  }
  const variadic = new Set(service.variadic);
  const rules = new Map<string, ArgumentRules>();
  for (const [name, handler] of handlers) {
    rules.set(name, {
      schemas: service.arguments?.[name],
      variadic: variadic.has(name),
      declared: handler.length,
    });
  }
  return rules;
}

/** A decoded call on its way through the admission queue. */
/** What every call of a server needs to run, answer and be counted. */
interface ServerParts {
  replier: CallReplier;
  runner: HandlerRunner;
  /** Per method, for `$SRV.STATS`. */
  stats: Map<string, EndpointStats>;
}

class IncomingCall implements AdmittedCall {
  readonly meta: CallMeta;
  readonly deadline: number;
  readonly #receivedAt: number;
  readonly #server: ServerParts;
  readonly #call: CallRequest;
  readonly #handler: Handler;
  readonly #args: unknown[];

  constructor(
    server: ServerParts,
    call: CallRequest,
    handler: Handler,
    args: unknown[],
    receivedAt: number,
  ) {
    this.meta = call.meta;
    this.#receivedAt = receivedAt;
    this.deadline = receivedAt + call.meta.budgetMs;
    this.#server = server;
    this.#call = call;
    this.#handler = handler;
    this.#args = args;
  }

  run(context: CallContext, running: RunningCall): unknown {
    return this.#server.runner.run(this.#handler, this.#args, context, running);
  }

  answer(outcome: Outcome): void {
    const error = this.#server.replier.answer(this.#call, outcome);
    const ms = Date.now() - this.#receivedAt;
    this.#server.stats.get(this.meta.method)?.record(ms, this.meta.path, error);
  }
}

function refused(error: SwitchboardError): Outcome {
  return { kind: 'refused', error };
}

/** Exposes a service on the site: shorthand for {@link ServerProxy.start}. */
export function serve(service: ServiceDefinition, options?: ServerOptions): Promise<ServerProxy> {
  return ServerProxy.start(service, options);
}
