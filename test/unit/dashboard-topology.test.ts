/**
 * The dashboard's pure parts: the topology read from a listing, the mesh
 * remembered across listings (with the bridge halves seen at the site), the
 * traffic counted from successive `$SRV.STATS` looks, the stats replies'
 * door, and the snapshot the page is sent.
 */
import { describe, expect, test } from 'vitest';
import {
  buildSnapshot,
  checkStatsReply,
  type InstanceView,
  MeshMemory,
  type ServiceView,
  type StatsReply,
  TrafficMeter,
  topologyOf,
} from '../../src/internal.js';

function instance(
  service: string,
  id: string,
  site: string,
  path: string[] = [],
  version = '1.0.0',
): InstanceView {
  return { id, service, version, methods: ['add'], metadata: {}, site, path, hops: path.length };
}

function listing(...instances: InstanceView[]): ServiceView[] {
  const services = new Map<string, ServiceView>();
  for (const i of instances) {
    const key = `${i.service}@${i.version}`;
    const view = services.get(key) ?? {
      name: i.service,
      version: i.version,
      methods: i.methods,
      instances: [],
    };
    view.instances.push(i);
    services.set(key, view);
  }
  return [...services.values()];
}

/** A chain a–b–c seen from a: a calculator at c (route b,c), an echo at b, a local echo ×2. */
const chain = () =>
  topologyOf(
    'a',
    listing(
      instance('calculator', 'r-calc', 'c', ['b', 'c']),
      instance('echo', 'r-echo', 'b', ['b']),
      instance('echo', 'i-1', 'a'),
      instance('echo', 'i-2', 'a', [], '1.1.0'),
    ),
  );

function stats(
  id: string,
  service: string,
  name: string,
  requests: number,
  errors = 0,
  data?: object,
): StatsReply {
  const reply = checkStatsReply({
    type: 'io.nats.micro.v1.stats_response',
    name: service,
    id,
    endpoints: [
      { name, num_requests: requests, num_errors: errors, last_error: errors ? 'boom' : '', data },
    ],
  });
  if (!reply) throw new Error('not a stats reply');
  return reply;
}

describe('dashboard topology', () => {
  test('topology - sites by fewest hops, links of consecutive sites with the routes across them, services by site', () => {
    const t = chain();
    expect([...t.sites]).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
    expect([...t.links]).toEqual([
      ['a–b', { a: 'a', b: 'b', routes: 2 }],
      ['b–c', { a: 'b', b: 'c', routes: 1 }],
    ]);
    expect([...t.services.keys()]).toEqual(['calculator@c', 'echo@b', 'echo@a']);
    expect(t.services.get('echo@a')?.endpoints.map((e) => [e.id, e.kind, e.version])).toEqual([
      ['i-1', 'instance', '1.0.0'],
      ['i-2', 'instance', '1.1.0'],
    ]);
    expect(t.endpoints.get('r-calc')).toMatchObject({ kind: 'route', site: 'c', path: ['b', 'c'] });
  });

  test('topology - link keys name both sites in order, whichever way the path runs', () => {
    const t = topologyOf('z', listing(instance('s', 'r', 'y', ['y'])));
    expect([...t.links]).toEqual([['y–z', { a: 'y', b: 'z', routes: 1 }]]);
  });
});

describe('dashboard mesh memory', () => {
  test('mesh memory - a link no route crosses any more is down, and its far site unreachable, but both stay drawn', () => {
    const memory = new MeshMemory();
    memory.update(chain(), [], 1000);
    expect(memory.links().map((l) => [l.key, l.state, l.routes])).toEqual([
      ['a–b', 'up', 2],
      ['b–c', 'up', 1],
    ]);
    memory.update(topologyOf('a', listing(instance('echo', 'r-echo', 'b', ['b']))), [], 2000);
    expect(memory.links().map((l) => [l.key, l.state, l.routes, l.since])).toEqual([
      ['a–b', 'up', 1, 1000],
      ['b–c', 'down', 0, 2000],
    ]);
    expect(memory.sites().map((s) => [s.name, s.reachable, s.hops])).toEqual([
      ['a', true, 0],
      ['b', true, 1],
      ['c', false, 2],
    ]);
    memory.update(chain(), [], 3000);
    expect(memory.links().find((l) => l.key === 'b–c')).toMatchObject({ state: 'up', since: 3000 });
  });

  test('mesh memory - a bridge half at the site keeps its link up with no route across it, until it goes or loses its other side', () => {
    const memory = new MeshMemory();
    const alone = topologyOf('a', []);
    memory.update(alone, [{ site: 'a', peer: 'b', peerConnected: true }], 1000);
    expect(memory.links()).toEqual([
      { key: 'a–b', a: 'a', b: 'b', state: 'up', since: 1000, routes: 0, direct: true },
    ]);
    expect(memory.sites().map((s) => [s.name, s.reachable])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    memory.update(alone, [{ site: 'a', peer: 'b', peerConnected: false }], 2000);
    expect(memory.links()[0]).toMatchObject({ state: 'down', since: 2000, direct: true });
    memory.update(alone, [{ site: 'a', peer: 'b', peerConnected: true }], 3000);
    memory.update(alone, [], 4000);
    expect(memory.links()[0]).toMatchObject({ state: 'down', since: 4000 });
  });

  test("mesh memory - a bridge half of another site, or naming the site itself, is not this site's link", () => {
    const memory = new MeshMemory();
    memory.update(topologyOf('a', []), [{ site: 'x', peer: 'y', peerConnected: true }], 1000);
    expect(memory.links()).toEqual([]);
  });

  test('mesh memory - another site answering on the same NATS starts the picture again', () => {
    const memory = new MeshMemory();
    memory.update(chain(), [], 1000);
    memory.update(topologyOf('q', []), [], 2000);
    expect(memory.links()).toEqual([]);
    expect(memory.sites().map((s) => s.name)).toEqual(['q']);
  });
});

describe('dashboard traffic', () => {
  const data = (byCode: Record<string, number>, byPath: Record<string, number>, last?: object) => ({
    errors_by_code: byCode,
    calls_by_path: byPath,
    ...last,
  });

  test('traffic - the first look only sets the counts; later ones give calls per direction, per service, and errors by code per link', () => {
    const t = chain();
    const meter = new TrafficMeter(10_000);
    meter.record([stats('r-calc', 'calculator', 'add', 10, 0, data({}, { a: 10 }))], t, 0);
    expect(meter.rates(0).directions.size).toBe(0);
    meter.record(
      [
        stats(
          'r-calc',
          'calculator',
          'add',
          30,
          5,
          data(
            { APPLICATION: 5 },
            { a: 30 },
            {
              last_error_code: 'APPLICATION',
              last_error_site: 'c',
              last_error_path: 'c,b,a',
            },
          ),
        ),
      ],
      t,
      2000,
    );
    const rates = meter.rates(2000);
    expect(Object.fromEntries(rates.directions)).toEqual({ 'a→b': 10, 'b→c': 10 });
    expect(Object.fromEntries(rates.serviceCalls)).toEqual({ 'calculator@c': 10 });
    expect(Object.fromEntries(rates.serviceErrors.get('calculator@c') ?? [])).toEqual({
      APPLICATION: 2.5,
    });
    expect(Object.fromEntries(rates.linkErrors.get('b–c') ?? [])).toEqual({ APPLICATION: 2.5 });
    expect(meter.recentErrors()[0]).toMatchObject({
      service: 'calculator',
      method: 'add',
      code: 'APPLICATION',
      message: 'boom',
      origin: 'c',
      path: ['c', 'b', 'a'],
      count: 5,
      via: 'route',
    });
  });

  test('traffic - calls to an instance here count on the directions their PATH crossed, those of unknown path on none', () => {
    // A call from b through a's instance: PATH b,a crosses b→a.
    const t = chain();
    const meter = new TrafficMeter(10_000);
    meter.record([stats('i-1', 'echo', 'add', 0, 0, data({}, {}))], t, 0);
    meter.record([stats('i-1', 'echo', 'add', 4, 0, data({}, { 'b,a': 3, '*': 1 }))], t, 1000);
    expect(Object.fromEntries(meter.rates(1000).directions)).toEqual({ 'b→a': 3 });
  });

  test('traffic - rates fall away once the window has passed; a count that went down counts whole', () => {
    const t = chain();
    const meter = new TrafficMeter(2000);
    meter.record([stats('r-echo', 'echo', 'add', 100)], t, 0);
    meter.record([stats('r-echo', 'echo', 'add', 3)], t, 1000);
    expect(Object.fromEntries(meter.rates(1000).directions)).toEqual({ 'a→b': 3 });
    meter.record([stats('r-echo', 'echo', 'add', 3)], t, 4000);
    expect(meter.rates(4000).directions.size).toBe(0);
  });

  test('traffic - a reply for an id the listing does not hold, or under another service name, is not counted', () => {
    const t = chain();
    const meter = new TrafficMeter(10_000);
    meter.record(
      [stats('nobody', 'echo', 'add', 0), stats('r-echo', 'calculator', 'add', 0)],
      t,
      0,
    );
    meter.record(
      [stats('nobody', 'echo', 'add', 9), stats('r-echo', 'calculator', 'add', 9)],
      t,
      1000,
    );
    expect(meter.rates(1000).serviceCalls.size).toBe(0);
  });

  test("traffic - an error whose site or path is not made of names falls back to the endpoint's site, with no path", () => {
    const t = chain();
    const meter = new TrafficMeter(10_000);
    meter.record(
      [
        stats(
          'i-1',
          'echo',
          'add',
          1,
          1,
          data({ APPLICATION: 1 }, {}, { last_error_site: '<b>', last_error_path: 'x,<i>' }),
        ),
      ],
      t,
      0,
    );
    expect(meter.recentErrors()[0]).toMatchObject({ origin: 'a', path: null, via: 'instance' });
  });
});

describe('dashboard stats replies', () => {
  test('stats reply - anything but a stats response of the right shape is dropped', () => {
    expect(checkStatsReply(null)).toBeUndefined();
    expect(
      checkStatsReply({
        type: 'io.nats.micro.v1.info_response',
        name: 's',
        id: 'i',
        endpoints: [],
      }),
    ).toBeUndefined();
    expect(
      checkStatsReply({ type: 'io.nats.micro.v1.stats_response', name: 's', id: 'i' }),
    ).toBeUndefined();
    expect(
      checkStatsReply({ type: 'io.nats.micro.v1.stats_response', name: 7, id: 'i', endpoints: [] }),
    ).toBeUndefined();
  });

  test('stats reply - bad endpoints are skipped, codes that are not codes counted as unknown, long messages cut', () => {
    const reply = checkStatsReply({
      type: 'io.nats.micro.v1.stats_response',
      name: 's',
      id: 'i',
      endpoints: [
        { name: 'bad', num_requests: -1, num_errors: 0 },
        {
          name: 'ok',
          num_requests: 3,
          num_errors: 2,
          last_error: 'x'.repeat(10_000),
          data: {
            errors_by_code: { '<script>': 1, TIMEOUT: 1 },
            calls_by_path: {},
            last_error_code: 'nope!',
          },
        },
      ],
    });
    expect(reply?.endpoints).toHaveLength(1);
    const [ok] = reply?.endpoints ?? [];
    expect(ok?.lastError.length).toBe(500);
    expect(Object.fromEntries(ok?.data?.errorsByCode ?? [])).toEqual({ '?': 1, TIMEOUT: 1 });
    expect(ok?.data?.lastErrorCode).toBeUndefined();
  });

  test('stats reply - a bridge half says which sites it links; a bad one says nothing', () => {
    const bridge = (metadata: object) =>
      checkStatsReply({
        type: 'io.nats.micro.v1.stats_response',
        name: 'switchboard-bridge',
        id: 'h',
        metadata,
        endpoints: [],
      })?.bridge;
    expect(bridge({ kind: 'bridge', site: 'a', peer: 'b', peer_connected: 'true' })).toEqual({
      site: 'a',
      peer: 'b',
      peerConnected: true,
    });
    expect(
      bridge({ kind: 'bridge', site: 'a', peer: '<b>', peer_connected: 'true' }),
    ).toBeUndefined();
    expect(
      bridge({ kind: 'bridge', site: 'a', peer: 'a', peer_connected: 'true' }),
    ).toBeUndefined();
    expect(bridge({ kind: 'route', site: 'a', peer: 'b' })).toBeUndefined();
  });
});

describe('dashboard snapshot', () => {
  test('snapshot - services with versions and counts, links with rates both ways, what the page is sent', () => {
    const topology = chain();
    const memory = new MeshMemory();
    memory.update(topology, [{ site: 'a', peer: 'b', peerConnected: true }], 0);
    const traffic = new TrafficMeter(10_000);
    traffic.record([stats('r-echo', 'echo', 'add', 0)], topology, 0);
    traffic.record([stats('r-echo', 'echo', 'add', 3)], topology, 1000);
    const snapshot = buildSnapshot({
      state: 'live',
      message: 'fine',
      nats: 'nats://x',
      topology,
      memory,
      traffic,
      windowMs: 10_000,
      now: 1000,
    });
    expect(snapshot).toMatchObject({ site: 'a', state: 'live', windowSeconds: 10 });
    expect(snapshot.links[0]).toMatchObject({
      key: 'a–b',
      direct: true,
      rates: { 'a→b': 3, 'b→a': 0 },
      errors: {},
    });
    expect(snapshot.links[1]).toMatchObject({ key: 'b–c', direct: false });
    expect(snapshot.services.map((s) => [s.name, s.site, s.instances, s.versions, s.rate])).toEqual(
      [
        [
          'echo',
          'a',
          2,
          [
            { version: '1.0.0', count: 1 },
            { version: '1.1.0', count: 1 },
          ],
          0,
        ],
        ['echo', 'b', null, [{ version: '1.0.0', count: 1 }], 3],
        ['calculator', 'c', null, [{ version: '1.0.0', count: 1 }], 0],
      ],
    );
  });

  test('snapshot - before any listing: no site, no services, the state and why', () => {
    const snapshot = buildSnapshot({
      state: 'no-nats',
      message: 'connection refused',
      nats: 'nats://x',
      topology: undefined,
      memory: new MeshMemory(),
      traffic: new TrafficMeter(10_000),
      windowMs: 10_000,
      now: 0,
    });
    expect(snapshot).toMatchObject({
      site: null,
      sites: [],
      links: [],
      services: [],
      errors: [],
      state: 'no-nats',
      message: 'connection refused',
    });
  });
});
