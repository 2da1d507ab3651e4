import { type CallReply, type Dispatcher, HeldCalls, InFlightLimit } from '../core/index.js';
import { activeTracer, traceHop } from '../observability/tracing.js';
import { type CallMeta, ErrorCode, SwitchboardError } from '../protocol/index.js';
import type { RouteAdvert } from './route-table.js';

/** One direction of a link: calls arriving at the near side, carried to the far side. */
export interface RelayDirection {
  /** Site the calls arrive at. */
  readonly nearSite: string;
  /** Site they are carried to. */
  readonly farSite: string;
  /** Whether the link's policy lets calls to this service through in this direction. */
  allows(service: string): boolean;
  /** Longest path, in sites crossed, a relayed call may have. */
  readonly maxHops: number;
  /**
   * Whether a call sent now can reach the far side: connected, or moving to
   * another NATS node within the reconnect grace.
   */
  farReachable(): boolean;
  /** Sends calls to instances at the far side. */
  readonly far: Dispatcher;
}

/**
 * Relays calls across one direction of a bridge, on headers alone: the body
 * passes through untouched, the path grows by the far site, and the budget
 * shrinks by the time the call was held here. Refuses, in this order, what
 * the link's policy does not let through (`FORBIDDEN`), a call for another
 * service than the route's (`SERVICE_NOT_FOUND`, as an instance does), loops
 * and overlong paths, calls across a link that is down, and calls past the
 * bridge's in-flight limits, of all calls or of those from one origin site
 * (`UNAVAILABLE`); every refusal has completion `no`.
 */
export class Relay {
  readonly #direction: RelayDirection;
  readonly #held = new HeldCalls();
  readonly #inFlight: InFlightLimit;

  /** `inFlight` may be shared with other relays (the bridge's other direction). */
  constructor(direction: RelayDirection, inFlight: InFlightLimit = new InFlightLimit()) {
    this.#direction = direction;
    this.#inFlight = inFlight;
  }

  /** `near→far`, for metrics and logs. */
  get direction(): string {
    return `${this.#direction.nearSite}→${this.#direction.farSite}`;
  }

  /** The link, named by its two sites in a fixed order (`a-b` both ways). */
  get link(): string {
    return [this.#direction.nearSite, this.#direction.farSite].sort().join('-');
  }

  /**
   * The caller gave up on a call this relay carries: the cancel notice
   * follows the call to the far side (and on, hop by hop); whether the call
   * was held here.
   */
  cancel(meta: CallMeta): boolean {
    return this.#direction.far.cancel(meta, this.#held);
  }

  /** Those of `callIds` this relay is carrying now. */
  held(callIds: readonly string[]): string[] {
    return this.#held.held(callIds);
  }

  /**
   * Carries a call that arrived at `receivedAt` on `route` to the far side.
   * Resolves with the reply to give the caller.
   */
  relay(
    route: RouteAdvert,
    meta: CallMeta,
    body: Uint8Array,
    receivedAt: number,
  ): Promise<CallReply> {
    const deadline = receivedAt + meta.budgetMs;
    const refusal = this.#check(route, meta, deadline);
    if (refusal) return Promise.resolve(refusal);
    const bytes = body.length;
    // The caller whose share of the room the call takes: the site it comes from.
    const caller = meta.path[0] ?? '';
    const full = this.#inFlight.take(bytes, caller);
    if (full !== undefined) {
      return Promise.resolve(
        this.#refuse(ErrorCode.UNAVAILABLE, `'${meta.service}': bridge busy: ${full}`, meta),
      );
    }
    const relayed = this.#relayed(route, meta);
    return this.#inFlight.carry(
      bytes,
      caller,
      () => this.#send(relayed, meta, body, deadline),
      (reply) => this.#passBack(reply, relayed),
    );
  }

  /** Why the call may not be relayed, as the reply to give the caller; undefined when it may. */
  #check(route: RouteAdvert, meta: CallMeta, deadline: number): CallReply | undefined {
    const direction = this.#direction;
    const { nearSite, farSite, maxHops } = direction;
    if (!direction.allows(meta.service)) {
      return this.#refuse(
        ErrorCode.FORBIDDEN,
        `the bridge from site '${farSite}' to site '${nearSite}' does not let '${meta.service}' through`,
        meta,
      );
    }
    if (meta.service !== route.service) {
      return this.#refuse(
        ErrorCode.SERVICE_NOT_FOUND,
        `this route carries '${route.service}', not '${meta.service}'`,
        meta,
      );
    }
    if (meta.path.includes(farSite)) {
      return this.#refuse(
        ErrorCode.UNAVAILABLE,
        `'${meta.service}': the call would cross site '${farSite}' twice`,
        meta,
      );
    }
    if (meta.path.length > maxHops) {
      return this.#refuse(
        ErrorCode.UNAVAILABLE,
        `'${meta.service}': the call exceeds the hop limit of ${maxHops}`,
        meta,
      );
    }
    if (!direction.farReachable()) {
      return this.#refuse(
        ErrorCode.UNAVAILABLE,
        `'${meta.service}': the link from site '${nearSite}' to site '${farSite}' is down`,
        meta,
      );
    }
    if (deadline - Date.now() <= 0) {
      return this.#refuse(
        ErrorCode.TIMEOUT,
        `'${meta.service}': deadline passed at the bridge`,
        meta,
      );
    }
    return undefined;
  }

  /** The call's metadata as it goes on: its path grown by the far site, heading for the route's site. */
  #relayed(route: RouteAdvert, meta: CallMeta): CallMeta {
    const { farSite } = this.#direction;
    return { ...meta, path: [...meta.path, farSite], site: meta.site ?? route.site };
  }

  /** Sends the call on to the far side. */
  #send(relayed: CallMeta, meta: CallMeta, body: Uint8Array, deadline: number): Promise<CallReply> {
    const direction = this.#direction;
    const call = { meta: relayed, body, deadline, idempotent: false, heldIn: this.#held };
    const tracer = activeTracer();
    if (!tracer) return direction.far.dispatch(call);
    const { nearSite, farSite } = direction;
    return traceHop(
      tracer,
      `relay ${nearSite}→${farSite}`,
      meta,
      { 'switchboard.link': `${nearSite}-${farSite}`, 'switchboard.target_site': relayed.site! },
      (trace) => {
        relayed.traceparent = trace.traceparent;
        relayed.tracestate = trace.tracestate;
        return direction.far.dispatch(call);
      },
    );
  }

  /** The far side's reply as the caller gets it. */
  #passBack(reply: CallReply, relayed: CallMeta): CallReply {
    if (reply.ok || reply.body || reply.error.code !== ErrorCode.SERVICE_NOT_FOUND) return reply;
    // The route went stale under us: another path may still work.
    const { farSite } = this.#direction;
    const message = `no route to '${relayed.service}' at site '${relayed.site}' from site '${farSite}'`;
    const error = new SwitchboardError(ErrorCode.UNAVAILABLE, message, {
      completed: 'no',
      site: farSite,
      service: relayed.service,
      path: relayed.path,
    });
    return { ok: false, error };
  }

  /** A refusal of this relay, before the call is sent on: completion `no`. */
  #refuse(code: ErrorCode, message: string, meta: CallMeta): CallReply {
    const error = new SwitchboardError(code, message, {
      completed: 'no',
      site: this.#direction.nearSite,
      service: meta.service,
      path: meta.path,
    });
    return { ok: false, error };
  }
}
