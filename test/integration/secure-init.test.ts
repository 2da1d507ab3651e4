/**
 * `switchboard secure init` as a user runs it: the files it writes and their
 * modes, a config nats-server accepts, nothing secret on the terminal, and
 * runs again on the same directory that keep, add, drop and rotate.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { run } from '../../src/cli/index.js';
import { findNatsServerBinary } from '../../src/testing/index.js';
import { readEnvFile } from './secured-sites.js';

const root = await mkdtemp(join(tmpdir(), 'switchboard-secure-init-'));
afterAll(() => rm(root, { recursive: true, force: true }));

/** Runs `switchboard secure init ...args` in this process; its output and exit code. */
async function secureInit(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(['secure', 'init', ...args], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

/** Every password written in `dir`'s env files. */
async function passwords(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.env'))) {
    const env = await readEnvFile(join(dir, file));
    found[file] =
      env.SWITCHBOARD_PASS ?? env.SWITCHBOARD_LOCAL_PASS ?? env.SWITCHBOARD_REMOTE_PASS ?? '';
  }
  return found;
}

const mode = async (file: string) => ((await stat(file)).mode & 0o777).toString(8);

describe('secure init', () => {
  test('secure init - writes the material of a site: config, TLS, an env file per identity; secrets 0600, never printed', async () => {
    const dir = join(root, 'a');
    const result = await secureInit(
      ...['--site', 'a', '--out', dir, '--service', 'calculator,greeter', '--bridge-to', 'b'],
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual([
      'auth.conf',
      'bridge-b.local.env',
      'bridge-b.remote.env',
      'broker.env',
      'ca-key.pem',
      'ca.pem',
      'client.env',
      'nats.conf',
      'observer.env',
      'secure-init.json',
      'server-calculator.env',
      'server-cert.pem',
      'server-greeter.env',
      'server-key.pem',
    ]);
    expect(await mode(dir)).toBe('700');
    for (const file of await readdir(dir)) {
      const expected = file === 'ca.pem' || file === 'server-cert.pem' ? '644' : '600';
      expect(await mode(join(dir, file)), file).toBe(expected);
    }
    const written = await passwords(dir);
    // The two sides' files of one bridge identity hold its one password.
    expect(written['bridge-b.remote.env']).toBe(written['bridge-b.local.env']);
    const secrets = Object.values(written);
    expect(new Set(secrets).size).toBe(secrets.length - 1);
    for (const secret of secrets) {
      expect(secret).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
      expect(result.stdout).not.toContain(secret);
    }
    const key = await readFile(join(dir, 'server-key.pem'), 'utf8');
    expect(result.stdout).not.toContain(key.split('\n')[1]);
    expect(result.stdout).toMatch(/^ {2}server-greeter\.env +servers of greeter/m);
    expect(await readEnvFile(join(dir, 'server-greeter.env'))).toMatchObject({
      SWITCHBOARD_USER: 'server-greeter',
      SWITCHBOARD_INBOX_PREFIX: '_INBOX.server-greeter',
      SWITCHBOARD_TLS_CA: join(dir, 'ca.pem'),
    });
  });

  test.skipIf(findNatsServerBinary() === undefined)(
    'secure init - nats-server accepts the config it writes',
    async () => {
      const dir = join(root, 'checked');
      expect((await secureInit('--site', 'c', '--out', dir, '--service', 'x')).code).toBe(0);
      const checked = await promisify(execFile)(findNatsServerBinary() as string, [
        ...['-c', join(dir, 'nats.conf'), '-t'],
      ]);
      expect(`${checked.stdout}${checked.stderr}`).toMatch(/configuration file .* is valid/);
    },
  );

  test('secure init - run again, it keeps passwords and the CA, adds and drops identities, and rotates those named', async () => {
    const dir = join(root, 'again');
    await secureInit('--site', 'a', '--out', dir, '--service', 'calculator', '--bridge-to', 'b');
    const before = await passwords(dir);
    const ca = await readFile(join(dir, 'ca.pem'), 'utf8');
    const inode = (await stat(join(dir, 'auth.conf'))).ino;

    const again = await secureInit(
      ...['--site', 'a', '--out', dir, '--service', 'calculator', '--service', 'greeter'],
      ...['--rotate', 'client'],
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^new passwords .*: client, server-greeter$/m);
    expect(again.stdout).toMatch(/^removed identities: bridge-b$/m);
    expect(again.stdout).not.toMatch(/new test CA/);
    const after = await passwords(dir);
    expect(Object.keys(after).sort()).toEqual([
      'broker.env',
      'client.env',
      'observer.env',
      'server-calculator.env',
      'server-greeter.env',
    ]);
    expect(after['broker.env']).toBe(before['broker.env']);
    expect(after['server-calculator.env']).toBe(before['server-calculator.env']);
    expect(after['client.env']).not.toBe(before['client.env']);
    expect(await readFile(join(dir, 'ca.pem'), 'utf8')).toBe(ca);
    const auth = await readFile(join(dir, 'auth.conf'), 'utf8');
    expect(auth).toContain(`password: "${after['client.env']}"`);
    expect(auth).not.toContain(before['client.env']);
    expect(auth).not.toContain('bridge-b');
    // Rewritten in place: a bind mount of it (a compose secret) shows the new text.
    expect((await stat(join(dir, 'auth.conf'))).ino).toBe(inode);
    expect(await mode(join(dir, 'auth.conf'))).toBe('600');

    const other = await secureInit('--site', 'b', '--out', dir);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(
      `switchboard secure init: ${dir} holds the material of site a, not b\n`,
    );
  });

  test("secure init - a directory of the user's: its other files and mode are left alone, files it would write are refused", async () => {
    const mine = join(root, 'mine');
    await mkdir(mine);
    await chmod(mine, 0o755);
    await writeFile(join(mine, 'README.md'), 'my notes\n');
    expect((await secureInit('--site', 'a', '--out', mine)).code).toBe(0);
    expect(await mode(mine)).toBe('755');
    expect(await readFile(join(mine, 'README.md'), 'utf8')).toBe('my notes\n');

    const theirs = join(root, 'theirs');
    await mkdir(theirs);
    await writeFile(join(theirs, 'auth.conf'), 'authorization { users: [] }\n');
    const refused = await secureInit('--site', 'a', '--out', theirs);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `switchboard secure init: ${theirs} holds auth.conf, which secure init did not write: choose another directory\n`,
    );
    expect(await readFile(join(theirs, 'auth.conf'), 'utf8')).toBe('authorization { users: [] }\n');
  });
});
