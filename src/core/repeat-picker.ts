import type { SwitchboardError } from '../protocol/index.js';
import { type Attempt, type FailoverCall, failover, type Picker } from './failover.js';
import type { CallReply, Invoker } from './types.js';

/** How many times a thin client sends one call to its brokers (each picks another instance). */
const BROKER_ATTEMPTS = 3;

/**
 * A thin client's call: sent to its site's brokers on `subject` (the broker
 * picks the instance), and sent again only where that is safe, a few times at
 * most.
 */
export function viaBroker(
  invoker: Invoker,
  call: FailoverCall,
  subject: string,
  site: string | undefined,
): Promise<CallReply> {
  return failover(invoker, call, new RepeatPicker(subject, BROKER_ATTEMPTS, site));
}

/**
 * Sends every attempt of a call to one subject, at most `attempts` times: a
 * thin client's broker, which picks another instance on each attempt.
 */
class RepeatPicker implements Picker, Attempt {
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
