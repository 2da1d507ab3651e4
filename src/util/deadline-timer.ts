import { afterArrivals } from './late-timers.js';

/** Longest delay `setTimeout` takes (a later deadline re-arms on the way). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One timer for the deadlines of many things in flight, armed for the
 * earliest: a thing costs no timer of its own. Its owner keeps the things
 * and their deadlines; when the timer fires, `expire(now)` ends those whose
 * deadline has come and returns the next deadline left (`Infinity`: none),
 * for which the timer is armed again. Fired late by a busy process, it
 * waits for the I/O already received first (see {@link afterArrivals}), so
 * that what was answered in time is not timed out.
 */
export class DeadlineTimer {
  readonly #expire: (now: number) => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(expire: (now: number) => number) {
    this.#expire = expire;
  }

  /** Makes sure the timer fires by `deadline` (local epoch ms). Cheap when it already does. */
  arm(deadline: number): void {
    if (deadline >= this.#armedFor) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = deadline;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      afterArrivals(deadline, () => this.#fire());
    }, delay);
  }

  /** Stops the timer: nothing is left in flight (no timer may outlive it). */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    this.disarm();
    const next = this.#expire(Date.now());
    if (next < Number.POSITIVE_INFINITY) this.arm(next);
  }
}
