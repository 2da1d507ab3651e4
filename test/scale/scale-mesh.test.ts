/**
 * The scale harness in a reduced size (issue 17): a ring and a grid under
 * random link flaps, a hub under a flapping spoke link. It asserts the
 * routing properties, never times: no route ever carries a loop, every
 * route is valid and shortest once the flaps stop (nothing stuck), every new
 * service becomes callable from the farthest site and every withdrawal
 * reaches every site, bridges renew their routes by session (no
 * per-route heartbeat at steady state), and each broker holds the routes
 * its bridge halves advertise.
 */
import { describe, expect, test } from 'vitest';
import { converged } from '../../scale/checks.js';
import type { NatsMode } from '../../scale/mesh.js';
import { type Phase, type RunFigures, runTopology } from '../../scale/run.js';
import { buildTopology, type TopologyKind } from '../../scale/topology.js';

async function run(
  kind: TopologyKind,
  size: number,
  mode: NatsMode,
  flapS: number,
  processes = false,
): Promise<RunFigures> {
  const phases = new Set<Phase>(['steady', 'propagation', 'flaps']);
  return runTopology({
    topology: buildTopology(kind, size),
    mode,
    servicesPerSite: 3,
    phases,
    samples: 4,
    steadyS: 2,
    relayCalls: 0,
    churnS: 0,
    churnRate: 0,
    flapS,
    timings: {},
    processes,
    progress: () => {},
  });
}

function expectSound(figures: RunFigures): void {
  const { startup, propagation, steady, flaps, final, advertisedVersusHeld } = figures;
  expect(startup.convergeMs, JSON.stringify(startup.check.examples)).not.toBeNull();
  expect(propagation?.failures).toBe(0);
  // Bridges renew every route of a half with one message.
  for (const { kinds } of steady?.byKind ?? []) expect(kinds['route.heartbeat']).toBeUndefined();
  expect(flaps).toBeDefined();
  if (!flaps) return;
  // Paths never loop, even mid-storm (forwarding may, briefly, until routes settle).
  expect(flaps.during.loops).toBe(0);
  for (const settled of [flaps.afterLastFlap, flaps.linkDown, flaps.linkUp]) {
    expect(settled.ms, JSON.stringify(settled.check.examples)).not.toBeNull();
    expect(converged(settled.check), JSON.stringify(settled.check)).toBe(true);
  }
  expect(final?.loops).toBe(0);
  // Each broker holds the routes its bridge halves advertise, no more, no fewer.
  expect(advertisedVersusHeld).toEqual([]);
}

describe('scale', () => {
  test('scale - a ring of 6 (a nats-server per site) under random link flaps: no loop, nothing stuck', async () => {
    expectSound(await run('ring', 6, 'per-site', 6));
  });

  test('scale - a 3×3 grid (one shared nats-server) under random link flaps: no loop, nothing stuck', async () => {
    expectSound(await run('grid', 3, 'shared', 6));
  });

  test('scale - a hub of 8 spokes with one spoke link flapping: no loop, nothing stuck', async () => {
    expectSound(await run('hub', 8, 'shared', 5));
  });

  test("scale - a hub of 4 spokes, each site's broker and bridges in a process of their own: no loop, nothing stuck", async () => {
    const figures = await run('hub', 4, 'per-site', 4, true);
    expectSound(figures);
    expect(figures.sizes?.siteProcessesMiB?.count).toBe(5);
  });
});
