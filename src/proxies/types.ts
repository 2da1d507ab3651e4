/** Types a reader of the proxies needs first. */

/** What a handler learns about the call it serves. */
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
}

/** Options of a client-side proxy. */
export interface ProxyOptions extends Omit<CallOptions, 'idempotent'> {
  /** `true` for every method, or the names of the idempotent methods. @default false */
  idempotent?: boolean | readonly string[];
}
