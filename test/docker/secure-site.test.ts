/**
 * deploy/site.compose.yml with deploy/site.secure.yml on a real engine: NATS
 * speaks TLS only and knows one user per role, with the material `switchboard
 * secure init` wrote in a temporary directory. The site comes up healthy, its
 * broker and server log in with their own credentials, a client on this host
 * calls through the published port with the client credential and the CA,
 * and clients without them, or a client credential trying to serve, are
 * refused.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO } from '../integration/deploy-compose-file.js';
import { type DeploySecrets, makeDeploySecrets } from '../integration/deploy-secrets.js';
import { readEnvFile } from '../integration/secured-sites.js';
import { ComposeProject, UP_TIMEOUT_MS } from './compose-project.js';
import { type Ran, until } from './docker.js';
import { missingForDocker, NATS_IMAGE, NODE_IMAGE, suiteTitle } from './prerequisites.js';
import { BUILD_TIMEOUT_MS, buildSwitchboardImage } from './switchboard-image.js';
import { opensslMissing } from './test-tls.js';

/** A free TCP port of this host, for the site's published NATS port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** This host's `switchboard ...argv` (the built CLI), without the runner's SWITCHBOARD_* settings. */
function hostCli(argv: readonly string[]): Promise<Ran> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHBOARD_')),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO, 'dist/cli/main.js'), ...argv],
      { env, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code ?? -1), stdout, stderr });
      },
    );
  });
}

const missing = [
  ...(await missingForDocker({ compose: true, buildx: true, images: [NODE_IMAGE, NATS_IMAGE] })),
  await opensslMissing(),
].filter((reason) => reason !== undefined);

describe.skipIf(missing.length > 0)(suiteTitle('docker secure site', missing), () => {
  let secrets: DeploySecrets | undefined;
  let port = 0;
  let site: ComposeProject;
  /** The client credential of the site, as its env file gives it. */
  let client: Record<string, string> = {};

  beforeAll(async () => {
    secrets = await makeDeploySecrets();
    client = await readEnvFile(join(secrets.site('a'), 'client.env'));
    port = await freePort();
    site = new ComposeProject(
      `switchboard-test-secure-${process.pid}`,
      ['site.compose.yml', 'site.secure.yml'],
      {
        SWITCHBOARD_SITE: 'a',
        NATS_PORT: String(port),
        SWITCHBOARD_SECRETS: secrets.site('a'),
        SWITCHBOARD_NATS_IMAGE: NATS_IMAGE,
      },
    );
    await buildSwitchboardImage();
    await site.up();
  }, BUILD_TIMEOUT_MS + UP_TIMEOUT_MS);

  afterAll(async () => {
    await site?.down();
    await secrets?.remove();
  }, 120_000);

  const tlsUrl = () => `tls://127.0.0.1:${port}`;
  /** The client credential's options, but for those given in `changes`. */
  const asClient = (changes: Record<string, string | undefined> = {}) => {
    const options: Record<string, string | undefined> = {
      '--nats': tlsUrl(),
      '--user': client.SWITCHBOARD_USER,
      '--pass': client.SWITCHBOARD_PASS,
      '--inbox-prefix': client.SWITCHBOARD_INBOX_PREFIX,
      '--tls-ca': client.SWITCHBOARD_TLS_CA,
      ...changes,
    };
    // `--flag=value`: a value starting with `-` stays a value.
    return Object.entries(options).flatMap(([flag, value]) =>
      value === undefined ? [] : [`${flag}=${value}`],
    );
  };
  /** `call calculator.add 1 2` from this host through the published port, with `options`. */
  const addFromHost = (options: string[]) =>
    hostCli(['call', 'calculator.add', '1', '2', '--timeout', '3000', ...options]);

  test('docker secure site - NATS and the broker, which logs in with TLS and its own credential, are healthy', async () => {
    const ps = await site.compose(['ps', '--format', '{{.Service}} {{.Health}}']);
    expect(ps.stdout.trim().split('\n').sort()).toEqual([
      'broker healthy',
      'calculator healthy',
      'nats healthy',
    ]);
  });

  test('docker secure site - inside the site, the calculator container calls the calculator with its server credential', async () => {
    let last: Ran | undefined;
    await until(
      async () => {
        last = await site.exec('calculator', ['switchboard', 'call', 'calculator.add', '1', '2']);
        return last.code === 0 && last.stdout.trim() === '3';
      },
      60_000,
      () => `calculator.add inside the site (last: ${last?.stderr}${last?.stdout})`,
    );
  });

  test('docker secure site - from this host, the published port answers the client credential with the CA', async () => {
    const ok = await addFromHost(asClient());
    expect(ok, ok.stderr).toMatchObject({ code: 0, stdout: '3\n' });
  });

  test('docker secure site - a wrong password, or no CA to check the server, is refused', async () => {
    const wrongPass = await addFromHost(asClient({ '--pass': 'wrong' }));
    expect(wrongPass.code).toBe(1);
    expect(wrongPass.stderr).toMatch(
      /^UNAVAILABLE: cannot connect to NATS .*authorization violation/im,
    );
    const noCa = await addFromHost(asClient({ '--tls-ca': undefined }));
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toMatch(/^UNAVAILABLE: cannot connect to NATS .*unable to verify/m);
  });

  test('docker secure site - the client credential cannot serve: NATS refuses its registration', async () => {
    const serve = await hostCli(['serve-example', ...asClient()]);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(
      /FORBIDDEN: NATS refused the publish to sb\.broker\.register\.calculator/,
    );
  });

  test('docker secure site - a rotated password: after a reload of NATS the old one is refused, the new one works', async () => {
    const old = client;
    await secrets?.rotate('a', 'client');
    client = await readEnvFile(join(secrets?.site('a') ?? '', 'client.env'));
    expect(client.SWITCHBOARD_PASS).not.toBe(old.SWITCHBOARD_PASS);
    // nats-server reloads its config, and so the new auth.conf, on SIGHUP.
    const hup = await site.compose(['kill', '--signal', 'HUP', 'nats']);
    expect(hup.code, hup.stderr).toBe(0);
    let last: Ran | undefined;
    await until(
      async () => {
        last = await addFromHost(asClient({ '--pass': old.SWITCHBOARD_PASS }));
        return last.code === 1 && /authorization violation/i.test(last.stderr);
      },
      30_000,
      () => `the old password refused (last: ${last?.stderr}${last?.stdout})`,
    );
    const ok = await addFromHost(asClient());
    expect(ok, ok.stderr).toMatchObject({ code: 0, stdout: '3\n' });
  });

  test('docker secure site - down removes every container and network of the site', async () => {
    await site.down();
    expect(await site.leftovers()).toEqual([]);
  });
});
