/**
 * The switchboard image built from the repository's Dockerfile, on a real
 * engine: the CLI runs, as the unprivileged `node` user, with production
 * dependencies only, and the npm CA build secret leaves nothing behind.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { docker, dockerOk } from './docker.js';
import { missingForDocker, NODE_IMAGE, suiteTitle } from './prerequisites.js';
import { BUILD_TIMEOUT_MS, buildSwitchboardImage, SWITCHBOARD_IMAGE } from './switchboard-image.js';

/** Runs `node -e script` in a fresh container of the image and returns what it printed. */
async function inImage(script: string): Promise<string> {
  return dockerOk(['run', '--rm', '--entrypoint', 'node', SWITCHBOARD_IMAGE, '-e', script]);
}

const missing = await missingForDocker({ buildx: true, images: [NODE_IMAGE] });

describe.skipIf(missing.length > 0)(suiteTitle('docker image', missing), () => {
  beforeAll(buildSwitchboardImage, BUILD_TIMEOUT_MS);

  test('docker image - the container command is the CLI', async () => {
    const help = await docker(['run', '--rm', SWITCHBOARD_IMAGE]);
    expect(help.code, help.stderr).toBe(0);
    for (const command of ['broker', 'bridge', 'serve-example', 'call', 'ls', 'up']) {
      expect(help.stdout).toMatch(new RegExp(`^ {2}switchboard ${command}\\b`, 'm'));
    }
    // `switchboard` is on the PATH too, for `docker compose exec broker-a switchboard ...`.
    const onPath = await docker([
      'run',
      '--rm',
      '--entrypoint',
      'switchboard',
      SWITCHBOARD_IMAGE,
      'ls',
      '--help',
    ]);
    expect(onPath.code, onPath.stderr).toBe(0);
  });

  test('docker image - runs as node with production dependencies only', async () => {
    const seen = JSON.parse(
      await inImage(
        `const { existsSync } = require('node:fs');
         const dev = ['testcontainers', 'vitest', 'typescript', '@biomejs/biome', 'moleculer'];
         console.log(JSON.stringify({
           user: require('node:os').userInfo().username,
           node: process.versions.node.split('.')[0],
           dev: dev.filter((name) => existsSync('/app/node_modules/' + name)),
           runtime: ['nats', 'yargs', '@msgpack/msgpack', 'yaml'].every((name) => existsSync('/app/node_modules/' + name)),
         }));`,
      ),
    ) as Record<string, unknown>;
    expect(seen).toEqual({ user: 'node', node: '20', dev: [], runtime: true });
  });

  test('docker image - the npm CA build secret leaves nothing in the image', async () => {
    const config = JSON.parse(
      await dockerOk(['image', 'inspect', '--format', '{{json .Config.Env}}', SWITCHBOARD_IMAGE]),
    ) as string[];
    expect(config.filter((entry) => entry.startsWith('NODE_EXTRA_CA_CERTS='))).toEqual([]);
    const history = await dockerOk(['history', '--no-trunc', SWITCHBOARD_IMAGE]);
    expect(history).not.toMatch(/npm-ca|NODE_EXTRA_CA_CERTS/);
    expect(await inImage(`console.log(require('node:fs').existsSync('/run/secrets'))`)).toBe(
      'false\n',
    );
  });
});
