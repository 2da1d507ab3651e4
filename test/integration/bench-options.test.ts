/**
 * The benchmark's command line (bench/run.mjs): usage and mistakes, which
 * must come before anything builds or starts.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command args` in the repository to completion. */
function runIn(command: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd: ROOT }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bench options', () => {
  test('bench - npm run bench -- --help prints the usage without building', async () => {
    const builtAt = statSync(BUILT).mtimeMs;
    const help = await runIn('npm', ['run', '--silent', 'bench', '--', '--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout.split('\n')[0]).toBe(
      'Usage: npm run bench -- [options]      (or: node bench/run.mjs [options])',
    );
    expect(help.stdout).toMatch(/^ {2}--quick {2,}/m);
    expect(help.stderr).toBe('');
    expect(statSync(BUILT).mtimeMs).toBe(builtAt);
  });

  test('bench - an unknown flag or value is one line and exit 2', async () => {
    const [flag, cases, reps] = await Promise.all([
      runIn(process.execPath, ['bench/run.mjs', '--build', '--bogus']),
      runIn(process.execPath, ['bench/run.mjs', '--cases', 'local,locl']),
      runIn(process.execPath, ['bench/run.mjs', '--reps', 'two']),
    ]);
    const help = "Run 'npm run bench -- --help' for usage.";
    expect(flag).toEqual({
      code: 2,
      stdout: '',
      stderr: `bench: unknown option '--bogus'\n${help}\n`,
    });
    expect(cases.code).toBe(2);
    expect(cases.stderr).toBe(
      `bench: --cases: unknown 'locl' (known: floor, floor-relay, floor-relay-2, raw, moleculer, moleculer-json, moleculer-json-nobal, moleculer-notepack, moleculer-notepack-nobal, moleculer-cbor, moleculer-cbor-nobal, local, local-forwarded, bridge-1, bridge-2)\n${help}\n`,
    );
    expect(reps.code).toBe(2);
    expect(reps.stderr.split('\n')[0]).toBe(
      "bench: --reps: expected a positive whole number, got 'two'",
    );
  });
});
