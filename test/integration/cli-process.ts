/**
 * The built `switchboard` CLI (dist/cli/main.js) as a child process whose
 * output is collected, for the CLI's integration tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll } from 'vitest';

/** For tests that spawn a few CLI processes at once: room for a busy two-core machine. */
export const SPAWNS_TIMEOUT_MS = 60_000;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** The children's environment: none of the caller's SWITCHBOARD_* settings leak in. */
const BASE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHBOARD_')),
);

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running CLI process whose output is collected. */
export class Cli {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout = '';
  stderr = '';
  #exit: Exit | undefined;
  readonly #waiters = new Set<() => void>();

  /**
   * @param ownGroup start it in a process group of its own, as a shell starts a
   * job, so that {@link Cli.interrupt} can signal the group as Ctrl-C does
   */
  constructor(args: readonly string[], env: Record<string, string> = {}, ownGroup = false) {
    this.child = spawn(process.execPath, [MAIN, ...args], {
      cwd: ROOT,
      env: { ...BASE_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: ownGroup,
    });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** Resolves with the first match of `pattern` in the output; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.stdout) ?? pattern.exec(this.stderr);
        if (match || this.#exit) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          if (match) resolve(match);
          else
            reject(
              new Error(
                `exited (${JSON.stringify(this.#exit)}) without ${pattern}: ${this.output}`,
              ),
            );
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no ${pattern} within ${timeoutMs} ms: ${this.output}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  get output(): string {
    return `\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive && this.child.pid !== undefined) process.kill(this.child.pid, signal);
  }

  /** Ctrl-C in a terminal: SIGINT to the whole process group (started with `ownGroup`). */
  interrupt(): void {
    if (this.alive && this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGINT');
  }

  /** The lines written to stderr. */
  get stderrLines(): string[] {
    return this.stderr.split('\n').filter((line) => line !== '');
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

beforeAll(() => {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (\`npm test\` does)`);
  }
});

afterEach(() => {
  for (const cli of perTest) cli.kill();
  perTest.clear();
});

/** Kills every process still running and waits until they have exited (for `afterAll`). */
export async function killAll(): Promise<void> {
  const all = [...perTest, ...perFile];
  for (const cli of all) cli.kill();
  await Promise.all(all.map((cli) => cli.exited));
  perTest.clear();
  perFile.clear();
}

/** Processes a test started; killed after each test if still running. */
const perTest = new Set<Cli>();
/** Processes shared by the whole file; killed at the end. */
export const perFile = new Set<Cli>();

/** Starts the CLI with `args`; `env` adds to a copy of this process's environment. */
export function start(
  args: readonly string[],
  env?: Record<string, string>,
  owner = perTest,
  ownGroup = false,
): Cli {
  const cli = new Cli(args, env, ownGroup);
  owner.add(cli);
  return cli;
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI to completion. */
export async function run(args: readonly string[], env?: Record<string, string>): Promise<Result> {
  const t0 = performance.now();
  const cli = start(args, env);
  const { code } = await cli.exited;
  perTest.delete(cli);
  return { code, stdout: cli.stdout, stderr: cli.stderr, ms: performance.now() - t0 };
}

/** Ports {@link portToListenOn} handed out in this process: free when probed, maybe not yet taken. */
const handedOut = new Set<number>();

/** Part of 20000–32000 from which this test worker draws ports (vitest numbers its workers from 1). */
const PORT_SLICES = 8;
const PORT_SLICE = ((Number(process.env.VITEST_POOL_ID) || 1) - 1) % PORT_SLICES;
const PORT_SLICE_SIZE = 12_000 / PORT_SLICES;

/**
 * A port for a process to listen on later: free now, and below Linux's
 * ephemeral range (32768 and up), where other tests' `listen(0)` servers and
 * every outgoing connection take theirs, so none of them can take it first.
 * Each test worker draws from a slice of its own, and never gets a port
 * twice: a port handed out is free until its process starts listening, and
 * another pick meanwhile (here or in a parallel test file) must not take it.
 */
export async function portToListenOn(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port =
      20_000 + PORT_SLICE * PORT_SLICE_SIZE + Math.floor(Math.random() * PORT_SLICE_SIZE);
    if (handedOut.has(port)) continue;
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => resolve(true));
    });
    if (free) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port between 20000 and 32000');
}

/** A loopback port on which nothing listens. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
