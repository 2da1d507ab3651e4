/**
 * Which build of Switchboard the benchmark loads. Others may rebuild `dist/`
 * while a run is going on, so the orchestrator copies it once, at the start,
 * to `bench/.dist-<pid>/` (inside the repository, so that `nats` and
 * `@msgpack/msgpack` still resolve from its node_modules) and every child
 * loads that copy: one run, one code state.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ENV = 'SWITCHBOARD_BENCH_DIST';
const REPO_DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/**
 * Copies dist/ (or `from`, another build of Switchboard, e.g. of an older
 * commit to compare with) to a private directory; returns its path.
 */
export function snapshotDist(from = REPO_DIST) {
  if (!existsSync(`${from}/index.js`))
    throw new Error(`${from} holds no build: run \`npm run build\``);
  const dir = fileURLToPath(new URL(`../.dist-${process.pid}/`, import.meta.url));
  cpSync(from, dir, { recursive: true });
  process.env[ENV] = dir;
  return dir;
}

/** Removes the copy made by {@link snapshotDist} (safe to call twice, synchronous). */
export function removeSnapshot() {
  const dir = process.env[ENV];
  if (dir?.includes('.dist-')) rmSync(dir, { recursive: true, force: true });
}

/** Imports a module of the build in use (`index.js`, `testing/index.js`). */
export function importDist(path = 'index.js') {
  const dir = process.env[ENV] ?? REPO_DIST;
  return import(pathToFileURL(`${dir}${path}`).href);
}
