import { type Completion, ErrorCode, SwitchboardError } from '../protocol/index.js';
import { DeadlineTimer } from '../util/index.js';
import {
  type AdmittedCall,
  HandlerContext,
  NotRun,
  type Outcome,
  RunningCall,
} from './call-context.js';

/** Limits of an {@link Admission}. */
export interface AdmissionLimits {
  /** Calls run at once. */
  maxConcurrent: number;
  /** Calls that may wait for a slot. */
  maxQueued: number;
}

/**
 * The server's admission queue: runs calls within the concurrency limit,
 * queues the rest up to a bound, refuses what cannot be served in time,
 * answers `TIMEOUT` at the deadline (aborting the handler's signal), passes
 * cancel notices on, and drains. Knows nothing of NATS: calls arrive as
 * {@link AdmittedCall}s and leave through their `answer`.
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #running = new Set<RunningCall>();
  /** Running calls by call id, for cancel notices. */
  readonly #byCallId = new Map<string, RunningCall>();
  readonly #queue: AdmittedCall[] = [];
  /** One timer for the deadlines of the running handlers, none per call. */
  readonly #deadlines = new DeadlineTimer((now) => this.#expire(now));
  #draining = false;
  #onDrained: (() => void) | undefined;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** Calls whose handler is running (answered or not). */
  get active(): number {
    return this.#running.size;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Runs `call` now, queues it, or refuses it. */
  admit(call: AdmittedCall): void {
    if (call.meta.budgetMs <= 0) {
      return refuse(call, ErrorCode.TIMEOUT, 'deadline passed before the call reached the server');
    }
    if (this.#running.size < this.#limits.maxConcurrent) return this.#run(call);
    if (this.#draining) {
      return refuse(call, ErrorCode.UNAVAILABLE, 'server closing: no call is queued any more');
    }
    if (this.#queue.length >= this.#limits.maxQueued) {
      return refuse(
        call,
        ErrorCode.UNAVAILABLE,
        `server busy: ${this.#running.size} calls running, queue full`,
      );
    }
    this.#queue.push(call);
  }

  /** Those of `callIds` that are queued, or running and not answered yet. */
  held(callIds: readonly string[]): string[] {
    const queued = new Set(this.#queue.map((call) => call.meta.callId));
    return callIds.filter((id) => {
      const running = this.#byCallId.get(id);
      return running ? !running.answered : queued.has(id);
    });
  }

  /** The caller gave up on call `callId`: abort its handler and answer `CANCELLED`. */
  cancel(callId: string): void {
    const running = this.#byCallId.get(callId);
    if (!running) return;
    const { method } = running.call.meta;
    this.#abort(running, error(ErrorCode.CANCELLED, `${method} cancelled by the caller`, 'maybe'));
  }

  /**
   * Stops queueing and resolves once every call has been answered. Past
   * `timeoutMs`, queued calls are refused (`UNAVAILABLE`, completion `no`)
   * and running ones aborted (`UNAVAILABLE`, completion `maybe`).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    try {
      await this.#drain(timeoutMs);
    } finally {
      // Drained: no deadline timer is left, not even one that keeps nothing alive.
      this.#deadlines.disarm();
    }
  }

  async #drain(timeoutMs: number): Promise<void> {
    if (this.#answeredAll()) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([
      new Promise<false>((resolve) => {
        this.#onDrained = () => resolve(false);
      }),
      new Promise<true>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.#onDrained = undefined;
    if (!late) return;
    const closed = 'server closed before the call finished';
    for (const call of this.#queue.splice(0)) refuse(call, ErrorCode.UNAVAILABLE, closed);
    for (const running of this.#running) {
      this.#abort(running, error(ErrorCode.UNAVAILABLE, closed, 'maybe'));
    }
    this.#running.clear();
    this.#byCallId.clear();
  }

  #run(call: AdmittedCall): void {
    const remaining = call.deadline - Date.now();
    if (remaining <= 0) {
      return refuse(call, ErrorCode.TIMEOUT, 'deadline passed while the call was queued');
    }
    const running = new RunningCall(call);
    let result: unknown;
    try {
      result = call.run(new HandlerContext(running), running);
    } catch (thrown) {
      running.answer(ended(thrown));
      return this.#next();
    }
    if (!isPromiseLike(result)) {
      running.answer({ kind: 'result', value: result });
      return this.#next();
    }
    this.#running.add(running);
    this.#byCallId.set(call.meta.callId, running);
    this.#deadlines.arm(call.deadline);
    result.then(
      (value) => this.#settle(running, { kind: 'result', value }),
      (thrown: unknown) => this.#settle(running, ended(thrown)),
    );
  }

  /**
   * Answers `TIMEOUT` (completion `maybe`) for the running calls whose
   * deadline has come and aborts their handlers; returns the next deadline.
   * The slot stays taken until the handler settles: it may still be working.
   */
  #expire(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const running of [...this.#running]) {
      if (running.answered) continue;
      const { deadline, meta } = running.call;
      if (deadline <= now) {
        this.#abort(
          running,
          error(ErrorCode.TIMEOUT, `deadline passed while ${meta.method} ran`, 'maybe'),
        );
      } else if (deadline < next) {
        next = deadline;
      }
    }
    return next;
  }

  /** A handler's promise settled: answer unless a deadline answer went out, and free the slot. */
  #settle(running: RunningCall, outcome: Outcome): void {
    try {
      running.answer(outcome);
    } finally {
      // Whatever answering did, the slot is freed.
      if (this.#running.delete(running)) {
        if (this.#running.size === 0) {
          // A call run while (or after) draining leaves no timer behind.
          if (this.#draining) this.#deadlines.disarm();
          else this.#deadlines.idle();
        }
        const { callId } = running.call.meta;
        if (this.#byCallId.get(callId) === running) this.#byCallId.delete(callId);
        this.#next();
      }
    }
  }

  /** Aborts a running handler and answers `err` for it at once. */
  #abort(running: RunningCall, err: SwitchboardError): void {
    running.abort(err);
    if (running.answer({ kind: 'refused', error: err })) this.#checkIdle();
  }

  /** A slot is free: run the next queued call, or see whether draining is done. */
  #next(): void {
    const next = this.#queue.shift();
    if (next) this.#run(next);
    else this.#checkIdle();
  }

  /**
   * Whether every call has been answered. A handler answered with a deadline
   * error may still run, but no caller waits for it any more.
   */
  #answeredAll(): boolean {
    if (this.#queue.length > 0) return false;
    for (const running of this.#running) if (!running.answered) return false;
    return true;
  }

  #checkIdle(): void {
    if (this.#onDrained && this.#answeredAll()) this.#onDrained();
  }
}

/** The outcome of a handler (or of an interceptor that refused the call before it). */
function ended(thrown: unknown): Outcome {
  return thrown instanceof NotRun
    ? { kind: 'refused', error: thrown.error }
    : { kind: 'thrown', thrown };
}

function error(code: ErrorCode, message: string, completed: Completion): SwitchboardError {
  return new SwitchboardError(code, message, { completed });
}

/** Answers `call` with a refusal raised here: the handler never ran (completion `no`). */
function refuse(call: AdmittedCall, code: ErrorCode, message: string): void {
  call.answer({ kind: 'refused', error: error(code, message, 'no') });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
