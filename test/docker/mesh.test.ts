/**
 * deploy/docker-compose.yml on a real engine: `docker compose up -d --wait`
 * brings the three sites and both bridges up healthy, and a client in a
 * container attached to site a's network only calls across the mesh: a result
 * from site c through both bridges, an exception, a timeout, `ls --mesh`, and
 * UNAVAILABLE while bridge b-c is stopped. `down` leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ComposeProject,
  MESH_UP,
  UP_TIMEOUT_MS,
  untilCReachable as untilC,
  untilRoutes,
} from './compose-project.js';
import { docker, dockerOk, type Ran } from './docker.js';
import { missingForDocker, NATS_IMAGE, NODE_IMAGE, suiteTitle } from './prerequisites.js';
import { BUILD_TIMEOUT_MS, buildSwitchboardImage, SWITCHBOARD_IMAGE } from './switchboard-image.js';

const mesh = new ComposeProject(`switchboard-test-mesh-${process.pid}`, ['docker-compose.yml'], {
  SWITCHBOARD_NATS_IMAGE: NATS_IMAGE,
});
/** The client's container: on site a's network, nothing else. */
const client = `${mesh.name}-client`;

/** `switchboard ...argv` run by the client container at site a. */
function atSiteA(...argv: string[]): Promise<Ran> {
  return docker(['exec', client, 'switchboard', ...argv]);
}

/** `ls --mesh --json` at site a: its listing, or undefined when it failed. */
async function lsAtSiteA(): Promise<string | undefined> {
  const ls = await atSiteA('ls', '--mesh', '--json');
  return ls.code === 0 ? ls.stdout : undefined;
}

/** Calls `calculator@c.add 1 2` from site a until it answers 3. */
const untilCReachable = () => untilC(atSiteA);

const missing = await missingForDocker({
  compose: true,
  buildx: true,
  images: [NODE_IMAGE, NATS_IMAGE],
});

describe.skipIf(missing.length > 0)(suiteTitle('docker mesh', missing), () => {
  beforeAll(async () => {
    await buildSwitchboardImage();
    await mesh.up();
    await dockerOk([
      'run',
      '--detach',
      '--name',
      client,
      '--network',
      mesh.network('site-a'),
      '--env',
      'SWITCHBOARD_NATS=nats://nats-a:4222',
      '--entrypoint',
      'node',
      SWITCHBOARD_IMAGE,
      '-e',
      // Idles until stopped; the tests run the CLI in it with `docker exec`.
      'setInterval(() => {}, 1 << 30)',
    ]);
  }, BUILD_TIMEOUT_MS + UP_TIMEOUT_MS);

  afterAll(async () => {
    await docker(['rm', '--force', client]);
    await mesh.down();
  }, 120_000);

  test('docker mesh - NATS, brokers, calculators and bridges of all three sites are healthy', async () => {
    expect(await mesh.states()).toEqual(MESH_UP);
  });

  test('docker mesh - the client container is on site a only', async () => {
    const networks = await dockerOk([
      'inspect',
      '--format',
      '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}',
      client,
    ]);
    expect(networks.trim()).toBe(mesh.network('site-a'));
  });

  test('docker mesh - site a calls the calculator at site c through both bridges', async () => {
    await untilCReachable();
    await untilRoutes(lsAtSiteA, ['a:', 'b:b', 'c:b>c']);
  });

  test('docker mesh - an exception at site c reaches site a as APPLICATION', async () => {
    await untilCReachable();
    const divide = await atSiteA('call', 'calculator@c.divide', '1', '0');
    expect(divide.code).toBe(1);
    expect(divide.stderr).toMatch(
      /^APPLICATION: cannot divide by zero \(app code DIVIDE_BY_ZERO, at site c, service calculator\)$/m,
    );
  });

  test('docker mesh - a call to site c past its deadline ends with TIMEOUT', async () => {
    await untilCReachable();
    const slow = await atSiteA('call', 'calculator@c.sleep', '5000', '--timeout', '500');
    expect(slow.code).toBe(1);
    expect(slow.stderr).toMatch(/^TIMEOUT: /m);
  });

  test('docker mesh - with bridge b-c stopped, site c leaves the listing and calls to it fail fast', async () => {
    await untilCReachable();
    const stop = await mesh.compose(['stop', 'bridge-bc']);
    expect(stop.code, stop.stderr).toBe(0);
    await untilRoutes(lsAtSiteA, ['a:', 'b:b']);
    // Fast: an answer naming site c well within the 20 s deadline, not TIMEOUT at its end.
    const cut = await atSiteA('call', 'calculator@c.add', '1', '2', '--timeout', '20000');
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/^[A-Z_]+: .*\bsite 'c'/m);
    expect(cut.stderr).not.toMatch(/^TIMEOUT: /m);
  });

  test('docker mesh - with bridge b-c stopped, a call to site c is UNAVAILABLE', async () => {
    const cut = await atSiteA('call', 'calculator@c.add', '1', '2', '--timeout', '20000');
    expect(cut.stderr).toMatch(/^UNAVAILABLE: /m);
  });

  test('docker mesh - once bridge b-c is started again, site a reaches site c', async () => {
    const start = await mesh.compose(['start', 'bridge-bc']);
    expect(start.code, start.stderr).toBe(0);
    await untilCReachable();
  });

  test('docker mesh - down removes every container and network of the mesh', async () => {
    await docker(['rm', '--force', client]);
    await mesh.down();
    expect(await mesh.leftovers()).toEqual([]);
  });
});
