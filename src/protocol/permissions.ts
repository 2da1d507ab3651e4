/**
 * What each role of a site may publish and subscribe to, derived from the
 * subject layout, so that NATS permissions give each credential what its
 * role needs and nothing more (see docs/security.md). Pure: no NATS here.
 */
import { discoverySubjects, INBOX_PREFIX, type Subjects } from './subjects.js';

/** The roles a site gives credentials to. */
export const ROLES = ['client', 'observer', 'server', 'broker', 'bridge'] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** Who a credential is for. */
export interface RoleGrant {
  role: Role;
  /** Where the credential's reply subjects start (`_INBOX.<user>`): it may read only those. */
  inboxPrefix: string;
  /** For a server: the services it may register and serve (it is a client of every other). */
  services?: readonly string[];
}

/** NATS subject permissions of one credential. */
export interface SubjectPermissions {
  /** Subjects it may publish to (wildcards allowed); nothing else. */
  publish: string[];
  /** Subjects it may subscribe to; nothing else. */
  subscribe: string[];
  /**
   * Whether it may also answer the requests it receives, on their reply
   * subjects (NATS `allow_responses`, one answer per request).
   */
  allowResponses: boolean;
}

/** Every inbox: where a server or a bridge half answers a call a broker forwarded (`sb-reply`). */
const EVERY_INBOX = `${INBOX_PREFIX}>`;

/**
 * The permissions of a credential of `grant.role` on a site whose subjects
 * are `s`:
 *
 * - **client**: asks brokers (lookup, list, info), calls (thin, direct, routes),
 *   hears registry events, reads its own inbox.
 * - **observer**: asks brokers, hears every event and sends service
 *   discovery requests (`$SRV`); calls nothing.
 * - **server**: a client, that also registers, heartbeats, deregisters and
 *   takes calls for its own services only, hears control messages and
 *   discovery requests for them and broker events, and answers forwarded
 *   calls in any inbox.
 * - **broker**: takes registrations, questions and thin calls; forwards
 *   calls, publishes events and control messages; answers requests; may
 *   list, so that `switchboard ls` runs with its credential (in its
 *   container, and as the health check of `deploy/site.cluster.yml`).
 * - **bridge** (one half, at one site): registers routes, takes calls on
 *   routes, relays calls to instances and routes, asks brokers, hears events
 *   and the discovery requests of every service (it answers for the remote
 *   ones it advertises).
 *
 * @throws {TypeError} for a server without services
 */
export function permissionsFor(s: Subjects, grant: RoleGrant): SubjectPermissions {
  const ownInbox = `${grant.inboxPrefix}.>`;
  const ask = [s.lookup, s.list, s.info];
  const relay = [s.instance('*', '*'), s.route('*', '*')];
  const call = [s.call('*'), ...relay];
  switch (grant.role) {
    case 'client':
      return {
        publish: [...ask, ...call],
        subscribe: [ownInbox, s.registryEventsAll],
        allowResponses: false,
      };
    case 'observer':
      return {
        publish: [...ask, ...discoverySubjects()],
        subscribe: [ownInbox, s.registryEventsAll, s.brokerEvents],
        allowResponses: false,
      };
    case 'server': {
      const services = grant.services ?? [];
      if (services.length === 0) throw new TypeError('a server credential needs its services');
      return {
        publish: [
          ...services.flatMap((name) => [
            s.services.register(name),
            s.services.heartbeat(name),
            s.services.deregister(name),
          ]),
          EVERY_INBOX,
          ...ask,
          ...call,
        ],
        subscribe: [
          ...services.flatMap((name) => [s.instance(name, '*'), s.control(name, '*')]),
          // The bare requests (`$SRV.PING`) are every service's: once.
          ...new Set(services.flatMap((name) => discoverySubjects(name))),
          s.brokerEvents,
          ownInbox,
          s.registryEventsAll,
        ],
        allowResponses: true,
      };
    }
    case 'broker':
      return {
        publish: [
          s.registryEventsAll,
          s.brokerEvents,
          s.control('*', '*'),
          s.session('*'),
          ...relay,
          ...ask,
        ],
        subscribe: [
          ...Object.values(s.services.all),
          ...Object.values(s.routes.all),
          s.routeRenew,
          s.routeBatch,
          s.lookup,
          s.list,
          s.info,
          s.callAll,
          ownInbox,
          // With `ask`: what `switchboard ls` does with a broker's credential.
          s.registryEventsAll,
        ],
        allowResponses: true,
      };
    case 'bridge':
      return {
        publish: [
          ...Object.values(s.routes.all),
          s.routeRenew,
          s.routeBatch,
          ...relay,
          EVERY_INBOX,
          ...ask,
        ],
        subscribe: [
          s.route('*', '*'),
          s.control('*', '*'),
          s.session('*'),
          s.registryEventsAll,
          s.brokerEvents,
          ownInbox,
          ...discoverySubjects(),
        ],
        allowResponses: true,
      };
  }
}
