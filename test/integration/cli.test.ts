/**
 * The built `switchboard` CLI (dist/cli/main.js), run as child processes
 * against real nats-server processes. `npm test` builds before vitest runs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CliIo, run as runInProcess } from '../../src/cli/index.js';
import { type NatsServerHandle, startNatsServer } from '../../src/testing/index.js';
import { type Cli, closedPort, killAll, perFile, run, start } from './cli-process.js';

const COMMANDS = ['broker', 'bridge', 'serve-example', 'call', 'ls', 'demo', 'dashboard'] as const;

/** Polls `probe` until it returns true; false if `boundMs` passes first. */
async function eventually(probe: () => Promise<boolean>, boundMs: number): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  do {
    if (await probe()) return true;
  } while (Date.now() < deadline);
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PIDs of the nats-servers the demo says it started. */
function natsPids(out: string): number[] {
  return [...out.matchAll(/\(nats-server pid (\d+)\)/g)].map((m) => Number(m[1]));
}

interface Listing {
  site: string;
  services: {
    name: string;
    instances: { id: string; site: string; path: string[]; hops: number }[];
  }[];
}

let nats: NatsServerHandle;
let url: string;

async function instanceIds(): Promise<string[]> {
  const ls = await run(['ls', '--json', '--nats', url]);
  expect(ls.code, ls.stderr).toBe(0);
  const listing = JSON.parse(ls.stdout) as Listing;
  return listing.services.flatMap((s) => s.instances.map((i) => i.id));
}

beforeAll(async () => {
  nats = await startNatsServer({ backend: 'binary', name: 'cli' });
  url = nats.url;
  const broker = start(['broker', '--site', 'A', '--nats', url], {}, perFile);
  await broker.waitFor(/serving site A/);
  const server = start(['serve-example', '--instance-id', 'calc-main', '--nats', url], {}, perFile);
  await server.waitFor(/calculator 1\.0\.0 serving as instance calc-main at site A/);
});

afterAll(async () => {
  await killAll();
  await nats?.close();
});

describe('cli', () => {
  test('cli - call prints the result as JSON and exits 0', async () => {
    const [add, mixed] = await Promise.all([
      run(['call', 'calculator.add', '1', '2', '--nats', url]),
      run(['call', 'calculator.add', '0.5', '-2', '--nats', url, '--via-broker']),
    ]);
    expect(add, add.stderr).toMatchObject({ code: 0, stdout: '3\n' });
    expect(mixed, mixed.stderr).toMatchObject({ code: 0, stdout: '-1.5\n' });
  });

  test('cli - call reports a handler exception with its code, app code and site', async () => {
    const [text, json] = await Promise.all([
      run(['call', 'calculator.divide', '1', '0', '--nats', url]),
      run(['call', 'calculator.divide', '1', '0', '--json', '--nats', url]),
    ]);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(
      /^APPLICATION: cannot divide by zero \(app code DIVIDE_BY_ZERO, at site A, service calculator\)$/m,
    );
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      code: 'APPLICATION',
      appCode: 'DIVIDE_BY_ZERO',
      name: 'ApplicationError',
      site: 'A',
      service: 'calculator',
      details: { a: 1 },
    });
  });

  test('cli - call gives up at --timeout with TIMEOUT', async () => {
    // The handler would sleep past the test's own timeout: only --timeout can end the call in time.
    const slow = await run([
      'call',
      'calculator.sleep',
      '60000',
      '--timeout',
      '200',
      '--nats',
      url,
    ]);
    expect(slow.code).toBe(1);
    expect(slow.stderr).toMatch(/^TIMEOUT: /m);
  });

  test('cli - call reports unknown services and methods', async () => {
    const [service, method, version] = await Promise.all([
      run(['call', 'nosuch.add', '--nats', url]),
      run(['call', 'calculator.nosuch', '--nats', url]),
      run(['call', 'calculator.add', '1', '2', '--service-version', '^2.0.0', '--nats', url]),
    ]);
    expect(service.code).toBe(1);
    expect(service.stderr).toMatch(/^SERVICE_NOT_FOUND: /m);
    expect(method.code).toBe(1);
    expect(method.stderr).toMatch(/^METHOD_NOT_FOUND: /m);
    expect(version.code).toBe(1);
    expect(version.stderr).toMatch(/^SERVICE_NOT_FOUND: .*\^2\.0\.0/m);
  });

  test('cli - a bad command line exits 2 with a clear message', async () => {
    const [notJson, badTarget, unknownOption, noCommand, badTimeout] = await Promise.all([
      run(['call', 'calculator.add', '1', 'two', '--nats', url]),
      run(['call', 'calculator', '--nats', url]),
      run(['ls', '--bogus', '--nats', url]),
      run([]),
      run(['call', 'calculator.add', '--timeout', '0', '--nats', url]),
    ]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/argument 2 is not a JSON value: two/);
    expect(badTarget.code).toBe(2);
    expect(badTarget.stderr).toMatch(/SERVICE\.METHOD/);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toMatch(/^switchboard ls: unknown option --bogus$/m);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toMatch(/^switchboard: name a command: broker, bridge, /);
    expect(badTimeout.code).toBe(2);
  });

  test('cli - bridge refuses a bad command line with exit 2', async () => {
    const [noRemote, emptyExport, badHops, halfCredentials] = await Promise.all([
      run(['bridge', '--local', url]),
      run(['bridge', '--local', url, '--remote', url, '--export', ' , ']),
      run(['bridge', '--local', url, '--remote', url, '--max-hops', '0']),
      run(['bridge', '--local', url, '--remote', url, '--remote-user', 'u']),
    ]);
    expect(noRemote.code).toBe(2);
    expect(noRemote.stderr).toMatch(/^switchboard bridge: --remote is required$/m);
    expect(emptyExport.code).toBe(2);
    expect(emptyExport.stderr).toMatch(/--export needs at least one glob/);
    expect(badHops.code).toBe(2);
    expect(badHops.stderr).toMatch(/maxHops/);
    expect(halfCredentials.code).toBe(2);
    expect(halfCredentials.stderr).toMatch(
      /^switchboard bridge: --remote-user needs --remote-pass as well$/m,
    );
  });

  test('cli - an unreachable NATS is UNAVAILABLE, exit 1', async () => {
    const port = await closedPort();
    const [text, json] = await Promise.all([
      run(['call', 'calculator.add', '1', '2', '--nats', `nats://127.0.0.1:${port}`]),
      run(['ls', '--json', '--nats', `nats://127.0.0.1:${port}`]),
    ]);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(
      new RegExp(`^UNAVAILABLE: cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}: `, 'm'),
    );
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ code: 'UNAVAILABLE' });
  });

  test('cli - ls lists services with their instances, as JSON or a table', async () => {
    // Options also come from SWITCHBOARD_* variables; those of other commands are ignored.
    const env = {
      SWITCHBOARD_NATS: url,
      SWITCHBOARD_SITE: 'other',
      SWITCHBOARD_NATS_BACKEND: 'binary',
    };
    const [json, table] = await Promise.all([run(['ls', '--json'], env), run(['ls'], env)]);
    expect(json.code, json.stderr).toBe(0);
    const listing = JSON.parse(json.stdout) as Listing;
    expect(listing.site).toBe('A');
    const calculator = listing.services.find((s) => s.name === 'calculator');
    expect(calculator?.instances).toContainEqual(
      expect.objectContaining({ id: 'calc-main', site: 'A', hops: 0 }),
    );
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^SERVICE\s+VERSION\s+METHODS\s+INSTANCE\s+SITE\s+HOPS$/m);
    expect(table.stdout).toMatch(/^calculator\s+1\.0\.0\s+add,divide,sleep\s+calc-main\s+A\s+0$/m);
  });

  test('cli - a crashed server leaves ls when its lease expires, a stopped one at once', async () => {
    const crashing = start([
      'serve-example',
      '--instance-id',
      'crash-1',
      '--heartbeat-ms',
      '200',
      '--nats',
      url,
    ]);
    const stopping = start(['serve-example', '--instance-id', 'stop-1', '--nats', url]);
    await Promise.all([
      crashing.waitFor(/serving as instance crash-1 at site A/),
      stopping.waitFor(/serving as instance stop-1 at site A/),
    ]);
    expect(await instanceIds()).toEqual(expect.arrayContaining(['calc-main', 'crash-1', 'stop-1']));

    stopping.kill('SIGTERM');
    expect(await stopping.exited).toEqual({ code: 0, signal: null });
    // Deregistered before it exited: gone from the first listing (bounded in case of a slow box).
    expect(await eventually(async () => !(await instanceIds()).includes('stop-1'), 1000)).toBe(
      true,
    );

    crashing.kill('SIGKILL');
    // No goodbye: the broker drops it once its 600 ms lease runs out.
    expect(await eventually(async () => !(await instanceIds()).includes('crash-1'), 5000)).toBe(
      true,
    );
    expect(await instanceIds()).toContain('calc-main');
  });

  test('cli - broker and serve-example exit 0 on SIGTERM and SIGINT', async () => {
    await using own = await startNatsServer({ backend: 'binary', name: 'signals' });
    const broker = start([
      'broker',
      '--site',
      'B',
      '--nats',
      own.url,
      '--policy',
      'least-outstanding',
    ]);
    await broker.waitFor(/serving site B/);
    const server = start(['serve-example', '--service-version', '2.1.0', '--nats', own.url]);
    await server.waitFor(/calculator 2\.1\.0 serving as instance \S+ at site B/);
    server.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    broker.kill('SIGTERM');
    expect(await broker.exited).toEqual({ code: 0, signal: null });
    expect(broker.stderr).toMatch(/SIGTERM: stopping broker/);
    expect(broker.stderr).not.toMatch(/still busy/);
  });

  test('cli - run() returns the exit code and writes through the given io', async () => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
    };
    expect(await runInProcess(['call', 'calculator.add', '1', '2', '--nats', url], io)).toBe(0);
    expect(stdout).toBe('3\n');
    expect(await runInProcess(['call', 'calculator.add', '{a:1}'], io)).toBe(2);
    expect(stderr).toMatch(/argument 1 is not a JSON value: \{a:1\}/);
    stdout = '';
    expect(await runInProcess(['ls', '--help'], io)).toBe(0);
    expect(stdout).toMatch(/^switchboard ls/);
  });

  test('cli - every command has --help', async () => {
    const results = await Promise.all([
      run(['--help']),
      ...COMMANDS.map((command) => run([command, '--help'])),
    ]);
    const [top, ...perCommand] = results;
    expect(top?.code).toBe(0);
    for (const command of COMMANDS) expect(top?.stdout).toContain(`switchboard ${command}`);
    perCommand.forEach((help, i) => {
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^switchboard ${COMMANDS[i]}`));
      expect(help.stdout).toContain('--help');
    });
    expect(perCommand[1]?.stdout).toContain('--remote-tls-ca');
    expect(perCommand[2]?.stdout).toContain('--service-version');
    expect(perCommand[3]?.stdout).toContain('--tls-ca');
    expect(perCommand[4]?.stdout).toContain('--mesh');
    // A dozen CLI processes start at once: slow on a loaded 2-core machine.
  }, 60_000);

  test('cli - demo walks through the mesh and leaves no nats-server behind', async () => {
    const demo = await run(['demo']);
    expect(demo.code, demo.stdout + demo.stderr).toBe(0);
    const out = demo.stdout;
    for (const step of [
      /^ 1\. Start a nats-server per site\n(.*site [abc]: nats:.*\n){3}/m,
      /^ 2\. Start a broker per site\n.*sites a, b, c/m,
      /^ 3\. Link the sites: bridges a–b and b–c\n.*linked site a and site b\n.*linked site b and site c/m,
      /^ 4\. Start two calculator servers at site c.*\n(.*\n){2} {4}calculator visible at site a: site c, via b → c \(2 hops\) {2}\(\d+ ms\)$/m,
      /^ 5\. .*\n {4}→ 3, served by calc-\d; the call crossed a → b → c {2}\(\d+ ms\)$/m,
      /^ 6\. .*\n {4}→ APPLICATION: .*DIVIDE_BY_ZERO, at site c/m,
      /^ 7\. .*\n {4}→ TIMEOUT: /m,
      /^ 8\. List the mesh from site a.*\n.*VIA\n {4}calculator .* c {5}2 {5}b → c\n/m,
      /^ 9\. Stop calc-1 gracefully.*\n.*\n {4}→ add\(10, 1\.\.4\) = 11, 12, 13, 14, served by calc-2 .*\n(.*\n){2} {4}1 instance left at site c: calc-2/m,
      /^10\. Stop calc-2 too.*\n(.*\n){2} {4}→ UNAVAILABLE: /m,
      /^11\. A new server at site c takes over\n(.*\n){2} {4}→ add\(1, 2\) = 3, served by calc-3/m,
      /^12\. Close everything/m,
      /^Demo done in \d+ ms\.$/m,
    ]) {
      expect(out).toMatch(step);
    }
    const pids = natsPids(out);
    expect(pids).toHaveLength(3);
    expect(out).toContain(`nats-server pids ${pids.join(', ')} have exited`);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(demo.stderr).not.toMatch(/still busy/);
  });

  test('cli - demo --keep runs until Ctrl-C, then closes everything, quietly', async () => {
    // Its own process group, as a shell runs a job: Ctrl-C signals the whole group.
    const demo = start(['demo', '--keep'], {}, undefined, true);
    await demo.waitFor(/Press Ctrl-C to stop/);
    const [, urlA] = /switchboard call calculator\.add 1 2 --nats (\S+)/.exec(demo.stdout) ?? [];
    expect(demo.stdout).toMatch(/switchboard ls --mesh --nats \S+/);
    expect(demo.stdout).toMatch(/switchboard serve-example .*--nats \S+/);
    expect(demo.stdout).toMatch(/switchboard bridge --local \S+ --remote \S+/);
    const pids = natsPids(demo.stdout);
    expect(urlA).toBeDefined();
    const call = await run(['call', 'calculator.add', '1', '2', '--nats', urlA as string]);
    expect(call).toMatchObject({ code: 0, stdout: '3\n' });
    const [, dashboard] =
      /Its dashboard, .*: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.stdout) ?? [];
    const page = await fetch(dashboard as string);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Switchboard mesh</title>');
    demo.interrupt();
    expect(await demo.exited).toEqual({ code: 0, signal: null });
    expect(demo.stdout).toMatch(/Close everything/);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    // The nats-servers did not get the Ctrl-C: they stopped after the bridges, which did not warn.
    expect(demo.stderrLines).toEqual(['SIGINT: stopping the demo']);
  });
});

/** Instances of `service` in a listing. */
function instancesOf(listing: Listing, service: string) {
  return listing.services.filter((s) => s.name === service).flatMap((s) => s.instances);
}

/** `ls --json` (with `--mesh`: everything reachable) at the site of `natsUrl`. */
async function listing(natsUrl: string, mesh: boolean): Promise<Listing> {
  const ls = await run(['ls', '--json', ...(mesh ? ['--mesh'] : []), '--nats', natsUrl]);
  expect(ls.code, ls.stderr).toBe(0);
  return JSON.parse(ls.stdout) as Listing;
}

/** Whether site a's mesh listing shows calculator at site b. */
async function calculatorVisibleAt(natsUrl: string): Promise<boolean> {
  return instancesOf(await listing(natsUrl, true), 'calculator').some((i) => i.site === 'b');
}

describe('cli federation', () => {
  // Sites a and b, each with a broker; the example calculator at site b.
  let siteA: NatsServerHandle;
  let siteB: NatsServerHandle;
  const agents: Cli[] = [];

  beforeAll(async () => {
    [siteA, siteB] = await Promise.all([
      startNatsServer({ backend: 'binary', name: 'a' }),
      startNatsServer({ backend: 'binary', name: 'b' }),
    ]);
    const brokers = [
      start(['broker', '--site', 'a', '--nats', siteA.url], {}, perFile),
      start(['broker', '--site', 'b', '--nats', siteB.url], {}, perFile),
    ];
    const server = start(['serve-example', '--nats', siteB.url], {}, perFile);
    agents.push(...brokers, server);
    await Promise.all(brokers.map((broker) => broker.waitFor(/serving site [ab]/)));
    await server.waitFor(/serving as instance \S+ at site b/);
  });

  afterAll(async () => {
    // The agents first, so that none is left reconnecting to a stopped nats-server.
    for (const agent of agents) agent.kill();
    await Promise.all(agents.map((agent) => agent.exited));
    await Promise.all([siteA?.close(), siteB?.close()]);
  });

  test('bridge - a call at site a reaches the calculator at site b; SIGTERM withdraws it', async () => {
    // Comma-separated globs through the environment, as docker-compose passes them.
    const bridge = start(['bridge', '--local', siteA.url, '--remote', siteB.url], {
      SWITCHBOARD_IMPORT: 'calc*,orders',
    });
    await bridge.waitFor(
      new RegExp(`^bridge linked site a \\(${siteA.url}\\) and site b \\(${siteB.url}\\)$`, 'm'),
    );
    expect(await eventually(() => calculatorVisibleAt(siteA.url), 5000)).toBe(true);

    const [call, mesh, own, table, ownTable] = await Promise.all([
      run(['call', 'calculator.add', '1', '2', '--nats', siteA.url]),
      listing(siteA.url, true),
      listing(siteA.url, false),
      run(['ls', '--mesh', '--nats', siteA.url]),
      run(['ls', '--nats', siteA.url]),
    ]);
    expect(call, call.stderr).toMatchObject({ code: 0, stdout: '3\n' });
    expect(mesh.site).toBe('a');
    expect(instancesOf(mesh, 'calculator')).toEqual([
      expect.objectContaining({ site: 'b', path: ['b'], hops: 1 }),
    ]);
    // Without --mesh only the instances at site a itself: none.
    expect(instancesOf(own, 'calculator')).toEqual([]);
    expect(ownTable.stdout).toMatch(/^no services registered at site a$/m);
    expect(ownTable.stdout).toMatch(
      /^\(1 more reachable through bridges: switchboard ls --mesh\)$/m,
    );
    expect(table.stdout).toMatch(/^SERVICE\s+VERSION\s+METHODS\s+INSTANCE\s+SITE\s+HOPS\s+VIA$/m);
    expect(table.stdout).toMatch(/^calculator\s+1\.0\.0\s+add,divide,sleep\s+\S+\s+b\s+1\s+b$/m);

    bridge.kill('SIGTERM');
    expect(await bridge.exited).toEqual({ code: 0, signal: null });
    expect(bridge.stderr).toMatch(/SIGTERM: stopping the bridge/);
    expect(bridge.stderr).not.toMatch(/still busy/);
    // A bridge that stops cleanly withdraws its routes at once (bounded for a slow box).
    expect(await eventually(async () => !(await calculatorVisibleAt(siteA.url)), 2000)).toBe(true);
    // Four processes (broker, server, bridge, callers) in turn: slow under load.
  }, 60_000);

  test('bridge - waits for a broker on the far side, then links', async () => {
    await using siteC = await startNatsServer({ backend: 'binary', name: 'c' });
    // Both URLs through the environment this time.
    const bridge = start(['bridge'], {
      SWITCHBOARD_LOCAL: siteA.url,
      SWITCHBOARD_REMOTE: siteC.url,
    });
    await bridge.waitFor(/WARN bridge: waiting for a broker on the remote side/);
    expect(bridge.stderr).not.toMatch(/bridge linked/);
    const broker = start(['broker', '--site', 'c', '--nats', siteC.url]);
    await broker.waitFor(/serving site c/);
    await bridge.waitFor(/^bridge linked site a \(\S+\) and site c \(\S+\)$/m);
    bridge.kill('SIGINT');
    expect(await bridge.exited).toEqual({ code: 0, signal: null });
  });

  test('bridge - --export keeps services out of the remote site', async () => {
    // A site that never saw the calculator: calling it there is SERVICE_NOT_FOUND.
    await using siteX = await startNatsServer({ backend: 'binary', name: 'x' });
    const broker = start(['broker', '--site', 'x', '--nats', siteX.url]);
    await broker.waitFor(/serving site x/);
    const bridge = start([
      'bridge',
      '--local',
      siteB.url,
      '--remote',
      siteX.url,
      '--export',
      'nomatch*',
    ]);
    await bridge.waitFor(/^bridge linked site b \(\S+\) and site x \(\S+\)$/m);
    const [call, mesh] = await Promise.all([
      run(['call', 'calculator.add', '1', '2', '--nats', siteX.url]),
      listing(siteX.url, true),
    ]);
    expect(call.code).toBe(1);
    expect(call.stderr).toMatch(/^SERVICE_NOT_FOUND: /m);
    expect(instancesOf(mesh, 'calculator')).toEqual([]);
    expect(bridge.stderr).not.toMatch(/advertised route to calculator/);
  });
});
