/** The benchmark's children: scripts of bench/, spawned through the shared IPC plumbing. */
import { fileURLToPath } from 'node:url';
import {
  children,
  killAllChildren,
  runChild,
  spawnChild as spawnScript,
} from '../../scripts/lib/child-ipc.mjs';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Spawns `node bench/<script> '<json config>'`; see scripts/lib/child-ipc.mjs. */
export function spawnChild(script, config, options = {}) {
  return spawnScript(`${BENCH_DIR}${script}`, config, { label: script, ...options });
}

export { children, killAllChildren, runChild };
