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

/** Reports a bad command line the same way for every command. */
export function usageError(io: CliIo, command: string, message: string): number {
  io.stderr(`switchboard ${command}: ${message}\nRun 'switchboard ${command} --help' for usage.\n`);
  return ExitCode.USAGE;
}
