import type { Argv, Options } from 'yargs';
import {
  type ConnectionOptions,
  DEFAULT_NATS_URL,
  ErrorCode,
  type Logger,
  type LogLevel,
  SwitchboardError,
} from '../index.js';
import { DEFAULT_PREFIX } from '../protocol/index.js';
import { type ConnectionField, checkConnectionOptions } from '../transport/index.js';
import { camelCase } from './env.js';
import { asUsage } from './io.js';
import { withLogOptions } from './logging.js';

const GROUP = 'NATS connection:';

/**
 * The options naming how to authenticate to one site's NATS. `flag` is the
 * prefix of their names (`''`, or `'local-'` for `--local-user`), `where` is
 * put in their descriptions (`''`, or `' of the local site'`).
 */
function credentialOptions(flag: string, where: string, group: string) {
  return {
    user: { type: 'string', describe: `NATS user name${where} (with --${flag}pass)`, group },
    pass: { type: 'string', describe: `NATS password${where} (with --${flag}user)`, group },
    token: { type: 'string', describe: `NATS token${where}`, group },
    creds: {
      type: 'string',
      describe: `NATS credentials file${where} (JWT and NKey seed)`,
      normalize: true,
      group,
    },
    'tls-ca': {
      type: 'string',
      describe: `CA certificate (PEM) that signed the NATS server${where}; turns TLS on`,
      normalize: true,
      group,
    },
    'tls-cert': {
      type: 'string',
      describe: `Client certificate (PEM) for mutual TLS${where} (with --${flag}tls-key)`,
      normalize: true,
      group,
    },
    'tls-key': {
      type: 'string',
      describe: `Client key (PEM) for mutual TLS${where} (with --${flag}tls-cert)`,
      normalize: true,
      group,
    },
  } satisfies Record<string, Options>;
}

type CredentialOptions = ReturnType<typeof credentialOptions>;
type CredentialKey = keyof CredentialOptions;

/** `{ user, 'tls-ca', ... }` with every key behind `flag`: `{ 'local-user', 'local-tls-ca', ... }`. */
type Prefixed<F extends string, O> = { [K in keyof O & string as `${F}${K}`]: O[K] };

/**
 * Adds the credential options of one site, with `flag` in front of their
 * names. Which go together is checked with the rest of the connection options
 * (see {@link toConnectionOptions}), so that the messages are the library's.
 */
function withCredentials<T, F extends string>(y: Argv<T>, flag: F, where: string, group: string) {
  const options = Object.fromEntries(
    Object.entries(credentialOptions(flag, where, group)).map(([key, spec]) => [
      `${flag}${key}`,
      spec,
    ]),
  ) as Prefixed<F, CredentialOptions>;
  return y.options(options);
}

/** Adds `--prefix`, which every component of a mesh shares. */
function withPrefix<T>(y: Argv<T>, group: string) {
  return y.option('prefix', {
    type: 'string',
    default: DEFAULT_PREFIX,
    describe: 'Subject prefix; every component of a site uses the same',
    group,
  });
}

/** Adds the options of every command that connects to a site's NATS. */
export function withConnectionOptions<T>(y: Argv<T>, defaultLevel: LogLevel) {
  const withNats = withLogOptions(y, defaultLevel).option('nats', {
    type: 'string',
    default: DEFAULT_NATS_URL,
    describe: "NATS URL of the site (several: comma-separated, a cluster's servers)",
    group: GROUP,
  });
  return withPrefix(withCredentials(withNats, '', '', GROUP), GROUP);
}

/**
 * Adds the options of one side of a command that connects to two sites (the
 * bridge): `--local URL` and `--local-user`, `--local-tls-ca`, ... for side
 * `local`. `--prefix` is shared: add it once with {@link withSharedOptions}.
 */
export function withSideOptions<T, S extends string>(y: Argv<T>, side: S) {
  const group = `${side[0]?.toUpperCase()}${side.slice(1)} site:`;
  const withUrl = y.options({
    [side]: {
      type: 'string',
      demandOption: true,
      describe: `NATS URL of the ${side} site (several: comma-separated, a cluster's servers)`,
      group,
    },
  } as Record<S, { type: 'string'; demandOption: true; describe: string; group: string }>);
  return withCredentials(withUrl, `${side}-`, ` of the ${side} site`, group);
}

/** Adds `--log-level`, `--log-format`, `--prefix` and `--wait-timeout` to a command that connects to two sites. */
export function withSharedOptions<T>(y: Argv<T>, defaultLevel: LogLevel) {
  const group = 'Both sites:';
  return withWaitTimeout(withPrefix(withLogOptions(y, defaultLevel), group), group);
}

/** Adds `--wait-timeout`, for agents that wait for their NATS. */
function withWaitTimeout<T>(y: Argv<T>, group: string) {
  return y.option('wait-timeout', {
    type: 'number',
    describe:
      'Give up waiting for NATS after this many ms (implies --wait-for-nats) [default: never]',
    group,
  });
}

/**
 * Adds `--wait-for-nats` and `--wait-timeout`, for agents that may start
 * before their NATS (docker-compose).
 */
export function withWaitForNats<T>(y: Argv<T>) {
  const withWait = y.option('wait-for-nats', {
    type: 'boolean',
    default: false,
    describe:
      'Keep retrying the first connection, saying so every few seconds, instead of failing at once',
    group: GROUP,
  });
  return withWaitTimeout(withWait, GROUP);
}

/** The parsed connection options, as yargs hands them over. */
export interface ConnectionArgs {
  nats: string;
  user?: string;
  pass?: string;
  token?: string;
  creds?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  prefix: string;
  waitForNats?: boolean;
  waitTimeout?: number;
}

/** `tls-ca` → `tlsCa`, as yargs names the parsed options. */
type CamelCase<K extends string> = K extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : K;

/** The parsed options of one side: `local` (the URL), `localUser`, `localTlsCa`, ... */
export type SideArgs<S extends string> = { [K in S]: string } & {
  [K in CredentialKey as `${S}${Capitalize<CamelCase<K>>}`]?: string;
};

/** The options of one side of a two-site command, named as those of a one-site command. */
export function sideConnectionArgs<S extends string>(
  args: SideArgs<S> & { prefix: string; waitTimeout?: number },
  side: S,
): ConnectionArgs {
  const named = args as unknown as Record<string, string | undefined>;
  const read = (key: CredentialKey): string | undefined => named[camelCase(`${side}-${key}`)];
  return {
    nats: named[side] as string,
    user: read('user'),
    pass: read('pass'),
    token: read('token'),
    creds: read('creds'),
    tlsCa: read('tls-ca'),
    tlsCert: read('tls-cert'),
    tlsKey: read('tls-key'),
    prefix: args.prefix,
    waitTimeout: args.waitTimeout,
  };
}

/** The command-line names of the connection options (without `--` and the side's prefix). */
const FLAGS: Record<ConnectionField, string> = {
  nats: 'nats',
  user: 'user',
  pass: 'pass',
  token: 'token',
  credsFile: 'creds',
  'tls.caFile': 'tls-ca',
  'tls.certFile': 'tls-cert',
  'tls.keyFile': 'tls-key',
  connectTimeoutMs: 'connect-timeout',
  waitTimeoutMs: 'wait-timeout',
  reconnectGraceMs: 'reconnect-grace',
};

/** How the flag of `field` is written: `--tls-ca`, or for side `remote` `--remote-tls-ca` (`--remote` for the URL). */
function flagOf(field: ConnectionField, side: string | undefined): string {
  if (side === undefined || field === 'waitTimeoutMs') return `--${FLAGS[field]}`;
  return field === 'nats' ? `--${side}` : `--${side}-${FLAGS[field]}`;
}

/** `nats://a:4222,nats://b:4222` → both URLs; one URL stays a string. */
export function natsServers(nats: string): string | string[] {
  const urls = nats
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  return urls.length === 1 ? (urls[0] as string) : urls;
}

/**
 * The one place where command-line options become the library's
 * `ConnectionOptions`, checked by the library's own check with messages that
 * name the flags (`--remote-tls-ca: cannot read ...`).
 *
 * @param side for a two-site command, the side whose flags these are
 * @throws {UsageError} naming the flag that is wrong
 */
export function toConnectionOptions(
  args: ConnectionArgs,
  logger: Logger,
  side?: string,
): ConnectionOptions {
  const options: ConnectionOptions = {
    nats: natsServers(args.nats),
    prefix: args.prefix,
    logger,
  };
  if (args.user !== undefined) options.user = args.user;
  if (args.pass !== undefined) options.pass = args.pass;
  if (args.token !== undefined) options.token = args.token;
  if (args.creds !== undefined) options.credsFile = args.creds;
  if (args.tlsCa !== undefined || args.tlsCert !== undefined || args.tlsKey !== undefined) {
    options.tls = {};
    if (args.tlsCa !== undefined) options.tls.caFile = args.tlsCa;
    if (args.tlsCert !== undefined) options.tls.certFile = args.tlsCert;
    if (args.tlsKey !== undefined) options.tls.keyFile = args.tlsKey;
  }
  Object.assign(options, waitOptions(args));
  asUsage(() => checkConnectionOptions(options, (field) => flagOf(field, side)));
  return options;
}

/** `--wait-for-nats` and `--wait-timeout` (which implies waiting) as connection options. */
export function waitOptions(args: {
  waitForNats?: boolean;
  waitTimeout?: number;
}): Pick<ConnectionOptions, 'waitForNats' | 'waitTimeoutMs'> {
  if (args.waitTimeout !== undefined) return { waitForNats: true, waitTimeoutMs: args.waitTimeout };
  return args.waitForNats ? { waitForNats: true } : {};
}

/** What a command reports when it cannot reach its NATS. */
export function connectFailure(nats: string, thrown: unknown): SwitchboardError {
  if (thrown instanceof SwitchboardError) return thrown;
  const reason = thrown instanceof Error ? thrown.message : String(thrown);
  return new SwitchboardError(
    ErrorCode.UNAVAILABLE,
    `cannot connect to NATS at ${nats}: ${reason}`,
    {
      completed: 'no',
      cause: thrown,
    },
  );
}
