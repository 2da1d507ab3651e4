import type { Argv } from 'yargs';
import {
  type ConnectionOptions,
  DEFAULT_NATS_URL,
  DEFAULT_PREFIX,
  ErrorCode,
  type Logger,
  type LogLevel,
  SwitchboardError,
} from '../index.js';

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

/** Adds the options of every command that connects to a site's NATS. */
export function withConnectionOptions<T>(y: Argv<T>, defaultLevel: LogLevel) {
  return withLogLevel(y, defaultLevel)
    .options({
      nats: {
        type: 'string',
        default: DEFAULT_NATS_URL,
        describe: "NATS URL of the site (several: comma-separated, a cluster's servers)",
        group: GROUP,
      },
      user: { type: 'string', describe: 'NATS user name (with --pass)', group: GROUP },
      pass: { type: 'string', describe: 'NATS password (with --user)', group: GROUP },
      token: { type: 'string', describe: 'NATS token', group: GROUP },
      creds: {
        type: 'string',
        describe: 'NATS credentials file (JWT and NKey seed)',
        normalize: true,
        group: GROUP,
      },
      'tls-ca': {
        type: 'string',
        describe: 'CA certificate (PEM) that signed the NATS server; turns TLS on',
        normalize: true,
        group: GROUP,
      },
      'tls-cert': {
        type: 'string',
        describe: 'Client certificate (PEM) for mutual TLS (with --tls-key)',
        normalize: true,
        group: GROUP,
      },
      'tls-key': {
        type: 'string',
        describe: 'Client key (PEM) for mutual TLS (with --tls-cert)',
        normalize: true,
        group: GROUP,
      },
      prefix: {
        type: 'string',
        default: DEFAULT_PREFIX,
        describe: 'Subject prefix; every component of a site uses the same',
        group: GROUP,
      },
    })
    .implies('user', 'pass')
    .implies('pass', 'user')
    .implies('tls-cert', 'tls-key')
    .implies('tls-key', 'tls-cert')
    .conflicts('token', ['user', 'creds']);
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
