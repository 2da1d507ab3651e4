import type { CallMeta } from '../protocol/index.js';
import { type FailoverCall, failover } from './failover.js';
import type { HeldCalls } from './held-calls.js';
import type { InstanceRouter } from './instance-picker.js';
import type { CallReply, Invoker } from './types.js';

/**
 * Sends calls to the instances of a service, failing over where that is
 * safe: the client-side proxy's call path, and a bridge relay's on its far
 * side. Bodies pass through untouched.
 */
export class Dispatcher {
  readonly #invoker: Invoker;
  readonly #router: InstanceRouter;

  constructor(invoker: Invoker, router: InstanceRouter) {
    this.#invoker = invoker;
    this.#router = router;
  }

  /**
   * Carries out the call: `meta.site`, when set, pins the hosting site;
   * `meta.path` empty means the call starts at this site. A call with
   * `heldIn` is held there while it runs, so that a cancel notice can follow it.
   */
  dispatch(call: FailoverCall): Promise<CallReply> {
    return failover(this.#invoker, call, this.#router.picker(call.meta));
  }

  /** Passes a cancel notice on to where a call held in `held` is now. */
  cancel(meta: CallMeta, held: HeldCalls): boolean {
    return held.cancel(meta, this.#invoker);
  }
}
