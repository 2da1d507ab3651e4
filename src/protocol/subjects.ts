/**
 * NATS subjects of the protocol. Every site has its own NATS, so subjects name
 * no site: a bridge half reaches a site by being connected to its NATS.
 *
 * Subjects that concern one service carry its name as a token, so that NATS
 * permissions can hold a server credential to its own service and a bridge
 * credential to routes (see docs/security.md).
 */

/** The default subject prefix. */
export const DEFAULT_PREFIX = 'sb';

/** What every reply subject starts with, and so every `sb-reply` value must. */
export const INBOX_PREFIX = '_INBOX.';

/**
 * The last token of the subject, under a reply inbox, where a server sends
 * the done notices of forwarded calls in a batch: the body is the reply
 * tokens of the calls that ended, separated by spaces. No reply token
 * starts with `~`.
 */
export const DONE_TOKEN = '~done';

/**
 * The inbox prefix of a component not told otherwise. One may add tokens
 * (`_INBOX.calculator`) so that NATS can hold its credential to reading its
 * own replies; every inbox prefix starts with {@link INBOX_PREFIX}.
 */
export const DEFAULT_INBOX_PREFIX = '_INBOX';

/** Where registrations, heartbeats and deregistrations of one kind of instance go. */
export interface RegistrationSubjects {
  register(service: string): string;
  heartbeat(service: string): string;
  deregister(service: string): string;
  /** What brokers subscribe to: every service (`*` in the service token). */
  readonly all: { register: string; heartbeat: string; deregister: string };
}

/** Subjects under one prefix; build once with {@link subjectsFor}. */
export interface Subjects {
  readonly prefix: string;
  /** Servers register, heartbeat and deregister here; every broker listens (no queue group). */
  readonly services: RegistrationSubjects;
  /** Bridges register the routes they advertise here; every broker listens. */
  readonly routes: RegistrationSubjects;
  /** One message renews every route of a session (`SessionRenewal`); every broker listens. */
  readonly routeRenew: string;
  /** One request registers several routes (`RouteBatchRequest`); every broker listens. */
  readonly routeBatch: string;
  /** Where brokers ask the holder of a session to register its routes again. */
  session(session: string): string;
  /** Lookup of one service; answered by one broker of the site (queue group). */
  readonly lookup: string;
  /** Listing of the site registry, page by page; one broker answers. */
  readonly list: string;
  /** Broker identity (site name, id); one broker answers. */
  readonly info: string;
  /** Calls from thin clients to `service`, forwarded by one broker to an instance. */
  call(service: string): string;
  /** What brokers subscribe to for thin clients' calls. */
  readonly callAll: string;
  /** Registry change events about `service`, published by brokers. */
  registryEvents(service: string): string;
  /** What listeners of every registry event subscribe to. */
  readonly registryEventsAll: string;
  /** Broker lifecycle events (started, stopping). */
  readonly brokerEvents: string;
  /** Queue group shared by the brokers of a site. */
  readonly brokerQueue: string;
  /** Subject on which one instance of `service` takes calls. */
  instance(service: string, instanceId: string): string;
  /** Subject on which a bridge half takes calls for one route it advertises. */
  route(service: string, routeId: string): string;
  /** Subject on which brokers send control messages to one instance (or route). */
  control(service: string, instanceId: string): string;
}

const TOKEN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Whether `prefix` is usable as a subject prefix (dot-separated tokens, no wildcards). */
export function isValidPrefix(prefix: string): boolean {
  return TOKEN.test(prefix);
}

/**
 * Whether `prefix` is usable as an inbox prefix: `_INBOX`, or `_INBOX.`
 * followed by dot-separated `[A-Za-z0-9_-]` tokens (no wildcards), at most
 * 128 characters (room is left for the rest of a reply subject).
 */
export function isValidInboxPrefix(prefix: string): boolean {
  if (prefix.length > 128 || !TOKEN.test(prefix)) return false;
  return prefix === DEFAULT_INBOX_PREFIX || prefix.startsWith(INBOX_PREFIX);
}

/**
 * A subject to publish to: dot-separated tokens of printable ASCII other than
 * `*` and `>` (no wildcards, no white space), at most 256 characters. What a
 * peer hands us to publish to (a reply subject) must pass this first.
 */
const PUBLISH_SUBJECT = /^[!-)+-\-/-=?-~]+(\.[!-)+-\-/-=?-~]+)*$/;

/** Whether `subject` is one a message may be published to. */
export function isPublishSubject(subject: string): boolean {
  return subject.length <= 256 && PUBLISH_SUBJECT.test(subject);
}

/** The requests of the NATS service discovery protocol (ADR-32). */
const DISCOVERY_VERBS = ['PING', 'INFO', 'STATS'] as const;

/**
 * Where the NATS service discovery requests (`$SRV.PING`, `.INFO`, `.STATS`)
 * that concern `service` arrive: bare (every service), `.<service>` and
 * `.<service>.<id>`, so that a server may be held to those of its own
 * service. Without `service`, every discovery request. These subjects take
 * no prefix: the protocol fixes them.
 *
 * The verbs are spelt out: nats-server lets a user allowed `$SRV.*` subscribe
 * to `$SRV.>` (its permission check reads the `>` as a token `*` matches),
 * which would hear the requests of every service.
 */
export function discoverySubjects(service?: string): string[] {
  if (service === undefined) return ['$SRV.>'];
  return DISCOVERY_VERBS.flatMap((verb) => [
    `$SRV.${verb}`,
    `$SRV.${verb}.${service}`,
    `$SRV.${verb}.${service}.*`,
  ]);
}

function registrationSubjects(base: string): RegistrationSubjects {
  return {
    register: (service) => `${base}.register.${service}`,
    heartbeat: (service) => `${base}.heartbeat.${service}`,
    deregister: (service) => `${base}.deregister.${service}`,
    all: {
      register: `${base}.register.*`,
      heartbeat: `${base}.heartbeat.*`,
      deregister: `${base}.deregister.*`,
    },
  };
}

/** Builds the subjects under `prefix` (default `sb`). */
export function subjectsFor(prefix: string = DEFAULT_PREFIX): Subjects {
  if (!isValidPrefix(prefix)) {
    throw new TypeError(`subject prefix '${prefix}' must be dot-separated [A-Za-z0-9_-] tokens`);
  }
  return {
    prefix,
    services: registrationSubjects(`${prefix}.broker`),
    routes: registrationSubjects(`${prefix}.broker.route`),
    routeRenew: `${prefix}.broker.route.renew`,
    routeBatch: `${prefix}.broker.route.batch`,
    session: (session) => `${prefix}.session.${session}`,
    lookup: `${prefix}.broker.lookup`,
    list: `${prefix}.broker.list`,
    info: `${prefix}.broker.info`,
    call: (service) => `${prefix}.broker.call.${service}`,
    callAll: `${prefix}.broker.call.*`,
    registryEvents: (service) => `${prefix}.events.registry.${service}`,
    registryEventsAll: `${prefix}.events.registry.*`,
    brokerEvents: `${prefix}.events.broker`,
    brokerQueue: `${prefix}.brokers`,
    instance: (service, id) => `${prefix}.instance.${service}.${id}`,
    route: (service, id) => `${prefix}.route.${service}.${id}`,
    control: (service, id) => `${prefix}.control.${service}.${id}`,
  };
}

/** The last token of a subject (the service name of `….register.<service>`). */
export function lastToken(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}
