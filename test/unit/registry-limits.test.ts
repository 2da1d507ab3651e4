import { encode } from '@msgpack/msgpack';
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_REGISTRY_LIMITS,
  fitting,
  Registry,
  type RegistryLimits,
} from '../../src/broker/registry.js';
import type { InstanceRegistration } from '../../src/protocol/envelopes.js';
import { ErrorCode, viewSize } from '../../src/protocol/index.js';
import { instanceView, registration, renewedIn, SECRET, thrownBy } from '../support/memory-site.js';

/** A registration of `calculator` (method `add`) by the tests' holder. */
const reg = (id: string, fields: Partial<InstanceRegistration> = {}) =>
  registration(id, 'calculator', { methods: ['add'], ...fields });

const view = instanceView;

describe('registry limits and claims', () => {
  test('limits - the defaults hold unless a limit is given; an undefined one keeps its default', () => {
    expect(new Registry({ site: 'a' }).limits).toEqual(DEFAULT_REGISTRY_LIMITS);
    expect(DEFAULT_REGISTRY_LIMITS).toEqual({
      maxInstances: 100_000,
      maxBridgeRoutes: 50_000,
      maxMethods: 256,
      maxMetadataBytes: 4096,
      minHeartbeatMs: 50,
      maxHeartbeatMs: 60_000,
    });
    const registry = new Registry({
      site: 'a',
      limits: { maxMethods: 2, maxInstances: undefined },
    });
    expect(registry.limits).toEqual({ ...DEFAULT_REGISTRY_LIMITS, maxMethods: 2 });
  });

  test('limits - methods, metadata bytes and heartbeat are refused one past the limit, with BAD_REQUEST', () => {
    const limits = {
      maxMethods: 2,
      maxMetadataBytes: 10,
      minHeartbeatMs: 100,
      maxHeartbeatMs: 500,
    };
    const registry = new Registry({ site: 'a', limits });
    const ok = { heartbeatMs: 200 };
    const accepted = [
      reg('m', { ...ok, methods: ['a', 'b'] }),
      reg('d', { ...ok, metadata: { ab: 'cdefghij' } }),
      reg('lo', { heartbeatMs: 100 }),
      reg('hi', { heartbeatMs: 500 }),
    ];
    for (const r of accepted) expect(registry.register(r)).toHaveLength(1);
    const refused = [
      [reg('m2', { ...ok, methods: ['a', 'b', 'c'] }), /declares 3 methods, over the limit of 2/],
      [
        reg('d2', { ...ok, metadata: { ab: 'cdefghijk' } }),
        /carries 11 bytes of metadata, over the limit of 10/,
      ],
      [reg('d3', { ...ok, metadata: { a: 'bcde', f: 'ghijk' } }), /carries 11 bytes/],
      [
        reg('lo2', { heartbeatMs: 99 }),
        /heartbeats every 99 ms; this broker accepts 100 to 500 ms/,
      ],
      [reg('hi2', { heartbeatMs: 501 }), /heartbeats every 501 ms/],
    ] as const;
    for (const [r, message] of refused) {
      const err = thrownBy(() => registry.register(r));
      expect(err.code).toBe(ErrorCode.BAD_REQUEST);
      expect(err.completed).toBe('no');
      expect(err.message).toMatch(message);
    }
    expect(registry.size).toBe(4);
  });

  test('limits - a full registry refuses a new instance with UNAVAILABLE naming its site, but renews one it holds', () => {
    const registry = new Registry({ site: 'a', limits: { maxInstances: 2 } });
    registry.register(reg('i1'));
    registry.register(reg('i2'));
    const err = thrownBy(() => registry.register(reg('i3')));
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.completed).toBe('no');
    expect(err.site).toBe('a');
    expect(err.message).toBe("the registry of site 'a' is full (2 instances)");
    expect(registry.register(reg('i2', { version: '1.1.0' }))).toHaveLength(1);
    registry.deregister('i1');
    expect(registry.register(reg('i3'))).toHaveLength(1);
  });

  test('claims - another secret can neither take, renew nor remove an instance; a wrong service is refused', () => {
    const registry = new Registry({ site: 'a' });
    registry.register(reg('i1'));
    const other = { id: 'i1', secret: 'someone-else-secret' };
    const taken = thrownBy(() => registry.register(reg('i1', { secret: other.secret })));
    expect(taken.code).toBe(ErrorCode.FORBIDDEN);
    expect(taken.completed).toBe('no');
    expect(taken.message).toMatch(/held by another registrant until its lease ends/);
    expect(thrownBy(() => registry.heartbeat(other)).code).toBe(ErrorCode.FORBIDDEN);
    expect(thrownBy(() => registry.deregister('i1', other)).code).toBe(ErrorCode.FORBIDDEN);
    const wrongService = thrownBy(() =>
      registry.deregister('i1', { id: 'i1', secret: SECRET, service: 'greeter' }),
    );
    expect(wrongService.code).toBe(ErrorCode.FORBIDDEN);
    expect(wrongService.message).toMatch(/belongs to service 'calculator', not 'greeter'/);
    expect(registry.get('i1')).toBeDefined();
    expect(registry.heartbeat({ id: 'i1', secret: SECRET, service: 'calculator' })).toBe(true);
    expect(registry.deregister('i1', { id: 'i1', secret: SECRET })?.reason).toBe('deregistered');
    expect(registry.get('i1')).toBeUndefined();
  });

  test('moves - an instance registered under another service is down there and up here', () => {
    const registry = new Registry({ site: 'a' });
    registry.register(reg('i1'));
    const changes = registry.register(reg('i1', { service: 'greeter' }));
    expect(changes.map((c) => [c.kind, c.view.service, c.kind === 'down' ? c.reason : ''])).toEqual(
      [
        ['down', 'calculator', 'deregistered'],
        ['up', 'greeter', ''],
      ],
    );
    expect(registry.lookup('calculator')).toEqual([]);
    expect(registry.departedFrom('calculator')).toBe('a');
    // A new description under the same service is a plain `up`.
    expect(
      registry.register(reg('i1', { service: 'greeter', version: '2.0.0' })).map((c) => c.kind),
    ).toEqual(['up']);
  });

  test('departures - a site stays live while any of its instances is; the last one leaving makes it departed', () => {
    const registry = new Registry({ site: 'a' });
    const viaB = { route: { site: 'b', path: ['b'] } };
    registry.register(reg('b1', viaB));
    registry.register(reg('b2', viaB));
    registry.deregister('b1');
    expect(registry.departedSites('calculator')).toEqual([]);
    registry.deregister('b2');
    expect(registry.departedSites('calculator')).toEqual(['b']);
    expect(registry.departedSites('greeter')).toEqual([]);
  });

  test('limits - a bridge may fill half the registry by default, or what maxBridgeRoutes says', () => {
    const limits = (given: Partial<RegistryLimits>) =>
      new Registry({ site: 'a', limits: given }).limits;
    expect(limits({ maxInstances: 1001 }).maxBridgeRoutes).toBe(500);
    expect(limits({ maxInstances: 1 }).maxBridgeRoutes).toBe(1);
    expect(limits({ maxInstances: 10, maxBridgeRoutes: 10 }).maxBridgeRoutes).toBe(10);
    expect(limits({ maxBridgeRoutes: 7 })).toMatchObject({
      maxInstances: 100_000,
      maxBridgeRoutes: 7,
    });
  });

  test('limits - routes past maxBridgeRoutes, all bridges together, are refused with UNAVAILABLE; held ones renew, servers still register', () => {
    const registry = new Registry({ site: 'a', limits: { maxBridgeRoutes: 2 } });
    const via = (session?: string) => ({ route: { site: 'b', path: ['b'] }, session });
    registry.register(reg('r1', via('s1')));
    registry.register(reg('r2', via('s1')));
    const err = thrownBy(() => registry.register(reg('r3', via('s1'))));
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'no', site: 'a' });
    expect(err.message).toBe("bridges hold 2 routes in the registry of site 'a', their limit of 2");
    expect(registry.register(reg('r2', { ...via('s1'), version: '1.1.0' }))).toHaveLength(1);
    // Another session, or none, gets no more room: one bridge could open as many as it likes.
    expect(thrownBy(() => registry.register(reg('r3', via('s2')))).code).toBe(
      ErrorCode.UNAVAILABLE,
    );
    expect(thrownBy(() => registry.register(reg('r3', via()))).code).toBe(ErrorCode.UNAVAILABLE);
    expect(registry.register(reg('local'))).toHaveLength(1);
    // A route moving to another session is not new: it keeps its room.
    expect(registry.register(reg('r2', via('s2')))).toHaveLength(1);
    registry.deregister('r1');
    expect(registry.register(reg('r4', via()))).toHaveLength(1);
    expect(thrownBy(() => registry.register(reg('r5', via('s3')))).code).toBe(
      ErrorCode.UNAVAILABLE,
    );
    // A route replaced by a server's registration of its id frees its room.
    registry.register(reg('r4'));
    expect(registry.register(reg('r5', via('s3')))).toHaveLength(1);
    expect(registry.size).toBe(4);
  });

  test('sessions - removing one route of a session keeps the others renewed by it', () => {
    const registry = new Registry({ site: 'a' });
    const route = { route: { site: 'b', path: ['b'] }, session: 's1' };
    registry.register(reg('r1', route));
    registry.register(reg('r2', route));
    registry.register(reg('local'));
    registry.deregister('r1');
    expect(renewedIn(registry, 's1')).toBe(1);
    registry.deregister('r2');
    expect(renewedIn(registry, 's1')).toBe(0);
  });
});

describe('registry listing pages', () => {
  function filled(count: number, versions = ['1.0.0']): Registry {
    const registry = new Registry({ site: 'a' });
    for (let i = 0; i < count; i++) {
      const version = versions[i % versions.length]!;
      registry.register(reg(`i${String(i).padStart(3, '0')}`, { service: `svc${i % 3}`, version }));
    }
    return registry;
  }

  function allPages(registry: Registry, maxBytes: number) {
    const pages = [];
    let after: string | undefined;
    for (;;) {
      const page = registry.listPage(after, maxBytes);
      pages.push(page);
      if (page.next === undefined) return pages;
      after = page.next;
    }
  }

  const flatIds = (services: { instances: { id: string }[] }[]) =>
    services.flatMap((s) => s.instances.map((i) => i.id));

  test('pages - read one after the other, they give the whole listing once, in order, each within its size', () => {
    const registry = filled(40, ['1.0.0', '1.9.0', '1.2.0']);
    const size = viewSize(registry.list()[0]!.instances[0]!);
    const maxBytes = size * 4 + 1;
    const pages = allPages(registry, maxBytes);
    expect(pages.length).toBe(10);
    expect(pages.flatMap((p) => flatIds(p.services))).toEqual(flatIds(registry.list()));
    for (const page of pages) {
      const ids = flatIds(page.services);
      expect(ids).toHaveLength(4);
      expect(ids.length * size).toBeLessThanOrEqual(maxBytes);
    }
    // Versions sort as versions: 1.2.0 before 1.10.0.
    const versions = filled(3, ['1.10.0', '1.2.0', '1.0.0']);
    const pagedVersions = allPages(versions, 1).flatMap((p) => p.services.map((s) => s.version));
    expect(pagedVersions).toEqual(['1.10.0', '1.2.0', '1.0.0']);
    for (const v of ['1.10.0', '1.2.0'])
      versions.register(reg(`v${v}`, { service: 'svc0', version: v }));
    expect(
      versions
        .list()
        .filter((s) => s.name === 'svc0')
        .map((s) => s.version),
    ).toEqual(['1.2.0', '1.10.0']);
  });

  test('pages - a page holds one instance even when it is bigger than the page; a version may go on over pages', () => {
    const registry = filled(3);
    const pages = allPages(registry, 1);
    expect(pages.map((p) => flatIds(p.services))).toEqual([['i000'], ['i001'], ['i002']]);
    const one = new Registry({ site: 'a' });
    for (const id of ['x1', 'x2', 'x3']) one.register(reg(id));
    const split = allPages(one, viewSize(one.list()[0]!.instances[0]!) * 2);
    expect(
      split.map((p) => p.services.map((s) => `${s.name}@${s.version}:${s.instances.length}`)),
    ).toEqual([['calculator@1.0.0:2'], ['calculator@1.0.0:1']]);
    expect(split[0]!.next).toBe('calculator|1.0.0|x2');
    expect(split[1]!.next).toBeUndefined();
  });

  test('pages - a cursor whose instance left goes on from the next one after it', () => {
    const registry = filled(6);
    const first = registry.listPage(undefined, 1);
    expect(flatIds(first.services)).toEqual(['i000']);
    expect(first.next).toBe('svc0|1.0.0|i000');
    registry.deregister('i000');
    registry.register(reg('h000', { service: 'svc0' }));
    const rest = registry.listPage(first.next, Number.POSITIVE_INFINITY);
    expect(flatIds(rest.services)).toEqual(['i003', 'i001', 'i004', 'i002', 'i005']);
    expect(rest.next).toBeUndefined();
  });
});

describe('registry reply sizes', () => {
  test('viewSize - never less than the encoded view, and it grows with every method, metadata entry and hop', () => {
    const base = view('inst-1');
    const rich = view('inst-1', {
      methods: ['add', 'divide', 'multiply'],
      metadata: { region: 'eu-west', zone: '3' },
      path: ['b', 'c'],
      site: 'c',
      hops: 2,
    });
    for (const v of [base, rich]) expect(viewSize(v)).toBeGreaterThanOrEqual(encode(v).length);
    expect(viewSize(base)).toBe(64 + 6 + 10 + 5 + 1 + 3 + 3);
    expect(viewSize(view('inst-1', { methods: ['add', 'mul'] })) - viewSize(base)).toBe(6);
    expect(viewSize(view('inst-1', { metadata: { k: 'vv' } })) - viewSize(base)).toBe(9);
    expect(viewSize(view('inst-1', { path: ['bb'] })) - viewSize(base)).toBe(5);
  });

  test('fitting - everything when it fits; otherwise the nearest that fit, at least one, and truncated', () => {
    const near = view('near', { hops: 0 });
    const mid = view('mid', { site: 'b', path: ['b'], hops: 1 });
    const far = view('far', { site: 'c', path: ['b', 'c'], hops: 2 });
    const all = [far, near, mid];
    const total = all.reduce((n, v) => n + viewSize(v), 0);
    const whole = fitting(all, total);
    expect(whole).toEqual({ instances: all, truncated: false });
    expect(whole.instances).toBe(all);
    const two = fitting(all, viewSize(near) + viewSize(mid));
    expect(two).toEqual({ instances: [near, mid], truncated: true });
    expect(fitting(all, total - 1).instances).toEqual([near, mid]);
    expect(fitting(all, 1)).toEqual({ instances: [near], truncated: true });
  });
});
