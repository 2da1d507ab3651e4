import { Codec } from '../protocol/index.js';
import { type ConnectionOptions, openSiteConnection, type SiteConnection } from './connection.js';
import { type GracefulLinkState, type LinkGrace, linkGrace } from './link-grace.js';
import { NatsBrokerClient } from './nats-broker-client.js';
import { NatsInvoker } from './nats-invoker.js';
import { watchPermissions } from './permission-watch.js';
import { RequestChannel } from './request-channel.js';

/**
 * What one component holds of its site's NATS: the connection, one codec,
 * one request channel for every request it sends, its client of the site's
 * brokers and its invoker of calls. `close()` releases them in order.
 */
export class SiteLink {
  readonly conn: SiteConnection;
  readonly codec = new Codec();
  readonly channel: RequestChannel;
  readonly brokers: NatsBrokerClient;
  readonly invoker: NatsInvoker;
  readonly #stopWatching: () => void;

  /**
   * @param site the component's site, named in the errors raised on its
   *   calls. @default the site the brokers name in their answers
   */
  constructor(conn: SiteConnection, site?: string) {
    this.conn = conn;
    this.channel = new RequestChannel(conn.nc, conn.inboxPrefix);
    this.brokers = new NatsBrokerClient(conn, this.channel, this.codec);
    const siteOf = site === undefined ? () => this.brokers.site : () => site;
    this.invoker = new NatsInvoker(conn, this.channel, this.codec, siteOf);
    // A reply sent while we were disconnected is lost for good: fail what was
    // in flight, or, when the connection came back within its grace, what of it
    // was lost.
    this.#grace = linkGrace(conn.reconnectGraceMs, (state) => {
      this.#reachable = state !== 'lost';
      if (state === 'lost') this.channel.failAll('the connection to NATS went down mid-call');
      if (state === 'moved') this.#probeInFlight();
      for (const listener of this.#graceListeners) listener(state);
    });
    this.brokers.onLinkState((state) => {
      this.#connected = state === 'up';
      this.#grace.onState(state);
    });
    // A credential that does not permit what the component does is the usual
    // mistake of a secured site: say it, and fail such requests at once.
    this.#stopWatching = watchPermissions(conn.nc, ({ operation, subject }) => {
      const reason = `NATS refused the ${operation} to ${subject}: this component's credential does not permit it`;
      conn.peerLog.warn(reason, { subject });
      if (operation === 'publish') this.channel.refuse(subject, reason);
    });
  }

  readonly #grace: LinkGrace;
  readonly #graceListeners = new Set<(state: GracefulLinkState) => void>();
  #reachable = true;

  /**
   * Calls `listener` with the connection's state as seen through its
   * reconnect grace (after this link has dealt with its own requests in
   * flight); returns a function that stops it.
   */
  onGracefulState(listener: (state: GracefulLinkState) => void): () => void {
    this.#graceListeners.add(listener);
    return () => this.#graceListeners.delete(listener);
  }

  /** After a reconnection within the grace: asks about every call in flight, ends the lost ones. */
  #probeInFlight(): void {
    const reason = 'the connection to NATS moved mid-call and the answer was lost';
    this.channel.failAllButCalls(reason);
    for (const subject of this.channel.subjectsOfCalls()) void this.invoker.probe(subject, reason);
  }

  /**
   * Ends the calls in flight to an instance (or route) at once when the
   * registry announces that its lease ran out, instead of letting them wait
   * for their deadline (a clean stop still answers what it took); and when it
   * announces that the instance's connection moved, probes the calls in
   * flight to it and ends those it no longer holds (they were lost on the
   * way). For callers: clients and bridge halves.
   */
  abandonCallsOnDeparture(): void {
    const { subjects } = this.conn;
    this.brokers.onInstanceEvent((event) => {
      const targets = [
        subjects.instance(event.service, event.id),
        subjects.route(event.service, event.id),
      ];
      if (event.kind === 'resumed') {
        const reason = `${event.service} instance ${event.id} lost the call when its connection to NATS moved`;
        for (const subject of targets) void this.invoker.probe(subject, reason);
      } else if (event.kind === 'down' && event.reason === 'expired') {
        const reason = `${event.service} instance ${event.id} left while the call was in flight`;
        for (const subject of targets) this.invoker.abandon(subject, reason);
      }
    });
  }

  #connected = true;

  /** Whether the connection to NATS is up (it is reconnecting when not). */
  get connected(): boolean {
    return this.#connected && !this.conn.nc.isClosed();
  }

  /**
   * Whether a request sent now can reach the site: the connection is up, or
   * down for less than its reconnect grace (NATS holds what is sent then,
   * and sends it once reconnected; if the grace runs out, it fails
   * `UNAVAILABLE/maybe` with the rest).
   */
  get reachable(): boolean {
    return this.#reachable && !this.conn.nc.isClosed();
  }

  /** Opens (or borrows) the connection `options` describe. */
  static async open(options: ConnectionOptions, name: string, site?: string): Promise<SiteLink> {
    return new SiteLink(await openSiteConnection(options, name), site);
  }

  /** Stops listening, fails requests in flight with `UNAVAILABLE`, disconnects. */
  async close(): Promise<void> {
    this.#grace.stop();
    this.#graceListeners.clear();
    this.#stopWatching();
    this.brokers.close();
    this.channel.close();
    await this.conn.release();
  }
}
