import { type FailoverCall, failover } from './failover.js';
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

  /** Site of the callers this dispatcher serves, once known. */
  get site(): string | undefined {
    return this.#router.source.site;
  }

  /**
   * Carries out the call: `meta.site`, when set, pins the hosting site;
   * `meta.path` empty means the call starts at this site.
   */
  dispatch(call: FailoverCall): Promise<CallReply> {
    return failover(this.#invoker, call, this.#router.picker(call.meta));
  }
}
