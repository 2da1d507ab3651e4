/**
 * Wire envelopes of the registry protocol (msgpack bodies), and their run-time
 * validation: `unknown` in, a typed envelope or a `BAD_REQUEST` out.
 *
 * Call requests and replies carry their routing metadata in NATS headers (see
 * `headers.ts`) and their arguments or result as a bare msgpack body.
 */
import { ErrorCode, type ErrorData, isErrorCode, SwitchboardError } from './errors.js';
import { isValidRange } from './semver.js';

/** Version of the wire protocol; a message with another version is refused. */
export const PROTOCOL_VERSION = 1;

/** Names of services, methods and sites: a letter or `_`, then letters, digits, `_` and `-`; at most 128. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;

/** Instance ids: letters, digits, `_` and `-` (they are subject tokens); at most 128. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** What a server-side proxy (or a bridge half) tells the broker about one instance. */
export interface InstanceRegistration {
  /** Unique id of the instance; also the token of its call subject. */
  id: string;
  service: string;
  /** Semantic version, `MAJOR.MINOR.PATCH`. */
  version: string;
  methods: string[];
  metadata: Record<string, string>;
  /** How often the instance heartbeats; the broker derives its lease from it. */
  heartbeatMs: number;
  /**
   * For routes relayed by a bridge: the site that hosts the service and the
   * sites between here and there (nearest first, hosting site last).
   * Absent for a server attached to this site.
   */
  route?: { site: string; path: string[] };
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

export interface HeartbeatMessage {
  v: number;
  id: string;
}

export interface DeregisterMessage {
  v: number;
  id: string;
}

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
}

export interface ListRequest {
  v: number;
}

/** One service version in a listing, with its instances. */
export interface ServiceView {
  name: string;
  version: string;
  methods: string[];
  instances: InstanceView[];
}

export interface ListReply {
  v: number;
  site: string;
  services: ServiceView[];
}

export interface BrokerInfo {
  v: number;
  site: string;
  brokerId: string;
  startedAt: number;
}

/** Published by a broker whenever an instance appears or disappears. */
export interface RegistryEvent {
  v: number;
  kind: 'up' | 'down';
  service: string;
  id: string;
  site: string;
}

/** Published by a broker when it starts (servers re-register) or stops. */
export interface BrokerEvent {
  v: number;
  kind: 'started' | 'stopping';
  site: string;
  brokerId: string;
}

/** Sent by a broker to one instance. `reregister`: the broker does not know it. */
export interface ControlMessage {
  v: number;
  kind: 'reregister';
}

// ---------------------------------------------------------------------------
// Validation

function bad(message: string): SwitchboardError {
  return new SwitchboardError(ErrorCode.BAD_REQUEST, message, { completed: 'no' });
}

type Obj = Record<string, unknown>;

function object(value: unknown, what: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(`${what} must be a map`);
  }
  return value as Obj;
}

function str(o: Obj, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw bad(`${what}.${key} must be a string`);
  return v;
}

function optStr(o: Obj, key: string, what: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(o, key, what);
}

function num(o: Obj, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${what}.${key} must be a number`);
  return v;
}

function strArray(o: Obj, key: string, what: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw bad(`${what}.${key} must be an array of strings`);
  }
  return v as string[];
}

function oneOf<T extends string>(o: Obj, key: string, what: string, allowed: readonly T[]): T {
  const v = str(o, key, what);
  if (!(allowed as readonly string[]).includes(v)) {
    throw bad(`${what}.${key} must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

function matching(o: Obj, key: string, what: string, pattern: RegExp): string {
  const v = str(o, key, what);
  if (!pattern.test(v)) throw bad(`${what}.${key} '${v}' is not valid`);
  return v;
}

function name(o: Obj, key: string, what: string): string {
  return matching(o, key, what, NAME_PATTERN);
}

function stringMap(o: Obj, key: string, what: string): Record<string, string> {
  if (o[key] === undefined || o[key] === null) return {};
  const m = object(o[key], `${what}.${key}`);
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') throw bad(`${what}.${key}.${k} must be a string`);
  }
  return m as Record<string, string>;
}

/** Checks the envelope is a map of the supported protocol version. */
function envelope(value: unknown, what: string): Obj {
  const o = object(value, what);
  if (o.v !== PROTOCOL_VERSION) {
    throw bad(
      `${what}: unsupported protocol version ${String(o.v)} (expected ${PROTOCOL_VERSION})`,
    );
  }
  return o;
}

function instanceRegistration(value: unknown): InstanceRegistration {
  const what = 'instance';
  const o = object(value, what);
  const methods = strArray(o, 'methods', what);
  for (const m of methods) if (!NAME_PATTERN.test(m)) throw bad(`method name '${m}' is not valid`);
  const reg: InstanceRegistration = {
    id: matching(o, 'id', what, ID_PATTERN),
    service: name(o, 'service', what),
    version: str(o, 'version', what),
    methods,
    metadata: stringMap(o, 'metadata', what),
    heartbeatMs: num(o, 'heartbeatMs', what),
  };
  if (reg.heartbeatMs <= 0) throw bad('instance.heartbeatMs must be positive');
  if (o.route !== undefined && o.route !== null) {
    const r = object(o.route, 'instance.route');
    reg.route = {
      site: str(r, 'site', 'instance.route'),
      path: strArray(r, 'path', 'instance.route'),
    };
  }
  return reg;
}

function instanceView(value: unknown): InstanceView {
  const what = 'instance';
  const o = object(value, what);
  return {
    id: str(o, 'id', what),
    service: str(o, 'service', what),
    version: str(o, 'version', what),
    methods: strArray(o, 'methods', what),
    metadata: stringMap(o, 'metadata', what),
    site: str(o, 'site', what),
    path: strArray(o, 'path', what),
    hops: num(o, 'hops', what),
  };
}

function array<T>(o: Obj, key: string, what: string, item: (v: unknown) => T): T[] {
  const v = o[key];
  if (!Array.isArray(v)) throw bad(`${what}.${key} must be an array`);
  return v.map(item);
}

/** Validators: each takes a decoded body and returns the typed envelope or throws `BAD_REQUEST`. */
export const parse = {
  registerRequest(value: unknown): RegisterRequest {
    const o = envelope(value, 'register');
    return { v: PROTOCOL_VERSION, instance: instanceRegistration(o.instance) };
  },
  registerReply(value: unknown): RegisterReply {
    const o = envelope(value, 'register reply');
    return {
      v: PROTOCOL_VERSION,
      site: str(o, 'site', 'register reply'),
      brokerId: str(o, 'brokerId', 'register reply'),
      leaseMs: num(o, 'leaseMs', 'register reply'),
    };
  },
  heartbeat(value: unknown): HeartbeatMessage {
    const o = envelope(value, 'heartbeat');
    return { v: PROTOCOL_VERSION, id: str(o, 'id', 'heartbeat') };
  },
  deregister(value: unknown): DeregisterMessage {
    const o = envelope(value, 'deregister');
    return { v: PROTOCOL_VERSION, id: str(o, 'id', 'deregister') };
  },
  lookupRequest(value: unknown): LookupRequest {
    const o = envelope(value, 'lookup');
    const req: LookupRequest = { v: PROTOCOL_VERSION, service: name(o, 'service', 'lookup') };
    const version = optStr(o, 'version', 'lookup');
    if (version !== undefined) {
      if (!isValidRange(version)) {
        throw bad(`lookup.version '${version}' is not a version range (e.g. ^1.2.0, >=1.0.0 <2)`);
      }
      req.version = version;
    }
    return req;
  },
  lookupReply(value: unknown): LookupReply {
    const o = envelope(value, 'lookup reply');
    const reply: LookupReply = {
      v: PROTOCOL_VERSION,
      site: str(o, 'site', 'lookup reply'),
      instances: array(o, 'instances', 'lookup reply', instanceView),
    };
    const departedFrom = optStr(o, 'departedFrom', 'lookup reply');
    if (departedFrom !== undefined) reply.departedFrom = departedFrom;
    return reply;
  },
  listRequest(value: unknown): ListRequest {
    envelope(value, 'list');
    return { v: PROTOCOL_VERSION };
  },
  listReply(value: unknown): ListReply {
    const o = envelope(value, 'list reply');
    return {
      v: PROTOCOL_VERSION,
      site: str(o, 'site', 'list reply'),
      services: array(o, 'services', 'list reply', (s) => {
        const so = object(s, 'service');
        return {
          name: str(so, 'name', 'service'),
          version: str(so, 'version', 'service'),
          methods: strArray(so, 'methods', 'service'),
          instances: array(so, 'instances', 'service', instanceView),
        };
      }),
    };
  },
  brokerInfo(value: unknown): BrokerInfo {
    const o = envelope(value, 'broker info');
    return {
      v: PROTOCOL_VERSION,
      site: str(o, 'site', 'broker info'),
      brokerId: str(o, 'brokerId', 'broker info'),
      startedAt: num(o, 'startedAt', 'broker info'),
    };
  },
  registryEvent(value: unknown): RegistryEvent {
    const o = envelope(value, 'registry event');
    return {
      v: PROTOCOL_VERSION,
      kind: oneOf(o, 'kind', 'registry event', ['up', 'down'] as const),
      service: str(o, 'service', 'registry event'),
      id: str(o, 'id', 'registry event'),
      site: str(o, 'site', 'registry event'),
    };
  },
  brokerEvent(value: unknown): BrokerEvent {
    const o = envelope(value, 'broker event');
    return {
      v: PROTOCOL_VERSION,
      kind: oneOf(o, 'kind', 'broker event', ['started', 'stopping'] as const),
      site: str(o, 'site', 'broker event'),
      brokerId: str(o, 'brokerId', 'broker event'),
    };
  },
  control(value: unknown): ControlMessage {
    const o = envelope(value, 'control');
    return { v: PROTOCOL_VERSION, kind: oneOf(o, 'kind', 'control', ['reregister'] as const) };
  },
  /** The body of an error reply. Unknown codes become `INTERNAL` rather than failing. */
  errorData(value: unknown): ErrorData {
    const o = object(value, 'error');
    const completed = o.completed;
    const data: ErrorData = {
      code: isErrorCode(o.code) ? o.code : ErrorCode.INTERNAL,
      message: typeof o.message === 'string' ? o.message : 'unknown error',
      name: typeof o.name === 'string' ? o.name : 'Error',
      completed: completed === 'yes' || completed === 'no' ? completed : 'maybe',
    };
    if (typeof o.appCode === 'string') data.appCode = o.appCode;
    if (o.details !== undefined) data.details = o.details;
    if (typeof o.site === 'string') data.site = o.site;
    if (typeof o.service === 'string') data.service = o.service;
    if (Array.isArray(o.path) && o.path.every((s) => typeof s === 'string')) data.path = o.path;
    return data;
  },
} as const;
