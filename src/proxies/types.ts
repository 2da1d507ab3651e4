/** Types a reader of the proxies needs first. */

/** W3C trace context (https://www.w3.org/TR/trace-context/) of a call. */
export interface TraceContext {
  /** `00-<trace id>-<span id>-<flags>`. */
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

/**
 * What a handler learns about the call it serves. Pass it as `parent` to a
 * call the handler makes (or let the server do so for you, see
 * `ServerOptions.asyncContext`): that call then inherits the remaining
 * deadline, the trace and the metadata.
 */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  readonly callId: string;
  /** Local time (epoch ms) at which the caller stops waiting. */
  readonly deadline: number;
  /** Aborted when the deadline passes or the server drains past its grace period. */
  readonly signal: AbortSignal;
  /** Sites the call crossed, the caller's site first. */
  readonly path: readonly string[];
  /** The caller's metadata (`CallOptions.meta`), as it crossed every hop. */
  readonly meta: Readonly<Record<string, string>>;
  /** Trace context of the call (of the handler's span, when tracing is on). */
  readonly trace: TraceContext | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: method signatures are the user's to choose.
type AnyFunction = (...args: any[]) => unknown;

/** The methods of T (its function-valued properties). */
export type MethodsOf<T> = {
  [K in keyof T as T[K] extends AnyFunction ? K : never]: T[K];
};

/**
 * A client-side proxy for service T: every method returns a promise of its
 * result and rejects with a `SwitchboardError`.
 */
export type ClientProxy<T> = {
  readonly [K in keyof MethodsOf<T>]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/**
 * The server side of service T: each method receives the caller's arguments
 * and then the {@link CallContext}; it may return a value or a promise.
 */
export type ServiceImplementation<T> = {
  [K in keyof MethodsOf<T>]: T[K] extends (...args: infer A) => infer R
    ? (...args: [...A, CallContext]) => Awaited<R> | Promise<Awaited<R>>
    : never;
};

/** Options of one call (or of every call of a proxy). */
export interface CallOptions {
  /** Milliseconds the call may take. @default the client's `timeoutMs` */
  timeoutMs?: number;
  /** Absolute deadline (epoch ms); wins over `timeoutMs`. */
  deadline?: number;
  /** Aborts the call (it then rejects with `CANCELLED`). */
  signal?: AbortSignal;
  /**
   * Whether the method may safely run twice: idempotent calls are retried on
   * another instance after errors whose completion is `maybe`.
   * @default false
   */
  idempotent?: boolean;
  /** Version range of the service, e.g. `^1.0.0`. @default any */
  version?: string;
  /** Only instances hosted at this site (also written `service@site`). @default the nearest */
  site?: string;
  /**
   * Metadata sent with the call: a small map of strings that crosses every
   * hop and reaches the handler as `ctx.meta` (keys: letters, digits, `_`,
   * `-`, `.`; at most 32 entries, 4 KiB encoded).
   */
  meta?: Readonly<Record<string, string>>;
  /**
   * The call being served that this call is made for: this call inherits its
   * remaining deadline (when it is sooner), its trace and its metadata (this
   * call's own entries win). @default the call being served, when the server
   * runs handlers in an async context (`ServerOptions.asyncContext`)
   */
  parent?: CallContext;
}

/** Options of a client-side proxy. */
export interface ProxyOptions extends Omit<CallOptions, 'idempotent'> {
  /** `true` for every method, or the names of the idempotent methods. @default false */
  idempotent?: boolean | readonly string[];
}
