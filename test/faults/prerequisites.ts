/**
 * What the fault suite needs, checked once per process before it runs: root,
 * `ip netns`, an iptables that works inside a namespace, the nats-server
 * binary and the built library (the components run `dist/`). Where something
 * is missing, every suite is skipped with a title that says what.
 */
import { existsSync } from 'node:fs';
import { findNatsServerBinary } from '../../src/testing/index.js';
import { NAME_PREFIX, run } from './netns.js';

/** What the probe found: the reasons to skip, and the iptables command that works. */
export interface FaultNeeds {
  missing: string[];
  iptables: string;
}

/** The iptables command that lists the rules of namespace `ns`, if any does. */
async function workingIptables(ns: string): Promise<string | undefined> {
  for (const candidate of ['iptables', 'iptables-nft', 'iptables-legacy']) {
    const listed = await run('ip', ['netns', 'exec', ns, candidate, '-w', '-S']).then(
      () => true,
      () => false,
    );
    if (listed) return candidate;
  }
  return undefined;
}

async function probeNamespaces(): Promise<{ missing?: string; iptables?: string }> {
  const ns = `${NAME_PREFIX}-${process.pid.toString(36)}-probe`;
  try {
    await run('ip', ['netns', 'add', ns]);
  } catch (error) {
    return { missing: `\`ip netns add\` fails (${(error as Error).message.split('\n')[0]})` };
  }
  try {
    const iptables = await workingIptables(ns);
    return iptables === undefined
      ? { missing: 'no iptables works inside a network namespace (install iptables)' }
      : { iptables };
  } finally {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

let probe: Promise<FaultNeeds> | undefined;

async function check(): Promise<FaultNeeds> {
  const missing: string[] = [];
  if (process.platform !== 'linux') return { missing: ['not Linux'], iptables: 'iptables' };
  if (process.getuid?.() !== 0) {
    return {
      missing: ['not root: network namespaces and iptables need it (CI runs the suite as root)'],
      iptables: 'iptables',
    };
  }
  if (findNatsServerBinary() === undefined)
    missing.push('no nats-server binary (apt-get install nats-server)');
  if (!existsSync(new URL('../../dist/internal.js', import.meta.url))) {
    missing.push('the library is not built (npm run build)');
  }
  const { missing: netns, iptables = 'iptables' } = await probeNamespaces();
  if (netns !== undefined) missing.push(netns);
  return { missing, iptables };
}

/** What this machine lacks for the fault suite (memoised). */
export function faultNeeds(): Promise<FaultNeeds> {
  probe ??= check();
  return probe;
}
