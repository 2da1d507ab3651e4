#!/usr/bin/env node
/**
 * The `switchboard` command line: run a broker or a bridge, serve the example
 * service, call and list services, and a demo of a mesh of three sites.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ArgumentsCamelCase, Argv } from 'yargs';
// Not 'yargs': its ES module build lays help out with cliui's ESM entry, which
// cuts lines at the width whatever the words (yargs#2112); the CommonJS build
// behind 'yargs/yargs' wraps with wrap-ansi, at word boundaries.
import yargs from 'yargs/yargs';
import type { CliCommand, CliCommandGroup } from './command.js';
import {
  bridgeCommand,
  brokerCommand,
  callCommand,
  dashboardCommand,
  demoCommand,
  lsCommand,
  secureCommand,
  serveExampleCommand,
  upCommand,
} from './commands/index.js';
import { ENV_PREFIX, ignoreForeignEnvVars, optionNames } from './env.js';
import { asSwitchboardError, describeError } from './format.js';
import { separateAnnotations } from './help-layout.js';
import { type CliIo, ExitCode, processIo, UsageError, usageError } from './io.js';
import { commandName, explainFailure, NO_COMMAND } from './usage.js';

/** Every command, in the order `--help` lists them; a new command goes here. */
const COMMANDS: readonly (CliCommand<unknown> | CliCommandGroup)[] = [
  brokerCommand,
  bridgeCommand,
  serveExampleCommand,
  callCommand,
  lsCommand,
  dashboardCommand,
  demoCommand,
  upCommand,
  secureCommand,
];

/** The subcommands of each group: `secure` → `init`. */
const SUBCOMMANDS: Record<string, string[]> = Object.fromEntries(
  COMMANDS.flatMap((c) =>
    'subcommands' in c
      ? [[commandName(c.command), c.subcommands.map((sub) => commandName(sub.command))]]
      : [],
  ),
);

/** How long the process may linger after a command finished before it is ended. */
const EXIT_GRACE_MS = 3000;
/** Help fills the terminal up to this width; wider lines read badly. */
const MAX_HELP_WIDTH = 100;
/** Help width when neither the terminal nor `COLUMNS` says (output piped to a file). */
const DEFAULT_HELP_WIDTH = 80;

/**
 * Runs the CLI on `argv` (without `node` and the script) and resolves with the
 * exit code. Long-running commands resolve once they have shut down.
 */
export async function run(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code: number | undefined;
  const y = yargs()
    .scriptName('switchboard')
    .usage('$0 <command> [options]')
    .env(ENV_PREFIX)
    .strict()
    // usage.ts reads yargs' messages: the English ones, whatever the user's locale.
    .locale('en')
    .demandCommand(1, NO_COMMAND)
    // ARGS of `call` are JSON text: yargs must not turn "007" into 7.
    .parserConfiguration({ 'parse-positional-numbers': false })
    .version(packageVersion())
    .help()
    .alias('help', 'h')
    .exitProcess(false)
    .epilog(
      `Every option can also be set through the environment: --nats as ${ENV_PREFIX}_NATS, ` +
        `--tls-ca as ${ENV_PREFIX}_TLS_CA, and so on.`,
    );
  // A bad command line is one line, not the whole help (which --help shows).
  y.fail((message, error) => {
    if (typeof message !== 'string') throw error ?? new Error('yargs failed without a message');
    const context = {
      argv,
      commands: COMMANDS.map((c) => c.command),
      options: optionNames(y),
      subcommands: SUBCOMMANDS,
    };
    const { command, line } = explainFailure(message, context);
    throw new UsageError(line, withSubcommand(command, argv));
  });
  y.middleware(ignoreForeignEnvVars(y, argv), true);
  const width = helpWidth();
  y.wrap(width);
  const handler =
    <U>(command: CliCommand<U>, name: string) =>
    async (args: ArgumentsCamelCase<U>) => {
      try {
        code = await command.run(args, io);
      } catch (err) {
        if (err instanceof UsageError) {
          code = usageError(io, err.command ?? name, err.message);
          return;
        }
        // Commands report what they expect; anything else is a bug worth its stack.
        io.stderr(`${describeError(asSwitchboardError(err))}\n`);
        if (err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
        code = ExitCode.FAILURE;
      }
    };
  for (const command of COMMANDS) {
    const name = commandName(command.command);
    if ('subcommands' in command) {
      y.command(command.command, command.describe, (group: Argv) => {
        for (const sub of command.subcommands) {
          const full = `${name} ${commandName(sub.command)}`;
          group.command(sub.command, sub.describe, sub.builder, handler(sub, full));
        }
        return group.demandCommand(1, `${NO_COMMAND}: ${SUBCOMMANDS[name]?.join(', ')}`);
      });
    } else {
      y.command(command.command, command.describe, command.builder, handler(command, name));
    }
  }

  let output: string;
  try {
    output = await parse(y, argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(io, err.command ?? '', err.message);
  }
  if (code === undefined) {
    // --help or --version: yargs produced the text instead of running a command.
    if (output) io.stdout(`${separateAnnotations(output, width)}\n`);
    return ExitCode.OK;
  }
  return code;
}

/**
 * `secure init` when the command line names a group's subcommand (so that a
 * mistake points at that subcommand's help), else `command` as it is.
 */
function withSubcommand(command: string, argv: readonly string[]): string {
  const second = argv.filter((token) => !token.startsWith('-'))[1];
  const known = second !== undefined && SUBCOMMANDS[command]?.includes(second);
  return known ? `${command} ${second}` : command;
}

/** The version in the package's package.json (two levels up, from src/cli or dist/cli). */
function packageVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** The terminal's width, or `COLUMNS` when output is piped, capped at {@link MAX_HELP_WIDTH}. */
function helpWidth(): number {
  const columns = process.stdout.columns ?? Number(process.env.COLUMNS);
  return Math.min(MAX_HELP_WIDTH, columns > 0 ? columns : DEFAULT_HELP_WIDTH);
}

/** Parses `argv` and runs its command; resolves with the help or version text, if any. */
function parse(y: Argv, argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // With a callback yargs hands over help text instead of printing it. A failure
    // (thrown by the fail handler) may surface synchronously or as a rejection.
    try {
      y.parseAsync([...argv], {}, (error, _args, output) =>
        error ? reject(error) : resolve(output),
      ).catch(reject);
    } catch (err) {
      reject(err);
    }
  });
}

/** Whether this module is the process's entry point (also through an npm bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await run(process.argv.slice(2));
  process.exitCode = code;
  // Everything is closed by now; should a stray handle keep the loop alive,
  // do not leave a terminal hanging on it.
  setTimeout(() => {
    processIo.stderr(`switchboard: still busy ${EXIT_GRACE_MS} ms after finishing; exiting\n`);
    process.exit(code);
  }, EXIT_GRACE_MS).unref();
}
