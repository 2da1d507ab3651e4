/**
 * A production install (`npm ci --omit=dev`) has no testcontainers: the built
 * CLI and `switchboard/testing` must not need it until a container is asked
 * for. Node runs dist/ here with a resolve hook that makes `testcontainers`
 * missing, as it is in such an install.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO } from './deploy-compose-file.js';

const MAIN = join(REPO, 'dist/cli/main.js');
const TESTING = pathToFileURL(join(REPO, 'dist/testing/index.js')).href;

/** A resolve hook answering for `testcontainers` as Node does for a package that is not installed. */
const HIDE_TESTCONTAINERS = `
export async function resolve(specifier, context, next) {
  if (specifier === 'testcontainers' || specifier.startsWith('testcontainers/')) {
    const error = new Error(\`Cannot find package '\${specifier}' imported from \${context.parentURL}\`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}
`;

let dir: string;
let register: string;

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(join(tmpdir(), 'switchboard-no-tc-'));
  await writeFile(join(dir, 'hide.mjs'), HIDE_TESTCONTAINERS);
  register = join(dir, 'register.mjs');
  await writeFile(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hide.mjs')).href)});\n`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs node with testcontainers hidden, without the runner's SWITCHBOARD_* settings. */
function nodeWithout(args: readonly string[]): Promise<{ code: number; out: string }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHBOARD_')),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', pathToFileURL(register).href, ...args],
      { cwd: REPO, env, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code ?? -1), out: stdout + stderr });
      },
    );
  });
}

describe('deploy - without testcontainers', () => {
  test('deploy - the hook hides testcontainers as a production install would', async () => {
    const ran = await nodeWithout(['--input-type=module', '-e', "await import('testcontainers')"]);
    expect(ran.code).not.toBe(0);
    expect(ran.out).toMatch(/ERR_MODULE_NOT_FOUND/);
  });

  test('deploy - the demo runs on the nats-server binary without testcontainers', async () => {
    const demo = await nodeWithout([MAIN, 'demo']);
    expect(demo.out).toMatch(/^Demo done in /m);
    expect(demo.code, demo.out).toBe(0);
  });

  test('deploy - switchboard/testing loads, and asking for a container says what to install', async () => {
    const script = `
      const { startNatsServer, isDockerAvailable } = await import(${JSON.stringify(TESTING)});
      const server = await startNatsServer({ name: 'plain' });
      console.log('backend', server.backend);
      await server.close();
      console.log('docker available', await isDockerAvailable());
      await startNatsServer({ backend: 'docker' }).catch((error) => console.log(error.name, error.message));
    `;
    const ran = await nodeWithout(['--input-type=module', '-e', script]);
    expect(ran.code, ran.out).toBe(0);
    expect(ran.out).toMatch(/^backend binary$/m);
    expect(ran.out).toMatch(/^docker available false$/m);
    expect(ran.out).toMatch(
      /^TestcontainersMissingError .*needs the testcontainers package .*npm install --save-dev testcontainers@11/m,
    );
  });
});
