/**
 * deploy/site.compose.yml with deploy/site.secure.yml on a real engine: NATS
 * asks for a user and a password and speaks TLS only, with test certificates
 * made on the fly. The site comes up healthy, its broker and server log in,
 * a client on this host calls through the published port with the CA and the
 * password, and clients without them are refused.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO } from '../integration/deploy-compose-file.js';
import { ComposeProject, UP_TIMEOUT_MS } from './compose-project.js';
import { type Ran, until } from './docker.js';
import { missingForDocker, NATS_IMAGE, NODE_IMAGE, suiteTitle } from './prerequisites.js';
import { BUILD_TIMEOUT_MS, buildSwitchboardImage } from './switchboard-image.js';
import { makeTestTls, opensslMissing } from './test-tls.js';

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
  let secrets = '';
  let port = 0;
  let site: ComposeProject;
  const pass = randomBytes(12).toString('hex');

  beforeAll(async () => {
    secrets = await mkdtemp(join(tmpdir(), 'switchboard-secrets-'));
    await makeTestTls(secrets);
    port = await freePort();
    site = new ComposeProject(
      `switchboard-test-secure-${process.pid}`,
      ['site.compose.yml', 'site.secure.yml'],
      {
        SWITCHBOARD_SITE: 's',
        NATS_USER: 'mesh',
        NATS_PASS: pass,
        NATS_PORT: String(port),
        SWITCHBOARD_SECRETS: secrets,
        SWITCHBOARD_NATS_IMAGE: NATS_IMAGE,
      },
    );
    await buildSwitchboardImage();
    await site.up();
  }, BUILD_TIMEOUT_MS + UP_TIMEOUT_MS);

  afterAll(async () => {
    await site?.down();
    if (secrets !== '') await rm(secrets, { recursive: true, force: true });
  }, 120_000);

  /** `call calculator.add 1 2` from this host through the published port, with `options`. */
  const addFromHost = (...options: string[]) =>
    hostCli(['call', 'calculator.add', '1', '2', '--timeout', '3000', ...options]);
  const tlsUrl = () => `tls://127.0.0.1:${port}`;
  const ca = () => join(secrets, 'ca.pem');

  test('docker secure site - NATS and the broker, which logs in with TLS and a password, are healthy', async () => {
    const ps = await site.compose(['ps', '--format', '{{.Service}} {{.Health}}']);
    expect(ps.stdout.trim().split('\n').sort()).toEqual([
      'broker healthy',
      'calculator healthy',
      'nats healthy',
    ]);
  });

  test('docker secure site - inside the site, the broker container calls the calculator', async () => {
    let last: Ran | undefined;
    await until(
      async () => {
        last = await site.exec('broker', ['switchboard', 'call', 'calculator.add', '1', '2']);
        return last.code === 0 && last.stdout.trim() === '3';
      },
      60_000,
      () => `calculator.add inside the site (last: ${last?.stderr}${last?.stdout})`,
    );
  });

  test('docker secure site - from this host, the published port answers with the CA and the password', async () => {
    const ok = await addFromHost(
      '--nats',
      tlsUrl(),
      '--user',
      'mesh',
      '--pass',
      pass,
      '--tls-ca',
      ca(),
    );
    expect(ok, ok.stderr).toMatchObject({ code: 0, stdout: '3\n' });
  });

  test('docker secure site - a wrong password, or no CA to check the server, is refused', async () => {
    const wrongPass = await addFromHost(
      ...['--nats', tlsUrl(), '--user', 'mesh', '--pass', 'wrong', '--tls-ca', ca()],
    );
    expect(wrongPass.code).toBe(1);
    expect(wrongPass.stderr).toMatch(
      /^UNAVAILABLE: cannot connect to NATS .*authorization violation/im,
    );
    const noCa = await addFromHost('--nats', tlsUrl(), '--user', 'mesh', '--pass', pass);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toMatch(/^UNAVAILABLE: cannot connect to NATS .*unable to verify/m);
  });

  test('docker secure site - down removes every container and network of the site', async () => {
    await site.down();
    expect(await site.leftovers()).toEqual([]);
  });
});
