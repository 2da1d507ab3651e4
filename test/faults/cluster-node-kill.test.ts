/**
 * Site c on a 3-node NATS cluster (its broker, two counter instances and
 * bridge b–c's half each given all three URLs); mid-load, the node that
 * carries the first counter's connection is SIGKILLed for good. Issue 10,
 * done means: 0 hung calls, 0 lost idempotent calls, recovery ≤ 2 s.
 */
import { expect, test } from 'vitest';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

interface Connz {
  connections?: { name?: string; subscriptions_list?: string[] }[];
}

/** The connections of a node, by name, and whether one of them subscribes to `needle`. */
async function connectionsOf(monitorUrl: string, needle: string) {
  const res = await fetch(`${monitorUrl}/connz?subs=1&limit=1024`);
  const connections = ((await res.json()) as Connz).connections ?? [];
  return {
    names: connections.map((c) => c.name ?? '?'),
    holds: connections.some((c) => c.subscriptions_list?.some((s) => s.includes(needle))),
  };
}

await describeFaults('cluster node killed', () => {
  test('cluster node kill - the node under an instance SIGKILLed: no hung or lost idempotent calls, back within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'cluster-node-kill', counters: 2, clusterC: true });
    const cluster = chain.cluster!;
    const { instanceId } = (await chain.counters[0]!.ready) as { instanceId: string };
    const notes: Record<string, unknown> = {};
    const run = await runScenario(chain, {
      name: 'cluster-node-kill',
      proves:
        'a site on a NATS cluster loses the node under one of its instances: every component on it moves to another node, calls in flight on it end by their deadline, idempotent ones succeed, and success comes back at once',
      notes,
      fault: async () => {
        const nodes = await Promise.all(
          cluster.nodes.map(async (node) => ({
            node,
            ...(await connectionsOf(node.monitorUrl, instanceId)),
          })),
        );
        const victim = nodes.find((n) => n.holds);
        if (!victim) throw new Error(`no node carries instance ${instanceId}`);
        notes.killedNode = victim.node.name;
        notes.connectionsOnIt = victim.names;
        await victim.node.stop();
      },
      afterMs: 6_000,
    });
    expectCommon(run);
    expect.soft(run.figures.lostIdempotent, 'idempotent calls that did not succeed').toBe(0);
  });
});
