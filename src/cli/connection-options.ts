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
import { camelCase } from './env.js';

/** Log levels accepted by `--log-level`, most verbose first. */
export const LOG_LEVELS = [
  'debug',
  'info',
  'warn',
  'error',
  'silent',
] as const satisfies readonly LogLevel[];

const GROUP = 'NATS connection:';

/**
 * Adds `--log-level`, with the command's own default: `warn` for long-running
 * agents, `error` for one-shot commands whose output is the result.
 */
export function withLogLevel<T>(y: Argv<T>, defaultLevel: LogLevel) {
  return y.option('log-level', {
    type: 'string',
    choices: LOG_LEVELS,
    default: defaultLevel,
    describe: 'Least severe log lines written to stderr',
  });
}

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

/** Adds the credential options of one site, with `flag` in front of their names. */
function withCredentials<T, F extends string>(y: Argv<T>, flag: F, where: string, group: string) {
  const options = Object.fromEntries(
    Object.entries(credentialOptions(flag, where, group)).map(([key, spec]) => [
      `${flag}${key}`,
      spec,
    ]),
  ) as Prefixed<F, CredentialOptions>;
  return y
    .options(options)
    .implies(`${flag}user`, `${flag}pass`)
    .implies(`${flag}pass`, `${flag}user`)
    .implies(`${flag}tls-cert`, `${flag}tls-key`)
    .implies(`${flag}tls-key`, `${flag}tls-cert`)
    .conflicts(`${flag}token`, [`${flag}user`, `${flag}creds`]);
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
  const withNats = withLogLevel(y, defaultLevel).option('nats', {
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

/** Adds `--log-level` and `--prefix` to a command that connects to two sites. */
export function withSharedOptions<T>(y: Argv<T>, defaultLevel: LogLevel) {
  return withPrefix(withLogLevel(y, defaultLevel), 'Both sites:');
}

/** Adds `--wait-for-nats`, for agents that may start before their NATS (docker-compose). */
export function withWaitForNats<T>(y: Argv<T>) {
  return y.option('wait-for-nats', {
    type: 'boolean',
    default: false,
    describe: 'Keep retrying the first connection instead of failing at once',
    group: GROUP,
  });
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
  args: SideArgs<S> & { prefix: string },
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
  };
}

/** `nats://a:4222,nats://b:4222` → both URLs; one URL stays a string. */
export function natsServers(nats: string): string | string[] {
  const urls = nats
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  return urls.length === 1 ? (urls[0] as string) : urls;
}

/** The one place where command-line options become the library's `ConnectionOptions`. */
export function toConnectionOptions(args: ConnectionArgs, logger: Logger): ConnectionOptions {
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
  if (args.waitForNats) options.waitForNats = true;
  return options;
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
