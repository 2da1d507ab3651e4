/**
 * Components in processes of their own (test/support/component.mjs); for
 * tests that measure a process or kill one. `startComponent` stops it after
 * the test; `spawnComponent` leaves that to the caller (the fault suite's
 * topology, which kills its processes all at once).
 */
import { fileURLToPath } from 'node:url';
import { type Child, spawnChild } from '../../scripts/lib/child-ipc.mjs';
import { track } from '../integration/helpers.js';

const ENTRY = fileURLToPath(new URL('./component.mjs', import.meta.url));

/** One NATS URL, or several (the nodes of a cluster). */
type Nats = string | readonly string[];

/** What a component process is: its role and the options of that role (and its log level). */
export type ComponentConfig = (
  | { role: 'broker'; site: string; nats: Nats; options?: object }
  | { role: 'server'; service: 'calculator'; nats: Nats; options?: object }
  | { role: 'bridge'; local: Nats; remote: Nats; options?: object }
  /** The journaling counter (test/support/counter-role.mjs). */
  | { role: 'counter'; nats: Nats; journal: string; workMs?: number; options?: object }
  /** The load generator (test/support/load-role.mjs). */
  | { role: 'load'; nats: Nats; log: string; deadlineMs?: number; concurrency?: number }
) & { logLevel?: 'debug' | 'info' | 'warn' | 'error' };

/** Where a component process runs. */
export interface ComponentPlace {
  /** Network namespace to run it in (through `ip netns exec`). @default this process's */
  namespace?: string;
}

/** Spawns a component process and waits until it is ready; the caller stops it. */
export async function spawnComponent(
  config: ComponentConfig,
  label: string,
  place: ComponentPlace = {},
): Promise<Child> {
  const wrapper = place.namespace === undefined ? [] : ['ip', 'netns', 'exec', place.namespace];
  const child = spawnChild(ENTRY, config, {
    label,
    stdio: 'pipe',
    nodeArgs: ['--expose-gc'],
    wrapper,
  });
  try {
    await child.ready;
  } catch (error) {
    await child.stop(0);
    throw new Error(`${label} did not start: ${(error as Error).message}\n${child.output()}`, {
      cause: error,
    });
  }
  return child;
}

/** Starts a component process and waits until it is ready; stopped after the test. */
export async function startComponent(config: ComponentConfig, label: string): Promise<Child> {
  const child = spawnChild(ENTRY, config, { label, stdio: 'pipe', nodeArgs: ['--expose-gc'] });
  track({ close: () => child.stop() });
  await child.ready;
  return child;
}

/** Resident memory of a process, in bytes (from /proc). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** Whether a process is still running. */
export function isAlive(child: Child): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}
