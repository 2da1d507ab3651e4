/**
 * Site c on a 3-node NATS cluster (its broker, two counter instances and
 * bridge b–c's half each given all three URLs, each picking a node at
 * random); the two instances are placed on different nodes, and mid-load the
 * node that carries the first one is SIGKILLed for good. Issue 10, done
 * means: 0 hung calls, 0 lost idempotent calls, recovery ≤ 2 s.
 */
import { expect, test } from 'vitest';
import type { Child } from '../../scripts/lib/child-ipc.mjs';
import type { NatsClusterHandle } from '../../src/testing/index.js';
import { Chain } from './chain.js';
import { describeFaults, expectCommon, runScenario } from './scenario.js';

interface Connz {
  connections?: { name?: string; subscriptions_list?: string[] }[];
}

/** The connections of every node: names, and the subjects each subscribes to. */
async function connectionsOf(cluster: NatsClusterHandle) {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      const res = await fetch(`${node.monitorUrl}/connz?subs=1&limit=1024`);
      const connections = ((await res.json()) as Connz).connections ?? [];
      return {
        node,
        names: connections.map((c) => c.name ?? '?'),
        subjects: connections.flatMap((c) => c.subscriptions_list ?? []),
      };
    }),
  );
}

/** Index of the node that carries the subscriptions of `instanceId`. */
async function nodeOf(cluster: NatsClusterHandle, instanceId: string): Promise<number> {
  const nodes = await connectionsOf(cluster);
  return nodes.findIndex((n) => n.subjects.some((subject) => subject.includes(instanceId)));
}

async function instanceIdOf(counter: Child): Promise<string> {
  return ((await counter.ready) as { instanceId: string }).instanceId;
}

/** Replaces the second instance until it sits on another node than the first (a few tries). */
async function spreadInstances(chain: Chain): Promise<number[]> {
  const cluster = chain.cluster!;
  for (let tries = 1; ; tries++) {
    const placed = await Promise.all(
      chain.counters.map(async (c) => nodeOf(cluster, await instanceIdOf(c))),
    );
    if (placed[0] !== placed[1] || tries === 8) return placed;
    await chain.replaceCounter(1);
  }
}

await describeFaults('cluster node killed', () => {
  test('cluster node kill - the node under an instance SIGKILLed: no hung or lost idempotent calls, back within 2 s', async () => {
    const chain = await Chain.start({ scenario: 'cluster-node-kill', counters: 2, clusterC: true });
    const cluster = chain.cluster!;
    const placed = await spreadInstances(chain);
    expect(placed[0], 'the two instances on two nodes').not.toBe(placed[1]);
    const victim = cluster.nodes[placed[0]!]!;
    const notes: Record<string, unknown> = {};
    const run = await runScenario(chain, {
      name: 'cluster-node-kill',
      proves:
        'a site on a NATS cluster loses the node under one of its instances: every component on it moves to another node, calls in flight on it end by their deadline, idempotent ones succeed, and success comes back at once',
      notes,
      fault: async () => {
        const nodes = await connectionsOf(cluster);
        notes.killedNode = victim.name;
        notes.connections = Object.fromEntries(nodes.map((n) => [n.node.name, n.names]));
        await victim.stop();
      },
      afterMs: 6_000,
    });
    expectCommon(run);
    expect.soft(run.figures.lostIdempotent, 'idempotent calls that did not succeed').toBe(0);
  });
});
