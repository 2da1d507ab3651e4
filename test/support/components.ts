/**
 * Components in processes of their own (test/support/component.mjs), each
 * stopped after the test; for tests that measure a process or kill one.
 */
import { fileURLToPath } from 'node:url';
import { type Child, spawnChild } from '../../scripts/lib/child-ipc.mjs';
import { track } from '../integration/helpers.js';

const ENTRY = fileURLToPath(new URL('./component.mjs', import.meta.url));

/** What a component process is: its role and the options of that role. */
export type ComponentConfig =
  | { role: 'broker'; site: string; nats: string; options?: object }
  | { role: 'server'; service: 'calculator'; nats: string; options?: object }
  | { role: 'bridge'; local: string; remote: string; options?: object };

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
