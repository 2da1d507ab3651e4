import { SwitchboardError } from '../../index.js';
import { NatsServerNotFoundError } from '../../testing/index.js';
import { describeError } from '../format.js';
import { type CliIo, ExitCode } from '../io.js';
import type { LogArgs } from '../logging.js';
import { watchSignals } from '../signals.js';
import { tryThis } from './keep.js';
import { DemoMesh, type DemoNatsBackend } from './mesh.js';
import { Interrupted, ms, Narrator } from './narrator.js';
import { SITES, Walkthrough } from './walkthrough.js';

/** Options of {@link runDemo}. */
export interface DemoOptions extends LogArgs {
  /** Where the nats-servers run. */
  natsBackend: DemoNatsBackend;
  /** Leave the mesh running after the walkthrough, until SIGINT or SIGTERM. */
  keep: boolean;
}

/**
 * Runs the demo: starts the mesh, walks through it, (with `keep`) waits for a
 * signal, then closes everything. Resolves with the exit code.
 */
export async function runDemo(io: CliIo, options: DemoOptions): Promise<number> {
  const shutdown = watchSignals(io, true);
  shutdown.signal.addEventListener(
    'abort',
    () => io.stderr(`\n${String(shutdown.signal.reason)}: stopping the demo\n`),
    { once: true },
  );
  const say = new Narrator(io, shutdown.signal);
  const mesh = new DemoMesh(io, options, options.natsBackend);
  const started = performance.now();
  let code: number = ExitCode.OK;
  try {
    say.line(
      `Switchboard demo: sites ${SITES.join(', ')}, each with its own nats-server and broker, ` +
        'linked by bridges a–b and b–c; calculator servers at site c, a client at site a.',
    );
    const { sites } = await new Walkthrough(mesh, say).run();
    if (options.keep) {
      tryThis(say, sites);
      await shutdown.received;
    }
  } catch (err) {
    code = failureCode(err, say);
  } finally {
    await closeMesh(mesh, say);
    shutdown.release();
  }
  if (code === ExitCode.OK) say.line(`\nDemo done in ${ms(started)} ms.`);
  return code;
}

function failureCode(err: unknown, say: Narrator): number {
  if (err instanceof Interrupted) return ExitCode.INTERRUPTED;
  if (err instanceof NatsServerNotFoundError) {
    say.problem(err.message);
  } else {
    const message = err instanceof SwitchboardError ? describeError(err) : String(err);
    say.problem(`demo failed at step ${say.steps}: ${message}`);
  }
  return ExitCode.FAILURE;
}

async function closeMesh(mesh: DemoMesh, say: Narrator): Promise<void> {
  if (!mesh.running) return;
  const t0 = say.heading('Close everything');
  const { closed, natsPids } = await mesh.close();
  say.detail(`closed ${closed.join(', ')}`, t0);
  if (natsPids.length === 0) return;
  const alive = natsPids.filter((p) => !p.exited).map((p) => p.pid);
  const pids = natsPids.map((p) => p.pid).join(', ');
  say.detail(
    alive.length === 0
      ? `nats-server pids ${pids} have exited`
      : `nats-server pids ${alive.join(', ')} may still be running`,
  );
}
