/**
 * deploy/docker-compose.yml with deploy/docker-compose.secure.yml on a real
 * engine: the three sites with TLS and per-role credentials everywhere, made
 * by `switchboard secure init` in a temporary directory. Everything comes up
 * healthy; a client container on site a's network only, logged in with site
 * a's client credential, calls the calculator at site c through both bridges
 * and lists the mesh, and the same credential cannot serve. `down` leaves
 * nothing behind.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { calculatorRoutes } from '../integration/deploy-compose-file.js';
import { type DeploySecrets, makeDeploySecrets } from '../integration/deploy-secrets.js';
import { ComposeProject, MESH_UP, UP_TIMEOUT_MS, untilCReachable } from './compose-project.js';
import { docker, dockerOk, type Ran } from './docker.js';
import { missingForDocker, NATS_IMAGE, NODE_IMAGE, suiteTitle } from './prerequisites.js';
import { BUILD_TIMEOUT_MS, buildSwitchboardImage, SWITCHBOARD_IMAGE } from './switchboard-image.js';
import { opensslMissing } from './test-tls.js';

const missing = [
  ...(await missingForDocker({ compose: true, buildx: true, images: [NODE_IMAGE, NATS_IMAGE] })),
  await opensslMissing(),
].filter((reason) => reason !== undefined);

describe.skipIf(missing.length > 0)(suiteTitle('docker secure mesh', missing), () => {
  let secrets: DeploySecrets | undefined;
  let mesh: ComposeProject;
  const client = `switchboard-test-secure-mesh-${process.pid}-client`;

  /** `switchboard ...argv` run by the client container at site a, as site a's client. */
  const atSiteA = (...argv: string[]): Promise<Ran> =>
    docker(['exec', client, 'switchboard', ...argv]);

  beforeAll(async () => {
    secrets = await makeDeploySecrets();
    mesh = new ComposeProject(
      `switchboard-test-secure-mesh-${process.pid}`,
      ['docker-compose.yml', 'docker-compose.secure.yml'],
      { SWITCHBOARD_NATS_IMAGE: NATS_IMAGE, SWITCHBOARD_SECRETS: secrets.dir },
    );
    await buildSwitchboardImage();
    await mesh.up();
    await dockerOk([
      ...['run', '--detach', '--name', client, '--network', mesh.network('site-a')],
      ...['--env-file', join(secrets.site('a'), 'client.env')],
      ...['--env', 'SWITCHBOARD_NATS=tls://nats-a:4222'],
      ...['--env', 'SWITCHBOARD_TLS_CA=/run/secrets/ca'],
      ...['--volume', `${join(secrets.site('a'), 'ca.pem')}:/run/secrets/ca:ro`],
      ...['--entrypoint', 'node', SWITCHBOARD_IMAGE],
      // Idles until stopped; the tests run the CLI in it with `docker exec`.
      ...['-e', 'setInterval(() => {}, 1 << 30)'],
    ]);
  }, BUILD_TIMEOUT_MS + UP_TIMEOUT_MS);

  afterAll(async () => {
    await docker(['rm', '--force', client]);
    await mesh?.down();
    await secrets?.remove();
  }, 120_000);

  test('docker secure mesh - NATS, brokers, calculators and bridges of all three sites are healthy, with TLS and their own credentials', async () => {
    expect(await mesh.states()).toEqual(MESH_UP);
  });

  test('docker secure mesh - site a calls the calculator at site c through both bridges, and lists the mesh', async () => {
    await untilCReachable(atSiteA);
    const divide = await atSiteA('call', 'calculator@c.divide', '1', '0');
    expect(divide.stderr).toMatch(/^APPLICATION: .*DIVIDE_BY_ZERO, at site c/m);
    const ls = await atSiteA('ls', '--mesh', '--json');
    expect(ls.code, ls.stderr).toBe(0);
    expect(calculatorRoutes(ls.stdout)).toEqual(['a:', 'b:b', 'c:b>c']);
  });

  test('docker secure mesh - the client credential cannot serve: NATS refuses its registration', async () => {
    const serve = await atSiteA('serve-example');
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(/FORBIDDEN: NATS refused the publish to sb\.broker\.register\./);
  });

  test('docker secure mesh - no part of the mesh was refused anything by NATS', async () => {
    const logs = await mesh.compose(['logs', '--no-color']);
    expect(logs.stdout).not.toMatch(/NATS refused|registration refused/);
  });

  test('docker secure mesh - down removes every container and network of the mesh', async () => {
    await docker(['rm', '--force', client]);
    await mesh.down();
    expect(await mesh.leftovers()).toEqual([]);
  });
});
