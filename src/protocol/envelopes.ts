/**
 * Wire envelopes of the registry protocol (msgpack bodies), and their run-time
 * validation: `unknown` in, a typed envelope or a `BAD_REQUEST` out. Every
 * string that later becomes a subject token (ids, service names, sites) is
 * checked against its pattern here, at the door.
 *
 * Call requests and replies carry their routing metadata in NATS headers (see
 * `headers.ts`) and their arguments or result as a bare msgpack body.
 */
import { ErrorCode, type ErrorData, isErrorCode, SwitchboardError } from './errors.js';
import { isValidRange, isValidVersion, MAX_RANGE_LENGTH } from './semver.js';

/** Version of the wire protocol; a message with another version is refused. */
export const PROTOCOL_VERSION = 1;

/** Names of services, methods and sites: a letter or `_`, then letters, digits, `_` and `-`; at most 128. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;

/** Instance ids: letters, digits, `_` and `-` (they are subject tokens); at most 128. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Ownership secrets of instances: 16 to 128 letters, digits, `_` or `-`. */
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** A registry generation: printable, short (a broker's name and its count of changes). */
const GENERATION_PATTERN = /^[\x21-\x7e]{1,160}$/;

/** Call ids: 1 to 128 letters, digits, `_`, `-`, `.` or `:`. */
export const CALL_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Most call ids one probe may list. */
export const MAX_PROBE_CALLS = 1000;

/** Longest path, in sites, a route or a call may carry. */
export const MAX_PATH_SITES = 64;

/** What a server-side proxy (or a bridge half) tells the broker about one instance. */
export interface InstanceRegistration {
  /** Unique id of the instance; also the last token of its call subject. */
  id: string;
  service: string;
  /** Semantic version, `MAJOR.MINOR.PATCH`. */
  version: string;
  methods: string[];
  metadata: Record<string, string>;
  /** How often the instance heartbeats; the broker derives its lease from it. */
  heartbeatMs: number;
  /**
   * Proof of ownership, chosen by the registrant: heartbeats, deregistration
   * and re-registration of a live instance must carry the same secret.
   */
  secret: string;
  /**
   * For routes relayed by a bridge: the site that hosts the service and the
   * sites between here and there (nearest first, hosting site last).
   * Absent for a server attached to this site.
   */
  route?: { site: string; path: string[] };
  /**
   * For routes: the lease session they belong to. One {@link SessionRenewal}
   * renews every route of a session, so a bridge half sends one message per
   * interval however many routes it holds. Absent: the instance heartbeats alone.
   */
  session?: string;
}

/** An instance as lookups and listings describe it. */
export interface InstanceView {
  id: string;
  service: string;
  version: string;
  methods: string[];
  metadata: Record<string, string>;
  /** Site hosting the instance. */
  site: string;
  /** Sites a call crosses to reach it, nearest first; empty for a local instance. */
  path: string[];
  /** Number of bridges a call crosses: `path.length`. */
  hops: number;
}

export interface RegisterRequest {
  v: number;
  instance: InstanceRegistration;
}

export interface RegisterReply {
  v: number;
  site: string;
  brokerId: string;
  /** Milliseconds without a heartbeat after which the broker drops the instance. */
  leaseMs: number;
}

/** Most routes one {@link RouteBatchRequest} registers. */
export const MAX_BATCH_ROUTES = 256;

/**
 * Registers several routes of a bridge half in one request (each as its own
 * `RegisterRequest` on the route subjects would), at most {@link MAX_BATCH_ROUTES}.
 */
export interface RouteBatchRequest {
  v: number;
  instances: InstanceRegistration[];
}

/** What a broker did with one route of a batch: registered it (and its lease), or refused it. */
export type RouteBatchResult = { leaseMs: number } | { error: ErrorData };

/** The answer to a {@link RouteBatchRequest}: one result per instance, in its order. */
export interface RouteBatchReply {
  v: number;
  site: string;
  brokerId: string;
  results: RouteBatchResult[];
}

/** A heartbeat, or a deregistration: which instance, and the proof that the sender holds it. */
export interface InstanceClaim {
  v: number;
  id: string;
  secret: string;
  /**
   * On a heartbeat: the instance's connection to NATS has just moved (it
   * reconnected, e.g. to another node of the site's cluster), so calls sent
   * to it meanwhile may have been lost. The broker announces it (a `resumed`
   * registry event) and callers probe their calls in flight.
   */
  resumed?: boolean;
}

/**
 * Sent to an instance's or a route's subject with the `sb-probe` header (and
 * a reply subject): which of these calls of the caller's do you hold?
 */
export interface ProbeRequest {
  v: number;
  /** Call ids, at most {@link MAX_PROBE_CALLS}. */
  calls: string[];
}

/** The answer to a {@link ProbeRequest}: the listed calls still held (queued or running). */
export interface ProbeReply {
  v: number;
  held: string[];
}

/** Renews the lease of every route of one session (one message for all of them). */
export interface SessionRenewal {
  v: number;
  /** The session (an ID), as the routes' registrations named it. */
  session: string;
  /** The secret the routes were registered with. */
  secret: string;
  /**
   * Routes the sender holds registered in the session. A broker that knows
   * fewer asks for them again (`ControlMessage` on the session subject).
   */
  routes: number;
  /**
   * Routes the sender holds in the session, registered or being registered
   * (not those whose last attempt a broker refused).
   * A broker that holds more of the session asks for them all again and
   * then drops those not registered since (their deregistration was lost).
   * Optional: without it, a broker does not look for such routes.
   */
  held?: number;
  /**
   * Routes of the session the sender deregistered lately (at most
   * {@link MAX_GONE_ROUTES}): a broker still holding one drops it, as if
   * its deregistration, which may have been lost, had arrived.
   */
  gone?: string[];
  /**
   * The sender's connection to NATS has just moved: every route of the
   * session says so at once, as a `resumed` heartbeat of each would (the
   * broker announces each one, at most once a second per route).
   */
  resumed?: boolean;
}

/** Most route ids one {@link SessionRenewal} names as gone. */
export const MAX_GONE_ROUTES = 1000;

export interface LookupRequest {
  v: number;
  service: string;
  /** Version range, e.g. `^1.2.0`; absent means any. */
  version?: string;
}

export interface LookupReply {
  v: number;
  site: string;
  instances: InstanceView[];
  /**
   * When there is no instance but the service had one recently: the site the
   * last one was at. Callers then report `UNAVAILABLE` rather than `SERVICE_NOT_FOUND`.
   */
  departedFrom?: string;
  /**
   * Sites that hosted an instance of the service recently and host none now:
   * a caller pinned to one of them reports `UNAVAILABLE`, not `SERVICE_NOT_FOUND`.
   */
  departedSites?: string[];
  /** Set when more instances exist than fit in one reply (the nearest are sent). */
  truncated?: boolean;
  /** For a service never seen: a registered one with a name near it (a likely typo). */
  similar?: string;
}

/** Asks for one page of the listing: the first, or the one after cursor `after`. */
export interface ListRequest {
  v: number;
  after?: string;
  /**
   * The `generation` of a listing the asker already holds: when the
   * registry has not changed since, the broker answers `unchanged` and lists
   * nothing. First page only.
   */
  unless?: string;
}

/** One service version in a listing, with its instances. */
export interface ServiceView {
  name: string;
  version: string;
  methods: string[];
  instances: InstanceView[];
}

/** One page of a listing; `next` is the cursor of the next page, absent on the last. */
export interface ListReply {
  v: number;
  site: string;
  services: ServiceView[];
  next?: string;
  /** Which state of the registry this is (opaque: the broker and its count of changes). */
  generation?: string;
  /** The registry is still at the generation `unless` named: nothing is listed. */
  unchanged?: boolean;
}

export interface BrokerInfo {
  v: number;
  site: string;
  brokerId: string;
  startedAt: number;
}

/**
 * Published by a broker whenever an instance appears or disappears, and
 * (`resumed`) when an instance says its connection to NATS moved: callers
 * then probe the calls they have in flight to it, which may have been lost.
 */
export interface RegistryEvent {
  v: number;
  kind: 'up' | 'down' | 'resumed';
  service: string;
  id: string;
  site: string;
  /**
   * For `down`: `expired` when the instance stopped heartbeating (it is
   * gone: calls in flight to it will get no answer), `deregistered` for a
   * clean stop (calls in flight are still answered).
   */
  reason?: 'expired' | 'deregistered';
  /**
   * For `up`: the instance as a lookup describes it, so that a listener
   * keeping a copy of the registry (a bridge half) needs no lookup. Optional:
   * without it, look the service up.
   */
  view?: InstanceView;
  /**
   * The `generation` (as a listing gives it) of the publishing broker's
   * registry just before this change, and just after it. A listener whose
   * copy was at `since` holds the registry at `generation` once it applies
   * the event; any other event means it may have missed one. Optional (both
   * or neither).
   */
  since?: string;
  generation?: string;
}

/** Published by a broker when it starts (servers re-register) or stops. */
export interface BrokerEvent {
  v: number;
  kind: 'started' | 'stopping';
  site: string;
  brokerId: string;
}

/**
 * Sent by a broker to one instance (or lease session). `reregister`: the
 * broker does not know it. `ping`: the broker checks that something still
 * listens there (NATS answers for it when nothing does); ignore it.
 */
export interface ControlMessage {
  v: number;
  kind: 'reregister' | 'ping';
  /**
   * On a `reregister` on a session's subject: the asking broker takes routes
   * in batches (`RouteBatchRequest`). Absent: it may be of a revision before
   * batches, so the routes go one request each.
   */
  batch?: boolean;
  /**
   * On a `reregister`: whose ask it is, the tag of the secret that came with
   * the heartbeat or renewal that drew it (the first 16
   * characters of the base64url SHA-256 of the secret). A holder heeds an
   * ask with its own tag, or with none (a broker of an earlier revision).
   */
  holder?: string;
}

// ---------------------------------------------------------------------------
// Validation

function bad(message: string): SwitchboardError {
  return SwitchboardError.refusal(ErrorCode.BAD_REQUEST, message, { completed: 'no' });
}

/** A value from the network, described for an error message without running any of its code. */
/** A range as an error names it: cut short, and saying when it is too long to be one. */
export function describeRange(range: string): string {
  const shown = describeValue(range);
  return range.length > MAX_RANGE_LENGTH
    ? `${shown} (${range.length} characters, over ${MAX_RANGE_LENGTH})`
    : shown;
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 64 ? `'${value.slice(0, 64)}…'` : `'${value}'`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'binary data';
  return `a ${typeof value}`;
}

type Obj = Record<string, unknown>;

function object(value: unknown, what: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(`${what} must be a map (got ${describeValue(value)})`);
  }
  return value as Obj;
}

/** An own field of a decoded map (never one inherited through a crafted `__proto__`). */
function field(o: Obj, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** Whether an optional field is there: nil counts as absent. */
function given(o: Obj, key: string): boolean {
  const v = field(o, key);
  return v !== undefined && v !== null;
}

function str(o: Obj, key: string, what: string): string {
  const v = field(o, key);
  if (typeof v !== 'string') throw bad(`${what}.${key} must be a string`);
  return v;
}

function isGeneration(v: unknown): v is string {
  return typeof v === 'string' && GENERATION_PATTERN.test(v);
}

function optStr(o: Obj, key: string, what: string): string | undefined {
  const v = field(o, key);
  return v === undefined || v === null ? undefined : str(o, key, what);
}

function num(o: Obj, key: string, what: string): number {
  const v = field(o, key);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${what}.${key} must be a number`);
  return v;
}

function strArray(o: Obj, key: string, what: string): string[] {
  const v = field(o, key);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw bad(`${what}.${key} must be an array of strings`);
  }
  return v as string[];
}

function oneOf<T extends string>(o: Obj, key: string, what: string, allowed: readonly T[]): T {
  const v = str(o, key, what);
  if (!(allowed as readonly string[]).includes(v)) {
    throw bad(`${what}.${key} must be one of ${allowed.join(', ')} (got ${describeValue(v)})`);
  }
  return v as T;
}

function matching(o: Obj, key: string, what: string, pattern: RegExp): string {
  const v = str(o, key, what);
  if (!pattern.test(v)) throw bad(`${what}.${key} ${describeValue(v)} is not valid`);
  return v;
}

function name(o: Obj, key: string, what: string): string {
  return matching(o, key, what, NAME_PATTERN);
}

function names(o: Obj, key: string, what: string, max: number): string[] {
  return patterned(o, key, what, max, NAME_PATTERN, 'a valid name');
}

/** An array of at most `max` strings, each matching `pattern` (`noun` says what they must be). */
function patterned(
  o: Obj,
  key: string,
  what: string,
  max: number,
  pattern: RegExp,
  noun: string,
): string[] {
  const list = strArray(o, key, what);
  if (list.length > max) throw bad(`${what}.${key} has ${list.length} entries, over ${max}`);
  for (const s of list) {
    if (!pattern.test(s)) throw bad(`${what}.${key}: ${describeValue(s)} is not ${noun}`);
  }
  return list;
}

function stringMap(o: Obj, key: string, what: string): Record<string, string> {
  const v = field(o, key);
  if (v === undefined || v === null) return {};
  const m = object(v, `${what}.${key}`);
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(m)) {
    if (typeof value !== 'string') throw bad(`${what}.${key}.${k} must be a string`);
    out[k] = value;
  }
  return out;
}

/** Checks the envelope is a map of the supported protocol version. */
function envelope(value: unknown, what: string): Obj {
  const o = object(value, what);
  const v = field(o, 'v');
  if (v !== PROTOCOL_VERSION) {
    throw bad(
      `${what}: unsupported protocol version ${describeValue(v)} (expected ${PROTOCOL_VERSION})`,
    );
  }
  return o;
}

function route(value: unknown): { site: string; path: string[] } | undefined {
  if (value === undefined || value === null) return undefined;
  const r = object(value, 'instance.route');
  const path = names(r, 'path', 'instance.route', MAX_PATH_SITES);
  if (path.length === 0) throw bad('instance.route.path must name at least the hosting site');
  return { site: name(r, 'site', 'instance.route'), path };
}

function instanceRegistration(value: unknown): InstanceRegistration {
  const what = 'instance';
  const o = object(value, what);
  const reg: InstanceRegistration = {
    id: matching(o, 'id', what, ID_PATTERN),
    service: name(o, 'service', what),
    version: str(o, 'version', what),
    methods: names(o, 'methods', what, Number.POSITIVE_INFINITY),
    metadata: stringMap(o, 'metadata', what),
    heartbeatMs: num(o, 'heartbeatMs', what),
    secret: matching(o, 'secret', what, SECRET_PATTERN),
  };
  if (reg.heartbeatMs <= 0) throw bad('instance.heartbeatMs must be positive');
  if (reg.version.length > 256 || !isValidVersion(reg.version)) {
    throw bad(`instance.version ${describeValue(reg.version)} is not MAJOR.MINOR.PATCH`);
  }
  const r = route(field(o, 'route'));
  if (r) reg.route = r;
  if (given(o, 'session')) {
    reg.session = matching(o, 'session', what, ID_PATTERN);
  }
  return reg;
}

function instanceView(value: unknown): InstanceView {
  const what = 'instance';
  const o = object(value, what);
  const path = names(o, 'path', what, MAX_PATH_SITES);
  return {
    id: matching(o, 'id', what, ID_PATTERN),
    service: name(o, 'service', what),
    version: str(o, 'version', what),
    methods: names(o, 'methods', what, Number.POSITIVE_INFINITY),
    metadata: stringMap(o, 'metadata', what),
    site: name(o, 'site', what),
    path,
    hops: path.length,
  };
}

function array<T>(o: Obj, key: string, what: string, item: (v: unknown) => T): T[] {
  const v = field(o, key);
  if (!Array.isArray(v)) throw bad(`${what}.${key} must be an array`);
  return v.map(item);
}

/** The body of an error reply. Unknown codes become `INTERNAL` rather than failing. */
function errorData(value: unknown): ErrorData {
  const o = object(value, 'error');
  const get = (key: string) => field(o, key);
  const completed = get('completed');
  const code = get('code');
  const message = get('message');
  const errorName = get('name');
  const data: ErrorData = {
    code: isErrorCode(code) ? code : ErrorCode.INTERNAL,
    message: typeof message === 'string' ? message : 'unknown error',
    name: typeof errorName === 'string' ? errorName : 'Error',
    completed: completed === 'yes' || completed === 'no' ? completed : 'maybe',
  };
  const appCode = get('appCode');
  const details = get('details');
  const site = get('site');
  const service = get('service');
  const path = get('path');
  if (typeof appCode === 'string') data.appCode = appCode;
  if (details !== undefined) data.details = details;
  if (typeof site === 'string') data.site = site;
  if (typeof service === 'string') data.service = service;
  if (Array.isArray(path) && path.every((s) => typeof s === 'string')) data.path = path;
  return data;
}

function claim(value: unknown, what: string): InstanceClaim {
  const o = envelope(value, what);
  const c: InstanceClaim = {
    v: PROTOCOL_VERSION,
    id: matching(o, 'id', what, ID_PATTERN),
    secret: matching(o, 'secret', what, SECRET_PATTERN),
  };
  if (field(o, 'resumed') === true) c.resumed = true;
  return c;
}

function callIds(o: Obj, key: string, what: string): string[] {
  return patterned(o, key, what, MAX_PROBE_CALLS, CALL_ID_PATTERN, 'a call id');
}

/**
 * Validators: each takes a decoded body and returns the typed envelope or throws `BAD_REQUEST`.
 * (Frozen rather than `as const`: Stryker does not mutate inside `as const`.)
 */
export const parse = Object.freeze({
  registerRequest(value: unknown): RegisterRequest {
    const o = envelope(value, 'register');
    return { v: PROTOCOL_VERSION, instance: instanceRegistration(field(o, 'instance')) };
  },
  registerReply(value: unknown): RegisterReply {
    const o = envelope(value, 'register reply');
    return {
      v: PROTOCOL_VERSION,
      site: name(o, 'site', 'register reply'),
      brokerId: str(o, 'brokerId', 'register reply'),
      leaseMs: num(o, 'leaseMs', 'register reply'),
    };
  },
  /** A batch of routes: one that cannot be read, or is not a route, refuses the whole batch. */
  routeBatchRequest(value: unknown): RouteBatchRequest {
    const what = 'route batch';
    const o = envelope(value, what);
    const items = field(o, 'instances');
    if (!Array.isArray(items) || items.length === 0 || items.length > MAX_BATCH_ROUTES) {
      throw bad(`${what}.instances must be an array of 1 to ${MAX_BATCH_ROUTES} registrations`);
    }
    const instances = items.map((item, i) => {
      try {
        const instance = instanceRegistration(item);
        if (!instance.route) throw bad('instance.route must say where the route leads');
        return instance;
      } catch (err) {
        throw bad(`${what}.instances[${i}]: ${(err as Error).message}`);
      }
    });
    return { v: PROTOCOL_VERSION, instances };
  },
  routeBatchReply(value: unknown): RouteBatchReply {
    const what = 'route batch reply';
    const o = envelope(value, what);
    return {
      v: PROTOCOL_VERSION,
      site: name(o, 'site', what),
      brokerId: str(o, 'brokerId', what),
      results: array(o, 'results', what, (item) => {
        const r = object(item, `${what} result`);
        if (given(r, 'error')) return { error: errorData(field(r, 'error')) };
        const leaseMs = num(r, 'leaseMs', `${what} result`);
        if (!(leaseMs > 0)) throw bad(`${what} result.leaseMs must be positive`);
        return { leaseMs };
      }),
    };
  },
  heartbeat(value: unknown): InstanceClaim {
    return claim(value, 'heartbeat');
  },
  deregister(value: unknown): InstanceClaim {
    return claim(value, 'deregister');
  },
  sessionRenewal(value: unknown): SessionRenewal {
    const what = 'session renewal';
    const o = envelope(value, what);
    const count = (field: 'routes' | 'held') => {
      const n = num(o, field, what);
      if (!(Number.isInteger(n) && n >= 0)) {
        throw bad(`${what}.${field} must be a count (got ${describeValue(n)})`);
      }
      return n;
    };
    const renewal: SessionRenewal = {
      v: PROTOCOL_VERSION,
      session: matching(o, 'session', what, ID_PATTERN),
      secret: matching(o, 'secret', what, SECRET_PATTERN),
      routes: count('routes'),
    };
    if (given(o, 'held')) renewal.held = count('held');
    if (given(o, 'gone')) {
      renewal.gone = patterned(o, 'gone', what, MAX_GONE_ROUTES, ID_PATTERN, 'an id');
    }
    if (field(o, 'resumed') === true) renewal.resumed = true;
    return renewal;
  },
  lookupRequest(value: unknown): LookupRequest {
    const o = envelope(value, 'lookup');
    const req: LookupRequest = { v: PROTOCOL_VERSION, service: name(o, 'service', 'lookup') };
    const version = optStr(o, 'version', 'lookup');
    if (version !== undefined) {
      if (!isValidRange(version)) {
        throw bad(
          `lookup.version ${describeRange(version)} is not a version range (e.g. ^1.2.0, >=1.0.0 <2)`,
        );
      }
      req.version = version;
    }
    return req;
  },
  lookupReply(value: unknown): LookupReply {
    const o = envelope(value, 'lookup reply');
    const reply: LookupReply = {
      v: PROTOCOL_VERSION,
      site: name(o, 'site', 'lookup reply'),
      instances: array(o, 'instances', 'lookup reply', instanceView),
    };
    const departedFrom = optStr(o, 'departedFrom', 'lookup reply');
    if (departedFrom !== undefined) reply.departedFrom = departedFrom;
    if (given(o, 'departedSites')) {
      reply.departedSites = names(o, 'departedSites', 'lookup reply', 1024);
    }
    if (field(o, 'truncated') === true) reply.truncated = true;
    const similar = field(o, 'similar');
    if (typeof similar === 'string' && NAME_PATTERN.test(similar)) reply.similar = similar;
    return reply;
  },
  listRequest(value: unknown): ListRequest {
    const o = envelope(value, 'list');
    const request: ListRequest = { v: PROTOCOL_VERSION };
    const after = optStr(o, 'after', 'list');
    if (after !== undefined) request.after = after;
    const unless = optStr(o, 'unless', 'list');
    if (unless !== undefined) request.unless = unless;
    return request;
  },
  listReply(value: unknown): ListReply {
    const o = envelope(value, 'list reply');
    const reply: ListReply = {
      v: PROTOCOL_VERSION,
      site: name(o, 'site', 'list reply'),
      services: array(o, 'services', 'list reply', (s) => {
        const so = object(s, 'service');
        return {
          name: name(so, 'name', 'service'),
          version: str(so, 'version', 'service'),
          methods: names(so, 'methods', 'service', Number.POSITIVE_INFINITY),
          instances: array(so, 'instances', 'service', instanceView),
        };
      }),
    };
    const next = optStr(o, 'next', 'list reply');
    if (next !== undefined) reply.next = next;
    const generation = optStr(o, 'generation', 'list reply');
    if (generation !== undefined) reply.generation = generation;
    if (field(o, 'unchanged') === true) reply.unchanged = true;
    return reply;
  },
  brokerInfo(value: unknown): BrokerInfo {
    const o = envelope(value, 'broker info');
    return {
      v: PROTOCOL_VERSION,
      site: name(o, 'site', 'broker info'),
      brokerId: str(o, 'brokerId', 'broker info'),
      startedAt: num(o, 'startedAt', 'broker info'),
    };
  },
  registryEvent(value: unknown): RegistryEvent {
    const what = 'registry event';
    const o = envelope(value, what);
    const event: RegistryEvent = {
      v: PROTOCOL_VERSION,
      kind: oneOf(o, 'kind', what, ['up', 'down', 'resumed'] as const),
      service: name(o, 'service', what),
      id: matching(o, 'id', what, ID_PATTERN),
      site: name(o, 'site', what),
      ...(field(o, 'reason') === 'expired'
        ? { reason: 'expired' as const }
        : field(o, 'reason') === 'deregistered'
          ? { reason: 'deregistered' as const }
          : {}),
    };
    if (event.kind === 'up' && given(o, 'view')) {
      const view = instanceView(field(o, 'view'));
      if (view.id !== event.id || view.service !== event.service || view.site !== event.site) {
        throw bad(`${what}.view must describe the instance the event names`);
      }
      event.view = view;
    }
    // Optional, and only a hint: generations that are not both well formed are
    // dropped (the event is then followed as one without them), not refused.
    const since = field(o, 'since');
    const generation = field(o, 'generation');
    if (isGeneration(since) && isGeneration(generation)) {
      event.since = since;
      event.generation = generation;
    }
    return event;
  },
  probeRequest(value: unknown): ProbeRequest {
    const o = envelope(value, 'probe');
    return { v: PROTOCOL_VERSION, calls: callIds(o, 'calls', 'probe') };
  },
  probeReply(value: unknown): ProbeReply {
    const o = envelope(value, 'probe reply');
    return { v: PROTOCOL_VERSION, held: callIds(o, 'held', 'probe reply') };
  },
  brokerEvent(value: unknown): BrokerEvent {
    const o = envelope(value, 'broker event');
    return {
      v: PROTOCOL_VERSION,
      kind: oneOf(o, 'kind', 'broker event', ['started', 'stopping'] as const),
      site: name(o, 'site', 'broker event'),
      brokerId: str(o, 'brokerId', 'broker event'),
    };
  },
  control(value: unknown): ControlMessage {
    const o = envelope(value, 'control');
    const control: ControlMessage = {
      v: PROTOCOL_VERSION,
      kind: oneOf(o, 'kind', 'control', ['reregister', 'ping'] as const),
    };
    if (field(o, 'batch') === true) control.batch = true;
    const holder = optStr(o, 'holder', 'control');
    if (holder !== undefined) control.holder = holder;
    return control;
  },
  /** The body of an error reply. Unknown codes become `INTERNAL` rather than failing. */
  errorData,
});
