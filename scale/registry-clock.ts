/**
 * Dates the last change of the brokers' registries, so that convergence is
 * timed by the change that brought it rather than by the check that saw
 * it: a check of a big mesh takes tens of milliseconds and runs every few
 * hundred, which would add up to a poll interval to every time measured.
 *
 * Every registry counts its changes (`Registry.generation`); the clock
 * samples their sum every few milliseconds and keeps when it last moved.
 * A sample that runs late (a busy process) dates a change later than it
 * was: times are upper bounds, never earlier than the change.
 */
export class RegistryClock {
  readonly #read: () => number;
  readonly #timer: ReturnType<typeof setInterval>;
  #sum: number;
  #since: number;

  /** `read` gives the sum of every registry's generation. */
  constructor(read: () => number, everyMs = 10) {
    this.#read = read;
    this.#sum = read();
    this.#since = performance.now();
    this.#timer = setInterval(() => this.sample(), everyMs);
    this.#timer.unref();
  }

  /**
   * Samples now; returns since when (`performance.now()`) the registries
   * have been as they are now.
   */
  sample(): number {
    const sum = this.#read();
    if (sum !== this.#sum) {
      this.#sum = sum;
      this.#since = performance.now();
    }
    return this.#since;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
