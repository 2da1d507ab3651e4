import type { CallMeta } from '../protocol/index.js';
import type { Invoker } from './types.js';

/** Where a call is now: the subject its current attempt went to. */
export interface CallPosition {
  readonly subject: string;
}

/**
 * The calls a relay (a broker forwarding, a bridge relaying) is carrying,
 * by call id, so that the caller's cancel notice can follow the call to
 * wherever it is now. A call id unknown here (finished, or never seen) is
 * dropped: cancel notices match the call id alone.
 */
export class HeldCalls {
  readonly #held = new Map<string, CallPosition>();

  /** Holds the call `callId`, now at `position`, until {@link release}. */
  hold(callId: string, position: CallPosition): void {
    this.#held.set(callId, position);
  }

  /** The call held under `callId` at `position` has settled (a later call of the same id stays). */
  release(callId: string, position: CallPosition): void {
    if (this.#held.get(callId) === position) this.#held.delete(callId);
  }

  /** Passes a cancel notice on to where the call is now; whether it was held. */
  cancel(meta: CallMeta, invoker: Invoker): boolean {
    const subject = this.#held.get(meta.callId)?.subject;
    if (!subject) return false;
    invoker.cancel(subject, meta);
    return true;
  }

  /** Those of `callIds` held now. */
  held(callIds: readonly string[]): string[] {
    return callIds.filter((id) => this.#held.has(id));
  }

  /** Calls held now. */
  get size(): number {
    return this.#held.size;
  }
}
