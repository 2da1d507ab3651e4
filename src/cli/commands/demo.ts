import type { Argv } from 'yargs';
import {
  Broker,
  type Calculator,
  Client,
  calculatorService,
  type ListReply,
  type LogLevel,
  lineLogger,
  methodsOf,
  type ServerProxy,
  type ServiceDefinition,
  SwitchboardError,
  serve,
} from '../../index.js';
import {
  type NatsServerHandle,
  NatsServerNotFoundError,
  startNatsServer,
} from '../../testing/index.js';
import { defineCommand } from '../command.js';
import { withLogLevel } from '../connection-options.js';
import { describeError, listingLines } from '../format.js';
import { type CliIo, ExitCode } from '../io.js';
import { watchSignals } from '../signals.js';

const SITE = 'demo';
const NATS_BACKENDS = ['binary', 'docker', 'auto'] as const;

/** `switchboard demo`: a guided tour of one site, on a nats-server of its own. */
export const demoCommand = defineCommand({
  command: 'demo',
  describe:
    'Walk through a site of its own: nats-server, a broker, two calculator servers and a client',
  builder: (y: Argv) =>
    withLogLevel(y, 'warn').options({
      keep: {
        type: 'boolean',
        default: false,
        describe: 'Leave everything running after the walkthrough, until Ctrl-C',
      },
      'nats-backend': {
        type: 'string',
        choices: NATS_BACKENDS,
        default: 'binary' as const,
        describe: 'Where the nats-server runs: the local binary, Docker, or Docker when it answers',
      },
    }),
  run: (args, io) => new Demo(io, args.logLevel, args.natsBackend, args.keep).run(),
});

/** The walkthrough was stopped by a signal. */
class Interrupted extends Error {}

/** A step did not show what it should (a bug somewhere, or an odd environment). */
class DemoFailure extends Error {}

interface Closeable {
  close(): Promise<void>;
}

class Demo {
  readonly #io: CliIo;
  readonly #level: LogLevel;
  readonly #backend: (typeof NATS_BACKENDS)[number];
  readonly #keep: boolean;
  /** What is running, in start order; closed in reverse. */
  readonly #running: { what: string; resource: Closeable }[] = [];
  #signal: AbortSignal | undefined;
  #steps = 0;

  constructor(io: CliIo, level: LogLevel, backend: (typeof NATS_BACKENDS)[number], keep: boolean) {
    this.#io = io;
    this.#level = level;
    this.#backend = backend;
    this.#keep = keep;
  }

  async run(): Promise<number> {
    const shutdown = watchSignals(this.#io, true);
    this.#signal = shutdown.signal;
    shutdown.signal.addEventListener(
      'abort',
      () => this.#io.stderr(`\n${String(shutdown.signal.reason)}: stopping the demo\n`),
      { once: true },
    );
    const started = performance.now();
    let code: number = ExitCode.OK;
    let nats: NatsServerHandle | undefined;
    try {
      this.#line(
        `Switchboard demo: site "${SITE}" with its own nats-server, a broker, two calculator servers and a client.`,
      );
      nats = await this.#walkthrough();
      if (this.#keep) {
        this.#tryThis(nats.url);
        await shutdown.received;
      }
    } catch (err) {
      if (err instanceof Interrupted) {
        code = ExitCode.INTERRUPTED;
      } else if (err instanceof NatsServerNotFoundError) {
        this.#io.stderr(`${err.message}\n`);
        code = ExitCode.FAILURE;
      } else {
        const message = err instanceof SwitchboardError ? describeError(err) : String(err);
        this.#io.stderr(`demo failed at step ${this.#steps}: ${message}\n`);
        code = ExitCode.FAILURE;
      }
    } finally {
      await this.#closeAll(nats);
      shutdown.release();
    }
    if (code === ExitCode.OK) this.#line(`\nDemo done in ${ms(started)} ms.`);
    return code;
  }

  async #walkthrough(): Promise<NatsServerHandle> {
    const nats = await this.#step('Start a nats-server for the site', async (t0) => {
      const handle = await startNatsServer({
        name: SITE,
        backend: this.#backend,
        log: this.#level === 'debug' ? (line) => this.#io.stderr(`${line}\n`) : undefined,
      });
      this.#own('nats-server', handle);
      const where = handle.pid !== undefined ? `nats-server pid ${handle.pid}` : handle.backend;
      this.#detail(`${handle.url} (${where})`, t0);
      return handle;
    });
    const connection = { nats: nats.url };

    await this.#step(`Start the broker of site "${SITE}"`, async (t0) => {
      const broker = await Broker.start({
        ...connection,
        site: SITE,
        logger: this.#logger('broker'),
      });
      this.#own('broker', broker);
      this.#detail(`broker ${broker.id} owns the registry of site ${broker.site}`, t0);
    });

    const served = new Map<string, number>();
    const servers = await this.#step('Start two calculator servers', async (t0) => {
      const started: ServerProxy[] = [];
      for (const id of ['calc-1', 'calc-2']) {
        const server = await serve(counting(calculatorService(), id, served), {
          ...connection,
          instanceId: id,
          logger: this.#logger('server'),
        });
        this.#own(id, server);
        started.push(server);
      }
      const states = started.map((s) =>
        s.registered
          ? `${s.instanceId} registered at site ${s.site}`
          : `${s.instanceId} not registered yet`,
      );
      this.#detail(states.join(', '), t0);
      return started;
    });

    const client = await this.#step('Connect a client', async (t0) => {
      const c = await Client.connect({ ...connection, logger: this.#logger('client') });
      this.#own('client', c);
      this.#detail(`const calc = client.proxy<Calculator>('calculator')`, t0);
      return c;
    });
    const calc = client.proxy<Calculator>('calculator');

    await this.#step('Call calculator.add(1, 2)', async (t0) => {
      const before = new Map(served);
      const sum = await calc.add(1, 2);
      if (sum !== 3) throw new DemoFailure(`add(1, 2) returned ${sum}`);
      this.#detail(`→ ${sum}, served by ${servedBy(before, served)}`, t0);
    });

    await this.#step('A handler exception: calculator.divide(1, 0)', async (t0) => {
      const err = await expectError(calc.divide(1, 0), 'APPLICATION');
      if (err.appCode !== 'DIVIDE_BY_ZERO') {
        throw new DemoFailure(`expected app code DIVIDE_BY_ZERO, got ${err.appCode}`);
      }
      this.#detail(`→ ${describeError(err)}`, t0);
    });

    await this.#step('A deadline: calculator.sleep(2000) with a 200 ms timeout', async (t0) => {
      const impatient = client.proxy<Calculator>('calculator', { timeoutMs: 200 });
      const err = await expectError(impatient.sleep(2000), 'TIMEOUT');
      this.#detail(`→ ${describeError(err)}`, t0);
    });

    await this.#step('List the registry', async (t0) => {
      this.#listing(await client.list(), 2, t0);
    });

    const [first, second] = servers as [ServerProxy, ServerProxy];
    await this.#step(`Stop ${first.instanceId} gracefully; calls go on`, async (t0) => {
      await first.close();
      this.#disown(first);
      this.#detail(`${first.instanceId} deregistered, drained and disconnected`, t0);
      const t1 = performance.now();
      const before = new Map(served);
      const sums = await Promise.all([1, 2, 3, 4].map((i) => calc.add(10, i)));
      if (sums.join() !== '11,12,13,14')
        throw new DemoFailure(`add(10, i) returned ${sums.join()}`);
      this.#detail(
        `→ add(10, 1..4) = ${sums.join(', ')}, served by ${servedBy(before, served)}`,
        t1,
      );
      if ((served.get(first.instanceId) ?? 0) !== (before.get(first.instanceId) ?? 0)) {
        throw new DemoFailure(`${first.instanceId} served a call after it stopped`);
      }
    });

    await this.#step(`List the registry again: only ${second.instanceId} is left`, async (t0) => {
      this.#listing(await client.list(), 1, t0);
    });
    return nats;
  }

  /** Runs one numbered step, unless a signal asked to stop. */
  async #step<T>(title: string, body: (t0: number) => Promise<T>): Promise<T> {
    if (this.#signal?.aborted) throw new Interrupted();
    this.#steps += 1;
    this.#line(`\n${String(this.#steps).padStart(2)}. ${title}`);
    return body(performance.now());
  }

  #listing(list: ListReply, expected: number, t0: number): void {
    const count = list.services.reduce((n, s) => n + s.instances.length, 0);
    for (const line of listingLines(list)) this.#line(`    ${line}`);
    this.#detail(`${count} instance${count === 1 ? '' : 's'} at site ${list.site}`, t0);
    if (count !== expected)
      throw new DemoFailure(`expected ${expected} instances, listed ${count}`);
  }

  #tryThis(url: string): void {
    const lines = [
      `switchboard call calculator.add 1 2 --nats ${url}`,
      `switchboard call calculator.divide 1 0 --nats ${url}`,
      `switchboard call calculator.sleep 2000 --timeout 200 --nats ${url}`,
      `switchboard ls --nats ${url}`,
      `switchboard serve-example --service-version 1.1.0 --nats ${url}`,
    ];
    this.#line('\nEverything keeps running. From another terminal, try:');
    for (const line of lines) this.#line(`  ${line}`);
    this.#line('(From a checkout of Switchboard, use `node dist/cli/main.js` for `switchboard`.)');
    this.#line('Press Ctrl-C to stop.');
  }

  async #closeAll(nats: NatsServerHandle | undefined): Promise<void> {
    if (this.#running.length === 0) return;
    this.#steps += 1;
    this.#line(`\n${String(this.#steps).padStart(2)}. Close everything`);
    const t0 = performance.now();
    const closed: string[] = [];
    for (const { what, resource } of this.#running.splice(0).reverse()) {
      try {
        await resource.close();
        closed.push(what);
      } catch (err) {
        this.#io.stderr(`closing ${what} failed: ${String(err)}\n`);
      }
    }
    this.#detail(`closed ${closed.join(', ')}`, t0);
    if (nats?.pid !== undefined) {
      this.#detail(
        isAlive(nats.pid)
          ? `nats-server pid ${nats.pid} is still running`
          : `nats-server pid ${nats.pid} has exited`,
      );
    }
  }

  #own(what: string, resource: Closeable): void {
    this.#running.push({ what, resource });
  }

  #disown(resource: Closeable): void {
    const i = this.#running.findIndex((r) => r.resource === resource);
    if (i >= 0) this.#running.splice(i, 1);
  }

  #logger(component: string) {
    return lineLogger(component, this.#level, this.#io.stderr);
  }

  #line(text: string): void {
    this.#io.stdout(`${text}\n`);
  }

  /** An indented result line, with the time since `t0` when given. */
  #detail(text: string, t0?: number): void {
    this.#line(`    ${text}${t0 === undefined ? '' : `  (${ms(t0)} ms)`}`);
  }
}

/** The service with each call counted per instance, to show which instance served it. */
function counting(
  service: ServiceDefinition,
  instanceId: string,
  served: Map<string, number>,
): ServiceDefinition {
  const methods: Record<string, (...args: unknown[]) => unknown> = {};
  for (const [name, handler] of methodsOf(service.methods)) {
    methods[name] = (...args) => {
      served.set(instanceId, (served.get(instanceId) ?? 0) + 1);
      return handler(...args);
    };
  }
  return { ...service, methods };
}

/** `calc-1` or `calc-1 (1), calc-2 (3)`: who served the calls since `before`. */
function servedBy(before: Map<string, number>, after: Map<string, number>): string {
  const counts = [...after]
    .map(([id, n]) => [id, n - (before.get(id) ?? 0)] as const)
    .filter(([, n]) => n > 0);
  if (counts.length === 1 && counts[0]?.[1] === 1) return counts[0][0];
  return counts.map(([id, n]) => `${id} (${n} call${n === 1 ? '' : 's'})`).join(', ');
}

async function expectError(call: Promise<unknown>, code: string): Promise<SwitchboardError> {
  try {
    const value = await call;
    throw new DemoFailure(`expected ${code}, got the result ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof DemoFailure) throw err;
    if (!(err instanceof SwitchboardError) || err.code !== code) {
      throw new DemoFailure(`expected ${code}, got ${String(err)}`);
    }
    return err;
  }
}

function ms(since: number): number {
  return Math.round(performance.now() - since);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
