/**
 * `switchboard up CONFIG` as a process: the brokers and the bridge a mesh
 * config assigns to this host, against two real nats-servers, and a call
 * across the bridge; and a bad config refused before anything starts.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Calculator,
  Client,
  type ClientProxy,
  calculatorService,
  serve,
} from '../../src/internal.js';
import { REPO } from './deploy-compose-file.js';
import { eventually, startSite, type TestSite, track } from './helpers.js';

const MAIN = join(REPO, 'dist/cli/main.js');
const BASE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHBOARD_')),
);

let dir: string;

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(join(tmpdir(), 'switchboard-up-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `switchboard up ...`; `output` grows as it writes. */
function up(args: readonly string[]) {
  const child = spawn(process.execPath, [MAIN, 'up', ...args], {
    cwd: REPO,
    env: BASE_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise<number | null>((resolve) => child.once('close', resolve)),
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    run.stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    run.stderr += chunk;
  });
  // Whatever happens to the test, the process does not outlive it.
  track({
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await run.exited;
    },
  });
  return run;
}

/** The message refusing a call made while another holds the one place in flight. */
async function refusedBeside(calculator: ClientProxy<Calculator>): Promise<string> {
  const both = await Promise.allSettled([calculator.sleep(1000), calculator.sleep(1000)]);
  expect(both.filter((s) => s.status === 'fulfilled')).toEqual([
    { status: 'fulfilled', value: 1000 },
  ]);
  const refused = both.find((s) => s.status === 'rejected');
  expect(refused?.reason).toMatchObject({ code: 'UNAVAILABLE', completed: 'no' });
  return String(refused?.reason.message);
}

describe('deploy - switchboard up', () => {
  test('deploy - up runs the brokers and bridge assigned to this host; a calls b across it', async () => {
    const a: TestSite = await startSite('a', { broker: false });
    const b: TestSite = await startSite('b', { broker: false });
    const config = join(dir, 'mesh.yaml');
    await writeFile(
      config,
      [
        'sites:',
        `  a: { nats: ${a.url} }`,
        `  b: { nats: "${b.url}" }`,
        'brokers:',
        '  - { site: a, host: here, maxInstances: 1000, maxBridgeRoutes: 10, maxCallsInFlight: 1 }',
        '  - { site: b }',
        '  - { site: b, host: elsewhere }',
        'bridges:',
        '  - { between: [a, b], host: [here, spare], import: ["calc*"], maxCallsInFlight: 1 }',
        '',
      ].join('\n'),
    );
    const plan = up([config, '--host', 'here', '--dry-run']);
    expect(await plan.exited, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^ {2}broker +a +brokers\[0\]/m);
    expect(plan.stdout).toMatch(/^ {2}broker +b +brokers\[1\]/m);
    expect(plan.stdout).toMatch(/^ {2}bridge +a <-> b +bridges\[0\] +import calc\*$/m);
    expect(plan.stdout).not.toMatch(/brokers\[2\]/);

    const running = up([config, '--host', 'here', '--log-level', 'warn']);
    track(await serve(calculatorService(), { nats: b.url }));
    const client = track(await Client.connect({ nats: a.url, timeoutMs: 2000 }));
    await eventually(
      async () => {
        // Until up has started the broker of site a, nothing answers lookups there.
        const found = await client.lookup('calculator').catch(() => []);
        return found.some((i) => i.site === 'b');
      },
      10_000,
      `calculator at site b seen from site a\n${running.stderr}`,
    );
    const calculator = client.proxy<Calculator>('calculator@b');
    expect(await calculator.add(1, 2)).toBe(3);
    // The limits of the config reach the bridge and the broker: one call in flight each.
    expect(await refusedBeside(calculator)).toMatch(/bridge busy: its limit of 1 call in flight/);
    const thin = track(await Client.connect({ nats: a.url, viaBroker: true, timeoutMs: 5000 }));
    const thinCalculator = thin.proxy<Calculator>('calculator@b');
    expect(await refusedBeside(thinCalculator)).toMatch(
      /broker busy: its limit of 1 call in flight/,
    );
    expect(running.stderr).toMatch(/^broker \S+ serving site a on /m);
    expect(running.stderr).toMatch(/^broker \S+ serving site b on /m);
    expect(running.stderr).toMatch(/^bridge a <-> b linked$/m);

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(running.stderr).toMatch(/^SIGTERM: stopping bridge a <-> b, broker b, broker a$/m);
  });

  test('deploy - up refuses a bad config with exit 2, naming the file and the field', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(
      config,
      'sites:\n  a: { nats: nats://127.0.0.1:4222 }\nbridges:\n  - { between: [a, x] }\n',
    );
    const bad = up([config]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr).toBe(
      `switchboard up: ${config}: bridges[0].between: expected two different sites defined under 'sites': a (got "a, x")\n`,
    );
    const placed = join(dir, 'placed.yaml');
    await writeFile(
      placed,
      'sites: { a: { nats: nats://127.0.0.1:4222 } }\nbrokers: [ { site: a, host: [here, spare] } ]\n',
    );
    const nothingHere = up([placed, '--host', 'nowhere', '--dry-run']);
    expect(await nothingHere.exited).toBe(2);
    expect(nothingHere.stderr).toMatch(
      /placed\.yaml: expected a broker or a bridge for host 'nowhere' \(hosts named in it: here, spare; choose with --host\)/,
    );
  });
});
