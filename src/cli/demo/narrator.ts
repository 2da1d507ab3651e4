import type { CliIo } from '../io.js';

/** The walkthrough was stopped by a signal. */
export class Interrupted extends Error {}

/** A step did not show what it should (a bug somewhere, or an odd environment). */
export class DemoFailure extends Error {}

/** Milliseconds since `since` (a `performance.now()` reading), rounded. */
export function ms(since: number): number {
  return Math.round(performance.now() - since);
}

/** Writes the walkthrough: numbered steps, indented results, timings. */
export class Narrator {
  readonly #io: CliIo;
  readonly #signal: AbortSignal;
  #steps = 0;

  constructor(io: CliIo, signal: AbortSignal) {
    this.#io = io;
    this.#signal = signal;
  }

  /** Number of the step being run (0 before the first). */
  get steps(): number {
    return this.#steps;
  }

  /** Runs one numbered step, unless a signal asked to stop; `t0` is when it began. */
  async step<T>(title: string, body: (t0: number) => Promise<T>): Promise<T> {
    if (this.#signal.aborted) throw new Interrupted();
    return body(this.heading(title));
  }

  /** Prints the next numbered heading and returns when it began. */
  heading(title: string): number {
    this.#steps += 1;
    this.line(`\n${String(this.#steps).padStart(2)}. ${title}`);
    return performance.now();
  }

  line(text: string): void {
    this.#io.stdout(`${text}\n`);
  }

  /** An indented result line, with the time since `t0` when given. */
  detail(text: string, t0?: number): void {
    this.line(`    ${text}${t0 === undefined ? '' : `  (${ms(t0)} ms)`}`);
  }

  /** Indented lines, e.g. a table. */
  block(lines: readonly string[]): void {
    for (const text of lines) this.line(`    ${text}`);
  }

  /** Goes to stderr: logs and problems, not the walkthrough. */
  problem(text: string): void {
    this.#io.stderr(`${text}\n`);
  }
}
