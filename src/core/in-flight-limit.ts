/** How much a relay (a broker forwarding, a bridge relaying) holds at once. */
export interface InFlightLimits {
  /** Calls held at once: sent on, or waiting to be, and not yet ended. */
  maxCalls: number;
  /** Bytes of the bodies of those calls (each is kept until its call ends, to be sent again). */
  maxBytes: number;
  /**
   * Calls one caller may hold at once, so that one caller cannot take the
   * whole room from the others: at a bridge the calls of one origin site,
   * at a broker those of one thin client. Half of `maxCalls` unless given.
   */
  maxCallsPerCaller: number;
  /** Bytes of call bodies one caller may hold at once. Half of `maxBytes` unless given. */
  maxBytesPerCaller: number;
}

/** Room enough for any healthy site, and bounded memory when callers or servers are not. */
export const DEFAULT_IN_FLIGHT_LIMITS: Readonly<InFlightLimits> = {
  maxCalls: 20_000,
  maxBytes: 256 * 1024 * 1024,
  maxCallsPerCaller: 10_000,
  maxBytesPerCaller: 128 * 1024 * 1024,
};

/** What one caller holds. */
interface Held {
  calls: number;
  bytes: number;
}

/**
 * Counts the calls a relay holds and the bytes of their bodies, and refuses
 * room past its {@link InFlightLimits}: a relay takes room as a call arrives
 * and gives it back when the call ends, so that callers sending faster than
 * servers answer (or servers never answering) cannot grow its memory without
 * bound, and one caller cannot take all of it. One limit may be shared by
 * several relays (a bridge's two directions).
 */
export class InFlightLimit {
  readonly limits: Readonly<InFlightLimits>;
  #calls = 0;
  #bytes = 0;
  /** What each caller holding calls holds. */
  readonly #byCaller = new Map<string, Held>();

  constructor(limits: Partial<InFlightLimits> = {}) {
    const maxCalls = limits.maxCalls ?? DEFAULT_IN_FLIGHT_LIMITS.maxCalls;
    const maxBytes = limits.maxBytes ?? DEFAULT_IN_FLIGHT_LIMITS.maxBytes;
    this.limits = {
      maxCalls,
      maxBytes,
      maxCallsPerCaller: limits.maxCallsPerCaller ?? Math.max(1, Math.floor(maxCalls / 2)),
      maxBytesPerCaller: limits.maxBytesPerCaller ?? Math.max(1, Math.floor(maxBytes / 2)),
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

  /** Callers holding calls now. */
  get callers(): number {
    return this.#byCaller.size;
  }

  /**
   * Takes room for a call of `caller` with a body of `bytes`. Returns
   * undefined when it was taken (give it back with {@link release}), or why
   * there is none.
   */
  take(bytes: number, caller: string): string | undefined {
    const { maxCalls, maxBytes, maxCallsPerCaller, maxBytesPerCaller } = this.limits;
    const full = tooMuch(this.#calls, this.#bytes, bytes, maxCalls, maxBytes, 'its limit');
    if (full !== undefined) return full;
    const held = this.#byCaller.get(caller);
    if (held) {
      const share = 'its limit per caller';
      const over = tooMuch(
        held.calls,
        held.bytes,
        bytes,
        maxCallsPerCaller,
        maxBytesPerCaller,
        share,
      );
      if (over !== undefined) return over;
      held.calls += 1;
      held.bytes += bytes;
    } else {
      this.#byCaller.set(caller, { calls: 1, bytes });
    }
    this.#calls += 1;
    this.#bytes += bytes;
    return undefined;
  }

  /** Gives back the room {@link take} took for a call of `caller` of `bytes`. */
  release(bytes: number, caller: string): void {
    this.#calls -= 1;
    this.#bytes -= bytes;
    const held = this.#byCaller.get(caller);
    if (!held) return;
    if (held.calls <= 1) this.#byCaller.delete(caller);
    else {
      held.calls -= 1;
      held.bytes -= bytes;
    }
  }

  /**
   * Runs `send` for a call of `caller` of `bytes` whose room {@link take}
   * took, gives the room back once the call has ended (or `send` threw at
   * once, which rejects the result), then passes the outcome through `ended`.
   */
  carry<T, R>(
    bytes: number,
    caller: string,
    send: () => Promise<T>,
    ended: (outcome: T) => R,
  ): Promise<R> {
    let sent: Promise<T>;
    try {
      sent = send();
    } catch (err) {
      this.release(bytes, caller);
      return Promise.reject(err);
    }
    return sent.then(
      (outcome) => {
        this.release(bytes, caller);
        return ended(outcome);
      },
      (err: unknown) => {
        this.release(bytes, caller);
        throw err;
      },
    );
  }
}

/**
 * Why `calls` calls of `held` bytes leave no room for one more of `bytes`
 * under `maxCalls` and `maxBytes` (`limit` names them), or undefined. One
 * call is always let through alone, whatever its size: the payload limit
 * bounds it.
 */
function tooMuch(
  calls: number,
  held: number,
  bytes: number,
  maxCalls: number,
  maxBytes: number,
  limit: string,
): string | undefined {
  if (calls >= maxCalls) {
    return `${limit} of ${maxCalls} call${maxCalls === 1 ? '' : 's'} in flight is reached`;
  }
  if (calls > 0 && held + bytes > maxBytes) {
    return `${limit} of ${maxBytes} bytes of calls in flight would be passed (${held} held, ${bytes} more)`;
  }
  return undefined;
}
