import type { Logger } from './logger.js';

/** How often a component that is still waiting says so. */
export const WAITING_NOTICE_MS = 5000;

/** `1.5 s`, `12 s`: a duration as a message says it. */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${s < 10 ? Math.round(s * 10) / 10 : Math.round(s)} s`;
}

/** The lines a waiting component writes; see {@link waitingNotice}. */
export interface WaitingNotice {
  /** An attempt failed: the first one is said at once, the last reason is said again every few seconds. */
  failed(reason: string): void;
  /** The wait is over (done or given up): no more lines. Safe to call twice. */
  stop(): void;
  /** Milliseconds since the notice was created (when the wait began). */
  readonly waitedMs: number;
}

/**
 * Says on `logger.warn` what a component waits for and why it still does, so
 * that a terminal is never silent while something is missing:
 *
 * ```text
 * waiting for NATS at nats://a:4222 (connection refused)
 * still waiting for NATS at nats://a:4222 after 5 s (connection refused)
 * ```
 *
 * Nothing is said if the wait ends before an attempt fails. The timer is
 * unref'd: it never keeps a process alive.
 *
 * @param what what is awaited, with where: `NATS at nats://a:4222`, `a broker on the local side`
 * @param everyMs how often to repeat while waiting
 */
export function waitingNotice(
  logger: Logger,
  what: string,
  everyMs: number = WAITING_NOTICE_MS,
): WaitingNotice {
  const started = Date.now();
  let reason = '';
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  return {
    failed(why) {
      reason = why;
      if (stopped || timer !== undefined) return;
      logger.warn(`waiting for ${what} (${reason})`);
      timer = setInterval(() => {
        logger.warn(`still waiting for ${what} after ${seconds(Date.now() - started)} (${reason})`);
      }, everyMs);
      timer.unref?.();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    get waitedMs() {
      return Date.now() - started;
    },
  };
}
