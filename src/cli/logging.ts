/**
 * How commands log: `--log-level` and `--log-format`, the components' loggers,
 * and the status lines of long-running commands.
 */
import type { Argv } from 'yargs';
import { jsonLogger, type Logger, type LogLevel, lineLogger } from '../index.js';
import type { CliIo } from './io.js';

/** Log levels accepted by `--log-level`, most verbose first. */
export const LOG_LEVELS = [
  'debug',
  'info',
  'warn',
  'error',
  'silent',
] as const satisfies readonly LogLevel[];

/** Formats accepted by `--log-format`: text lines, or JSON lines for log collectors. */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The parsed logging options. */
export interface LogArgs {
  logLevel: LogLevel;
  logFormat: LogFormat;
}

/**
 * Adds `--log-level`, with the command's own default (`warn` for long-running
 * agents, `error` for one-shot commands whose output is the result), and
 * `--log-format`.
 */
export function withLogOptions<T>(y: Argv<T>, defaultLevel: LogLevel) {
  return y.options({
    'log-level': {
      type: 'string',
      choices: LOG_LEVELS,
      default: defaultLevel,
      describe: 'Least severe log lines written to stderr',
    },
    'log-format': {
      type: 'string',
      choices: LOG_FORMATS,
      default: 'text' as LogFormat,
      describe: 'Log lines as text, or as JSON objects {time, level, component, msg, ...}',
    },
  });
}

/** The logger of one component of a command, writing to stderr in the chosen format. */
export function cliLogger(component: string, args: LogArgs, io: CliIo): Logger {
  const make = args.logFormat === 'json' ? jsonLogger : lineLogger;
  return make(component, args.logLevel, io.stderr);
}

/**
 * What a long-running command says about itself (started, linked, stopping,
 * failed), whatever the log level: bare lines, or with `--log-format json`
 * entries like every other line on stderr.
 */
export function statusLogger(component: string, args: LogArgs, io: CliIo): Logger {
  if (args.logFormat === 'json') return jsonLogger(component, 'debug', io.stderr);
  const say = (message: string): void => io.stderr(`${message}\n`);
  return { debug: say, info: say, warn: say, error: say };
}
