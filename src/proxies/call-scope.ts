/**
 * The call a handler serves, found again by the calls it makes, without
 * passing it along: an AsyncLocalStorage. Only servers that ask for it
 * (`ServerOptions.asyncContext`) use it: on Node 20, once any async-local
 * store is in use, every promise in the process costs more.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallContext } from './types.js';

const served = new AsyncLocalStorage<CallContext>();
let used = false;

/** The call being served where this code runs, if a server runs its handlers in one. */
export function currentCall(): CallContext | undefined {
  // Reading a store that was never used costs nothing, and installs nothing.
  return used ? served.getStore() : undefined;
}

/** Runs `fn` as serving `context`: calls made inside find it with {@link currentCall}. */
export function serving<T>(context: CallContext, fn: () => T): T {
  used = true;
  return served.run(context, fn);
}
