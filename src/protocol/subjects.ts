/**
 * NATS subjects of the protocol. Every site has its own NATS, so subjects name
 * no site: a bridge half reaches a site by being connected to its NATS.
 */

/** The default subject prefix. */
export const DEFAULT_PREFIX = 'sb';

/** Subjects under one prefix; build once with {@link subjectsFor}. */
export interface Subjects {
  readonly prefix: string;
  /** Servers register here; every broker of the site listens (no queue group). */
  readonly register: string;
  /** Servers heartbeat here; every broker listens. */
  readonly heartbeat: string;
  /** Servers deregister here; every broker listens. */
  readonly deregister: string;
  /** Lookup of one service; answered by one broker of the site (queue group). */
  readonly lookup: string;
  /** Listing of the site registry; one broker answers. */
  readonly list: string;
  /** Broker identity (site name, id); one broker answers. */
  readonly info: string;
  /** Calls from thin clients, forwarded by one broker to an instance. */
  readonly call: string;
  /** Registry change events, published by brokers. */
  readonly registryEvents: string;
  /** Broker lifecycle events (started, stopping). */
  readonly brokerEvents: string;
  /** Queue group shared by the brokers of a site. */
  readonly brokerQueue: string;
  /** Subject on which one instance takes calls. */
  instance(instanceId: string): string;
  /** Subject on which brokers send control messages to one instance. */
  control(instanceId: string): string;
}

const TOKEN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Whether `prefix` is usable as a subject prefix (dot-separated tokens, no wildcards). */
export function isValidPrefix(prefix: string): boolean {
  return TOKEN.test(prefix);
}

/** Builds the subjects under `prefix` (default `sb`). */
export function subjectsFor(prefix: string = DEFAULT_PREFIX): Subjects {
  if (!isValidPrefix(prefix)) {
    throw new TypeError(`subject prefix '${prefix}' must be dot-separated [A-Za-z0-9_-] tokens`);
  }
  return {
    prefix,
    register: `${prefix}.broker.register`,
    heartbeat: `${prefix}.broker.heartbeat`,
    deregister: `${prefix}.broker.deregister`,
    lookup: `${prefix}.broker.lookup`,
    list: `${prefix}.broker.list`,
    info: `${prefix}.broker.info`,
    call: `${prefix}.broker.call`,
    registryEvents: `${prefix}.events.registry`,
    brokerEvents: `${prefix}.events.broker`,
    brokerQueue: `${prefix}.brokers`,
    instance: (id) => `${prefix}.instance.${id}`,
    control: (id) => `${prefix}.control.${id}`,
  };
}
