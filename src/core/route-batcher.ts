import { ErrorCode, type InstanceRegistration, SwitchboardError } from '../protocol/index.js';
import type { BrokerClient, RegistrationAck } from './types.js';

/** The result of a route a broker client left without one (it owes one per route). */
const missing = new SwitchboardError(ErrorCode.INTERNAL, 'no result for this route of the batch', {
  completed: 'maybe',
});

/** A route withdrawn before its batch went. */
const withdrawn = new SwitchboardError(ErrorCode.UNAVAILABLE, 'withdrawn before it was sent', {
  completed: 'no',
});

interface Queued {
  readonly route: InstanceRegistration;
  readonly resolve: (ack: RegistrationAck) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Gathers the route registrations asked for in one turn of the event loop
 * (a bridge half advertising a site's routes, or registering them all again)
 * and sends them together with {@link BrokerClient.registerRoutes}: a
 * few requests for hundreds of routes instead of one each. Where no broker
 * takes batches, each goes on its own. A batch waits as long as the longest
 * wait asked for by one of its registrations.
 */
export class RouteBatcher {
  readonly #brokers: BrokerClient;
  readonly #wanted: (route: InstanceRegistration) => boolean;
  #queued: Queued[] = [];
  /** The longest wait asked for by a registration queued for the next batch. */
  #timeoutMs = 0;

  /**
   * `wanted` says, when a batch goes, whether a route queued for it is
   * still to be registered (one withdrawn meanwhile is left out).
   */
  constructor(brokers: BrokerClient, wanted: (route: InstanceRegistration) => boolean) {
    this.#brokers = brokers;
    this.#wanted = wanted;
  }

  /**
   * Registers `route` in the next batch; settles as {@link BrokerClient.register}
   * would, with this route's own result.
   */
  register(route: InstanceRegistration, timeoutMs: number): Promise<RegistrationAck> {
    if (this.#queued.length === 0) queueMicrotask(() => this.#flush());
    this.#timeoutMs = Math.max(this.#timeoutMs, timeoutMs);
    return new Promise((resolve, reject) => this.#queued.push({ route, resolve, reject }));
  }

  #flush(): void {
    const timeoutMs = this.#timeoutMs;
    const queued = this.#stillWanted(this.#queued);
    this.#queued = [];
    this.#timeoutMs = 0;
    if (queued.length === 0) return;
    void this.#brokers
      .registerRoutes(
        queued.map((q) => q.route),
        timeoutMs,
      )
      .then(
        (results) => {
          const alone: Queued[] = [];
          queued.forEach((q, i) => {
            const result = results.length === queued.length ? results[i] : missing;
            if (result === undefined) alone.push(q);
            else if (result instanceof SwitchboardError) q.reject(result);
            else q.resolve(result);
          });
          // No broker takes batches: each route on its own, unless withdrawn meanwhile.
          for (const q of this.#stillWanted(alone)) {
            this.#brokers.register(q.route, timeoutMs).then(q.resolve, q.reject);
          }
        },
        (err: unknown) => {
          for (const q of queued) q.reject(err);
        },
      );
  }

  /** Those of `queued` still to be registered; the others are told they were withdrawn. */
  #stillWanted(queued: readonly Queued[]): Queued[] {
    const wanted: Queued[] = [];
    for (const q of queued) {
      if (this.#wanted(q.route)) wanted.push(q);
      else q.reject(withdrawn);
    }
    return wanted;
  }
}
