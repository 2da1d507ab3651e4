#!/usr/bin/env node
/**
 * The `switchboard` command line: run a broker or a bridge, serve the example
 * service, call and list services, and a demo of a mesh of three sites.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
// Not 'yargs': its ES module build lays help out with cliui's ESM entry, which
// cuts lines at the width whatever the words (yargs#2112); the CommonJS build
// behind 'yargs/yargs' wraps with wrap-ansi, at word boundaries.
import yargs from 'yargs/yargs';
import type { CliCommand } from './command.js';
import {
  bridgeCommand,
  brokerCommand,
  callCommand,
  demoCommand,
  lsCommand,
  serveExampleCommand,
  upCommand,
} from './commands/index.js';
import { ENV_PREFIX, ignoreForeignEnvVars } from './env.js';
import { asSwitchboardError, describeError } from './format.js';
import { separateAnnotations } from './help-layout.js';
import { type CliIo, ExitCode, processIo } from './io.js';

/** Every command, in the order `--help` lists them; a new command goes here. */
const COMMANDS: readonly CliCommand<unknown>[] = [
  brokerCommand,
  bridgeCommand,
  serveExampleCommand,
  callCommand,
  lsCommand,
  demoCommand,
  upCommand,
];

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
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    // ARGS of `call` are JSON text: yargs must not turn "007" into 7.
    .parserConfiguration({ 'parse-positional-numbers': false })
    // `--version` is free for commands' own use; the service version is `--service-version`.
    .version(false)
    .help()
    .alias('help', 'h')
    .exitProcess(false)
    .epilog(
      `Every option can also be set through the environment: --nats as ${ENV_PREFIX}_NATS, ` +
        `--tls-ca as ${ENV_PREFIX}_TLS_CA, and so on.`,
    );
  y.middleware(ignoreForeignEnvVars(y), true);
  const width = helpWidth();
  y.wrap(width);
  const add = <U>(command: CliCommand<U>): void => {
    y.command(command.command, command.describe, command.builder, async (args) => {
      try {
        code = await command.run(args, io);
      } catch (err) {
        // Commands report what they expect; anything else is a bug worth its stack.
        io.stderr(`${describeError(asSwitchboardError(err))}\n`);
        if (err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
        code = ExitCode.FAILURE;
      }
    });
  };
  for (const command of COMMANDS) add(command);

  const { error, output } = await parse(y, argv);
  if (error) {
    io.stderr(`${output}\n`);
    return ExitCode.USAGE;
  }
  if (code === undefined) {
    // --help: yargs produced the text instead of running a command.
    if (output) io.stdout(`${separateAnnotations(output, width)}\n`);
    return ExitCode.OK;
  }
  return code;
}

/** The terminal's width, or `COLUMNS` when output is piped, capped at {@link MAX_HELP_WIDTH}. */
function helpWidth(): number {
  const columns = process.stdout.columns ?? Number(process.env.COLUMNS);
  return Math.min(MAX_HELP_WIDTH, columns > 0 ? columns : DEFAULT_HELP_WIDTH);
}

function parse(y: Argv, argv: readonly string[]): Promise<{ error?: Error; output: string }> {
  return new Promise((resolve) => {
    // With a callback yargs hands over help and error text instead of printing it.
    void y.parseAsync([...argv], {}, (error, _args, output) => resolve({ error, output }));
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
  const code = await run(hideBin(process.argv));
  process.exitCode = code;
  // Everything is closed by now; should a stray handle keep the loop alive,
  // do not leave a terminal hanging on it.
  setTimeout(() => {
    processIo.stderr(`switchboard: still busy ${EXIT_GRACE_MS} ms after finishing; exiting\n`);
    process.exit(code);
  }, EXIT_GRACE_MS).unref();
}
