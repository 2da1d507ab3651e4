/**
 * Interceptors: code that runs around every call, on the client (around
 * sending it) and on the server (around its handler), as grpc-js's
 * interceptors and Moleculer's middlewares do. An interceptor sees the call,
 * may change its metadata, may end it with an error of its own (a
 * `SwitchboardError`, say `FORBIDDEN`) instead of calling `next`, and sees
 * the result or error `next` ends with. Metrics and tracing are interceptors.
 */
import type { CallContext, CallOptions, TraceContext } from './types.js';

/** A call on its way out, as client interceptors see it. */
export interface OutgoingRequest {
  readonly service: string;
  readonly method: string;
  readonly args: readonly unknown[];
  /** The site the call is pinned to, if any. */
  readonly site: string | undefined;
  /** Local time (epoch ms) at which the call must have ended. */
  readonly deadline: number;
  readonly options: Readonly<CallOptions>;
  /** Metadata sent with the call: add or change entries here. */
  readonly meta: Record<string, string>;
  /** Trace context sent with the call (a tracing interceptor sets it). */
  trace: TraceContext | undefined;
}

/** A call arriving at a server, as server interceptors see it. */
export interface IncomingRequest {
  readonly context: CallContext;
  readonly args: readonly unknown[];
  /** Trace context the handler runs in (a tracing interceptor sets it: `ctx.trace` follows). */
  trace: TraceContext | undefined;
}

/** Runs around a client call: call `next()` to send it (or do not, and throw). */
export type ClientInterceptor = (
  request: OutgoingRequest,
  next: () => Promise<unknown>,
) => Promise<unknown>;

/**
 * Runs around a handler: call `next()` to run it. An error thrown before
 * `next()` is the caller's error with completion `no` (the handler never ran).
 */
export type ServerInterceptor = (
  request: IncomingRequest,
  next: () => Promise<unknown>,
) => Promise<unknown>;

/** Runs `request` through `interceptors` (the first outermost), then `last`. */
export function intercept<R>(
  interceptors: ReadonlyArray<(request: R, next: () => Promise<unknown>) => Promise<unknown>>,
  request: R,
  last: () => Promise<unknown>,
): Promise<unknown> {
  const step = (i: number): Promise<unknown> => {
    const interceptor = interceptors[i];
    if (!interceptor) return last();
    try {
      return interceptor(request, () => step(i + 1));
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return step(0);
}
