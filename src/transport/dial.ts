/**
 * Connection attempts: one, or (when told to wait) as many as it takes, with
 * a pause that grows between them, a line every few seconds saying what is
 * awaited and why, and an optional limit. Knows nothing of NATS.
 */
import { ErrorCode, SwitchboardError } from '../protocol/index.js';
import { type Logger, seconds, waitingNotice } from '../util/index.js';

/** Pause after the first failed attempt; doubled after each one up to {@link MAX_PAUSE_MS}. */
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 2000;
/** The shortest last attempt before a wait times out. */
const MIN_ATTEMPT_MS = 50;

/** How {@link dial} goes about it. */
export interface DialPlan {
  /** What is dialled, for messages: `NATS at nats://a:4222`. */
  what: string;
  logger: Logger;
  /** Keep trying while attempts fail with errors `retryable` accepts. */
  wait: boolean;
  /** With `wait`, give up after this many milliseconds (undefined: never). */
  waitTimeoutMs?: number;
  /** How long one attempt may take. */
  attemptMs: number;
  /** Whether another attempt may succeed after `err`. */
  retryable(err: unknown): boolean;
  /** Why an attempt that was given `attemptMs` failed with `err`. */
  describe(err: unknown, attemptMs: number): string;
}

/**
 * Calls `attempt(timeoutMs)` until it resolves, as `plan` says. Rejects with
 * `UNAVAILABLE`: `cannot connect to WHAT: why`, or when a wait runs out
 * `gave up waiting for WHAT after 10 s: why`.
 */
export async function dial<T>(
  attempt: (timeoutMs: number) => Promise<T>,
  plan: DialPlan,
): Promise<T> {
  const unavailable = (message: string, cause: unknown) =>
    new SwitchboardError(ErrorCode.UNAVAILABLE, message, { completed: 'no', cause });
  const notice = waitingNotice(plan.logger, plan.what);
  const deadline = Date.now() + (plan.waitTimeoutMs ?? Number.POSITIVE_INFINITY);
  let pause = FIRST_PAUSE_MS;
  try {
    for (;;) {
      const timeout = Math.max(MIN_ATTEMPT_MS, Math.min(plan.attemptMs, deadline - Date.now()));
      try {
        return await attempt(timeout);
      } catch (err) {
        const why = plan.describe(err, timeout);
        if (!plan.wait || !plan.retryable(err)) {
          throw unavailable(`cannot connect to ${plan.what}: ${why}`, err);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw unavailable(
            `gave up waiting for ${plan.what} after ${seconds(notice.waitedMs)}: ${why}`,
            err,
          );
        }
        notice.failed(why);
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
        pause = Math.min(pause * 2, MAX_PAUSE_MS);
      }
    }
  } finally {
    notice.stop();
  }
}
