/**
 * Every compose file of deploy/ as compose v2 itself reads it: `docker compose
 * config` accepts it (with the variables the docs give), and the NATS image is
 * the official one unless SWITCHBOARD_NATS_IMAGE says otherwise. Needs only
 * the compose plugin, no engine.
 */
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { DEPLOY, readComposeYaml } from '../integration/deploy-compose-file.js';
import { makeDeploySecrets } from '../integration/deploy-secrets.js';
import { ComposeProject } from './compose-project.js';
import { missingForDocker, suiteTitle } from './prerequisites.js';

/** What the docs tell `docker compose` for the one-site files. */
const SITE_VARS = { SWITCHBOARD_SITE: 'a' };
/** The material the secured files read (their env files must exist for `config`). */
const secrets = await makeDeploySecrets();
afterAll(() => secrets.remove());

/** Each way deploy/'s compose files are used: a file alone, or an override on top of its base. */
const USES: { files: string[]; env: Record<string, string> }[] = [
  { files: ['docker-compose.yml'], env: {} },
  {
    files: ['docker-compose.yml', 'docker-compose.secure.yml'],
    env: { SWITCHBOARD_SECRETS: secrets.dir },
  },
  { files: ['site.compose.yml'], env: SITE_VARS },
  {
    files: ['site.compose.yml', 'site.secure.yml'],
    env: { ...SITE_VARS, SWITCHBOARD_SECRETS: secrets.site('a') },
  },
  { files: ['site.cluster.yml'], env: SITE_VARS },
];
const NAMED = USES.map((use) => ({ ...use, name: use.files.join(' + ') }));

/** The compose variables of the test runner's environment, which would leak into `config`. */
const UNSET = {
  SWITCHBOARD_NATS_IMAGE: '',
  SWITCHBOARD_SECRETS: '',
  NATS_PORT: '',
  NATS_PORT_2: '',
  NATS_PORT_3: '',
};

interface Config {
  services: Record<string, { image?: string }>;
}

async function config(files: readonly string[], env: Record<string, string>): Promise<Config> {
  const project = new ComposeProject('switchboard-config', files, { ...UNSET, ...env });
  const ran = await project.compose(['config', '--format', 'json']);
  expect(ran.stderr, `docker compose config ${files.join(' + ')}`).not.toMatch(/error/i);
  expect(ran.code, ran.stderr).toBe(0);
  return JSON.parse(ran.stdout) as Config;
}

const missing = await missingForDocker({ compose: true });

describe.skipIf(missing.length > 0)(suiteTitle('docker compose config', missing), () => {
  test('docker compose config - every compose file of deploy/ is checked', () => {
    const composeFiles = readdirSync(DEPLOY).filter(
      (file) => /\.ya?ml$/.test(file) && 'services' in readComposeYaml(file),
    );
    expect(new Set(NAMED.flatMap((use) => use.files))).toEqual(new Set(composeFiles));
  });

  test.each(NAMED)(
    'docker compose config - $name passes; NATS image official unless SWITCHBOARD_NATS_IMAGE',
    async ({ files, env }) => {
      const offline = 'switchboard-offline/nats:2.9';
      for (const [vars, image] of [
        [env, 'nats:2.10-alpine'],
        [{ ...env, SWITCHBOARD_NATS_IMAGE: offline }, offline],
      ] as const) {
        const { services } = await config(files, vars);
        const nats = Object.values(services).filter((s) => s.image?.includes('nats'));
        expect(nats.length).toBeGreaterThan(0);
        for (const service of nats) expect(service.image).toBe(image);
      }
    },
  );
});
