import { type CallMeta, decodeMeta, type SwitchboardError } from '../protocol/index.js';
import type { CallContext, TraceContext } from './types.js';

/**
 * Thrown (or rejected with) by `AdmittedCall.run` when the call was refused
 * before its handler ran (by a server interceptor): the error keeps its
 * completion, `no`.
 */
export class NotRun {
  readonly error: SwitchboardError;

  constructor(error: SwitchboardError) {
    this.error = error;
  }
}

/** How a call on the server ended: the handler's result, what it threw, or our refusal. */
export type Outcome =
  | { readonly kind: 'result'; readonly value: unknown }
  | { readonly kind: 'thrown'; readonly thrown: unknown }
  | { readonly kind: 'refused'; readonly error: SwitchboardError };

/** A call the server accepted, as the admission queue sees it. */
export interface AdmittedCall {
  readonly meta: CallMeta;
  /** Local time (epoch ms) at which the caller stops waiting. */
  readonly deadline: number;
  /**
   * Runs the handler; returns its result or a promise of it. Throws (or
   * rejects with) a {@link NotRun} when it was refused before the handler ran.
   */
  run(context: CallContext, running: RunningCall): unknown;
  /** Sends the call's one answer. */
  answer(outcome: Outcome): void;
}

/**
 * A call while its handler runs: whether it has been answered, its deadline
 * timer, and its abort signal. The AbortController is made only when the
 * handler reads `signal`: most never do, and it is not free.
 */
export class RunningCall {
  readonly call: AdmittedCall;
  /** Trace context the handler runs in: the caller's, or a server span's. */
  trace: TraceContext | undefined;
  #meta: Readonly<Record<string, string>> | undefined;
  #answered = false;
  #controller: AbortController | undefined;
  #reason: unknown;

  constructor(call: AdmittedCall) {
    this.call = call;
    const { traceparent, tracestate } = call.meta;
    if (traceparent !== undefined) this.trace = { traceparent, tracestate };
  }

  /** The caller's metadata, decoded on first use (it was checked when the call arrived). */
  get meta(): Readonly<Record<string, string>> {
    this.#meta ??= Object.freeze(decodeMeta(this.call.meta.meta ?? ''));
    return this.#meta;
  }

  get answered(): boolean {
    return this.#answered;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Sends the answer unless one went out already; says whether it did. */
  answer(outcome: Outcome): boolean {
    if (this.#answered) return false;
    this.#answered = true;
    this.call.answer(outcome);
    return true;
  }

  /** Aborts the handler's signal with `reason` (once). */
  abort(reason: Error): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * The {@link CallContext} a handler receives: read-only accessors over the
 * running call (an assignment throws), nothing to call.
 */
export class HandlerContext implements CallContext {
  readonly #running: RunningCall;

  constructor(running: RunningCall) {
    this.#running = running;
  }

  get service(): string {
    return this.#running.call.meta.service;
  }

  get method(): string {
    return this.#running.call.meta.method;
  }

  get callId(): string {
    return this.#running.call.meta.callId;
  }

  get deadline(): number {
    return this.#running.call.deadline;
  }

  get path(): readonly string[] {
    return this.#running.call.meta.path;
  }

  get signal(): AbortSignal {
    return this.#running.signal;
  }

  get meta(): Readonly<Record<string, string>> {
    return this.#running.meta;
  }

  get trace(): TraceContext | undefined {
    return this.#running.trace;
  }
}
