/** How much a relay (a broker forwarding, a bridge relaying) holds at once. */
export interface InFlightLimits {
  /** Calls held at once: sent on, or waiting to be, and not yet ended. */
  maxCalls: number;
  /** Bytes of the bodies of those calls (each is kept until its call ends, to be sent again). */
  maxBytes: number;
}

/** Room enough for any healthy site, and bounded memory when callers or servers are not. */
export const DEFAULT_IN_FLIGHT_LIMITS: Readonly<InFlightLimits> = {
  maxCalls: 20_000,
  maxBytes: 256 * 1024 * 1024,
};

/**
 * Counts the calls a relay holds and the bytes of their bodies, and refuses
 * room past its {@link InFlightLimits}: a relay takes room as a call arrives
 * and gives it back when the call ends, so that callers sending faster than
 * servers answer (or servers never answering) cannot grow its memory without
 * bound. One limit may be shared by several relays (a bridge's two directions).
 */
export class InFlightLimit {
  readonly limits: Readonly<InFlightLimits>;
  #calls = 0;
  #bytes = 0;

  constructor(limits: Partial<InFlightLimits> = {}) {
    this.limits = {
      maxCalls: limits.maxCalls ?? DEFAULT_IN_FLIGHT_LIMITS.maxCalls,
      maxBytes: limits.maxBytes ?? DEFAULT_IN_FLIGHT_LIMITS.maxBytes,
    };
  }

  /** Calls held now. */
  get calls(): number {
    return this.#calls;
  }

  /** Bytes of body held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Takes room for a call with a body of `bytes`. Returns undefined when it
   * was taken (give it back with {@link release}), or why there is none.
   */
  take(bytes: number): string | undefined {
    const { maxCalls, maxBytes } = this.limits;
    if (this.#calls >= maxCalls) {
      return `its limit of ${maxCalls} call${maxCalls === 1 ? '' : 's'} in flight is reached`;
    }
    // One call is always let through alone, whatever its size: the payload limit bounds it.
    if (this.#calls > 0 && this.#bytes + bytes > maxBytes) {
      return `its limit of ${maxBytes} bytes of calls in flight would be passed (${this.#bytes} held, ${bytes} more)`;
    }
    this.#calls += 1;
    this.#bytes += bytes;
    return undefined;
  }

  /** Gives back the room {@link take} took for a call of `bytes`. */
  release(bytes: number): void {
    this.#calls -= 1;
    this.#bytes -= bytes;
  }

  /**
   * Runs `send` for a call of `bytes` whose room {@link take} took, gives the
   * room back once the call has ended (or `send` threw at once, which rejects
   * the result), then passes the outcome through `ended`.
   */
  carry<T, R>(bytes: number, send: () => Promise<T>, ended: (outcome: T) => R): Promise<R> {
    let sent: Promise<T>;
    try {
      sent = send();
    } catch (err) {
      this.release(bytes);
      return Promise.reject(err);
    }
    return sent.then(
      (outcome) => {
        this.release(bytes);
        return ended(outcome);
      },
      (err: unknown) => {
        this.release(bytes);
        throw err;
      },
    );
  }
}
