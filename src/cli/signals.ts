import { type CliIo, ExitCode } from './io.js';

/**
 * Ctrl-C, a stop request, and the terminal going away: the demo's nats-servers
 * are out of the terminal's reach (see nats-launcher.ts), so a closed terminal
 * must stop the command cleanly too, or they would outlive it.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** What a long-running command learns about SIGINT, SIGTERM and SIGHUP. */
export interface ShutdownSignals {
  /** Resolves with the first signal. */
  readonly received: Promise<NodeJS.Signals>;
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /**
   * Marks start-up as done. A signal during start-up exits at once: nothing is
   * ours to close yet, and a connection still retrying cannot be cancelled.
   */
  started(): void;
  /** Removes the handlers (once shutdown is complete). */
  release(): void;
}

/**
 * Installs SIGINT/SIGTERM/SIGHUP handlers once for a long-running command. The first
 * signal asks for a graceful shutdown; a second one exits immediately.
 *
 * @param graceful whether a signal during start-up also asks for a graceful
 * shutdown (the demo, whose steps are all bounded) instead of exiting at once.
 */
export function watchSignals(io: CliIo, graceful = false): ShutdownSignals {
  const controller = new AbortController();
  let starting = !graceful;
  let resolve!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (starting) {
      io.stderr(`${signal} while starting: exiting\n`);
      process.exit(ExitCode.INTERRUPTED);
    }
    if (controller.signal.aborted) {
      io.stderr(`${signal} again: exiting now\n`);
      process.exit(ExitCode.INTERRUPTED);
    }
    controller.abort(signal);
    resolve(signal);
  };
  for (const name of SIGNALS) process.on(name, onSignal);
  return {
    received,
    signal: controller.signal,
    started: () => {
      starting = false;
    },
    release: () => {
      for (const name of SIGNALS) process.off(name, onSignal);
    },
  };
}
