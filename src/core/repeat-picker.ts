import type { SwitchboardError } from '../protocol/index.js';
import type { Attempt, Picker } from './failover.js';

/**
 * Sends every attempt of a call to one subject, at most `attempts` times: a
 * thin client's broker, which picks another instance on each attempt.
 */
export class RepeatPicker implements Picker, Attempt {
  readonly subject: string;
  readonly site: string | undefined;
  #left: number;

  constructor(subject: string, attempts: number, site: string | undefined) {
    this.subject = subject;
    this.#left = attempts;
    this.site = site;
  }

  next(_call: unknown, lastError: SwitchboardError | undefined): Attempt | SwitchboardError {
    if (this.#left <= 0 && lastError) return lastError;
    this.#left--;
    return this;
  }

  end(): void {}
}
