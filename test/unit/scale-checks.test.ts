/**
 * The scale harness's routing check: what it counts as a loop, a stale
 * route, a missing or longer one, a forwarding loop and a blackhole, on
 * small hand-made registries.
 */
import { describe, expect, test } from 'vitest';
import { type CheckResult, checkMesh, converged } from '../../scale/checks.js';
import { buildTopology, type Topology } from '../../scale/topology.js';
import type { InstanceView } from '../../src/internal.js';

/** A view of `service` hosted at `site`, reached over `path` (empty: the site's own instance). */
function view(service: string, site: string, path: string[] = []): InstanceView {
  return {
    id: `${service}-${site}-${path.join('.') || 'local'}`,
    service,
    version: '1.0.0',
    methods: ['m'],
    metadata: {},
    site,
    path,
    hops: path.length,
  };
}

function check(
  topology: Topology,
  registries: Record<string, InstanceView[]>,
  down: string[] = [],
): CheckResult {
  const up = new Set(topology.links.map((l) => l.id).filter((id) => !down.includes(id)));
  const hosts = new Map<string, Set<string>>();
  for (const views of Object.values(registries)) {
    for (const v of views) {
      if (v.hops === 0) hosts.set(v.service, (hosts.get(v.service) ?? new Set()).add(v.site));
    }
  }
  return checkMesh({
    topology,
    up,
    hosts,
    registries: new Map(Object.entries(registries)),
    maxHops: 8,
  });
}

const problems = (r: CheckResult) => {
  const { routes: _routes, examples: _examples, ...counts } = r;
  return counts;
};
const NONE = { loops: 0, stale: 0, missing: 0, longer: 0, forwardingLoops: 0, blackholes: 0 };

// c1 — c2 — c3, the service hosted at c3.
const chain = buildTopology('chain', 3);
const atC3 = view('svc', 'c3');
const atC2 = view('svc', 'c3', ['c3']);
const atC1 = view('svc', 'c3', ['c2', 'c3']);

describe('checkMesh', () => {
  test('routes along the chain, each backed by the next site: converged', () => {
    const r = check(chain, { c1: [atC1], c2: [atC2], c3: [atC3] });
    expect(r.routes).toBe(2);
    expect(problems(r)).toEqual(NONE);
    expect(converged(r)).toBe(true);
  });

  test('a path through the holding site, a site twice, or ending elsewhere is a loop', () => {
    for (const path of [
      ['c2', 'c1', 'c3'],
      ['c2', 'c2', 'c3'],
      ['c2', 'c3', 'c2'],
    ]) {
      const r = check(chain, { c1: [view('svc', 'c3', path)], c2: [atC2], c3: [atC3] });
      expect(r.loops, path.join(',')).toBe(1);
      expect(converged(r)).toBe(false);
    }
  });

  test('a route over a link that is down is stale', () => {
    const r = check(chain, { c1: [atC1], c2: [atC2], c3: [atC3] }, ['c2-c3']);
    expect(r.stale).toBe(2);
    // c3 cannot be reached: nothing is missing.
    expect(r.missing).toBe(0);
    expect(r.examples.join('\n')).toContain('a link down');
  });

  test('a route the next site does not hold is stale, and the next site misses one', () => {
    const r = check(chain, { c1: [atC1], c2: [], c3: [atC3] });
    expect(r.stale).toBe(1);
    expect(r.missing).toBe(1);
    expect(r.blackholes).toBe(1);
    expect(r.examples.join('\n')).toContain('not backed by the next site');
  });

  test('a route to a site that no longer hosts the service is stale', () => {
    const r = check(chain, { c1: [atC1], c2: [atC2], c3: [] });
    expect(r.stale).toBe(2);
    expect(r.examples.join('\n')).toContain('no longer hosted');
  });

  test('a nearest route longer than the links allow is longer', () => {
    // r1 … r5 in a ring, the service at r3: two hops from r1 by r2, three by r5 and r4.
    const ring = buildTopology('ring', 5);
    const r = check(ring, {
      r1: [view('svc', 'r3', ['r5', 'r4', 'r3'])],
      r2: [view('svc', 'r3', ['r3'])],
      r3: [view('svc', 'r3')],
      r4: [view('svc', 'r3', ['r3'])],
      r5: [view('svc', 'r3', ['r4', 'r3'])],
    });
    expect(problems(r)).toEqual({ ...NONE, longer: 1 });
  });

  test('two sites whose nearest routes point at each other make a forwarding loop', () => {
    const r = check(chain, {
      c1: [atC1],
      c2: [view('svc', 'c3', ['c1', 'c3'])],
      c3: [atC3],
    });
    expect(r.forwardingLoops).toBe(2);
  });

  test('of several routes to one host, only the nearest are followed', () => {
    // r1 … r5 in a ring, the service at r3; r1 holds a 2-hop route through r2, which holds none,
    // and a 3-hop one through r5 and r4, which would reach it.
    const ring = buildTopology('ring', 5);
    const r = check(ring, {
      r1: [view('svc', 'r3', ['r5', 'r4', 'r3']), view('svc', 'r3', ['r2', 'r3'])],
      r2: [],
      r3: [view('svc', 'r3')],
      r4: [view('svc', 'r3', ['r3'])],
      r5: [view('svc', 'r3', ['r4', 'r3'])],
    });
    expect(problems(r)).toEqual({ ...NONE, stale: 1, missing: 1, blackholes: 1 });
  });

  test('every one of equally near routes is followed', () => {
    // r1 … r4 in a ring, the service at r3, two hops from r1 either way; r4's route leads back to r1.
    const ring = buildTopology('ring', 4);
    const atR1 = [view('svc', 'r3', ['r2', 'r3']), view('svc', 'r3', ['r4', 'r3'])];
    // Either order of the two in the registry.
    for (const r1 of [atR1, [...atR1].reverse()]) {
      const r = check(ring, {
        r1,
        r2: [view('svc', 'r3', ['r3'])],
        r3: [view('svc', 'r3')],
        r4: [view('svc', 'r3', ['r1', 'r2', 'r3'])],
      });
      // r1 → r4 → r1 from both; r4's route is longer than its link to r3; r1's through r4 is not backed.
      expect(problems(r)).toEqual({ ...NONE, stale: 1, longer: 1, forwardingLoops: 2 });
    }
  });

  test('a view replaced by another is judged by the new one (keys are kept per view)', () => {
    const good = { c1: [atC1], c2: [atC2], c3: [atC3] };
    expect(converged(check(chain, good))).toBe(true);
    // Another object under the same id, as a registry holds after a route changes its path.
    const crooked = { ...view('svc', 'c3', ['c2', 'c2', 'c3']), id: atC1.id };
    expect(check(chain, { ...good, c1: [crooked] }).loops).toBe(1);
    // The same view objects again: the same verdict as the first time.
    expect(problems(check(chain, good))).toEqual(NONE);
    expect(check(chain, { ...good, c1: [crooked] }).loops).toBe(1);
  });
});
