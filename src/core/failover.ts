/**
 * The one failover loop: every call that may be sent to more than one place
 * (a client's call, a broker forwarding for a thin client, a bridge relaying,
 * a thin client asking its broker again) goes through {@link failover}.
 */
import { type CallMeta, ErrorCode, RETRYABLE_CODES, SwitchboardError } from '../protocol/index.js';
import type { HeldCalls } from './held-calls.js';
import type { CallFailure, CallReply, Invoker } from './types.js';

/** A call to carry out within its deadline, trying further places where that is safe. */
export interface FailoverCall {
  /** Routing metadata; the loop sets `budgetMs` before each attempt, pickers may set `site` and `path`. */
  readonly meta: CallMeta;
  readonly body: Uint8Array;
  /** Local time (epoch ms) at which the call must have ended. */
  readonly deadline: number;
  readonly signal?: AbortSignal | undefined;
  /** Whether the method may run twice: then `maybe` failures are retried too. */
  readonly idempotent: boolean;
  /** See {@link OutgoingCall.replyTo}. */
  readonly replyTo?: string | undefined;
  /** Told each time the call is sent again after a failure (for metrics). */
  readonly onRetry?: (() => void) | undefined;
  /**
   * Where a relay (a bridge, a forwarding broker) keeps the call while it
   * runs, so that the caller's cancel notice can follow it.
   */
  readonly heldIn?: HeldCalls | undefined;
}

/** Where one attempt goes. Its `end` is called exactly once, with the attempt's outcome. */
export interface Attempt {
  readonly subject: string;
  end(reply: CallReply): void;
}

/**
 * Chooses where each attempt of one call goes. Made per call, so it may keep
 * what it needs (the places already tried).
 */
export interface Picker {
  /** Site where errors raised while picking arise (the caller's), when known. */
  readonly site: string | undefined;
  /** Subject of the attempt under way (`''` before the first): where a held call is now. */
  readonly subject: string;
  /**
   * The next attempt, or the error that ends the call when there is no place
   * left. `lastError` is the failure of the previous attempt, if any.
   */
  next(
    call: FailoverCall,
    lastError: SwitchboardError | undefined,
  ): Attempt | SwitchboardError | Promise<Attempt | SwitchboardError>;
}

/** Whether another place may be tried after `err` without risking running the handler twice. */
export function canRetry(err: SwitchboardError, idempotent: boolean): boolean {
  if (!RETRYABLE_CODES.has(err.code)) return false;
  return err.completed === 'no' || (idempotent && err.completed === 'maybe');
}

/**
 * Sends the call to the places `picker` chooses, one after another, while
 * the failure allows a retry ({@link canRetry}) and the deadline has not
 * passed. Resolves with the first result, the first failure that must not be
 * retried, or the error that ended the search; never rejects.
 */
export function failover(
  invoker: Invoker,
  call: FailoverCall,
  picker: Picker,
  now: () => number = Date.now,
): Promise<CallReply> {
  const { meta, heldIn } = call;
  heldIn?.hold(meta.callId, picker);
  if (call.deadline - now() <= 0) return search(invoker, call, picker, now, undefined);
  let first: ReturnType<Picker['next']>;
  let sent: Promise<CallReply>;
  try {
    first = picker.next(call, undefined);
    if (first instanceof Promise || first instanceof SwitchboardError) {
      return search(invoker, call, picker, now, first);
    }
    // The common case, a first place known at once, without the loop's async frame.
    const remaining = call.deadline - now();
    if (remaining <= 0) return search(invoker, call, picker, now, first);
    sent = send(invoker, call, first, remaining);
  } catch (err) {
    // As from the loop: what throws rejects the call's promise, and the call is not held.
    heldIn?.release(meta.callId, picker);
    return Promise.reject(err);
  }
  const attempt = first;
  return sent.then(
    (reply) => {
      attempt.end(reply);
      if (reply.ok || !canRetry(reply.error, call.idempotent)) {
        heldIn?.release(meta.callId, picker);
        return reply;
      }
      call.onRetry?.();
      const ran = reply.error.completed === 'no' ? undefined : reply.error;
      return search(invoker, call, picker, now, undefined, reply.error, ran);
    },
    (err: unknown) => {
      heldIn?.release(meta.callId, picker);
      throw err;
    },
  );
}

/** One attempt: the call, its budget set to what is left of it, sent to `attempt`'s subject. */
function send(
  invoker: Invoker,
  call: FailoverCall,
  attempt: Attempt,
  remaining: number,
): Promise<CallReply> {
  const { meta } = call;
  meta.budgetMs = remaining;
  return invoker.invoke(attempt.subject, {
    meta,
    body: call.body,
    timeoutMs: remaining,
    signal: call.signal,
    replyTo: call.replyTo,
  });
}

/**
 * The failover loop from where {@link failover} left it: `pending` is the
 * picker's answer already asked for (if any), `lastError` the failure of the
 * previous attempt, `ran` the first failure of an attempt that may have run
 * (whatever ends the call later must not hide that it may have run).
 * Releases the held call when it ends.
 */
async function search(
  invoker: Invoker,
  call: FailoverCall,
  picker: Picker,
  now: () => number,
  pending: ReturnType<Picker['next']> | undefined,
  lastError?: SwitchboardError,
  ran?: SwitchboardError,
): Promise<CallReply> {
  const { meta, heldIn } = call;
  try {
    for (;;) {
      let next = pending;
      pending = undefined;
      if (next === undefined) {
        if (call.deadline - now() <= 0) {
          return failed(ran ?? lastError ?? deadlinePassed(meta, picker.site));
        }
        next = picker.next(call, lastError);
      }
      if (next instanceof Promise) next = await next;
      if (next instanceof SwitchboardError) return failed(ran ?? next);
      const remaining = call.deadline - now();
      if (remaining <= 0) {
        const late = failed(ran ?? lastError ?? deadlinePassed(meta, picker.site));
        next.end(late);
        return late;
      }
      const reply = await send(invoker, call, next, remaining);
      next.end(reply);
      if (reply.ok) return reply;
      if (!canRetry(reply.error, call.idempotent)) {
        return ran && reply.error.completed === 'no' ? failed(ran) : reply;
      }
      if (reply.error.completed !== 'no') ran ??= reply.error;
      lastError = reply.error;
      call.onRetry?.();
    }
  } finally {
    heldIn?.release(meta.callId, picker);
  }
}

/** A {@link CallFailure} carrying `error`. */
export function failed(error: SwitchboardError): CallFailure {
  return { ok: false, error };
}

/** `TIMEOUT`, completion `no`: the deadline passed before the call could be sent (again). */
export function deadlinePassed(meta: CallMeta, site: string | undefined): SwitchboardError {
  return new SwitchboardError(
    ErrorCode.TIMEOUT,
    `${meta.service}.${meta.method}: deadline passed`,
    {
      completed: 'no',
      site,
      service: meta.service,
      path: meta.path,
    },
  );
}
