/**
 * The mesh config file of `switchboard up`: sites with their NATS URLs and
 * credentials, brokers and bridges, each optionally assigned to a host. Parsing
 * and validation are pure (text in, typed config or {@link MeshConfigError}
 * out); reading secret files is left to {@link siteConnectionOptions}.
 *
 * ```yaml
 * sites:
 *   a: { nats: nats://10.0.0.1:4222, user: mesh, passFile: /run/secrets/a-pass }
 *   b: { nats: nats://10.0.0.2:4222, creds: /run/secrets/b.creds }
 * brokers:
 *   - { site: a, host: host-1 }
 * bridges:
 *   - { between: [a, b], host: host-1, export: ["calc*"], import: ["*"] }
 * ```
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { parseDocument } from 'yaml';
import { GLOB_SYNTAX, isValidGlob } from '../bridge/index.js';
import { BALANCE_POLICIES, type BalancePolicy, type ConnectionOptions } from '../index.js';
import { isValidInboxPrefix, isValidPrefix, NAME_PATTERN } from '../protocol/index.js';
import { natsUrlProblem } from '../transport/index.js';

/** A config file that does not say what `switchboard up` needs; the message names file and field. */
export class MeshConfigError extends Error {
  override readonly name = 'MeshConfigError';

  /**
   * @param file the config file, as given on the command line
   * @param field where in the file, e.g. `bridges[0].between` (empty for the whole file)
   * @param detail what was expected, and what was found
   */
  constructor(
    readonly file: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(field === '' ? `${file}: ${detail}` : `${file}: ${field}: ${detail}`);
  }
}

/** TLS files of a site's NATS connection. */
export interface MeshTls {
  /** CA certificate (PEM) that signed the NATS server. */
  ca?: string;
  /** Client certificate (PEM), for mutual TLS. */
  cert?: string;
  /** Client key (PEM), for mutual TLS. */
  key?: string;
}

/** One site of the mesh: how to reach its NATS. File paths are absolute once parsed. */
export interface MeshSite {
  name: string;
  /** NATS URLs of the site (several for a cluster). */
  nats: string[];
  user?: string;
  pass?: string;
  /** File holding the password (read at start-up, surrounding whitespace dropped). */
  passFile?: string;
  token?: string;
  /** File holding the token. */
  tokenFile?: string;
  /** NATS credentials file (JWT and NKey seed). */
  creds?: string;
  tls?: MeshTls;
  /** Subject prefix of the site. @default 'sb' */
  prefix?: string;
  /** Where reply subjects start, as the site's credential permits. @default '_INBOX' */
  inboxPrefix?: string;
}

/** A broker to run, and where. */
export interface MeshBroker {
  /** Where it is in the file, e.g. `brokers[0]`. */
  field: string;
  site: string;
  /** Hosts that run it; absent means every host. */
  hosts?: string[];
  id?: string;
  policy?: BalancePolicy;
  leaseFactor?: number;
  /** See the broker option `probeAfterMs`. @default 1500 in a NATS cluster or with several URLs, else 500 */
  probeAfterMs?: number;
  /** Instances and routes its registry holds at most. @default 100000 */
  maxInstances?: number;
  /** Routes all bridges together may hold in its registry. @default half of maxInstances */
  maxBridgeRoutes?: number;
  /** Calls it holds at once. @default 20000 */
  maxCallsInFlight?: number;
  /** Bytes of call bodies it holds at once. @default 268435456 (256 MiB) */
  maxBytesInFlight?: number;
  /** Calls of one thin client it holds at once. @default half of maxCallsInFlight */
  maxCallsPerCaller?: number;
  /** Bytes of call bodies of one thin client it holds at once. @default half of maxBytesInFlight */
  maxBytesPerCaller?: number;
}

/** A bridge to run, and where. */
export interface MeshBridge {
  /** Where it is in the file, e.g. `bridges[1]`. */
  field: string;
  /** The two sites; the first is the bridge's local side, the second its remote side. */
  between: [string, string];
  /** Hosts that run it; absent means every host. */
  hosts?: string[];
  /** Services of the first site offered to the second (globs). @default every service */
  export?: string[];
  /** Services of the second site let into the first (globs). @default every service */
  import?: string[];
  maxHops?: number;
  /** Calls it relays at once, both ways together. @default 20000 */
  maxCallsInFlight?: number;
  /** Bytes of call bodies it relays at once. @default 268435456 (256 MiB) */
  maxBytesInFlight?: number;
  /** Calls from one origin site it relays at once. @default half of maxCallsInFlight */
  maxCallsPerCaller?: number;
  /** Bytes of call bodies from one origin site it relays at once. @default half of maxBytesInFlight */
  maxBytesPerCaller?: number;
}

/** A parsed and validated mesh config. */
export interface MeshConfig {
  /** The file it came from, as given (used in messages). */
  file: string;
  sites: Map<string, MeshSite>;
  brokers: MeshBroker[];
  bridges: MeshBridge[];
}

/** What one host runs. */
export interface MeshAssignment {
  brokers: MeshBroker[];
  bridges: MeshBridge[];
}

type Fields = Record<string, unknown>;

/** Walks the parsed document, remembering where it is for error messages. */
class Reader {
  constructor(
    readonly file: string,
    readonly baseDir: string,
  ) {}

  /** Throws `FILE: FIELD: expected EXPECTED (got GOT)`; without `got`, no parenthesis. */
  fail(field: string, expected: string, ...got: [unknown?]): never {
    const found = got.length > 0 ? ` (got ${show(got[0])})` : '';
    throw new MeshConfigError(this.file, field, `expected ${expected}${found}`);
  }

  /** A mapping whose keys are all in `allowed`. */
  mapping(field: string, value: unknown, what: string, allowed?: readonly string[]): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(field, what, value);
    }
    const fields = value as Fields;
    if (allowed) {
      for (const key of Object.keys(fields)) {
        if (!allowed.includes(key)) {
          this.fail(join(field, key), `one of the keys ${allowed.join(', ')} (unknown key)`);
        }
      }
    }
    return fields;
  }

  list(field: string, value: unknown, what: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, what, value);
    return value;
  }

  string(field: string, value: unknown, what = 'a non-empty string'): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(field, what, value);
    return value;
  }

  optionalString(fields: Fields, field: string, key: string): string | undefined {
    return fields[key] === undefined ? undefined : this.string(join(field, key), fields[key]);
  }

  /** A file path, resolved against the config file's directory. */
  optionalPath(fields: Fields, field: string, key: string): string | undefined {
    const path = this.optionalString(fields, field, key);
    return path === undefined ? undefined : resolvePath(this.baseDir, path);
  }

  /** One string or a non-empty list of them. */
  strings(field: string, value: unknown, what: string): string[] {
    const items = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(items) || items.length === 0) this.fail(field, what, value);
    return items.map((item, i) =>
      this.string(typeof value === 'string' ? field : `${field}[${i}]`, item, what),
    );
  }

  number(field: string, value: unknown, min: number, integer = false): number | undefined {
    if (value === undefined) return undefined;
    const ok = typeof value === 'number' && value >= min && (!integer || Number.isInteger(value));
    if (!ok) this.fail(field, `${integer ? 'an integer' : 'a number'} of at least ${min}`, value);
    return value;
  }
}

const SITE_KEYS = [
  'nats',
  'user',
  'pass',
  'passFile',
  'token',
  'tokenFile',
  'creds',
  'tls',
  'prefix',
  'inboxPrefix',
] as const;
const IN_FLIGHT_KEYS = [
  'maxCallsInFlight',
  'maxBytesInFlight',
  'maxCallsPerCaller',
  'maxBytesPerCaller',
] as const;
const BROKER_KEYS = [
  'site',
  'host',
  'id',
  'policy',
  'leaseFactor',
  'probeAfterMs',
  'maxInstances',
  'maxBridgeRoutes',
  ...IN_FLIGHT_KEYS,
] as const;
const BRIDGE_KEYS = ['between', 'host', 'export', 'import', 'maxHops', ...IN_FLIGHT_KEYS] as const;
const NATS_URL_EXPECTED = 'a NATS URL such as nats://host:4222 or tls://host:4222';

/**
 * Parses and validates a mesh config (YAML, or JSON, which is YAML too).
 *
 * @param text the file's contents
 * @param file the file's path: named in every error, and the base of relative paths in it
 * @throws {MeshConfigError} naming the file, the field and what was expected
 */
export function parseMeshConfig(text: string, file: string): MeshConfig {
  const doc = parseDocument(text, { uniqueKeys: true });
  const [syntax] = doc.errors;
  if (syntax) {
    throw new MeshConfigError(file, '', `not valid YAML or JSON: ${syntax.message}`);
  }
  const r: Reader = new Reader(file, dirname(resolvePath(file)));
  const root = r.mapping('', doc.toJS(), "a mapping with 'sites', 'brokers' and 'bridges'", [
    'sites',
    'brokers',
    'bridges',
  ]);

  const sites = new Map<string, MeshSite>();
  const siteFields = r.mapping('sites', root.sites, 'a mapping of site names to their NATS');
  for (const [name, value] of Object.entries(siteFields)) {
    const field = join('sites', name);
    if (!NAME_PATTERN.test(name)) {
      r.fail(field, "a site name of letters, digits, '_' and '-', starting with a letter or '_'");
    }
    sites.set(name, readSite(r, field, name, value));
  }
  if (sites.size === 0) r.fail('sites', 'at least one site', root.sites);
  const defined = [...sites.keys()].join(', ');

  const brokers = r.list('brokers', root.brokers ?? [], 'a list of brokers').map((value, i) => {
    const field = `brokers[${i}]`;
    const b = r.mapping(field, value, 'a mapping with a site', BROKER_KEYS);
    const expected = `a site defined under 'sites': ${defined}`;
    const site = r.string(join(field, 'site'), b.site, expected);
    if (!sites.has(site)) r.fail(join(field, 'site'), expected, site);
    const policy = b.policy;
    if (policy !== undefined && !BALANCE_POLICIES.includes(policy as BalancePolicy)) {
      r.fail(join(field, 'policy'), `one of ${BALANCE_POLICIES.join(', ')}`, policy);
    }
    return compact<MeshBroker>({
      field,
      site,
      hosts: readHosts(r, b, field),
      id: r.optionalString(b, field, 'id'),
      policy: policy as BalancePolicy | undefined,
      leaseFactor: r.number(join(field, 'leaseFactor'), b.leaseFactor, 1),
      probeAfterMs: r.number(join(field, 'probeAfterMs'), b.probeAfterMs, 0),
      ...readCounts(r, b, field, ['maxInstances', 'maxBridgeRoutes', ...IN_FLIGHT_KEYS]),
    });
  });

  const bridges = r.list('bridges', root.bridges ?? [], 'a list of bridges').map((value, i) => {
    const field = `bridges[${i}]`;
    const b = r.mapping(field, value, 'a mapping with two sites under between', BRIDGE_KEYS);
    const between = b.between;
    if (!isSitePair(between, sites)) {
      const expected = `two different sites defined under 'sites': ${defined}`;
      r.fail(join(field, 'between'), expected, between);
    }
    const globs = (key: 'export' | 'import') => {
      if (b[key] === undefined) return undefined;
      const list = r.strings(join(field, key), b[key], 'a list of glob patterns of service names');
      list.forEach((glob, j) => {
        const at = typeof b[key] === 'string' ? key : `${key}[${j}]`;
        if (!isValidGlob(glob)) r.fail(join(field, at), `a glob of ${GLOB_SYNTAX}`, glob);
      });
      return list;
    };
    return compact<MeshBridge>({
      field,
      between: [between[0], between[1]],
      hosts: readHosts(r, b, field),
      export: globs('export'),
      import: globs('import'),
      ...readCounts(r, b, field, ['maxHops', ...IN_FLIGHT_KEYS]),
    });
  });

  return { file, sites, brokers, bridges };
}

/** The `keys` of `fields` that are given, each an integer of at least 1. */
function readCounts<K extends string>(
  r: Reader,
  fields: Fields,
  field: string,
  keys: readonly K[],
): Partial<Record<K, number>> {
  const counts: Partial<Record<K, number>> = {};
  for (const key of keys) counts[key] = r.number(join(field, key), fields[key], 1, true);
  return counts;
}

function isSitePair(value: unknown, sites: Map<string, MeshSite>): value is [string, string] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    value.every((s) => typeof s === 'string' && sites.has(s)) &&
    value[0] !== value[1]
  );
}

function readSite(r: Reader, field: string, name: string, value: unknown): MeshSite {
  const s = r.mapping(
    field,
    value,
    'a mapping with the NATS URL of the site (nats: ...)',
    SITE_KEYS,
  );
  if (s.nats === undefined) r.fail(join(field, 'nats'), 'the NATS URL of the site');
  const nats = r.strings(join(field, 'nats'), s.nats, NATS_URL_EXPECTED);
  nats.forEach((url, i) => {
    if (natsUrlProblem(url) !== undefined) {
      const at = typeof s.nats === 'string' ? 'nats' : `nats[${i}]`;
      r.fail(join(field, at), NATS_URL_EXPECTED, url);
    }
  });
  const site = compact<MeshSite>({
    name,
    nats,
    user: r.optionalString(s, field, 'user'),
    pass: r.optionalString(s, field, 'pass'),
    passFile: r.optionalPath(s, field, 'passFile'),
    token: r.optionalString(s, field, 'token'),
    tokenFile: r.optionalPath(s, field, 'tokenFile'),
    creds: r.optionalPath(s, field, 'creds'),
    prefix: r.optionalString(s, field, 'prefix'),
    inboxPrefix: r.optionalString(s, field, 'inboxPrefix'),
  });
  if (site.prefix !== undefined && !isValidPrefix(site.prefix)) {
    r.fail(join(field, 'prefix'), 'NATS subject tokens separated by dots, e.g. sb', site.prefix);
  }
  if (site.inboxPrefix !== undefined && !isValidInboxPrefix(site.inboxPrefix)) {
    r.fail(
      join(field, 'inboxPrefix'),
      '_INBOX or _INBOX.<tokens>, e.g. _INBOX.mesh',
      site.inboxPrefix,
    );
  }
  const hasPass = site.pass !== undefined || site.passFile !== undefined;
  if (site.pass !== undefined && site.passFile !== undefined) {
    r.fail(join(field, 'passFile'), "either 'pass' or 'passFile', not both");
  }
  if (site.token !== undefined && site.tokenFile !== undefined) {
    r.fail(join(field, 'tokenFile'), "either 'token' or 'tokenFile', not both");
  }
  if (site.user !== undefined && !hasPass) {
    r.fail(join(field, 'user'), "a password with it ('pass' or 'passFile')");
  }
  if (site.user === undefined && hasPass) {
    r.fail(join(field, site.pass !== undefined ? 'pass' : 'passFile'), "a 'user' with it");
  }
  const hasToken = site.token !== undefined || site.tokenFile !== undefined;
  if (hasToken && (site.user !== undefined || site.creds !== undefined)) {
    r.fail(
      join(field, site.token !== undefined ? 'token' : 'tokenFile'),
      "no 'user' or 'creds' with a token",
    );
  }
  if (s.tls !== undefined) {
    const tf = join(field, 'tls');
    const t = r.mapping(tf, s.tls, 'a mapping with ca, cert and key files', ['ca', 'cert', 'key']);
    const tls = compact<MeshTls>({
      ca: r.optionalPath(t, tf, 'ca'),
      cert: r.optionalPath(t, tf, 'cert'),
      key: r.optionalPath(t, tf, 'key'),
    });
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      r.fail(join(tf, tls.cert === undefined ? 'cert' : 'key'), "'cert' and 'key' together");
    }
    if (Object.keys(tls).length === 0) r.fail(tf, 'at least one of ca, cert and key', s.tls);
    site.tls = tls;
  }
  return site;
}

function readHosts(r: Reader, fields: Fields, field: string): string[] | undefined {
  if (fields.host === undefined) return undefined;
  return r.strings(join(field, 'host'), fields.host, 'a host name or a list of host names');
}

/** Reads and parses a mesh config file. @throws {MeshConfigError} also when it cannot be read */
export function loadMeshConfig(file: string): MeshConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MeshConfigError(file, '', `cannot read the file (${errorCode(err)})`);
  }
  return parseMeshConfig(text, file);
}

/** The brokers and bridges `host` runs: those assigned to it and those assigned to no host. */
export function assignmentFor(config: MeshConfig, host: string): MeshAssignment {
  const runsHere = (entry: { hosts?: string[] }) =>
    entry.hosts === undefined || entry.hosts.includes(host);
  return {
    brokers: config.brokers.filter(runsHere),
    bridges: config.bridges.filter(runsHere),
  };
}

/** Every host named in the config, for telling a user which `--host` they may have meant. */
export function hostsOf(config: MeshConfig): string[] {
  const hosts = new Set<string>();
  for (const entry of [...config.brokers, ...config.bridges]) {
    for (const host of entry.hosts ?? []) hosts.add(host);
  }
  return [...hosts].sort();
}

/**
 * The connection options of a site, with secret files read.
 *
 * @param readSecret reads a secret file; the default reads it as UTF-8
 * @throws {MeshConfigError} naming the field of a file that cannot be read
 */
export function siteConnectionOptions(
  config: MeshConfig,
  siteName: string,
  readSecret: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): ConnectionOptions {
  const site = config.sites.get(siteName);
  if (site === undefined) {
    throw new MeshConfigError(config.file, 'sites', `expected a site named '${siteName}'`);
  }
  const field = join('sites', siteName);
  const secret = (key: 'passFile' | 'tokenFile', path: string): string => {
    let value: string;
    try {
      value = readSecret(path).trim();
    } catch (err) {
      throw new MeshConfigError(
        config.file,
        join(field, key),
        `expected a readable file (cannot read ${path}: ${errorCode(err)})`,
      );
    }
    if (value === '') {
      throw new MeshConfigError(config.file, join(field, key), `expected ${path} not to be empty`);
    }
    return value;
  };
  const options: ConnectionOptions = {
    nats: site.nats.length === 1 ? site.nats[0] : site.nats,
  };
  if (site.prefix !== undefined) options.prefix = site.prefix;
  if (site.inboxPrefix !== undefined) options.inboxPrefix = site.inboxPrefix;
  if (site.user !== undefined) options.user = site.user;
  if (site.pass !== undefined) options.pass = site.pass;
  if (site.passFile !== undefined) options.pass = secret('passFile', site.passFile);
  if (site.token !== undefined) options.token = site.token;
  if (site.tokenFile !== undefined) options.token = secret('tokenFile', site.tokenFile);
  if (site.creds !== undefined) options.credsFile = site.creds;
  if (site.tls !== undefined) {
    options.tls = compact({ caFile: site.tls.ca, certFile: site.tls.cert, keyFile: site.tls.key });
  }
  return options;
}

/** `sites` + `a` → `sites.a`; `''` + `sites` → `sites`. */
function join(field: string, key: string): string {
  return field === '' ? key : `${field}.${key}`;
}

/** A found value as a message shows it: `"a, x"`, `42`, `a list`, `nothing`. */
function show(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) {
    return value.every((v) => typeof v === 'string' || typeof v === 'number')
      ? JSON.stringify(value.join(', '))
      : 'a list';
  }
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** The object without its undefined fields, so that configs print and compare cleanly. */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}
