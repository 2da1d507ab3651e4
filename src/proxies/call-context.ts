import type { CallMeta } from '../protocol/index.js';
import type { CallContext } from './types.js';

/**
 * The context of one call on the server side. The AbortController is created
 * only when a handler reads `signal`: most handlers never do, and it is not free.
 */
export class ServerCallContext implements CallContext {
  readonly service: string;
  readonly method: string;
  readonly callId: string;
  readonly deadline: number;
  readonly path: readonly string[];
  /** Set once a reply (result or error) has been sent. */
  replied = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  #controller: AbortController | undefined;
  #reason: unknown;

  constructor(meta: CallMeta, deadline: number) {
    this.service = meta.service;
    this.method = meta.method;
    this.callId = meta.callId;
    this.deadline = deadline;
    this.path = meta.path;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the call was aborted. */
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  /** Aborts the handler's signal with `reason`. */
  abort(reason: Error): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
