/** What the long-running commands (`broker`, `serve-example`, `bridge`) share. */
import type { HealthSource, Logger, Metrics, ObservabilityEndpoint } from '../index.js';
import { connectFailure } from './connection-options.js';
import { describeError } from './format.js';
import { type CliIo, ExitCode, throwIfUsage } from './io.js';
import { type ObservabilityArgs, observe } from './observability.js';
import { watchSignals } from './signals.js';

/**
 * Starts the component of a long-running command. The library's option check
 * (a `TypeError`) is a usage error; any other failure (NATS unreachable, TLS,
 * a wait that timed out) is reported on `status` and resolves undefined, for
 * exit code 1.
 *
 * @param where the NATS URL(s) named if the failure does not name them itself
 */
export async function startAgent<T>(
  start: () => Promise<T>,
  where: string,
  status: Logger,
): Promise<T | undefined> {
  try {
    return await start();
  } catch (err) {
    throwIfUsage(err);
    status.error(describeError(connectFailure(where, err)));
    return undefined;
  }
}

/** One component run until a signal by {@link runUntilSignal}. */
export interface AgentRun<T extends { close(): Promise<void> } & HealthSource> {
  start(): Promise<T>;
  /** The NATS URL(s) a failure to start names. */
  where: string;
  status: Logger;
  /** Says that `agent` runs; may return what to do when it is about to stop. */
  started(agent: T): (() => void) | undefined;
  /** The line said when `signal` arrives, before `agent` closes. */
  stopping(agent: T, signal: NodeJS.Signals): string;
  /** `--metrics-port` and the metrics the agent was given, for /metrics and /healthz. */
  observe?: { args: ObservabilityArgs; metrics: Metrics | undefined };
}

/** Starts a component, runs it until SIGINT, SIGTERM or SIGHUP, then closes it; resolves with the exit code. */
export async function runUntilSignal<T extends { close(): Promise<void> } & HealthSource>(
  io: CliIo,
  run: AgentRun<T>,
): Promise<number> {
  const shutdown = watchSignals(io);
  try {
    const agent = await startAgent(run.start, run.where, run.status);
    if (agent === undefined) return ExitCode.FAILURE;
    let endpoint: ObservabilityEndpoint | undefined;
    if (run.observe) {
      try {
        endpoint = await observe(run.observe.args, run.observe.metrics, () => [agent]);
      } catch (err) {
        run.status.error(`cannot serve metrics: ${(err as Error).message}`);
        await agent.close();
        return ExitCode.FAILURE;
      }
    }
    shutdown.started();
    const stop = run.started(agent);
    const signal = await shutdown.received;
    stop?.();
    run.status.info(run.stopping(agent, signal));
    await agent.close();
    await endpoint?.close();
    return ExitCode.OK;
  } finally {
    shutdown.release();
  }
}
