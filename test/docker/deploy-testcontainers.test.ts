/**
 * deploy/docker-compose.yml for real, through testcontainers' compose support:
 * builds the image from the Dockerfile, starts the three sites and both
 * bridges, and calls from site a the calculator at site c. Needs a Docker
 * engine with the compose plugin; skipped (with the reason in its title)
 * where none answers, as deploy-compose and deploy-local check the same file
 * without one.
 */
import { describe, expect, test } from 'vitest';
import { isDockerAvailable } from '../../src/testing/index.js';
import { calculatorRoutes, DEPLOY, MESH_COMPOSE } from './deploy-compose-file.js';

const docker = await isDockerAvailable();
/** Building the image and pulling NATS on a cold machine takes minutes. */
const STARTUP_MS = 10 * 60_000;

describe.skipIf(!docker)(
  docker
    ? 'deploy - docker compose'
    : 'deploy - docker compose (skipped: no Docker engine answers; deploy-compose and deploy-local check the file without one)',
  () => {
    test(
      'deploy - docker compose brings up the mesh and site a calls the calculator at site c',
      async () => {
        const { DockerComposeEnvironment, Wait } = await import('testcontainers');
        let compose = new DockerComposeEnvironment(DEPLOY, MESH_COMPOSE)
          .withBuild()
          .withStartupTimeout(STARTUP_MS);
        for (const site of ['a', 'b', 'c']) {
          compose = compose
            .withWaitStrategy(`nats-${site}-1`, Wait.forHealthCheck())
            .withWaitStrategy(`broker-${site}-1`, Wait.forHealthCheck());
        }
        const mesh = await compose.up();
        try {
          const brokerA = mesh.getContainer('broker-a-1');
          // Routes spread within about a second of the bridges starting; allow for slow CI.
          const until = Date.now() + 60_000;
          let last = { exitCode: -1, stdout: '', output: '' };
          while (Date.now() < until) {
            last = await brokerA.exec(['switchboard', 'call', 'calculator@c.add', '1', '2']);
            if (last.exitCode === 0) break;
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
          expect(last, last.output).toMatchObject({ exitCode: 0 });
          expect(last.stdout.trim()).toBe('3');
          const ls = await brokerA.exec(['switchboard', 'ls', '--mesh', '--json']);
          expect(ls.exitCode, ls.output).toBe(0);
          expect(calculatorRoutes(ls.stdout)).toEqual(['a:', 'b:b', 'c:b>c']);
        } finally {
          await mesh.down({ timeout: 20_000 });
        }
      },
      STARTUP_MS + 120_000,
    );
  },
);
