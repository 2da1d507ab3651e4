/** Where the CLI writes, so that `run()` can be driven from a test. */
export interface CliIo {
  /** Results (JSON, tables, the demo's walkthrough). */
  stdout(text: string): void;
  /** Logs, progress lines and errors. */
  stderr(text: string): void;
}

/** The process's own streams. */
export const processIo: CliIo = {
  stdout: (text) => {
    process.stdout.write(text);
  },
  stderr: (text) => {
    process.stderr.write(text);
  },
};

/** Exit codes of every command. */
export const ExitCode = {
  /** Done. */
  OK: 0,
  /** The command ran and failed: a Switchboard error, NATS unreachable, a missing tool. */
  FAILURE: 1,
  /** The command line was wrong: unknown option, bad value, argument that is not JSON. */
  USAGE: 2,
  /** Stopped by a signal before it was done (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

/**
 * A command line a command cannot run with. Thrown from a command (or from
 * yargs' validation), it is reported by {@link usageError} with exit code 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  /**
   * @param command the command whose help to point at ('' for the top level);
   * undefined for the command that threw it
   */
  constructor(
    message: string,
    readonly command?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A `TypeError` (how the library's option checks fail) becomes a {@link UsageError}; other errors pass. */
export function throwIfUsage(err: unknown): void {
  if (err instanceof TypeError) throw new UsageError(err.message, undefined, { cause: err });
}

/** Runs an option check of the library: the `TypeError` it throws is a {@link UsageError}. */
export function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throwIfUsage(err);
    throw err;
  }
}

/**
 * Reports a bad command line the same way for every command: one line saying
 * what is wrong, one saying where help is. `command` is '' for the top level.
 */
export function usageError(io: CliIo, command: string, message: string): number {
  const name = command === '' ? 'switchboard' : `switchboard ${command}`;
  io.stderr(`${name}: ${message}\nRun '${name} --help' for usage.\n`);
  return ExitCode.USAGE;
}
