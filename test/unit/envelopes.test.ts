import { describe, expect, test } from 'vitest';
import { NAME_PATTERN, PROTOCOL_VERSION, parse } from '../../src/protocol/envelopes.js';
import { ErrorCode, SwitchboardError } from '../../src/protocol/errors.js';
import { newId } from '../../src/util/ids.js';
import { instanceView } from '../support/memory-site.js';
import { expectBadRequest } from './expect-bad-request.js';

function registration(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'inst1',
    service: 'calculator',
    version: '1.2.3',
    methods: ['add', 'divide'],
    metadata: { zone: 'eu' },
    heartbeatMs: 1000,
    secret: 'a-secret-of-16-chars',
    ...overrides,
  };
}

function view(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'inst1',
    service: 'calculator',
    version: '1.2.3',
    methods: ['add'],
    metadata: {},
    site: 'a',
    path: [],
    hops: 0,
    ...overrides,
  };
}

const v = PROTOCOL_VERSION;

/** A good envelope for each validator. */
const good: Record<Exclude<keyof typeof parse, 'errorData'>, Record<string, unknown>> = {
  registerRequest: { v, instance: registration() },
  registerReply: { v, site: 'a', brokerId: 'b1', leaseMs: 3000 },
  routeBatchRequest: { v, instances: [registration({ route: { site: 'b', path: ['b'] } })] },
  routeBatchReply: { v, site: 'a', brokerId: 'b1', results: [{ leaseMs: 1500 }] },
  heartbeat: { v, id: 'inst1', secret: 'a-secret-of-16-chars' },
  deregister: { v, id: 'inst1', secret: 'a-secret-of-16-chars' },
  sessionRenewal: {
    v,
    session: 'half1',
    secret: 'a-secret-of-16-chars',
    routes: 12,
    gone: ['r1', 'r-2'],
  },
  lookupRequest: { v, service: 'calculator', version: '^1.0.0' },
  lookupReply: { v, site: 'a', instances: [view()] },
  listRequest: { v },
  listReply: {
    v,
    site: 'a',
    services: [{ name: 'calculator', version: '1.2.3', methods: ['add'], instances: [view()] }],
  },
  brokerInfo: { v, site: 'a', brokerId: 'b1', startedAt: 1_700_000_000_000 },
  registryEvent: { v, kind: 'up', service: 'calculator', id: 'inst1', site: 'a' },
  brokerEvent: { v, kind: 'started', site: 'a', brokerId: 'b1' },
  control: { v, kind: 'reregister' },
  probeRequest: { v, calls: ['c1-1', 'c1-2'] },
  probeReply: { v, held: ['c1-2'] },
};

const validators = Object.keys(good) as (keyof typeof good)[];

/** What each validator calls its envelope in its refusals. */
const labels: Record<keyof typeof good, string> = {
  registerRequest: 'register',
  registerReply: 'register reply',
  routeBatchRequest: 'route batch',
  routeBatchReply: 'route batch reply',
  heartbeat: 'heartbeat',
  deregister: 'deregister',
  sessionRenewal: 'session renewal',
  lookupRequest: 'lookup',
  lookupReply: 'lookup reply',
  listRequest: 'list',
  listReply: 'list reply',
  brokerInfo: 'broker info',
  registryEvent: 'registry event',
  brokerEvent: 'broker event',
  control: 'control',
  probeRequest: 'probe',
  probeReply: 'probe reply',
};

/** Top-level fields of each envelope (besides `v`), with a value of the wrong type. */
const fields: Record<keyof typeof good, [string, unknown][]> = {
  registerRequest: [['instance', 'nope']],
  registerReply: [
    ['site', 1],
    ['brokerId', null],
    ['leaseMs', '3000'],
  ],
  routeBatchRequest: [['instances', 'nope']],
  routeBatchReply: [
    ['site', 1],
    ['brokerId', null],
    ['results', 'x'],
  ],
  heartbeat: [
    ['id', 42],
    ['secret', 'short'],
  ],
  deregister: [
    ['id', false],
    ['secret', null],
  ],
  sessionRenewal: [
    ['session', 'a.b'],
    ['secret', 'short'],
    ['routes', -1],
  ],
  lookupRequest: [['service', 7]],
  lookupReply: [
    ['site', []],
    ['instances', {}],
  ],
  listRequest: [],
  listReply: [
    ['site', 1],
    ['services', 'x'],
  ],
  brokerInfo: [
    ['site', 1],
    ['brokerId', 2],
    ['startedAt', 'yesterday'],
  ],
  registryEvent: [
    ['kind', 1],
    ['service', 1],
    ['id', 1],
    ['site', 1],
  ],
  brokerEvent: [
    ['kind', 1],
    ['site', 1],
    ['brokerId', 1],
  ],
  control: [['kind', 1]],
  probeRequest: [['calls', ['bad id']]],
  probeReply: [['held', 'c1-2']],
};

describe('envelopes', () => {
  describe.each(validators)('%s', (key) => {
    const validate = parse[key] as (value: unknown) => unknown;

    test(`envelopes - ${key} accepts a good envelope`, () => {
      const out = validate(structuredClone(good[key])) as Record<string, unknown>;
      expect(out.v).toBe(PROTOCOL_VERSION);
      expect(out).toEqual(good[key]);
      // An optional field not sent is absent, not present as undefined.
      expect(Object.keys(out).sort()).toEqual(Object.keys(good[key]).sort());
    });

    test(`envelopes - ${key} rejects a value that is not a map`, () => {
      for (const value of [undefined, null, 1, 'x', true, [good[key]], new Uint8Array(1)]) {
        // Uint8Array is an object: it fails the version check instead.
        const message = expectBadRequest(() => validate(value));
        expect(message).toMatch(/must be a map|unsupported protocol version/);
      }
      expect(expectBadRequest(() => validate([]))).toMatch(/must be a map/);
      expect(expectBadRequest(() => validate(null))).toMatch(/must be a map/);
    });

    test(`envelopes - ${key} rejects a missing or wrong protocol version`, () => {
      const { v: _v, ...rest } = good[key];
      expect(expectBadRequest(() => validate(rest))).toMatch(
        /unsupported protocol version undefined/,
      );
      expect(expectBadRequest(() => validate({ ...good[key], v: 2 }))).toBe(
        `${labels[key]}: unsupported protocol version 2 (expected 1)`,
      );
      expect(expectBadRequest(() => validate({ ...good[key], v: '1' }))).toMatch(
        /unsupported protocol version '1'/,
      );
      expect(expectBadRequest(() => validate({ ...good[key], v: 0 }))).toMatch(
        /unsupported protocol version 0/,
      );
    });

    if (fields[key].length === 0) return;
    test(`envelopes - ${key} rejects missing or mistyped fields, naming them`, () => {
      for (const [field, wrong] of fields[key]) {
        const missing = { ...good[key] };
        delete missing[field];
        // Named in full: `lookup reply.site`, so that the reader knows which message was wrong.
        const named = key === 'registerRequest' ? field : `${labels[key]}.${field}`;
        expect(expectBadRequest(() => validate(missing))).toContain(named);
        expect(expectBadRequest(() => validate({ ...good[key], [field]: wrong }))).toContain(named);
      }
    });
  });

  test('envelopes - an optional field of the wrong type is refused, named with its envelope', () => {
    const wrong: Array<[keyof typeof good, string, unknown]> = [
      ['lookupReply', 'departedFrom', 1],
      ['lookupReply', 'departedSites', 'a'],
      ['listRequest', 'after', 1],
      ['listRequest', 'unless', []],
      ['listReply', 'next', 2],
      ['listReply', 'generation', {}],
    ];
    for (const [key, field, value] of wrong) {
      const validate = parse[key] as (value: unknown) => unknown;
      expect(expectBadRequest(() => validate({ ...good[key], [field]: value }))).toContain(
        `${labels[key]}.${field}`,
      );
    }
  });

  test('envelopes - optional fields sent are kept', () => {
    const reply = { ...good.lookupReply, departedFrom: 'b', departedSites: ['b', 'c'] };
    expect(parse.lookupReply(reply)).toMatchObject({
      departedFrom: 'b',
      departedSites: ['b', 'c'],
    });
    expect(parse.listRequest({ v, after: 'calc', unless: 'b1.r.7' })).toEqual({
      v,
      after: 'calc',
      unless: 'b1.r.7',
    });
    const page = { ...good.listReply, next: 'calc', generation: 'b1.r.7' };
    expect(parse.listReply(page)).toMatchObject({ next: 'calc', generation: 'b1.r.7' });
  });

  test('envelopes - a lookup reply keeps a similar name only when it is a service name', () => {
    const similar = (value: unknown) => parse.lookupReply({ ...good.lookupReply, similar: value });
    expect(similar('calculator').similar).toBe('calculator');
    for (const value of [5, 'not a name!', '', null]) {
      expect(similar(value)).not.toHaveProperty('similar');
    }
  });

  test('envelopes - an optional field sent as nil counts as absent (msgpack clients often send nil)', () => {
    expect(parse.sessionRenewal({ ...good.sessionRenewal, gone: null })).not.toHaveProperty('gone');
    expect(parse.lookupReply({ ...good.lookupReply, departedSites: null })).not.toHaveProperty(
      'departedSites',
    );
    expect(parse.registryEvent({ ...good.registryEvent, view: null })).not.toHaveProperty('view');
    const instance = registration({ session: null });
    expect(parse.registerRequest({ v, instance }).instance).not.toHaveProperty('session');
  });

  test('envelopes - sessionRenewal may say how many routes its sender holds, a count', () => {
    const renewal = (held: unknown) => ({ ...good.sessionRenewal, held });
    expect(parse.sessionRenewal(renewal(14)).held).toBe(14);
    expect(parse.sessionRenewal(renewal(0)).held).toBe(0);
    expect(parse.sessionRenewal(good.sessionRenewal)).not.toHaveProperty('held');
    expect(parse.sessionRenewal(renewal(null))).not.toHaveProperty('held');
    for (const wrong of [-1, 1.5, '3']) {
      expect(expectBadRequest(() => parse.sessionRenewal(renewal(wrong)))).toMatch(
        /^session renewal\.held must be/,
      );
    }
  });

  test('envelopes - sessionRenewal may say its routes resumed; anything but true is absent', () => {
    const renewal = (resumed: unknown) => ({ ...good.sessionRenewal, resumed });
    expect(parse.sessionRenewal(renewal(true)).resumed).toBe(true);
    for (const other of [false, null, 1, 'true']) {
      expect(parse.sessionRenewal(renewal(other))).not.toHaveProperty('resumed');
    }
  });

  test('envelopes - sessionRenewal may name at most 1000 route ids gone', () => {
    const renewal = (gone: unknown) => ({ ...good.sessionRenewal, gone });
    expect(parse.sessionRenewal(renewal(['r1'])).gone).toEqual(['r1']);
    expect(parse.sessionRenewal({ ...good.sessionRenewal, gone: undefined }).gone).toBeUndefined();
    const many = Array.from({ length: 1000 }, (_, i) => `r${i}`);
    expect(parse.sessionRenewal(renewal(many)).gone).toHaveLength(1000);
    expect(expectBadRequest(() => parse.sessionRenewal(renewal([...many, 'r1000'])))).toBe(
      'session renewal.gone has 1001 entries, over 1000',
    );
    expect(expectBadRequest(() => parse.sessionRenewal(renewal('r1')))).toBe(
      'session renewal.gone must be an array of strings',
    );
    expect(expectBadRequest(() => parse.sessionRenewal(renewal(['r.1'])))).toBe(
      "session renewal.gone: 'r.1' is not an id",
    );
  });

  describe('route batches', () => {
    const route = (id: string) => registration({ id, route: { site: 'b', path: ['b'] } });

    test('envelopes - a route that cannot be read, or is not a route, refuses the whole batch, named by its place', () => {
      const batch = (bad: unknown) => ({ v, instances: [route('r1'), bad, route('r3')] });
      expect(parse.routeBatchRequest(batch(route('r2'))).instances.map((i) => i.id)).toEqual([
        'r1',
        'r2',
        'r3',
      ]);
      expect(expectBadRequest(() => parse.routeBatchRequest(batch('nope')))).toBe(
        "route batch.instances[1]: instance must be a map (got 'nope')",
      );
      expect(
        expectBadRequest(() => parse.routeBatchRequest(batch({ ...route('r2'), secret: 'short' }))),
      ).toMatch(/^route batch\.instances\[1\]: instance\.secret/);
      expect(expectBadRequest(() => parse.routeBatchRequest(batch(registration())))).toBe(
        'route batch.instances[1]: instance.route must say where the route leads',
      );
    });

    test('envelopes - a batch holds 1 to 256 routes', () => {
      const many = Array.from({ length: 256 }, (_, i) => route(`r${i}`));
      expect(parse.routeBatchRequest({ v, instances: many }).instances).toHaveLength(256);
      for (const instances of [[], [...many, route('r256')]]) {
        expect(expectBadRequest(() => parse.routeBatchRequest({ v, instances }))).toBe(
          'route batch.instances must be an array of 1 to 256 registrations',
        );
      }
    });

    test('envelopes - a batch reply gives a lease or an error per route', () => {
      const reply = parse.routeBatchReply({
        v,
        site: 'a',
        brokerId: 'b1',
        results: [{ leaseMs: 1500 }, { error: { code: 'FORBIDDEN', message: 'held', site: 'a' } }],
      });
      expect(reply.results).toEqual([
        { leaseMs: 1500 },
        {
          error: {
            code: 'FORBIDDEN',
            message: 'held',
            name: 'Error',
            completed: 'maybe',
            site: 'a',
          },
        },
      ]);
      const bad = (result: unknown) =>
        expectBadRequest(() =>
          parse.routeBatchReply({ v, site: 'a', brokerId: 'b1', results: [result] }),
        );
      expect(bad({ leaseMs: 0 })).toMatch(/leaseMs must be positive/);
      expect(bad({ leaseMs: Number.NaN })).toMatch(/leaseMs/);
      expect(bad({})).toMatch(/route batch reply result\.leaseMs/);
      expect(bad('ok')).toMatch(/must be a map/);
      expect(bad({ error: 'no' })).toMatch(/must be a map/);
    });

    test('envelopes - a session ask says whether its broker takes batches; anything but true is absent', () => {
      expect(parse.control({ v, kind: 'reregister', batch: true }).batch).toBe(true);
      for (const other of [false, 1, 'true', null]) {
        expect(parse.control({ v, kind: 'reregister', batch: other })).not.toHaveProperty('batch');
      }
    });
  });

  describe('registerRequest', () => {
    const req = (instance: Record<string, unknown>) => ({ v, instance });

    test('envelopes - registerRequest keeps route, metadata and heartbeat', () => {
      const out = parse.registerRequest(
        req(registration({ route: { site: 'c', path: ['b', 'c'] } })),
      );
      expect(out.instance).toEqual({
        id: 'inst1',
        service: 'calculator',
        version: '1.2.3',
        methods: ['add', 'divide'],
        metadata: { zone: 'eu' },
        heartbeatMs: 1000,
        secret: 'a-secret-of-16-chars',
        route: { site: 'c', path: ['b', 'c'] },
      });
    });

    test('envelopes - registerRequest defaults missing or null metadata to an empty map', () => {
      const { metadata: _m, ...noMeta } = registration();
      expect(parse.registerRequest(req(noMeta)).instance.metadata).toEqual({});
      expect(
        parse.registerRequest(req(registration({ metadata: null }))).instance.metadata,
      ).toEqual({});
      expect(
        parse.registerRequest(req(registration({ route: null }))).instance.route,
      ).toBeUndefined();
    });

    test('envelopes - registerRequest rejects missing or mistyped instance fields, naming them', () => {
      const cases: [string, unknown][] = [
        ['id', 1],
        ['service', {}],
        ['version', 123],
        ['methods', 'add'],
        ['heartbeatMs', '1000'],
      ];
      for (const [field, wrong] of cases) {
        const missing = registration();
        delete missing[field];
        expect(expectBadRequest(() => parse.registerRequest(req(missing)))).toContain(
          `instance.${field}`,
        );
        expect(
          expectBadRequest(() => parse.registerRequest(req(registration({ [field]: wrong })))),
        ).toContain(`instance.${field}`);
      }
      expect(
        expectBadRequest(() => parse.registerRequest(req(registration({ methods: ['add', 3] })))),
      ).toContain('instance.methods');
      expect(
        expectBadRequest(() => parse.registerRequest(req(registration({ metadata: 'x' })))),
      ).toContain('instance.metadata');
      expect(
        expectBadRequest(() => parse.registerRequest(req(registration({ metadata: { zone: 1 } })))),
      ).toContain('instance.metadata.zone');
      expect(
        expectBadRequest(() => parse.registerRequest(req(registration({ route: 'c' })))),
      ).toContain('instance.route');
      expect(
        expectBadRequest(() => parse.registerRequest(req(registration({ route: { path: [] } })))),
      ).toContain('instance.route.path must name at least the hosting site');
      expect(
        expectBadRequest(() =>
          parse.registerRequest(req(registration({ route: { path: ['c'] } }))),
        ),
      ).toContain('instance.route.site');
      expect(
        expectBadRequest(() =>
          parse.registerRequest(req(registration({ route: { site: 'c', path: 'c' } }))),
        ),
      ).toContain('instance.route.path');
    });

    test('envelopes - registerRequest rejects non-positive or non-finite heartbeats', () => {
      for (const heartbeatMs of [0, -5]) {
        expect(
          expectBadRequest(() => parse.registerRequest(req(registration({ heartbeatMs })))),
        ).toContain('heartbeatMs must be positive');
      }
      for (const heartbeatMs of [Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(
          expectBadRequest(() => parse.registerRequest(req(registration({ heartbeatMs })))),
        ).toContain('instance.heartbeatMs must be a number');
      }
    });

    test('envelopes - registerRequest rejects bad service names', () => {
      for (const service of ['', 'has space', 'dot.ted', 'wild*', '9lives', 'a'.repeat(129), 'é']) {
        expect(
          expectBadRequest(() => parse.registerRequest(req(registration({ service })))),
        ).toMatch(/instance\.service '.*' is not (a )?valid/);
      }
      for (const service of ['a', '_x', 'calc-2', 'A_b-C9', 'a'.repeat(128)]) {
        expect(parse.registerRequest(req(registration({ service }))).instance.service).toBe(
          service,
        );
      }
    });

    test('envelopes - registerRequest rejects bad method names', () => {
      for (const method of ['', 'a.b', 'has space', '1st', 'x>']) {
        expect(
          expectBadRequest(() =>
            parse.registerRequest(req(registration({ methods: ['add', method] }))),
          ),
        ).toBe(`instance.methods: '${method}' is not a valid name`);
      }
      expect(parse.registerRequest(req(registration({ methods: [] }))).instance.methods).toEqual(
        [],
      );
    });

    test('envelopes - registerRequest rejects instance ids that are not subject tokens', () => {
      for (const id of ['', 'a.b', 'a b', '*', '>', 'x'.repeat(129)]) {
        expect(expectBadRequest(() => parse.registerRequest(req(registration({ id }))))).toContain(
          'instance.id',
        );
      }
    });

    // The server-side proxy's default id is `newId(12)`: [0-9a-z], so often digit-leading.
    test('envelopes - registerRequest accepts digit-leading ids such as newId() makes', () => {
      const id = `7${newId(15)}`;
      expect(parse.registerRequest(req(registration({ id }))).instance.id).toBe(id);
      for (let i = 0; i < 200; i++) {
        const generated = newId();
        expect(parse.registerRequest(req(registration({ id: generated }))).instance.id).toBe(
          generated,
        );
      }
    });
  });

  describe('lookupRequest', () => {
    test('envelopes - lookupRequest leaves version out when absent or null', () => {
      expect(parse.lookupRequest({ v, service: 'calculator' })).toEqual({
        v,
        service: 'calculator',
      });
      expect(parse.lookupRequest({ v, service: 'calculator', version: null })).toEqual({
        v,
        service: 'calculator',
      });
      expect('version' in parse.lookupRequest({ v, service: 'calculator' })).toBe(false);
    });

    test('envelopes - lookupRequest refuses an invalid version range, naming it', () => {
      const message = expectBadRequest(() =>
        parse.lookupRequest({ v, service: 'calculator', version: 'banana' }),
      );
      expect(message).toMatch(/^lookup\.version 'banana' is not a version range/);
      for (const version of ['1.2.3 - 2.0.0', '>= 1.2.0', '^2.0.0-rc.1', '']) {
        expect(parse.lookupRequest({ v, service: 'calculator', version }).version).toBe(version);
      }
    });

    test('envelopes - lookupRequest rejects a mistyped version, naming the field', () => {
      expect(
        expectBadRequest(() => parse.lookupRequest({ v, service: 'calculator', version: 1 })),
      ).toContain('lookup.version');
    });

    test('envelopes - lookupRequest rejects bad service names', () => {
      for (const service of ['', 'a.b', 'x y', '>', '1abc']) {
        expect(expectBadRequest(() => parse.lookupRequest({ v, service }))).toMatch(
          /lookup\.service '.*' is not (a )?valid/,
        );
      }
    });
  });

  describe('replies and events', () => {
    test('envelopes - lookupReply validates each instance, naming the field', () => {
      expect(parse.lookupReply({ v, site: 'a', instances: [] }).instances).toEqual([]);
      for (const field of ['id', 'service', 'version', 'methods', 'site', 'path']) {
        const inst = view();
        delete inst[field];
        expect(
          expectBadRequest(() => parse.lookupReply({ v, site: 'a', instances: [inst] })),
        ).toContain(`instance.${field}`);
      }
      expect(expectBadRequest(() => parse.lookupReply({ v, site: 'a', instances: [1] }))).toContain(
        'instance must be a map',
      );
    });

    test('envelopes - listReply validates each service, naming the field', () => {
      const service = { name: 'calculator', version: '1.0.0', methods: [], instances: [] };
      for (const field of ['name', 'version', 'methods', 'instances']) {
        const s: Record<string, unknown> = { ...service };
        delete s[field];
        expect(expectBadRequest(() => parse.listReply({ v, site: 'a', services: [s] }))).toContain(
          `service.${field}`,
        );
      }
      expect(expectBadRequest(() => parse.listReply({ v, site: 'a', services: ['x'] }))).toContain(
        'service must be a map',
      );
    });

    test('envelopes - registerReply and brokerInfo reject non-finite numbers', () => {
      expect(
        expectBadRequest(() => parse.registerReply({ ...good.registerReply, leaseMs: Number.NaN })),
      ).toContain('leaseMs');
      expect(
        expectBadRequest(() =>
          parse.brokerInfo({ ...good.brokerInfo, startedAt: Number.NEGATIVE_INFINITY }),
        ),
      ).toContain('startedAt');
    });

    test('envelopes - event kinds must be one of the allowed values', () => {
      expect(parse.registryEvent({ ...good.registryEvent, kind: 'down' }).kind).toBe('down');
      expect(parse.brokerEvent({ ...good.brokerEvent, kind: 'stopping' }).kind).toBe('stopping');
      expect(
        expectBadRequest(() => parse.registryEvent({ ...good.registryEvent, kind: 'sideways' })),
      ).toBe("registry event.kind must be one of up, down, resumed (got 'sideways')");
      expect(expectBadRequest(() => parse.brokerEvent({ ...good.brokerEvent, kind: 'up' }))).toBe(
        "broker event.kind must be one of started, stopping (got 'up')",
      );
      expect(expectBadRequest(() => parse.control({ v, kind: 'shutdown' }))).toBe(
        "control.kind must be one of reregister, ping (got 'shutdown')",
      );
    });

    test('envelopes - an up event may carry the instance it names, and only that one', () => {
      const view = instanceView('inst1', { service: 'calculator', path: ['b'], site: 'a' });
      expect(parse.registryEvent({ ...good.registryEvent, view })).toEqual({
        ...good.registryEvent,
        view: { ...view, hops: 1 },
      });
      for (const [field, value] of [
        ['id', 'inst2'],
        ['service', 'other'],
        ['site', 'b'],
      ] as const) {
        expect(
          expectBadRequest(() =>
            parse.registryEvent({ ...good.registryEvent, view: { ...view, [field]: value } }),
          ),
        ).toBe('registry event.view must describe the instance the event names');
      }
      expect(
        expectBadRequest(() =>
          parse.registryEvent({ ...good.registryEvent, view: { ...view, path: 'b' } }),
        ),
      ).toContain('path');
      const down = parse.registryEvent({ ...good.registryEvent, kind: 'down', view });
      expect(down.view).toBeUndefined();
    });

    test('envelopes - an event may carry the generations it goes from and to: both, printable, short, or neither is kept', () => {
      const both = { since: 'b1.4', generation: 'b1.5' };
      expect(parse.registryEvent({ ...good.registryEvent, ...both })).toEqual({
        ...good.registryEvent,
        ...both,
      });
      for (const alone of [{ since: 'b1.4' }, { generation: 'b1.5' }]) {
        expect(parse.registryEvent({ ...good.registryEvent, ...alone })).toEqual(
          good.registryEvent,
        );
      }
      // Only a hint: malformed ones are dropped, the event kept.
      for (const bad of ['', 'b1 4', 'x'.repeat(161), 'b1.\n4', 4, null, ['b1.4']]) {
        expect(
          parse.registryEvent({ ...good.registryEvent, since: 'b1.4', generation: bad }),
        ).toEqual(good.registryEvent);
        expect(
          parse.registryEvent({ ...good.registryEvent, since: bad, generation: 'b1.5' }),
        ).toEqual(good.registryEvent);
      }
    });

    test('envelopes - validators drop unknown fields', () => {
      const secret = 'a-secret-of-16-chars';
      expect(parse.heartbeat({ v, id: 'x', secret, extra: 1 })).toEqual({ v, id: 'x', secret });
      expect(parse.listRequest({ v, filter: 'x' })).toEqual({ v });
    });
  });

  describe('errorData', () => {
    test('envelopes - errorData keeps every known field', () => {
      const data = {
        code: 'APPLICATION',
        message: 'division by zero',
        name: 'RangeError',
        appCode: 'DIVIDE_BY_ZERO',
        details: { a: 1, list: [1, 2] },
        site: 'c',
        service: 'calculator',
        completed: 'yes',
        path: ['a', 'b'],
      };
      expect(parse.errorData(structuredClone(data))).toEqual(data);
    });

    test('envelopes - errorData maps unknown or missing codes to INTERNAL', () => {
      expect(parse.errorData({ code: 'NOPE', message: 'm' }).code).toBe(ErrorCode.INTERNAL);
      expect(parse.errorData({ code: 3, message: 'm' }).code).toBe(ErrorCode.INTERNAL);
      expect(parse.errorData({ message: 'm' }).code).toBe(ErrorCode.INTERNAL);
      expect(parse.errorData({ code: 'TIMEOUT' }).code).toBe(ErrorCode.TIMEOUT);
    });

    test('envelopes - errorData defaults message, name and completed', () => {
      expect(parse.errorData({})).toEqual({
        code: ErrorCode.INTERNAL,
        message: 'unknown error',
        name: 'Error',
        completed: 'maybe',
      });
      expect(parse.errorData({ completed: 'perhaps' }).completed).toBe('maybe');
      expect(parse.errorData({ completed: 'no' }).completed).toBe('no');
      expect(parse.errorData({ completed: 'yes' }).completed).toBe('yes');
      expect(parse.errorData({ message: 1, name: {} })).toMatchObject({
        message: 'unknown error',
        name: 'Error',
      });
    });

    test('envelopes - errorData drops mistyped optional fields', () => {
      const out = parse.errorData({
        code: 'APPLICATION',
        appCode: 7,
        site: [],
        service: 1,
        path: ['a', 2],
      });
      expect(out).not.toHaveProperty('appCode');
      expect(out).not.toHaveProperty('site');
      expect(out).not.toHaveProperty('service');
      expect(out).not.toHaveProperty('path');
      expect(out).not.toHaveProperty('details');
    });

    test('envelopes - errorData keeps falsy details', () => {
      expect(parse.errorData({ details: 0 }).details).toBe(0);
      expect(parse.errorData({ details: null }).details).toBeNull();
    });

    test('envelopes - errorData rejects a value that is not a map', () => {
      expect(expectBadRequest(() => parse.errorData('boom'))).toBe(
        "error must be a map (got 'boom')",
      );
      expect(expectBadRequest(() => parse.errorData([]))).toBe(
        'error must be a map (got an array)',
      );
    });
  });

  test('envelopes - NAME_PATTERN allows letters, digits, _ and - up to 128 characters', () => {
    expect(NAME_PATTERN.test('a')).toBe(true);
    expect(NAME_PATTERN.test('a'.repeat(128))).toBe(true);
    expect(NAME_PATTERN.test('a'.repeat(129))).toBe(false);
    expect(NAME_PATTERN.test('a-b_c9')).toBe(true);
    expect(NAME_PATTERN.test('-a')).toBe(false);
  });
});

describe('envelopes - hostile values', () => {
  const req = (instance: Record<string, unknown>) => ({ v, instance });

  test('envelopes - type confusion is BAD_REQUEST, never a thrown TypeError', () => {
    const hostile = [
      { toString: 1 },
      { valueOf: () => 1 },
      Object.create(null),
      [1, 2],
      new Uint8Array([1]),
      2n ** 70n,
      Symbol.for('x'),
    ];
    for (const value of hostile) {
      for (const validator of Object.values(parse) as Array<(v: unknown) => unknown>) {
        for (const body of [{ v: value }, { v, service: value, id: value, instance: value }]) {
          try {
            validator(body);
          } catch (err) {
            expect(err, `${validator.name} ${String(typeof value)}`).toBeInstanceOf(
              SwitchboardError,
            );
          }
        }
      }
    }
  });

  test('envelopes - fields inherited through a crafted __proto__ are not read', () => {
    const body = Object.create({ v: 1, service: 'calculator' });
    expect(expectBadRequest(() => parse.lookupRequest(body))).toMatch(/protocol version undefined/);
  });

  test('envelopes - lookup replies with ids or services that cannot be subject tokens are refused', () => {
    for (const [field, value] of [
      ['id', 'x y'],
      ['id', 'a.b'],
      ['service', 'a*'],
      ['site', 'a b'],
    ] as const) {
      const inst = { ...view(), [field]: value };
      expect(
        expectBadRequest(() => parse.lookupReply({ v, site: 'a', instances: [inst] })),
      ).toContain(`instance.${field}`);
    }
  });

  test('envelopes - registrations name a valid version, secret and route path', () => {
    const refused = (overrides: Record<string, unknown>) =>
      expectBadRequest(() => parse.registerRequest(req(registration(overrides))));
    expect(refused({ version: 'banana' })).toMatch(
      /instance.version 'banana' is not MAJOR.MINOR.PATCH/,
    );
    expect(refused({ secret: 'short' })).toMatch(/instance.secret 'short' is not valid/);
    expect(refused({ route: { site: 'c', path: ['b', 'c d'] } })).toMatch(
      /'c d' is not a valid name/,
    );
    const long = Array.from({ length: 65 }, (_, i) => `s${i}`);
    expect(refused({ route: { site: 's64', path: long } })).toMatch(/over 64/);
  });
});
