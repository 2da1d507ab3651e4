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
 *
 * When nothing is left in flight the owner calls {@link idle}, not
 * {@link disarm}: the timer stays armed but no longer keeps the process
 * alive, so that the next thing, due later, costs no timer at all. Node
 * drops its list of timers of one duration when the last is cleared and
 * makes it again at the next `setTimeout`; with one call after another,
 * that was about half of what a call cost over the hand-written floor.
 * An idle timer still holds its owner until its deadline: an owner is
 * released at once only by {@link disarm} (its `close()`).
 */
export class DeadlineTimer {
  readonly #expire: (now: number) => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Number.POSITIVE_INFINITY;
  /** Armed, but left by {@link idle} not to keep the process alive. */
  #idle = false;

  constructor(expire: (now: number) => number) {
    this.#expire = expire;
  }

  /** Makes sure the timer fires by `deadline` (local epoch ms). Cheap when it already does. */
  arm(deadline: number): void {
    if (deadline >= this.#armedFor) {
      if (this.#idle) this.#wake();
      return;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#idle = false;
    this.#armedFor = deadline;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      afterArrivals(deadline, () => this.#fire());
    }, delay);
  }

  /**
   * Nothing is in flight: the timer no longer keeps the process alive. It
   * stays armed for the next thing due later; firing with nothing in
   * flight, it ends (the owner's `expire` returns `Infinity`).
   */
  idle(): void {
    if (this.#timer === undefined || this.#idle) return;
    this.#idle = true;
    this.#timer.unref();
  }

  /** Clears the timer (its owner closes): none is left. */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#idle = false;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #wake(): void {
    this.#idle = false;
    this.#timer?.ref();
  }

  #fire(): void {
    this.disarm();
    const next = this.#expire(Date.now());
    if (next < Number.POSITIVE_INFINITY) this.arm(next);
  }
}
