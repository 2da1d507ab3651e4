/**
 * deploy/docker-compose.yml through testcontainers' compose support (compose
 * v2 underneath), the way a project's own integration tests would start the
 * mesh: wait for NATS and brokers to be healthy, then call from inside
 * broker-a the calculator at site c, two bridges away.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { loadTestcontainers } from '../../src/testing/testcontainers.js';
import { DEPLOY, MESH_COMPOSE } from '../integration/deploy-compose-file.js';
import { ComposeProject, UP_TIMEOUT_MS, untilRoutes } from './compose-project.js';
import { until } from './docker.js';
import { missingForDocker, NATS_IMAGE, NODE_IMAGE, suiteTitle } from './prerequisites.js';
import { BUILD_TIMEOUT_MS, buildSwitchboardImage } from './switchboard-image.js';

const PROJECT = `switchboard-test-tc-${process.pid}`;

const missing = await missingForDocker({
  compose: true,
  buildx: true,
  images: [NODE_IMAGE, NATS_IMAGE],
  testcontainers: true,
});

describe.skipIf(missing.length > 0)(suiteTitle('docker testcontainers', missing), () => {
  beforeAll(buildSwitchboardImage, BUILD_TIMEOUT_MS);

  test(
    'docker testcontainers - DockerComposeEnvironment brings the mesh up and site a calls site c',
    async () => {
      const { DockerComposeEnvironment, Wait } = await loadTestcontainers();
      let compose = new DockerComposeEnvironment(DEPLOY, MESH_COMPOSE)
        .withProjectName(PROJECT)
        .withEnvironment({ SWITCHBOARD_NATS_IMAGE: NATS_IMAGE })
        .withStartupTimeout(UP_TIMEOUT_MS);
      for (const site of ['a', 'b', 'c']) {
        compose = compose
          .withWaitStrategy(`nats-${site}-1`, Wait.forHealthCheck())
          .withWaitStrategy(`broker-${site}-1`, Wait.forHealthCheck());
      }
      // The dashboard publishes a port on 127.0.0.1 only: testcontainers'
      // default wait checks it at the Docker host's address and never sees it
      // bound ("Port 9470 not bound after 300000ms").
      compose = compose.withWaitStrategy('dashboard-1', Wait.forHealthCheck());
      const mesh = await compose.up();
      try {
        const brokerA = mesh.getContainer('broker-a-1');
        let last = { exitCode: -1, output: '', stdout: '' };
        await until(
          async () => {
            last = await brokerA.exec(['switchboard', 'call', 'calculator@c.add', '1', '2']);
            return last.exitCode === 0;
          },
          60_000,
          () => `calculator@c.add from broker-a (last: ${last.output})`,
        );
        expect(last.stdout.trim()).toBe('3');
        await untilRoutes(async () => {
          const ls = await brokerA.exec(['switchboard', 'ls', '--mesh', '--json']);
          return ls.exitCode === 0 ? ls.stdout : undefined;
        }, ['a:', 'b:b', 'c:b>c']);
      } finally {
        await mesh.down({ timeout: 20_000 });
      }
      expect(await new ComposeProject(PROJECT, [MESH_COMPOSE], {}).leftovers()).toEqual([]);
    },
    UP_TIMEOUT_MS + 120_000,
  );
});
