import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  MAX_RESUME_INTERVAL_MS,
  RESUME_INTERVAL_MS,
  RESUME_QUIET_MS,
  Registry,
} from '../../src/broker/registry.js';
import type { InstanceRegistration } from '../../src/protocol/envelopes.js';
import { renewedIn } from '../support/memory-site.js';

function reg(id: string, overrides: Partial<InstanceRegistration> = {}): InstanceRegistration {
  return {
    id,
    service: 'calculator',
    version: '1.0.0',
    methods: ['add', 'divide'],
    metadata: {},
    heartbeatMs: 1000,
    secret: SECRET,
    ...overrides,
  };
}

const SECRET = 'the-holder-secret-1';
const claim = (id: string) => ({ id, secret: SECRET });

/** A registry on a clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  const clock = { t: start, advance: (ms: number) => (clock.t += ms), now: () => clock.t };
  return clock;
}

function setup(options: { leaseFactor?: number } = {}) {
  const clock = fakeClock();
  const registry = new Registry({ site: 'a', now: clock.now, ...options });
  return { clock, registry };
}

const ids = (views: Iterable<{ id: string }>) => [...views].map((v) => v.id).sort();
/** Where a bridge half's routes lead: site c, through b. */
const route = { site: 'c', path: ['b', 'c'] };

describe('registry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('registry - register returns an up change with the instance view', () => {
    const { registry } = setup();
    const [change, ...more] = registry.register(reg('i1', { metadata: { zone: 'eu' } }));
    expect(more).toEqual([]);
    expect(change).toEqual({
      kind: 'up',
      since: 0,
      generation: 1,
      view: {
        id: 'i1',
        service: 'calculator',
        version: '1.0.0',
        methods: ['add', 'divide'],
        metadata: { zone: 'eu' },
        site: 'a',
        path: [],
        hops: 0,
      },
    });
    expect(registry.size).toBe(1);
    expect(registry.get('i1')).toEqual(change?.view);
    expect(registry.get('nope')).toBeUndefined();
    expect(registry.site).toBe('a');
  });

  test('registry - leaseFor is heartbeatMs times leaseFactor (default 3)', () => {
    expect(setup().registry.leaseFor(1000)).toBe(3000);
    expect(setup({ leaseFactor: 5 }).registry.leaseFor(200)).toBe(1000);
  });

  test('registry - re-register with the same description returns no change but renews the lease', () => {
    const { clock, registry } = setup();
    registry.register(reg('i1'));
    clock.advance(2500);
    expect(registry.register(reg('i1'))).toEqual([]);
    clock.advance(2500); // 5000 after the first registration, 2500 after the second
    expect(registry.expire()).toEqual([]);
    expect(registry.size).toBe(1);
    clock.advance(500); // the renewed lease (3000) ran out
    expect(ids(registry.expire().map((c) => c.view))).toEqual(['i1']);
    expect(registry.size).toBe(0);
  });

  test('registry - re-register with new methods returns up and replaces the view', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    const [change] = registry.register(reg('i1', { methods: ['add', 'divide', 'sqrt'] }));
    expect(change?.kind).toBe('up');
    expect(change?.view.methods).toEqual(['add', 'divide', 'sqrt']);
    expect(registry.size).toBe(1);
    expect(registry.lookup('calculator').map((v) => v.methods)).toEqual([
      ['add', 'divide', 'sqrt'],
    ]);
  });

  test('registry - re-register with a new version, metadata or route returns up', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    const kinds = (r: InstanceRegistration) => registry.register(r).map((c) => c.kind);
    expect(kinds(reg('i1', { version: '1.1.0' }))).toEqual(['up']);
    expect(kinds(reg('i1', { version: '1.1.0', metadata: { z: '1' } }))).toEqual(['up']);
    expect(
      kinds(
        reg('i1', { version: '1.1.0', metadata: { z: '1' }, route: { site: 'b', path: ['b'] } }),
      ),
    ).toEqual(['up']);
    expect(registry.size).toBe(1);
    expect(registry.get('i1')?.site).toBe('b');
  });

  test('registry - re-register under another service moves the instance, announcing both', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    const changes = registry.register(reg('i1', { service: 'other' }));
    expect(changes.map((c) => [c.kind, c.view.service])).toEqual([
      ['down', 'calculator'],
      ['up', 'other'],
    ]);
    expect(registry.lookup('calculator')).toEqual([]);
    expect(ids(registry.lookup('other'))).toEqual(['i1']);
    expect(registry.size).toBe(1);
  });

  test('registry - heartbeat renews the lease past its original end', () => {
    const { clock, registry } = setup();
    registry.register(reg('i1'));
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      expect(registry.heartbeat(claim('i1'))).toBe(true);
      expect(registry.expire()).toEqual([]);
    }
    // 10 s after registering, far past the original 3 s lease.
    expect(registry.get('i1')).toBeDefined();
    clock.advance(2999);
    expect(registry.expire()).toEqual([]);
    clock.advance(1);
    expect(registry.expire().map((c) => c.view.id)).toEqual(['i1']);
  });

  test('registry - resumed announces an instance at most once a second, and never an unknown one', () => {
    const { clock, registry } = setup();
    registry.register(reg('i1'));
    expect(registry.resumed('i1')?.id).toBe('i1');
    clock.advance(999);
    expect(registry.resumed('i1')).toBeUndefined();
    clock.advance(1);
    expect(registry.resumed('i1')?.id).toBe('i1');
    expect(registry.resumed('ghost')).toBeUndefined();
  });

  test('registry - an instance that keeps saying it resumed is announced less and less often, up to once a minute', () => {
    const { clock, registry } = setup();
    registry.register(reg('i1'));
    const announcedAt: number[] = [];
    // Said every 100 ms for 10 minutes (flapping, or on purpose).
    for (let t = 0; t <= 600_000; t += 100) {
      if (registry.resumed('i1')) announcedAt.push(t);
      clock.advance(100);
    }
    expect(announcedAt.slice(0, 8)).toEqual([0, 1000, 3000, 7000, 15_000, 31_000, 63_000, 123_000]);
    const gaps = announcedAt.slice(1).map((t, i) => t - announcedAt[i]!);
    expect(Math.max(...gaps)).toBe(MAX_RESUME_INTERVAL_MS);
    expect(announcedAt.length).toBe(15);
    // Quiet for long enough: the next is announced at once, and the one after a second later.
    clock.advance(RESUME_QUIET_MS);
    expect(registry.resumed('i1')?.id).toBe('i1');
    clock.advance(RESUME_INTERVAL_MS);
    expect(registry.resumed('i1')?.id).toBe('i1');
  });

  test('registry - a lease session that keeps renewing resumed gets its routes announced less and less often', () => {
    const { clock, registry } = setup();
    for (const id of ['r1', 'r2', 'r3']) registry.register(reg(id, { session: 'half1', route }));
    const renewal = { v: 1, session: 'half1', secret: SECRET, routes: 3, resumed: true } as const;
    let announced = 0;
    for (let t = 0; t <= 600_000; t += 250) {
      announced += registry.renewSession(renewal).resumed.length;
      clock.advance(250);
    }
    // One renewal announces every route, but not one more often than a single instance.
    expect(announced).toBe(3 * 15);
  });

  test('registry - heartbeat of an unknown id returns false', () => {
    const { registry } = setup();
    expect(registry.heartbeat(claim('ghost'))).toBe(false);
    registry.register(reg('i1'));
    registry.deregister('i1');
    expect(registry.heartbeat(claim('i1'))).toBe(false);
  });

  test('registry - expires exactly the instances whose lease ran out', () => {
    const { clock, registry } = setup();
    registry.register(reg('fast', { heartbeatMs: 100 })); // lease 300
    registry.register(reg('mid', { heartbeatMs: 500 })); // lease 1500
    registry.register(reg('slow', { heartbeatMs: 1000, service: 'other' })); // lease 3000
    clock.advance(299);
    expect(registry.expire()).toEqual([]);
    clock.advance(1);
    const first = registry.expire();
    expect(first).toEqual([
      {
        kind: 'down',
        view: expect.objectContaining({ id: 'fast' }),
        reason: 'expired',
        since: 3,
        generation: 4,
      },
    ]);
    registry.heartbeat(claim('slow'));
    clock.advance(1200); // t = 1500
    expect(registry.expire().map((c) => [c.kind, c.view.id])).toEqual([['down', 'mid']]);
    expect(ids(registry.instances())).toEqual(['slow']);
    clock.advance(1799); // t = 3299; slow renewed at t = 300, lease 3000
    expect(registry.expire()).toEqual([]);
    clock.advance(1);
    expect(registry.expire().map((c) => c.view.id)).toEqual(['slow']);
    expect(registry.size).toBe(0);
    expect(registry.expire()).toEqual([]);
  });

  test('registry - expire reports several instances at once', () => {
    const { clock, registry } = setup();
    for (let i = 0; i < 5; i++) registry.register(reg(`i${i}`));
    registry.register(reg('keeper', { heartbeatMs: 10_000 }));
    clock.advance(3000);
    const removed = registry.expire();
    expect(removed.every((c) => c.kind === 'down')).toBe(true);
    expect(ids(removed.map((c) => c.view))).toEqual(['i0', 'i1', 'i2', 'i3', 'i4']);
    expect(ids(registry.instances())).toEqual(['keeper']);
  });

  test('registry - leaseFactor sets the lease length', () => {
    const { clock, registry } = setup({ leaseFactor: 2 });
    registry.register(reg('i1'));
    clock.advance(1999);
    expect(registry.expire()).toEqual([]);
    clock.advance(1);
    expect(registry.expire()).toHaveLength(1);
  });

  test('registry - expires leases with the default clock under fake timers', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const registry = new Registry({ site: 'a' });
    registry.register(reg('i1', { heartbeatMs: 1000 }));
    registry.register(reg('i2', { heartbeatMs: 5000 }));
    vi.setSystemTime(new Date('2030-01-01T00:00:02.999Z'));
    expect(registry.expire()).toEqual([]);
    expect(registry.heartbeat(claim('i2'))).toBe(true);
    vi.advanceTimersByTime(1);
    expect(registry.expire().map((c) => c.view.id)).toEqual(['i1']);
    vi.setSystemTime(new Date('2030-01-01T00:00:17.998Z'));
    expect(registry.expire()).toEqual([]);
    vi.setSystemTime(new Date('2030-01-01T00:00:17.999Z'));
    expect(registry.expire().map((c) => c.view.id)).toEqual(['i2']);
  });

  test('registry - deregister removes an instance at once and reports down', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    registry.register(reg('i2'));
    const change = registry.deregister('i1');
    expect(change).toEqual({
      kind: 'down',
      view: expect.objectContaining({ id: 'i1' }),
      reason: 'deregistered',
      since: 2,
      generation: 3,
    });
    expect(registry.get('i1')).toBeUndefined();
    expect(ids(registry.lookup('calculator'))).toEqual(['i2']);
    expect(registry.size).toBe(1);
    expect(registry.deregister('i1')).toBeUndefined();
    expect(registry.deregister('ghost')).toBeUndefined();
  });

  test('registry - a deregistered instance can register again', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    registry.deregister('i1');
    expect(registry.register(reg('i1')).map((c) => c.kind)).toEqual(['up']);
    expect(registry.size).toBe(1);
  });

  test('registry - lookup by name', () => {
    const { registry } = setup();
    registry.register(reg('c1'));
    registry.register(reg('c2'));
    registry.register(reg('o1', { service: 'other' }));
    expect(ids(registry.lookup('calculator'))).toEqual(['c1', 'c2']);
    expect(ids(registry.lookup('other'))).toEqual(['o1']);
    expect(registry.lookup('missing')).toEqual([]);
  });

  test('registry - lookup by version range', () => {
    const { registry } = setup();
    registry.register(reg('v100', { version: '1.0.0' }));
    registry.register(reg('v120', { version: '1.2.0' }));
    registry.register(reg('v135', { version: '1.3.5' }));
    registry.register(reg('v200', { version: '2.0.0' }));
    expect(ids(registry.lookup('calculator', '^1.2.0'))).toEqual(['v120', 'v135']);
    expect(ids(registry.lookup('calculator', '~1.2.0'))).toEqual(['v120']);
    expect(ids(registry.lookup('calculator', '2.x'))).toEqual(['v200']);
    expect(ids(registry.lookup('calculator', '1.0.0 || >=2.0.0'))).toEqual(['v100', 'v200']);
    expect(ids(registry.lookup('calculator', '^3.0.0'))).toEqual([]);
    expect(registry.lookup('calculator', '*')).toHaveLength(4);
    expect(registry.lookup('calculator', '')).toHaveLength(4);
  });

  test('registry - lookup with a malformed range finds nothing', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    expect(registry.lookup('calculator', 'not a range')).toEqual([]);
  });

  test('registry - lookup result cache is invalidated by register', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    const before = registry.lookup('calculator');
    expect(registry.lookup('calculator')).toBe(before); // cached
    registry.register(reg('i2'));
    expect(ids(registry.lookup('calculator'))).toEqual(['i1', 'i2']);
    expect(ids(before)).toEqual(['i1']);
    // A plain refresh or a heartbeat keeps the cache.
    const cached = registry.lookup('calculator');
    registry.register(reg('i1'));
    registry.heartbeat(claim('i2'));
    expect(registry.lookup('calculator')).toBe(cached);
    // A changed description replaces the cached view.
    registry.register(reg('i1', { methods: ['add'] }));
    expect(registry.lookup('calculator').find((v) => v.id === 'i1')?.methods).toEqual(['add']);
  });

  test('registry - lookup result cache is invalidated by deregister', () => {
    const { registry } = setup();
    registry.register(reg('i1'));
    registry.register(reg('i2'));
    expect(registry.lookup('calculator')).toHaveLength(2);
    registry.deregister('i1');
    expect(ids(registry.lookup('calculator'))).toEqual(['i2']);
    registry.deregister('i2');
    expect(registry.lookup('calculator')).toEqual([]);
  });

  test('registry - lookup result cache is invalidated by expire', () => {
    const { clock, registry } = setup();
    registry.register(reg('short', { heartbeatMs: 100 }));
    registry.register(reg('long', { heartbeatMs: 10_000 }));
    expect(registry.lookup('calculator')).toHaveLength(2);
    expect(registry.lookup('calculator', '1.x')).toHaveLength(2);
    clock.advance(300);
    registry.expire();
    expect(ids(registry.lookup('calculator'))).toEqual(['long']);
    expect(ids(registry.lookup('calculator', '1.x'))).toEqual(['long']);
  });

  test('registry - lookup cache is per service', () => {
    const { registry } = setup();
    registry.register(reg('c1'));
    registry.register(reg('o1', { service: 'other' }));
    const other = registry.lookup('other');
    registry.register(reg('c2'));
    expect(registry.lookup('other')).toBe(other);
    expect(registry.lookup('calculator')).toHaveLength(2);
  });

  test('registry - routes give site, path and hops', () => {
    const { registry } = setup();
    registry.register(reg('local'));
    registry.register(reg('one', { route: { site: 'b', path: ['b'] } }));
    registry.register(reg('two', { route: { site: 'c', path: ['b', 'c'] } }));
    const byId = new Map(registry.lookup('calculator').map((v) => [v.id, v]));
    expect(byId.get('local')).toMatchObject({ site: 'a', path: [], hops: 0 });
    expect(byId.get('one')).toMatchObject({ site: 'b', path: ['b'], hops: 1 });
    expect(byId.get('two')).toMatchObject({ site: 'c', path: ['b', 'c'], hops: 2 });
  });

  test('registry - a route with a new path is a changed description', () => {
    const { registry } = setup();
    registry.register(reg('r', { route: { site: 'c', path: ['b', 'c'] } }));
    expect(registry.register(reg('r', { route: { site: 'c', path: ['b', 'c'] } }))).toEqual([]);
    const [change] = registry.register(reg('r', { route: { site: 'c', path: ['c'] } }));
    expect(change?.kind).toBe('up');
    expect(change?.view.hops).toBe(1);
  });

  test('registry - list groups instances by name and version, sorted', () => {
    const { registry } = setup();
    registry.register(reg('z1', { service: 'zeta', version: '1.0.0' }));
    registry.register(reg('c10', { version: '1.10.0', methods: ['add', 'sqrt'] }));
    registry.register(reg('c2a', { version: '1.2.0' }));
    registry.register(reg('c2b', { version: '1.2.0' }));
    registry.register(reg('a1', { service: 'alpha', version: '0.1.0', methods: ['go'] }));
    const list = registry.list();
    expect(list.map((s) => `${s.name}@${s.version}`)).toEqual([
      'alpha@0.1.0',
      'calculator@1.2.0',
      'calculator@1.10.0',
      'zeta@1.0.0',
    ]);
    expect(ids(list[1]?.instances ?? [])).toEqual(['c2a', 'c2b']);
    expect(list[2]?.methods).toEqual(['add', 'sqrt']);
    expect(list[0]?.methods).toEqual(['go']);
    expect(list.reduce((n, s) => n + s.instances.length, 0)).toBe(registry.size);
  });

  test('registry - list of an empty registry is empty', () => {
    expect(setup().registry.list()).toEqual([]);
  });

  test('registry - size follows register, deregister and expire', () => {
    const { clock, registry } = setup();
    expect(registry.size).toBe(0);
    registry.register(reg('i1'));
    registry.register(reg('i2', { heartbeatMs: 10_000 }));
    registry.register(reg('i1'));
    expect(registry.size).toBe(2);
    registry.deregister('i2');
    expect(registry.size).toBe(1);
    clock.advance(3000);
    registry.expire();
    expect(registry.size).toBe(0);
  });

  // BUG (src/broker/registry.ts, `register`): a re-registration with the same
  // description but another heartbeatMs keeps the old `leaseMs` in the entry
  // (only `expiresAt` is updated), so later heartbeats renew with the old lease,
  // while the broker tells the instance `leaseMs = leaseFor(new heartbeatMs)`.
  test('registry - re-register with a longer heartbeat lengthens later leases', () => {
    const { clock, registry } = setup();
    registry.register(reg('i1', { heartbeatMs: 1000 })); // lease 3000
    expect(registry.register(reg('i1', { heartbeatMs: 5000 }))).toEqual([]); // lease 15000
    clock.advance(5000);
    expect(registry.heartbeat(claim('i1'))).toBe(true);
    clock.advance(5000); // one heartbeat interval later: well within a 15 s lease
    expect(registry.expire()).toEqual([]);
  });

  test('registry - 100k instances over 1000 services look up correctly', () => {
    const { clock, registry } = setup();
    const services = 1000;
    const perService = 100;
    for (let s = 0; s < services; s++) {
      for (let i = 0; i < perService; i++) {
        registry.register(
          reg(`s${s}-i${i}`, {
            service: `svc${s}`,
            version: i % 2 === 0 ? '1.0.0' : '2.0.0',
            heartbeatMs: i < 10 ? 100 : 10_000,
          }),
        );
      }
    }
    expect(registry.size).toBe(services * perService);
    for (const s of [0, 1, 499, 998, 999]) {
      expect(registry.lookup(`svc${s}`)).toHaveLength(perService);
      expect(registry.lookup(`svc${s}`, '1.x')).toHaveLength(perService / 2);
      expect(registry.lookup(`svc${s}`, '^2.0.0')).toHaveLength(perService / 2);
    }
    let total = 0;
    for (let s = 0; s < services; s++) total += registry.lookup(`svc${s}`).length;
    expect(total).toBe(services * perService);
    expect(registry.lookup('svc1000')).toEqual([]);
    expect(registry.list()).toHaveLength(services * 2);

    for (let s = 0; s < services; s++) registry.deregister(`s${s}-i99`);
    clock.advance(300);
    expect(registry.expire()).toHaveLength(services * 10);
    expect(registry.size).toBe(services * (perService - 11));
    expect(registry.lookup('svc42')).toHaveLength(perService - 11);
    expect(registry.heartbeat(claim('s42-i5'))).toBe(false);
    expect(registry.heartbeat(claim('s42-i50'))).toBe(true);
  });
});

describe('registry - generation', () => {
  test('registry - the generation moves at every change, not at a heartbeat or a plain re-registration', () => {
    const { clock, registry } = setup();
    const at = () => registry.generation;
    const g0 = at();
    registry.register(reg('i1'));
    const g1 = at();
    expect(g1).toBeGreaterThan(g0);
    registry.register(reg('i1'));
    registry.heartbeat(claim('i1'));
    expect(renewedIn(registry, 'none', SECRET)).toBe(0);
    expect(at()).toBe(g1);
    registry.register(reg('i1', { version: '1.1.0' }));
    const g2 = at();
    expect(g2).toBeGreaterThan(g1);
    registry.deregister('i1', claim('i1'));
    const g3 = at();
    expect(g3).toBeGreaterThan(g2);
    registry.register(reg('i2'));
    const g4 = at();
    clock.advance(3001);
    registry.expire();
    expect(at()).toBeGreaterThan(g4);
  });
});

describe('registry - lease sessions', () => {
  test('registry - one renewal keeps every route of a session; the rest expire', () => {
    const { clock, registry } = setup();
    for (const id of ['r1', 'r2', 'r3']) registry.register(reg(id, { session: 'half1', route }));
    registry.register(reg('r4', { session: 'half2', route }));
    registry.register(reg('alone'));
    clock.advance(2000);
    expect(renewedIn(registry, 'half1', SECRET)).toBe(3);
    clock.advance(1500);
    expect(ids(registry.expire().map((c) => c.view))).toEqual(['alone', 'r4']);
    expect(ids(registry.instances())).toEqual(['r1', 'r2', 'r3']);
  });

  test('registry - a renewal counts only what it renewed: other secrets, gone and unknown sessions', () => {
    const { registry } = setup();
    registry.register(reg('r1', { session: 'half1', route }));
    registry.register(reg('r2', { session: 'half1', route, secret: 'another-secret-of-16' }));
    expect(renewedIn(registry, 'half1', SECRET)).toBe(1);
    expect(renewedIn(registry, 'nobody', SECRET)).toBe(0);
    registry.deregister('r1', claim('r1'));
    expect(renewedIn(registry, 'half1', SECRET)).toBe(0);
  });

  test('registry - a renewal drops the routes it names gone, only those of its session and secret', () => {
    const { registry } = setup();
    registry.register(reg('r1', { session: 'half1', route }));
    registry.register(reg('r2', { session: 'half1', route }));
    registry.register(reg('other', { session: 'half2', route }));
    registry.register(reg('theirs', { session: 'half1', route, secret: 'another-secret-of-16' }));
    registry.register(reg('alone'));
    const gone = ['r2', 'other', 'theirs', 'alone', 'unknown'];
    const outcome = registry.renewSession({
      v: 1,
      session: 'half1',
      secret: SECRET,
      routes: 1,
      gone,
    });
    expect(outcome).toEqual({
      changes: [
        {
          kind: 'down',
          view: expect.objectContaining({ id: 'r2' }),
          reason: 'deregistered',
          since: 5,
          generation: 6,
        },
      ],
      renewed: 1,
      reregister: false,
      resumed: [],
    });
    expect(ids(registry.instances())).toEqual(['alone', 'other', 'r1', 'theirs']);
    expect(registry.renewSession({ v: 1, session: 'half1', secret: SECRET, routes: 2 })).toEqual({
      changes: [],
      renewed: 1,
      reregister: true,
      resumed: [],
    });
  });

  test('registry - a session holding more routes than its holder says: asked again, then those not registered since go', () => {
    const { registry } = setup();
    for (const id of ['r1', 'r2', 'stale1', 'stale2']) {
      registry.register(reg(id, { session: 'half1', route }));
    }
    registry.register(reg('theirs', { session: 'half1', route, secret: 'another-secret-of-16' }));
    const renew = (held?: number) =>
      registry.renewSession({ v: 1, session: 'half1', secret: SECRET, routes: 2, held });
    // Without `held` (an older sender), the count of routes alone decides.
    expect(renew()).toEqual({ changes: [], renewed: 4, reregister: false, resumed: [] });
    // It holds 2, we 4 of it: everything again, please.
    expect(renew(2)).toEqual({ changes: [], renewed: 4, reregister: true, resumed: [] });
    // None registered since: the ask may be lost, so asked again.
    expect(renew(2).reregister).toBe(true);
    // One of its two registered again: not yet.
    registry.register(reg('r1', { session: 'half1', route }));
    expect(renew(2)).toEqual({ changes: [], renewed: 4, reregister: false, resumed: [] });
    registry.register(reg('r2', { session: 'half1', route }));
    const outcome = renew(2);
    expect(outcome.changes.map((c) => [c.kind, c.view.id, c.reason])).toEqual([
      ['down', 'stale1', 'deregistered'],
      ['down', 'stale2', 'deregistered'],
    ]);
    expect(outcome).toMatchObject({ renewed: 2, reregister: false });
    expect(ids(registry.instances())).toEqual(['r1', 'r2', 'theirs']);
    // Put right: renewals as usual again.
    expect(renew(2)).toEqual({ changes: [], renewed: 2, reregister: false, resumed: [] });
  });

  test('registry - a session whose holder holds nothing goes whole after one ask; one holding as many is left alone', () => {
    const { registry } = setup();
    registry.register(reg('stale', { session: 'half1', route }));
    registry.register(reg('r1', { session: 'half2', route }));
    const renew = (session: string, held: number) =>
      registry.renewSession({ v: 1, session, secret: SECRET, routes: 0, held });
    expect(renew('half2', 1)).toEqual({ changes: [], renewed: 1, reregister: false, resumed: [] });
    expect(renew('half1', 0).reregister).toBe(true);
    expect(renew('half1', 0).changes.map((c) => c.view.id)).toEqual(['stale']);
    expect(ids(registry.instances())).toEqual(['r1']);
  });

  test('registry - a sync under way ends when the session holds no more than its holder says', () => {
    const { registry } = setup();
    for (const id of ['r1', 'stale']) registry.register(reg(id, { session: 'half1', route }));
    const renew = (held: number, gone?: string[]) =>
      registry.renewSession({ v: 1, session: 'half1', secret: SECRET, routes: 1, held, gone });
    expect(renew(1).reregister).toBe(true);
    // The lost deregistration arrives after all: nothing more to put right.
    expect(renew(1, ['stale'])).toMatchObject({ renewed: 1, reregister: false });
    // A later surplus starts a sync of its own (asked first, nothing dropped at once).
    registry.register(reg('stale2', { session: 'half1', route }));
    expect(renew(1)).toEqual({ changes: [], renewed: 2, reregister: true, resumed: [] });
  });

  test('registry - a renewal with another secret neither ends nor starts the sync of the session holder', () => {
    const { registry } = setup();
    for (const id of ['r1', 'stale']) registry.register(reg(id, { session: 'half1', route }));
    const renew = (secret: string, held: number) =>
      registry.renewSession({ v: 1, session: 'half1', secret, routes: 1, held });
    expect(renew(SECRET, 1).reregister).toBe(true);
    // Forged with a secret that holds nothing here: it renews nothing and asks for nothing of its own.
    expect(renew('forged-secret-of-16', 5)).toEqual({
      changes: [],
      renewed: 0,
      reregister: true,
      resumed: [],
    });
    // The holder's sync went on: it registered r1 again, so the stale route goes.
    registry.register(reg('r1', { session: 'half1', route }));
    expect(renew(SECRET, 1).changes.map((c) => c.view.id)).toEqual(['stale']);
  });

  test('registry - a sync ends when its secret holds nothing more in the session: nothing is kept for it', () => {
    const { registry } = setup();
    const other = 'another-secret-of-16';
    registry.register(reg('v1', { session: 'half1', route }));
    const renew = () =>
      registry.renewSession({ v: 1, session: 'half1', secret: other, routes: 0, held: 0 });
    registry.register(reg('x1', { session: 'half1', route, secret: other }));
    expect(renew().reregister).toBe(true); // a sync of its own starts
    registry.deregister('x1', { id: 'x1', secret: other });
    // Registered anew after it held nothing: a new sync, not the old one's state.
    registry.register(reg('x2', { session: 'half1', route, secret: other }));
    expect(renew().reregister).toBe(true);
    expect(ids(registry.instances())).toEqual(['v1', 'x2']);
  });

  test('registry - expire(asOf) ends only the leases over by then; expiredAsOf says when one is', () => {
    const { clock, registry } = setup();
    registry.register(reg('early', { heartbeatMs: 100 })); // lease 300
    registry.register(reg('late', { heartbeatMs: 200 })); // lease 600
    clock.advance(299);
    expect(registry.expiredAsOf()).toBeUndefined();
    clock.advance(1);
    const asOf = registry.expiredAsOf();
    expect(asOf).toBe(clock.now());
    // Meanwhile (a round trip to the server) the late lease ran out too: it waits for its own.
    clock.advance(400);
    expect(registry.expire(asOf).map((c) => c.view.id)).toEqual(['early']);
    expect(registry.expire().map((c) => c.view.id)).toEqual(['late']);
  });

  test('registry - a resumed renewal announces every route of its session and secret, once a second each', () => {
    const { clock, registry } = setup();
    registry.register(reg('r1', { session: 'half1', route }));
    registry.register(reg('r2', { session: 'half1', route }));
    registry.register(reg('other', { session: 'half2', route }));
    registry.register(reg('theirs', { session: 'half1', route, secret: 'another-secret-of-16' }));
    registry.register(reg('alone'));
    const renew = (resumed?: boolean) =>
      registry.renewSession({ v: 1, session: 'half1', secret: SECRET, routes: 2, resumed });
    expect(renew().resumed).toEqual([]);
    expect(ids(renew(true).resumed)).toEqual(['r1', 'r2']);
    // The repeats a half sends shortly after (250 and 750 ms) announce nothing more.
    clock.advance(999);
    expect(renew(true).resumed).toEqual([]);
    // A heartbeat's resumed and a renewal's share the interval.
    clock.advance(1);
    expect(registry.resumed('r1')?.id).toBe('r1');
    expect(ids(renew(true).resumed)).toEqual(['r2']);
  });

  test('registry - an instance that joins or leaves a session is renewed with it, or no more', () => {
    const { clock, registry } = setup();
    registry.register(reg('r1', { route }));
    registry.register(reg('r1', { route, session: 'half1' }));
    expect(renewedIn(registry, 'half1', SECRET)).toBe(1);
    registry.register(reg('r1', { route }));
    expect(renewedIn(registry, 'half1', SECRET)).toBe(0);
    clock.advance(3001);
    expect(registry.expire()).toHaveLength(1);
  });
});

describe('registry - departures', () => {
  test('registry - the sites a service left recently are remembered, per site', () => {
    const { clock, registry } = setup();
    registry.register(reg('local'));
    registry.register(reg('toB', { route: { site: 'b', path: ['b'] } }));
    registry.register(reg('toC', { route: { site: 'c', path: ['b', 'c'] } }));
    registry.deregister('toC');
    expect(registry.departedSites('calculator')).toEqual(['c']);
    expect(registry.departedFrom('calculator')).toBeUndefined();
    registry.deregister('toB');
    registry.deregister('local');
    expect(registry.departedSites('calculator').sort()).toEqual(['a', 'b', 'c']);
    expect(registry.departedFrom('calculator')).toBe('a');
    registry.register(reg('toC2', { route: { site: 'c', path: ['b', 'c'] } }));
    expect(registry.departedSites('calculator').sort()).toEqual(['a', 'b']);
    registry.deregister('toC2');
    clock.advance(600_001);
    registry.expire();
    expect(registry.departedSites('calculator')).toEqual([]);
  });

  test('registry - departures are forgotten after rememberDepartedMs', () => {
    const clock = fakeClock();
    const registry = new Registry({ site: 'a', now: clock.now, rememberDepartedMs: 1000 });
    registry.register(reg('i1'));
    registry.deregister('i1');
    clock.advance(1000);
    registry.expire();
    expect(registry.departedFrom('calculator')).toBe('a');
    clock.advance(1);
    registry.expire();
    expect(registry.departedFrom('calculator')).toBeUndefined();
    expect(registry.departedSites('calculator')).toEqual([]);
  });
});

describe('registry - overdue lease holders', () => {
  /** A cluster's: how long a holder's connection may take to move to another node. */
  const AFTER = 1500;

  test('registry - a holder is named once silent for two heartbeats and probeAfterMs, once per lease', () => {
    const { clock, registry } = setup();
    registry.register(reg('alone')); // beats every 1000 ms: lease 3000, probed after 2000
    for (const id of ['r1', 'r2']) {
      registry.register(reg(id, { session: 'half1', route, heartbeatMs: 700 })); // lease 2100
    }
    clock.advance(1499);
    expect(registry.overdue(10, AFTER)).toEqual([]); // two heartbeats, but not yet 1500 ms
    clock.advance(1);
    expect(registry.overdue(10, AFTER)).toEqual([{ session: 'half1' }]);
    expect(registry.overdue(10, AFTER)).toEqual([]); // named once
    clock.advance(500);
    expect(registry.overdue(10, AFTER)).toEqual([{ service: 'calculator', id: 'alone' }]);
    registry.heartbeat(claim('alone'));
    renewedIn(registry, 'half1', SECRET);
    expect(registry.overdue(10, AFTER)).toEqual([]);
    clock.advance(1500);
    expect(registry.overdue(10, AFTER)).toEqual([{ session: 'half1' }]); // a new lease, named again
  });

  test('registry - overdue names at most the limit; the rest come at the next call', () => {
    const { clock, registry } = setup();
    for (const id of ['a1', 'a2', 'a3']) registry.register(reg(id));
    clock.advance(2000);
    expect(registry.overdue(2, AFTER)).toHaveLength(2);
    expect(registry.overdue(2, AFTER)).toHaveLength(1);
    expect(registry.overdue(2, AFTER)).toHaveLength(0);
  });

  test('registry - nothing is probed when the lease ends first: two heartbeats or probeAfterMs', () => {
    for (const [options, heartbeatMs] of [
      [{ leaseFactor: 2 }, 1000],
      [{}, 500], // the bridge's default: a lease of 1500 ms, no longer than probeAfterMs
    ] as const) {
      const { clock, registry } = setup(options);
      registry.register(reg('alone', { heartbeatMs }));
      for (let t = 0; t < 2500; t += 100) {
        clock.advance(100);
        registry.expire();
        expect(registry.overdue(10, AFTER)).toEqual([]);
      }
    }
  });

  test('registry - a gone holder loses its entries still overdue, not those renewed or registered since', () => {
    const { clock, registry } = setup();
    for (const id of ['r1', 'r2']) {
      registry.register(reg(id, { session: 'half1', route, heartbeatMs: 500 }));
    }
    registry.register(reg('other', { session: 'half2', route, heartbeatMs: 500 }));
    registry.register(reg('alone'));
    clock.advance(1000);
    registry.register(reg('r3', { session: 'half1', route, heartbeatMs: 500 }));
    const gone = registry.holderGone({ session: 'half1' }, 0);
    expect(gone.map((c) => [c.kind, c.view.id, c.reason])).toEqual([
      ['down', 'r1', 'expired'],
      ['down', 'r2', 'expired'],
    ]);
    expect(ids(registry.instances())).toEqual(['alone', 'other', 'r3']);
    // An instance alone: only while it is overdue, and only under its own service.
    expect(registry.holderGone({ service: 'calculator', id: 'alone' }, 0)).toEqual([]);
    clock.advance(1000);
    expect(registry.holderGone({ service: 'other-service', id: 'alone' }, 0)).toEqual([]);
    expect(registry.holderGone({ service: 'calculator', id: 'alone' }, 0)).toHaveLength(1);
    expect(ids(registry.instances())).toEqual(['other', 'r3']);
  });
});
