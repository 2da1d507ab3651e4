/**
 * The seams of the call core. Everything in `src/core` works against these
 * two interfaces and knows nothing of NATS: `transport/` implements them over
 * a NATS connection, the unit tests over in-memory fakes.
 */
import type {
  CallMeta,
  InstanceRegistration,
  InstanceView,
  ServiceView,
  SwitchboardError,
} from '../protocol/index.js';

/** A call as sent to one place: an instance, or a broker that forwards it. */
export interface OutgoingCall {
  /** Routing metadata; `budgetMs` is the time left when the call is sent. */
  readonly meta: CallMeta;
  /** The msgpack-encoded arguments, passed on untouched. */
  readonly body: Uint8Array;
  /** Milliseconds to wait for the reply. */
  readonly timeoutMs: number;
  /** Aborts the call: it ends `CANCELLED` and the instance is told. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Set by a forwarding broker: the subject the instance answers (the
   * caller's). The reply that comes back to the sender is then an empty
   * notice that the call ended.
   */
  readonly replyTo?: string | undefined;
}

/** The outcome of one call: a result body, or a failure. */
export type CallReply = CallResult | CallFailure;

/** The far end answered with a result. */
export interface CallResult {
  readonly ok: true;
  /** The msgpack-encoded result (empty for a forwarding broker's "ended" notice). */
  readonly body: Uint8Array;
}

/** The call failed: the far end answered with an error, or no answer could be had. */
export interface CallFailure {
  readonly ok: false;
  readonly error: SwitchboardError;
  /** The error reply as received, when the far end sent one (relays pass it on untouched). */
  readonly body?: Uint8Array | undefined;
  /**
   * Set when our own connection went down with the call in flight: the
   * instance is not to blame, and a retry may go to it again.
   */
  readonly linkDown?: boolean | undefined;
}

/**
 * Sends calls. The only implementation that talks to NATS builds the call
 * headers and decodes error replies; nothing else does.
 */
export interface Invoker {
  /** Sends `call` to `subject`; never rejects: every failure is a {@link CallFailure}. */
  invoke(subject: string, call: OutgoingCall): Promise<CallReply>;
  /** Tells whoever holds the call `meta.callId` at `subject` that the caller gave up. */
  cancel(subject: string, meta: CallMeta): void;
  /**
   * Ends every call in flight to `subject` with `UNAVAILABLE` (completion
   * `maybe`): the instance there has left, so no answer is coming.
   */
  abandon(subject: string, reason: string): void;
  /**
   * Asks whoever listens on `subject` which of our calls in flight there it
   * still holds, and ends the others with `UNAVAILABLE` (completion `maybe`)
   * giving `reason`: they were lost on the way. Without an answer nothing is
   * ended (the calls run to their deadlines). Resolves when done.
   */
  probe(subject: string, reason: string): Promise<void>;
}

/** What a broker said about a service. */
export interface Resolution {
  /** Site of the broker that answered. */
  readonly site: string;
  readonly instances: readonly InstanceView[];
  /** Set when the reply held only the nearest instances that fit in one message. */
  readonly truncated?: boolean | undefined;
  /** Set when there is no instance but one went away recently: the site it was at. */
  readonly departedFrom?: string | undefined;
  /** Sites that hosted an instance recently and host none now. */
  readonly departedSites?: readonly string[] | undefined;
  /** For a service never seen: a registered one with a name near it. */
  readonly similar?: string | undefined;
}

/** Every service of a site registry. */
export interface SiteListing {
  site: string;
  services: ServiceView[];
  /** The state of the registry listed (see `list`'s `unless`). */
  generation?: string | undefined;
  /** Nothing changed since the generation `list` was given: `services` is empty. */
  unchanged?: boolean | undefined;
}

/** Identity of one broker. */
export interface BrokerIdentity {
  site: string;
  brokerId: string;
  /** Epoch milliseconds. */
  startedAt: number;
}

/** A broker's confirmation of a registration. */
export interface RegistrationAck {
  site: string;
  brokerId: string;
  /** Milliseconds without a heartbeat after which the broker drops the instance. */
  leaseMs: number;
}

/** An instance appeared in or left a site registry. */
export interface InstanceEvent {
  /** `resumed`: the instance's connection to NATS moved; calls in flight to it may be lost. */
  kind: 'up' | 'down' | 'resumed';
  service: string;
  id: string;
  site: string;
  /** For `down`: it stopped heartbeating (`expired`), or stopped cleanly (`deregistered`). */
  reason?: 'expired' | 'deregistered' | undefined;
  /** For `up`, when the broker sent it: the instance as a lookup describes it. */
  view?: InstanceView | undefined;
  /**
   * When the broker sent them: its registry's generation before and after
   * this change (a copy at `since` is at `generation` with this event applied).
   */
  since?: string | undefined;
  generation?: string | undefined;
}

/** A broker started (servers register again) or is stopping. */
export interface BrokerLifecycleEvent {
  kind: 'started' | 'stopping';
  site: string;
  brokerId: string;
}

/** Whether the connection to the site is up. */
export type LinkState = 'up' | 'down';

/** A lease session: routes registered with it are renewed together. */
export interface LeaseSession {
  /** Session id (an ID: letters, digits, `_`, `-`). */
  id: string;
  /** The secret its routes are registered with. */
  secret: string;
}

/** What a session renewal says of the routes its sender holds (see `SessionRenewal`). */
export interface SessionCounts {
  /** Routes whose registration a broker confirmed. */
  routes: number;
  /** Routes held, registered or being registered (not those whose last attempt a broker refused). */
  held: number;
  /** Routes deregistered lately, newest last. */
  gone: readonly string[];
  /** The holder's connection to NATS has just moved (see `SessionRenewal.resumed`). */
  resumed?: boolean;
}

/**
 * What became of one route of a batch: its confirmation, what `register`
 * would have rejected with, or `undefined` when no broker takes batches
 * (the route is to be registered on its own).
 */
export type RouteResult = RegistrationAck | SwitchboardError | undefined;

/** A broker's ask for every route of a session again. */
export interface SessionAsk {
  /** The broker takes routes in batches (else, of an earlier revision, one request each). */
  batches: boolean;
}

/** Stops a listener. */
export type Unsubscribe = () => void;

/**
 * Every request to a site's brokers and every event stream they publish, in
 * domain types. Requests reject with a {@link SwitchboardError}: the broker's
 * error reply as it came, or `UNAVAILABLE` when no broker answered.
 */
export interface BrokerClient {
  /** Site of the broker that answered last; undefined until one has. */
  readonly site: string | undefined;
  lookup(service: string, range: string | undefined, timeoutMs: number): Promise<Resolution>;
  /**
   * The whole listing; with `unless` (the `generation` of a listing held),
   * only word that nothing changed when the registry is still at it.
   */
  list(timeoutMs: number, unless?: string): Promise<SiteListing>;
  info(timeoutMs: number): Promise<BrokerIdentity>;
  /** Registers a server's instance, or a bridge's route (one with `route` set). */
  register(instance: InstanceRegistration, timeoutMs: number): Promise<RegistrationAck>;
  /**
   * Registers a bridge half's routes in as few requests as they fit
   * (`RouteBatchRequest`). Never rejects: one {@link RouteResult} per
   * route, in order.
   */
  registerRoutes(
    routes: readonly InstanceRegistration[],
    timeoutMs: number,
  ): Promise<RouteResult[]>;
  /**
   * Renews the lease of an instance this process registered; `resumed` says
   * its connection to NATS has just moved (see `InstanceClaim.resumed`).
   */
  heartbeat(instance: InstanceRegistration, resumed?: boolean): void;
  /** Removes an instance this process registered. */
  deregister(instance: InstanceRegistration): void;
  onInstanceEvent(listener: (event: InstanceEvent) => void): Unsubscribe;
  onBrokerEvent(listener: (event: BrokerLifecycleEvent) => void): Unsubscribe;
  /** A broker asks `instance` to register again (it does not know it). */
  onReregister(instance: InstanceRegistration, listener: () => void): Unsubscribe;
  /** Renews, in one message, the lease of every route registered in `session`. */
  renewSession(session: LeaseSession, counts: SessionCounts): void;
  /** A broker asks for every route of `session` again (it knows fewer than were renewed). */
  onSessionLost(session: LeaseSession, listener: (ask: SessionAsk) => void): Unsubscribe;
  onLinkState(listener: (state: LinkState) => void): Unsubscribe;
  /** Stops every listener. */
  close(): void;
}
