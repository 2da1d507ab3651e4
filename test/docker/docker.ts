/**
 * The docker CLI for the Docker tests: run a command and get its exit code and
 * output (never an exception for a non-zero exit), or insist that it succeeds.
 */
import { execFile } from 'node:child_process';

/** What a docker command did. */
export interface Ran {
  /** Exit code; -1 when it could not run or was killed at its time limit. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill it after this long. @default 120000 */
  timeoutMs?: number;
  /** Variables added to this process's environment. */
  env?: Record<string, string>;
}

/** Runs `docker ...args`. */
export function docker(args: readonly string[], options: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      args,
      {
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...options.env },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        const why = error !== null && code === -1 ? `\n(${error.message})` : '';
        resolve({ code, stdout, stderr: `${stderr}${why}` });
      },
    );
  });
}

/** Runs `docker ...args` and resolves with its stdout; rejects, quoting its output, unless it exits 0. */
export async function dockerOk(args: readonly string[], options: RunOptions = {}): Promise<string> {
  const ran = await docker(args, options);
  if (ran.code !== 0) {
    throw new Error(`docker ${args.join(' ')} exited ${ran.code}:\n${ran.stderr}${ran.stdout}`);
  }
  return ran.stdout;
}

/**
 * Polls `probe` until it returns true; after `boundMs` rejects with what
 * `describe()` says then (so it can quote the last attempt).
 */
export async function until(
  probe: () => Promise<boolean>,
  boundMs: number,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${boundMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
