/**
 * The broker process over the in-memory NATS: registrations, heartbeats,
 * deregistrations and leases with the registry events they publish,
 * lookups, listings, session renewals, info, the forwarding of thin
 * clients' calls, refusals of bad input, and close.
 */
import type { Msg } from 'nats';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Broker, type BrokerOptions } from '../../src/broker/index.js';
import { Metrics } from '../../src/observability/index.js';
import {
  type CallMeta,
  callHeaders,
  cancelHeaders,
  ErrorCode,
  errorReplyHeaders,
  Header,
  type InstanceRegistration,
  SwitchboardError,
} from '../../src/protocol/index.js';
import { headersOf } from '../../src/transport/index.js';
import { holderTag } from '../../src/util/index.js';
import {
  type Collected,
  collect,
  idle,
  MemoryBus,
  type MemoryConnection,
} from '../support/memory-nats.js';
import { callMeta, instanceView, registration, SECRET, subjects } from '../support/memory-site.js';
import {
  ask,
  bodies,
  codec,
  errorIn,
  RecordingLogger,
  resultIn,
  V,
} from '../support/memory-wire.js';

const opened: Broker[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
  vi.useRealTimers();
});

interface Site {
  bus: MemoryBus;
  broker: Broker;
  /** The broker's own connection. */
  brokerNc: MemoryConnection;
  /** A peer's connection (a server, a client). */
  nc: MemoryConnection;
  /** Registry events, as a peer hears them. */
  events: Collected;
  logger: RecordingLogger;
}

async function site(options: Partial<BrokerOptions> = {}, bus = new MemoryBus()): Promise<Site> {
  const nc = bus.connect({ name: 'peer' });
  const events = collect(nc, subjects.registryEventsAll);
  const brokerNc = bus.connect({ name: 'broker' });
  const logger = new RecordingLogger();
  const broker = await Broker.start({
    site: 'a',
    id: 'b1',
    warmupMs: 0,
    connection: brokerNc,
    logger,
    ...options,
  });
  opened.push(broker);
  return { bus, broker, brokerNc, nc, events, logger };
}

/**
 * Under fake timers, a site whose broker sweeps every 100 ms, and instance
 * `i1` of `calc` registered once with a heartbeat of 1 s (a lease of 3 s),
 * then silent.
 */
async function beatingOnce(): Promise<Site> {
  vi.useFakeTimers();
  const s = await site({ sweepIntervalMs: 100 });
  await register(s.nc, registration('i1', 'calc', { heartbeatMs: 1000 }));
  await s.events.atLeast(1);
  return s;
}

/** Registers `reg`, listening on its control subject as its holder would (probes find it). */
function register(nc: MemoryConnection, reg: InstanceRegistration, subject?: string) {
  const control = reg.session
    ? subjects.session(reg.session)
    : subjects.control(reg.service, reg.id);
  nc.subscribe(control, { callback: () => {} });
  return registerDeaf(nc, reg, subject);
}

/** Registers `reg` as a process that has since gone would have: nothing listens for it. */
function registerDeaf(nc: MemoryConnection, reg: InstanceRegistration, subject?: string) {
  const kind = reg.route ? subjects.routes : subjects.services;
  return ask(nc, subject ?? kind.register(reg.service), { v: V, instance: reg });
}

/** Publishes a heartbeat or a deregistration of instance `id`, with the secret it registered with. */
function claim(nc: MemoryConnection, subject: string, id: string): void {
  nc.publish(subject, codec.encode({ v: V, id, secret: SECRET }));
}

const route = (id: string, service: string, fields: Partial<InstanceRegistration> = {}) =>
  registration(id, service, { route: { site: 'c', path: ['b', 'c'] }, ...fields });

/** Ids of the instances `broker` holds, sorted. */
const idsOf = (broker: Broker) => [...broker.registry.instances()].map((v) => v.id).sort();

/** Advances the fake clock `ms`, where `broker` still holds `id` alone, then 200 ms, where it holds nothing. */
async function holdsUntil(broker: Broker, id: string, ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  expect(idsOf(broker)).toEqual([id]);
  await vi.advanceTimersByTimeAsync(200);
  expect(idsOf(broker)).toEqual([]);
}

/** Generation `n` of broker `id`'s registry as it names it (its id, this run's tag, the count). */
function generationOf(id: string, n: number): unknown {
  return expect.stringMatching(new RegExp(`^${id}\\.[A-Za-z0-9_-]{6}\\.${n}$`));
}

describe('broker', () => {
  test('broker - start announces started with its site and id; close announces stopping and leaves nothing subscribed', async () => {
    const bus = new MemoryBus();
    const spy = bus.connect();
    const announced = collect(spy, subjects.brokerEvents);
    const { broker, brokerNc } = await site({}, bus);
    expect(bodies(await announced.atLeast(1))).toEqual([
      { v: V, kind: 'started', site: 'a', brokerId: 'b1' },
    ]);
    expect(broker.health()).toEqual({ ok: true, reason: '' });
    await broker.close();
    await broker.close();
    expect(bodies(await announced.atLeast(2))[1]).toEqual({
      v: V,
      kind: 'stopping',
      site: 'a',
      brokerId: 'b1',
    });
    expect(broker.health()).toEqual({ ok: false, reason: 'broker of site a: closing' });
    expect(brokerNc.subscriptions).toHaveLength(0);
    expect(brokerNc.isClosed()).toBe(false);
  });

  test('broker - a broker whose connection is already closed stops without announcing', async () => {
    const bus = new MemoryBus();
    const spy = bus.connect();
    const announced = collect(spy, subjects.brokerEvents);
    const { broker, brokerNc, logger } = await site({}, bus);
    await announced.atLeast(1);
    await brokerNc.close();
    await broker.close();
    await idle();
    expect(announced.messages).toHaveLength(1);
    expect(logger.at('info')).toEqual(['broker started', 'broker stopped']);
  });

  test('broker - health says when the connection to NATS is down', async () => {
    const { broker, brokerNc } = await site();
    brokerNc.disconnect();
    await idle();
    expect(broker.health()).toEqual({
      ok: false,
      reason: 'broker of site a: not connected to NATS',
    });
    brokerNc.reconnect();
    await idle();
    expect(broker.health().ok).toBe(true);
  });

  test('broker - a registration is answered with the lease and announced up', async () => {
    const { nc, events, broker } = await site();
    const reply = resultIn(await register(nc, registration('i1', 'calc', { heartbeatMs: 2000 })));
    expect(reply).toEqual({ v: V, site: 'a', brokerId: 'b1', leaseMs: 6000 });
    expect(bodies(await events.atLeast(1))).toEqual([
      {
        v: V,
        kind: 'up',
        service: 'calc',
        id: 'i1',
        site: 'a',
        view: instanceView('i1', { service: 'calc', methods: ['m'] }),
        since: generationOf('b1', 0),
        generation: generationOf('b1', 1),
      },
    ]);
    expect(events.messages[0]!.subject).toBe(subjects.registryEvents('calc'));
    expect(broker.registry.get('i1')?.service).toBe('calc');
  });

  test('broker - leaseFactor sets the lease in heartbeat intervals', async () => {
    const { nc } = await site({ leaseFactor: 2 });
    const reply = resultIn(await register(nc, registration('i1', 'calc', { heartbeatMs: 1500 })));
    expect(reply).toMatchObject({ leaseMs: 3000 });
  });

  test('broker - a registration published without a reply subject is taken, and nothing is answered', async () => {
    const { nc, events, broker } = await site();
    const replies = collect(nc, '_INBOX.>');
    nc.publish(
      subjects.services.register('calc'),
      codec.encode({ v: V, instance: registration('i1', 'calc') }),
    );
    await events.atLeast(1);
    await idle();
    expect(broker.registry.size).toBe(1);
    expect(replies.messages).toHaveLength(0);
  });

  test('broker - a registration whose subject names another service is BAD_REQUEST, with the site', async () => {
    const { nc, broker } = await site();
    const subject = subjects.services.register('other');
    const err = errorIn(await register(nc, registration('i1', 'calc'), subject));
    expect(err).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      completed: 'no',
      site: 'a',
      message: "the subject names service 'other' but the message is about 'calc'",
    });
    expect(broker.registry.size).toBe(0);
  });

  test('broker - a route on the services subjects, or a service on the routes subjects, is BAD_REQUEST', async () => {
    const { nc, broker } = await site();
    const asService = subjects.services.register('calc');
    expect(errorIn(await register(nc, route('r1', 'calc'), asService)).message).toBe(
      'a route registers on sb.broker.route.register.*',
    );
    const asRoute = subjects.routes.register('calc');
    expect(errorIn(await register(nc, registration('i1', 'calc'), asRoute)).message).toBe(
      'a route registration must say where the route leads (instance.route)',
    );
    expect(broker.registry.size).toBe(0);
  });

  test('broker - a route registers on the routes subjects and is looked up with its path', async () => {
    const { nc } = await site();
    expect(resultIn(await register(nc, route('r1', 'calc')))).toMatchObject({ site: 'a' });
    const reply = resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' }));
    expect(reply).toMatchObject({
      instances: [{ id: 'r1', site: 'c', path: ['b', 'c'], hops: 2 }],
    });
  });

  test('broker - a body that is not msgpack, or misses fields, is BAD_REQUEST and logged', async () => {
    const { nc, logger } = await site();
    const garbage = await nc.request(subjects.lookup, new Uint8Array([0xc1]));
    expect(errorIn(garbage)).toMatchObject({ code: ErrorCode.BAD_REQUEST, site: 'a' });
    const missing = errorIn(await ask(nc, subjects.lookup, { v: V }));
    expect(missing).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      message: 'lookup.service must be a string',
    });
    expect(logger.at('warn')).toContain('rejected a message: lookup.service must be a string');
  });

  test('broker - a heartbeat of a known instance keeps it; one of an unknown instance asks it to register again', async () => {
    const { nc, broker } = await site();
    await register(nc, registration('i1', 'calc'));
    const control = collect(nc, 'sb.control.>');
    claim(nc, subjects.services.heartbeat('calc'), 'i1');
    claim(nc, subjects.services.heartbeat('calc'), 'i9');
    const asked = await control.nth(0);
    expect(asked.subject).toBe(subjects.control('calc', 'i9'));
    expect(codec.decode(asked.data)).toEqual({
      v: V,
      kind: 'reregister',
      holder: holderTag(SECRET),
    });
    await idle();
    expect(control.messages).toHaveLength(1);
    expect(broker.registry.size).toBe(1);
  });

  test('broker - a heartbeat saying the connection moved is announced resumed, once, and the broker probes its calls', async () => {
    const { nc, events, logger } = await site();
    await register(nc, registration('i1', 'calc'));
    await events.atLeast(1);
    const beat = codec.encode({ v: V, id: 'i1', secret: SECRET, resumed: true });
    nc.publish(subjects.services.heartbeat('calc'), beat);
    nc.publish(subjects.services.heartbeat('calc'), beat);
    expect(bodies(await events.atLeast(2))[1]).toEqual({
      v: V,
      kind: 'resumed',
      service: 'calc',
      id: 'i1',
      site: 'a',
    });
    await idle();
    expect(events.messages).toHaveLength(2);
    expect(logger.at('error')).toEqual([]);
  });

  test('broker - a heartbeat or deregistration refused is not answered, even with a reply subject', async () => {
    const { nc, broker, logger } = await site();
    await register(nc, registration('i1', 'calc'));
    const replies = collect(nc, '_INBOX.q');
    const wrong = codec.encode({ v: V, id: 'i1', secret: 'x'.repeat(20) });
    nc.publish(subjects.services.deregister('calc'), wrong, { reply: '_INBOX.q' });
    nc.publish(subjects.services.heartbeat('calc'), new Uint8Array([0xc1]), { reply: '_INBOX.q' });
    await idle();
    expect(replies.messages).toHaveLength(0);
    expect(broker.registry.size).toBe(1);
    expect(logger.at('warn')).toHaveLength(2);
  });

  test('broker - a deregistration removes the instance and is announced down, deregistered', async () => {
    const { nc, events, broker, logger } = await site();
    await register(nc, registration('i1', 'calc'));
    claim(nc, subjects.services.deregister('calc'), 'i1');
    expect(bodies(await events.atLeast(2))[1]).toEqual({
      v: V,
      kind: 'down',
      service: 'calc',
      id: 'i1',
      site: 'a',
      reason: 'deregistered',
      since: generationOf('b1', 1),
      generation: generationOf('b1', 2),
    });
    expect(broker.registry.size).toBe(0);
    claim(nc, subjects.services.deregister('calc'), 'i1');
    await idle();
    expect(events.messages).toHaveLength(2);
    expect(logger.at('error')).toEqual([]);
  });

  test('broker - a route deregisters on the routes subjects', async () => {
    const { nc, events, broker } = await site();
    await register(nc, route('r1', 'calc'));
    claim(nc, subjects.routes.deregister('calc'), 'r1');
    await events.atLeast(2);
    expect(broker.registry.size).toBe(0);
  });

  test('broker - an instance that stops heartbeating expires at the next sweep after its lease, announced down, expired', async () => {
    const { events, broker, logger } = await beatingOnce();
    await vi.advanceTimersByTimeAsync(2900);
    expect(broker.registry.size).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(bodies(await events.atLeast(2))[1]).toEqual({
      v: V,
      kind: 'down',
      service: 'calc',
      id: 'i1',
      site: 'a',
      reason: 'expired',
      since: generationOf('b1', 1),
      generation: generationOf('b1', 2),
    });
    expect(broker.registry.size).toBe(0);
    expect(logger.lines).toContainEqual({
      level: 'info',
      message: 'instance lease expired',
      fields: { service: 'calc', id: 'i1' },
    });
  });

  test('broker - a lease whose heartbeat was on its way when it ran out is kept: the sweep reads what was sent first', async () => {
    const { nc, brokerNc, events, broker } = await beatingOnce();
    await vi.advanceTimersByTimeAsync(2900);
    // The heartbeat is at the server, not yet read, when the sweep asks it for a round trip.
    const flush = brokerNc.flush.bind(brokerNc);
    brokerNc.flush = () => {
      claim(nc, subjects.services.heartbeat('calc'), 'i1');
      return flush();
    };
    await vi.advanceTimersByTimeAsync(100);
    expect(broker.registry.size).toBe(1);
    expect(events.messages).toHaveLength(1);
    // Silent from then on: it goes a lease after that heartbeat.
    brokerNc.flush = flush;
    await vi.advanceTimersByTimeAsync(3000);
    expect(broker.registry.size).toBe(0);
    expect(bodies(events.messages)[1]).toMatchObject({ kind: 'down', id: 'i1', reason: 'expired' });
  });

  test('broker - a sweep whose round trip to the server is not answered ends the leases a second later', async () => {
    const { brokerNc, broker } = await beatingOnce();
    let asked = 0;
    brokerNc.flush = () => {
      asked++;
      return new Promise<void>(() => {});
    };
    await vi.advanceTimersByTimeAsync(3000);
    expect(broker.registry.size).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(broker.registry.size).toBe(1);
    // One round trip at a time, however many sweeps run meanwhile.
    expect(asked).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(broker.registry.size).toBe(0);
  });

  test('broker - a holder two heartbeats late on whose control subject nothing listens goes then, not at the end of its lease', async () => {
    vi.useFakeTimers();
    const { nc, broker, logger } = await site({ sweepIntervalMs: 100 });
    await register(nc, registration('listens', 'calc', { heartbeatMs: 1000 }));
    await register(nc, route('r1', 'calc', { heartbeatMs: 1000, session: 'half1' }));
    await registerDeaf(nc, registration('deaf', 'calc', { heartbeatMs: 1000 }));
    await registerDeaf(nc, route('r2', 'calc', { heartbeatMs: 1000, session: 'half2' }));
    await vi.advanceTimersByTimeAsync(1900);
    expect(broker.registry.size).toBe(4);
    await vi.advanceTimersByTimeAsync(200);
    expect(idsOf(broker)).toEqual(['listens', 'r1']);
    expect(logger.lines).toContainEqual({
      level: 'info',
      message: 'lease holder gone from NATS',
      fields: { service: 'calc', id: 'deaf' },
    });
    // Those still listening keep their leases to the end.
    await vi.advanceTimersByTimeAsync(800);
    expect(idsOf(broker)).toEqual(['listens', 'r1']);
    await vi.advanceTimersByTimeAsync(200);
    expect(broker.registry.size).toBe(0);
  });

  test('broker - no holder is probed while the broker connection is down or back for less than 1.5 s', async () => {
    vi.useFakeTimers();
    const { nc, broker, brokerNc } = await site({ sweepIntervalMs: 100, leaseFactor: 10 });
    await registerDeaf(nc, registration('deaf', 'calc', { heartbeatMs: 1000 })); // a lease of 10 s
    await vi.advanceTimersByTimeAsync(100);
    brokerNc.disconnect();
    await vi.advanceTimersByTimeAsync(2900);
    brokerNc.reconnect();
    // Silent for 3 s, but the holders may be reconnecting as we did.
    await holdsUntil(broker, 'deaf', 1400);
  });

  test('broker - probeAfterMs holds probes back longer, for sites whose components reconnect slowly', async () => {
    vi.useFakeTimers();
    const { nc, broker } = await site({
      sweepIntervalMs: 100,
      leaseFactor: 10,
      probeAfterMs: 5000,
    });
    await registerDeaf(nc, registration('deaf', 'calc', { heartbeatMs: 1000 })); // a lease of 10 s
    await holdsUntil(broker, 'deaf', 4900);
  });

  test('broker - with one NATS server a bridge half is probed at two renewals late; in a cluster, or given several URLs, only after 1.5 s, as its connection may be moving', async () => {
    vi.useFakeTimers();
    const half = route('r1', 'calc', { heartbeatMs: 500, session: 'half1' });
    const timings = { sweepIntervalMs: 100, leaseFactor: 10 };
    const single = await site(timings);
    const clustered = await site(timings, new MemoryBus({ cluster: 'east' }));
    // A broker given several URLs waits as long for its holders as for itself.
    const severalUrls = await site({ ...timings, reconnectGraceMs: 1500 });
    const sites = [single, clustered, severalUrls];
    // Holders are not probed in the first 1.5 s of a broker's connection.
    await vi.advanceTimersByTimeAsync(1500);
    for (const { nc } of sites) await registerDeaf(nc, half); // a lease of 5 s
    await vi.advanceTimersByTimeAsync(900);
    expect(sites.map(({ broker }) => idsOf(broker))).toEqual([['r1'], ['r1'], ['r1']]);
    await vi.advanceTimersByTimeAsync(200);
    expect(sites.map(({ broker }) => idsOf(broker))).toEqual([[], ['r1'], ['r1']]);
    await vi.advanceTimersByTimeAsync(500);
    expect(sites.map(({ broker }) => idsOf(broker))).toEqual([[], [], []]);
  });

  test('broker - what its server says is read at each sweep: after reconnecting to a server of a cluster, holders get 1.5 s', async () => {
    vi.useFakeTimers();
    const { nc, broker, bus, brokerNc } = await site({ sweepIntervalMs: 100, leaseFactor: 10 });
    brokerNc.disconnect();
    bus.cluster = 'east';
    brokerNc.reconnect();
    await vi.advanceTimersByTimeAsync(1500);
    await registerDeaf(nc, route('r1', 'calc', { heartbeatMs: 500, session: 'half1' }));
    await holdsUntil(broker, 'r1', 1400);
  });

  test('broker - heartbeats keep a lease alive past its first term', async () => {
    vi.useFakeTimers();
    const { nc, broker } = await site({ sweepIntervalMs: 100 });
    await register(nc, registration('i1', 'calc', { heartbeatMs: 1000 }));
    for (let beat = 0; beat < 5; beat++) {
      await vi.advanceTimersByTimeAsync(1000);
      claim(nc, subjects.services.heartbeat('calc'), 'i1');
    }
    await vi.advanceTimersByTimeAsync(2900);
    expect(broker.registry.size).toBe(1);
  });

  test('broker - the sweep runs every 250 ms by default', async () => {
    vi.useFakeTimers();
    const { nc, broker } = await site();
    // A lease of 3300 ms ends between two sweeps (3250, 3500).
    await register(nc, registration('i1', 'calc', { heartbeatMs: 1100 }));
    await vi.advanceTimersByTimeAsync(3499);
    expect(broker.registry.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(broker.registry.size).toBe(0);
  });

  test('broker - a lookup names the instances of the version range asked for', async () => {
    const { nc } = await site();
    await register(nc, registration('i1', 'calc', { version: '1.2.0' }));
    await register(nc, registration('i2', 'calc', { version: '2.0.0' }));
    const ids = async (body: object) =>
      (
        resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc', ...body })) as {
          instances: Array<{ id: string }>;
        }
      ).instances.map((i) => i.id);
    expect(await ids({})).toEqual(['i1', 'i2']);
    expect(await ids({ version: '^1.0.0' })).toEqual(['i1']);
    expect(await ids({ version: '>=2.0.0' })).toEqual(['i2']);
    expect(await ids({ version: '^3.0.0' })).toEqual([]);
  });

  test('broker - a lookup of a service that has none says nothing more than its site, or a name near it', async () => {
    const { nc } = await site();
    expect(resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' }))).toEqual({
      v: V,
      site: 'a',
      instances: [],
    });
    await register(nc, registration('i1', 'calculator'));
    expect(resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calculater' }))).toEqual({
      v: V,
      site: 'a',
      instances: [],
      similar: 'calculator',
    });
  });

  test('broker - a lookup after the last instance left names where it was, and not a similar name', async () => {
    const { nc, events } = await site();
    await register(nc, route('r1', 'calc'));
    await register(nc, registration('i2', 'calcs'));
    claim(nc, subjects.routes.deregister('calc'), 'r1');
    await events.atLeast(3);
    expect(resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' }))).toEqual({
      v: V,
      site: 'a',
      instances: [],
      departedFrom: 'c',
      departedSites: ['c'],
    });
  });

  test('broker - a lookup that finds instances here still names the sites the service left', async () => {
    const { nc, events } = await site();
    await register(nc, route('r1', 'calc'));
    await register(nc, registration('i2', 'calc'));
    claim(nc, subjects.routes.deregister('calc'), 'r1');
    await events.atLeast(3);
    const reply = resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' }));
    expect(reply).toMatchObject({ departedSites: ['c'], instances: [{ id: 'i2' }] });
    expect(reply).not.toHaveProperty('departedFrom');
    expect(reply).not.toHaveProperty('similar');
  });

  test('broker - a lookup whose instances do not fit in one message is cut and says so', async () => {
    const bus = new MemoryBus({ maxPayload: 8192 });
    const { nc } = await site({}, bus);
    const metadata = { note: 'x'.repeat(200) };
    for (let i = 0; i < 30; i++) await register(nc, registration(`i${i}`, 'calc', { metadata }));
    const reply = resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' })) as {
      instances: unknown[];
      truncated?: boolean;
    };
    expect(reply.truncated).toBe(true);
    expect(reply.instances.length).toBeGreaterThan(5);
    expect(reply.instances.length).toBeLessThan(30);
    expect(codec.encode(reply.instances).length).toBeLessThanOrEqual(4096);
  });

  test('broker - a listing names the registry generation; asked unless that generation, it answers unchanged', async () => {
    const { nc, broker } = await site();
    await register(nc, registration('i1', 'calc'));
    const first = resultIn(await ask(nc, subjects.list, { v: V })) as { generation: string };
    expect(first).toMatchObject({
      v: V,
      site: 'a',
      generation: generationOf('b1', broker.registry.generation),
      services: [{ name: 'calc', version: '1.0.0', methods: ['m'], instances: [{ id: 'i1' }] }],
    });
    expect(first).not.toHaveProperty('next');
    expect(first).not.toHaveProperty('unchanged');
    const again = resultIn(await ask(nc, subjects.list, { v: V, unless: first.generation }));
    expect(again).toEqual({
      v: V,
      site: 'a',
      services: [],
      generation: first.generation,
      unchanged: true,
    });
    const stale = resultIn(
      await ask(nc, subjects.list, { v: V, unless: first.generation.replace(/\d+$/, '0') }),
    );
    expect(stale).toMatchObject({ services: [{ name: 'calc' }] });
    expect(stale).not.toHaveProperty('unchanged');
  });

  test('broker - a listing too large for one message comes in pages; a page after a cursor ignores unless', async () => {
    const bus = new MemoryBus({ maxPayload: 8192 });
    const { nc } = await site({}, bus);
    const metadata = { note: 'x'.repeat(200) };
    for (let i = 0; i < 30; i++) await register(nc, registration(`i${i}`, `s${i}`, { metadata }));
    const first = resultIn(await ask(nc, subjects.list, { v: V })) as {
      services: unknown[];
      next: string;
      generation: string;
    };
    expect(first.services.length).toBeLessThan(30);
    expect(typeof first.next).toBe('string');
    const body = { v: V, after: first.next, unless: first.generation };
    const second = resultIn(await ask(nc, subjects.list, body)) as { services: unknown[] };
    expect(second.services.length).toBeGreaterThan(0);
    expect(second).not.toHaveProperty('unchanged');
  });

  test('broker - info names the site, the broker and when it started', async () => {
    const { nc, broker } = await site();
    expect(resultIn(await ask(nc, subjects.info, { v: V }))).toEqual({
      v: V,
      site: 'a',
      brokerId: 'b1',
      startedAt: broker.startedAt,
    });
  });

  test('broker - the brokers of a site share lookups in one queue group; each hears every registration', async () => {
    const bus = new MemoryBus();
    const one = await site({ id: 'b1' }, bus);
    const two = await site({ id: 'b2' }, bus);
    await register(one.nc, registration('i1', 'calc'));
    await one.events.atLeast(2);
    expect(one.broker.registry.size).toBe(1);
    expect(two.broker.registry.size).toBe(1);
    const answeredBy = new Set<unknown>();
    for (let i = 0; i < 4; i++) {
      answeredBy.add(
        (resultIn(await ask(one.nc, subjects.info, { v: V })) as { brokerId: string }).brokerId,
      );
    }
    expect([...answeredBy].sort()).toEqual(['b1', 'b2']);
  });

  test('broker - a batch registers each of its routes as its own request would, and answers for each in order', async () => {
    const { nc, events, broker, logger } = await site({ limits: { maxBridgeRoutes: 3 } });
    await register(nc, registration('taken', 'calc', { secret: 'another-secret-of-16' }));
    const session = 'sess1';
    const methods = Array.from({ length: 257 }, (_, i) => `m${i}`);
    const instances = [
      route('r1', 'calc', { session }),
      route('taken', 'calc', { session }),
      route('r3', 'echo', { session, methods }),
      route('r4', 'echo', { session }),
      route('r1', 'calc', { session }),
      route('r5', 'echo', { session }),
      route('r6', 'echo', { session }),
    ];
    const reply = resultIn(await ask(nc, subjects.routeBatch, { v: V, instances })) as {
      site: string;
      brokerId: string;
      results: Array<{ leaseMs?: number; error?: { code: string; message: string; site: string } }>;
    };
    expect(reply).toMatchObject({ v: V, site: 'a', brokerId: 'b1' });
    const codes = reply.results.map((r) => r.error?.code ?? r.leaseMs);
    // A lease of three heartbeats of 1 s; r1 twice is r1 renewed; r6 is past the session's share.
    expect(codes).toEqual([3000, 'FORBIDDEN', 'BAD_REQUEST', 3000, 3000, 3000, 'UNAVAILABLE']);
    expect(reply.results[2]!.error).toMatchObject({ site: 'a', message: /methods/ });
    expect(idsOf(broker)).toEqual(['r1', 'r4', 'r5', 'taken']);
    expect(broker.registry.get('r1')).toMatchObject({ path: ['b', 'c'], site: 'c' });
    const ups = bodies(await events.atLeast(4)).slice(1) as Array<{ kind: string; id: string }>;
    expect(ups.map((e) => `${e.kind} ${e.id}`)).toEqual(['up r1', 'up r4', 'up r5']);
    // One line per batch, however many of its routes were refused.
    expect(logger.at('warn').filter((m) => m.includes('routes of a batch'))).toEqual([
      "refused 3 of the 7 routes of a batch: instance id 'taken' is held by another registrant until its lease ends",
    ]);
  });

  test('broker - a batch that is not one, or holds a route that cannot be read or is not a route, is refused whole', async () => {
    const { nc, broker } = await site();
    const many = Array.from({ length: 257 }, (_, i) => route(`r${i}`, 'calc'));
    const bodies = [
      { v: V, instances: many },
      { v: V, instances: [] },
      { v: V },
      'nope',
      { v: V, instances: [route('r1', 'calc'), null] },
      { v: V, instances: [route('r1', 'calc'), registration('s1', 'calc')] },
    ];
    for (const body of bodies) {
      const err = errorIn(await ask(nc, subjects.routeBatch, body));
      expect(err).toMatchObject({ code: ErrorCode.BAD_REQUEST, site: 'a' });
    }
    expect(idsOf(broker)).toEqual([]);
  });

  test('broker - a session renewal renews its routes, drops those named gone, and asks for all again when it holds fewer', async () => {
    const { nc, events, broker } = await site();
    const session = 'sess1';
    await register(nc, route('r1', 'calc', { session }));
    await register(nc, route('r2', 'calc', { session }));
    const asked = collect(nc, subjects.session(session));
    const renew = (body: object) =>
      nc.publish(
        subjects.routeRenew,
        codec.encode({ v: V, session, secret: SECRET, routes: 2, ...body }),
      );
    renew({});
    await idle();
    expect(asked.messages).toHaveLength(0);
    renew({ routes: 1, gone: ['r2'] });
    expect(bodies(await events.atLeast(3))[2]).toMatchObject({ kind: 'down', id: 'r2' });
    expect(broker.registry.get('r2')).toBeUndefined();
    await idle();
    expect(asked.messages).toHaveLength(0);
    renew({ routes: 3 });
    expect(codec.decode((await asked.nth(0)).data)).toEqual({
      v: V,
      kind: 'reregister',
      batch: true,
      holder: holderTag(SECRET),
    });
    // A renewal forged with another secret asks too, but tagged for that secret: the holder ignores it.
    renew({ secret: 'forged-secret-of-16' });
    expect(codec.decode((await asked.nth(1)).data)).toMatchObject({
      holder: holderTag('forged-secret-of-16'),
    });
  });

  test('broker - a broker that may not hear batches (NATS closed that subscription) asks for routes without batch', async () => {
    const { nc, brokerNc } = await site();
    const session = 'sess1';
    await register(nc, route('r1', 'calc', { session }));
    const asked = collect(nc, subjects.session(session));
    // What nats.js does with a subscription NATS refuses.
    brokerNc.subscriptions.find((sub) => sub.subject === subjects.routeBatch)!.unsubscribe();
    nc.publish(subjects.routeRenew, codec.encode({ v: V, session, secret: SECRET, routes: 2 }));
    expect(codec.decode((await asked.nth(0)).data)).toEqual({
      v: V,
      kind: 'reregister',
      holder: holderTag(SECRET),
    });
  });

  test('broker - a resumed session renewal announces each of its routes resumed, once', async () => {
    const { nc, events, logger } = await site();
    const session = 'sess1';
    await register(nc, route('r1', 'calc', { session }));
    await register(nc, route('r2', 'echo', { session }));
    await events.atLeast(2);
    const renewal = codec.encode({ v: V, session, secret: SECRET, routes: 2, resumed: true });
    nc.publish(subjects.routeRenew, renewal);
    nc.publish(subjects.routeRenew, renewal);
    const resumed = (await events.atLeast(4)).slice(2);
    expect(resumed.map((m) => [m.subject, codec.decode(m.data)])).toEqual([
      [
        subjects.registryEvents('calc'),
        { v: V, kind: 'resumed', service: 'calc', id: 'r1', site: 'c' },
      ],
      [
        subjects.registryEvents('echo'),
        { v: V, kind: 'resumed', service: 'echo', id: 'r2', site: 'c' },
      ],
    ]);
    await idle();
    expect(events.messages).toHaveLength(4);
    expect(logger.at('error')).toEqual([]);
  });

  test('broker - a session holding more routes than its half says goes back to those it registers again', async () => {
    const { nc, events, broker } = await site();
    const session = 'sess1';
    await register(nc, route('r1', 'calc', { session }));
    await register(nc, route('stale', 'calc', { session }));
    const asked = collect(nc, subjects.session(session));
    const renew = () =>
      nc.publish(
        subjects.routeRenew,
        codec.encode({ v: V, session, secret: SECRET, routes: 1, held: 1 }),
      );
    renew();
    expect(codec.decode((await asked.nth(0)).data)).toEqual({
      v: V,
      kind: 'reregister',
      batch: true,
      holder: holderTag(SECRET),
    });
    await register(nc, route('r1', 'calc', { session }));
    renew();
    expect(bodies(await events.atLeast(3))[2]).toMatchObject({ kind: 'down', id: 'stale' });
    expect(broker.registry.get('stale')).toBeUndefined();
    expect(broker.registry.get('r1')).toBeDefined();
  });

  test('broker - a lookup that finds instances names no similar service', async () => {
    const { nc } = await site();
    await register(nc, registration('i1', 'calc'));
    await register(nc, registration('i2', 'calcs'));
    const reply = resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' }));
    expect(reply).toEqual({ v: V, site: 'a', instances: [expect.objectContaining({ id: 'i1' })] });
  });

  test('broker - with the default max_payload a reply holds far more than 4 KiB of instances', async () => {
    const { nc } = await site();
    const metadata = { note: 'x'.repeat(200) };
    for (let i = 0; i < 30; i++) await register(nc, registration(`i${i}`, 'calc', { metadata }));
    const reply = resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' })) as {
      instances: unknown[];
    };
    expect(reply.instances).toHaveLength(30);
    expect(reply).not.toHaveProperty('truncated');
  });

  test('broker - an expiry after the connection closed publishes nothing and throws nothing', async () => {
    vi.useFakeTimers();
    const { nc, broker, brokerNc } = await site({ sweepIntervalMs: 100 });
    await register(nc, registration('i1', 'calc', { heartbeatMs: 1000 }));
    await brokerNc.close();
    await vi.advanceTimersByTimeAsync(3100);
    expect(broker.registry.size).toBe(0);
  });

  test('broker - metrics count forwarded calls by outcome (a service no instance holds as -), expired leases, and the instances held', async () => {
    vi.useFakeTimers();
    const metrics = new Metrics();
    const { nc } = await site({ metrics, sweepIntervalMs: 100 });
    await register(nc, registration('i1', 'calc', { heartbeatMs: 1000 }));
    const calls = instance(nc);
    const replies = thinCall(nc, meta());
    (await calls.nth(0)).respond(codec.encode('direct'));
    await replies.nth(0);
    thinCall(nc, meta({ callId: 'c2', service: 'nope' }), codec.encode([]));
    const text = async () => metrics.registry.metrics();
    await vi.advanceTimersByTimeAsync(0);
    expect(await text()).toContain('switchboard_broker_instances{site="a"} 1');
    await vi.advanceTimersByTimeAsync(3100);
    const after = await text();
    expect(after).toContain(
      'switchboard_broker_forwarded_calls_total{site="a",service="calc",code="OK"} 1',
    );
    expect(after).toContain(
      'switchboard_broker_forwarded_calls_total{site="a",service="-",code="SERVICE_NOT_FOUND"} 1',
    );
    expect(after).toContain('switchboard_broker_leases_expired_total{site="a"} 1');
    expect(after).toContain('switchboard_broker_instances{site="a"} 0');
  });

  test('broker - a warm-up of 0 answers at once, without a timer', async () => {
    vi.useFakeTimers();
    const { nc } = await site({ warmupMs: 0 });
    expect(resultIn(await ask(nc, subjects.list, { v: V }))).toMatchObject({ services: [] });
    expect(resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' }))).toMatchObject({
      instances: [],
    });
  });

  test('broker - options are checked before connecting, naming the field', async () => {
    const bus = new MemoryBus();
    const start = (options: Partial<BrokerOptions>) =>
      Broker.start({ site: 'a', connection: bus.connect(), ...options });
    const cases: Array<[Partial<BrokerOptions>, string]> = [
      [
        { site: 'no site' },
        "broker option 'site' must be a name of letters, digits, '_' or '-' (got 'no site')",
      ],
      [{ leaseFactor: 1.9 }, "broker option 'leaseFactor' must be at least 2"],
      [
        { policy: 'nearest' as never },
        "broker option 'policy' must be one of round-robin, least-outstanding",
      ],
      [{ warmupMs: -1 }, "broker option 'warmupMs' must be 0 or more"],
      [{ sweepIntervalMs: 0 }, "broker option 'sweepIntervalMs' must be positive"],
      [{ probeAfterMs: -1 }, "broker option 'probeAfterMs' must be 0 or more"],
      [
        { limits: { nonsense: 1 } as never },
        "broker option 'limits.nonsense' is not a registry limit",
      ],
      [
        { limits: { maxInstances: 1.5 } },
        "broker option 'limits.maxInstances' must be a positive integer (got 1.5)",
      ],
      [
        { limits: { maxInstances: 0 } },
        "broker option 'limits.maxInstances' must be a positive integer (got 0)",
      ],
      [
        { limits: { minHeartbeatMs: 5000, maxHeartbeatMs: 4000 } },
        "broker option 'limits.minHeartbeatMs' exceeds 'limits.maxHeartbeatMs'",
      ],
      [
        { inFlight: { maxInstances: 1 } as never },
        "broker option 'inFlight.maxInstances' is not an in-flight limit",
      ],
      [
        { inFlight: { maxBytes: -1 } },
        "broker option 'inFlight.maxBytes' must be a positive integer (got -1)",
      ],
    ];
    for (const [options, message] of cases) {
      await expect(start(options), message).rejects.toThrow(new TypeError(message));
    }
    expect(cases).toHaveLength(12);
    expect(bus.subscriptionCount).toBe(0);
  });

  test('broker - the edges of the options are accepted', async () => {
    const bus = new MemoryBus();
    const broker = await Broker.start({
      site: 'a',
      connection: bus.connect(),
      leaseFactor: 2,
      warmupMs: 0,
      sweepIntervalMs: 1,
      limits: { minHeartbeatMs: 4000, maxHeartbeatMs: 4000, maxInstances: undefined },
    });
    opened.push(broker);
    expect(broker.id).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

describe('broker warm-up', () => {
  test('broker warm-up - a lookup that finds nothing waits for the warm-up, then sees who registered meanwhile', async () => {
    vi.useFakeTimers();
    const { nc } = await site({ warmupMs: 300 });
    const pending = ask(nc, subjects.lookup, { v: V, service: 'calc' });
    let answered = false;
    void pending.then(() => (answered = true));
    await vi.advanceTimersByTimeAsync(100);
    await register(nc, registration('i1', 'calc'));
    await vi.advanceTimersByTimeAsync(199);
    expect(answered).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(resultIn(await pending)).toMatchObject({ instances: [{ id: 'i1' }] });
  });

  test('broker warm-up - a lookup that finds an instance is answered at once; a listing waits', async () => {
    vi.useFakeTimers();
    const { nc } = await site({ warmupMs: 300 });
    await register(nc, registration('i1', 'calc'));
    expect(resultIn(await ask(nc, subjects.lookup, { v: V, service: 'calc' }))).toMatchObject({
      instances: [{ id: 'i1' }],
    });
    let listed = false;
    const listing = ask(nc, subjects.list, { v: V }).then((m) => {
      listed = true;
      return m;
    });
    await vi.advanceTimersByTimeAsync(299);
    expect(listed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(resultIn(await listing)).toMatchObject({ services: [{ name: 'calc' }] });
  });

  test('broker warm-up - lasts 250 ms by default', async () => {
    vi.useFakeTimers();
    const bus = new MemoryBus();
    const nc = bus.connect();
    const broker = await Broker.start({ site: 'a', connection: bus.connect() });
    opened.push(broker);
    let answered = false;
    const pending = ask(nc, subjects.list, { v: V }).then(() => (answered = true));
    await vi.advanceTimersByTimeAsync(249);
    expect(answered).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await pending;
    expect(answered).toBe(true);
  });
});

/** A site with instance i1 of calc registered, and what the broker forwards to it. */
async function withInstance(options: Partial<BrokerOptions> = {}) {
  const s = await site(options);
  await register(s.nc, registration('i1', 'calc'));
  return { ...s, calls: instance(s.nc) };
}

/** A hand-driven instance: what the broker forwards to it, and how it answers. */
function instance(nc: MemoryConnection, id = 'i1', service = 'calc') {
  return collect(nc, subjects.instance(service, id));
}

/** A thin client's call to the broker; its reply (or replies) arrive in `replies`. */
function thinCall(
  nc: MemoryConnection,
  meta: CallMeta,
  body = codec.encode([1, 2]),
  extra: Array<[string, string]> = [],
  client = 'client',
) {
  const inbox = `_INBOX.${client}.${meta.callId}`;
  const replies = collect(nc, inbox);
  nc.publish(subjects.call(meta.service), body, {
    reply: inbox,
    headers: callHeaders(meta, ...extra).forNats(),
  });
  return replies;
}

const meta = (fields: Partial<CallMeta> = {}) =>
  callMeta('calc', { callId: 'c1', method: 'm', budgetMs: 1000, path: ['a'], ...fields });

describe('broker forwarding', () => {
  test('broker forwarding - a thin call goes to an instance with the caller in sb-reply; the instance answers the caller', async () => {
    const { nc } = await site();
    await register(nc, registration('i1', 'calc'));
    const server = bus2(nc);
    const calls = instance(server);
    const replies = thinCall(nc, meta());
    const forwarded = await calls.nth(0);
    const h = headersOf(forwarded)!;
    expect(h.get(Header.replyTo)).toBe('_INBOX.client.c1');
    expect(h.get(Header.call)).toMatch(/^1;c1;calc;m;\d+;a;;$/);
    expect(codec.decode(forwarded.data)).toEqual([1, 2]);
    server.publish(h.get(Header.replyTo), codec.encode(3));
    forwarded.respond(new Uint8Array(0));
    expect(codec.decode((await replies.nth(0)).data)).toBe(3);
    await idle();
    expect(replies.messages).toHaveLength(1);
  });

  test('broker forwarding - an instance that answers the broker instead has its answer passed to the caller', async () => {
    const { nc, calls } = await withInstance();
    const replies = thinCall(nc, meta());
    (await calls.nth(0)).respond(codec.encode('direct'));
    const reply = await replies.nth(0);
    expect(codec.decode(reply.data)).toBe('direct');
    expect(headersOf(reply)).toBeUndefined();
  });

  test('broker forwarding - an error body is passed on byte for byte', async () => {
    const { nc, calls } = await withInstance();
    const replies = thinCall(nc, meta());
    const error = new SwitchboardError(ErrorCode.APPLICATION, 'boom', { completed: 'yes' });
    const body = codec.encode({ ...error.toData(), site: 'far', extra: 'kept' });
    (await calls.nth(0)).respond(body, { headers: errorReplyHeaders().forNats() });
    const reply = await replies.nth(0);
    expect(reply.data).toEqual(body);
    expect(errorIn(reply)).toMatchObject({
      code: ErrorCode.APPLICATION,
      message: 'boom',
      site: 'far',
    });
  });

  test('broker forwarding - an instance that deregisters still answers what it holds: the broker stays silent', async () => {
    const { nc, events, calls } = await withInstance();
    const replies = thinCall(nc, meta({ budgetMs: 60_000 }));
    const call = await calls.nth(0);
    claim(nc, subjects.services.deregister('calc'), 'i1');
    await events.atLeast(2);
    await idle();
    expect(replies.messages).toHaveLength(0);
    nc.publish(headersOf(call)!.get(Header.replyTo), codec.encode('done'));
    call.respond(new Uint8Array(0));
    expect(codec.decode((await replies.nth(0)).data)).toBe('done');
    await idle();
    expect(replies.messages).toHaveLength(1);
  });

  test('broker forwarding - when the broker loses its own connection mid-call it stays silent', async () => {
    const { nc, brokerNc, calls } = await withInstance();
    const replies = thinCall(nc, meta({ budgetMs: 60_000 }));
    await calls.nth(0);
    brokerNc.disconnect();
    await idle();
    brokerNc.reconnect();
    await idle();
    expect(replies.messages).toHaveLength(0);
  });

  test('broker forwarding - during the warm-up a call for a service with no instance waits for it', async () => {
    vi.useFakeTimers();
    const { nc } = await site({ warmupMs: 300 });
    const calls = instance(nc);
    const replies = thinCall(nc, meta({ budgetMs: 60_000 }));
    await vi.advanceTimersByTimeAsync(100);
    await register(nc, registration('i1', 'calc'));
    await vi.advanceTimersByTimeAsync(199);
    expect(calls.messages).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await calls.nth(0);
    expect(replies.messages).toHaveLength(0);
  });

  test('broker forwarding - during the warm-up a call for a registered service is forwarded at once', async () => {
    vi.useFakeTimers();
    const { nc, calls } = await withInstance({ warmupMs: 300 });
    thinCall(nc, meta({ budgetMs: 60_000 }));
    await calls.nth(0);
  });

  test('broker forwarding - calls go to the instance with the fewest outstanding by default', async () => {
    const { nc } = await site();
    await register(nc, registration('i1', 'calc'));
    await register(nc, registration('i2', 'calc'));
    const one = instance(nc, 'i1');
    const two = instance(nc, 'i2');
    thinCall(nc, meta({ callId: 'c1', budgetMs: 60_000 }));
    thinCall(nc, meta({ callId: 'c2', budgetMs: 60_000 }));
    const held = [...(await one.atLeast(1)), ...(await two.atLeast(1))];
    expect(held).toHaveLength(2);
    (await two.nth(0)).respond(codec.encode('done'));
    await idle();
    thinCall(nc, meta({ callId: 'c3', budgetMs: 60_000 }));
    await two.nth(1);
    expect(one.messages).toHaveLength(1);
  });

  test('broker forwarding - a call for a service with no instance is SERVICE_NOT_FOUND from the broker', async () => {
    const { nc } = await site();
    const replies = thinCall(nc, meta());
    expect(errorIn(await replies.nth(0))).toMatchObject({
      code: ErrorCode.SERVICE_NOT_FOUND,
      completed: 'no',
      site: 'a',
      service: 'calc',
      message: "service 'calc' is not registered",
    });
  });

  test('broker forwarding - an instance that does not answer in the budget leaves the broker silent', async () => {
    vi.useFakeTimers();
    const { nc } = await site();
    await register(nc, registration('i1', 'calc', { heartbeatMs: 10_000 }));
    const calls = instance(nc);
    const replies = thinCall(nc, meta({ budgetMs: 200 }));
    await calls.nth(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(replies.messages).toHaveLength(0);
  });

  test('broker forwarding - when the instance holding a call expires, the caller hears UNAVAILABLE from the broker', async () => {
    vi.useFakeTimers();
    const { nc } = await site({ sweepIntervalMs: 100 });
    await register(nc, registration('i1', 'calc', { heartbeatMs: 1000 }));
    const calls = instance(nc);
    const replies = thinCall(nc, meta({ budgetMs: 60_000 }));
    await calls.nth(0);
    await vi.advanceTimersByTimeAsync(3100);
    const err = errorIn(await replies.nth(0));
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.message).toContain('instance i1 stopped heartbeating while the call was in flight');
  });

  test('broker forwarding - a call body over maxPayload is PAYLOAD_TOO_LARGE, with the path it came by', async () => {
    const { nc } = await site({ maxPayload: 10 });
    const at = thinCall(nc, meta({ callId: 'c1', path: ['z', 'a'] }), new Uint8Array(11));
    expect(errorIn(await at.nth(0))).toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
      completed: 'no',
      site: 'a',
      service: 'calc',
      path: ['z', 'a'],
      message: 'call body of 11 bytes exceeds the limit of 10',
    });
    const fits = thinCall(nc, meta({ callId: 'c2', path: [] }), new Uint8Array(10));
    expect(errorIn(await fits.nth(0)).code).toBe(ErrorCode.SERVICE_NOT_FOUND);
    const empty = thinCall(nc, meta({ callId: 'c3', path: [] }), new Uint8Array(11));
    expect(errorIn(await empty.nth(0)).path).toEqual(['a']);
  });

  test('broker forwarding - an answer of the broker names its site as the origin of a thin call', async () => {
    const { nc } = await site();
    const late = thinCall(nc, meta({ callId: 'c1', path: [], budgetMs: 0 }));
    expect(errorIn(await late.nth(0))).toMatchObject({
      code: ErrorCode.TIMEOUT,
      completed: 'no',
      site: 'a',
      path: ['a'],
    });
    const unknown = thinCall(nc, meta({ callId: 'c2', path: [] }));
    expect(errorIn(await unknown.nth(0))).toMatchObject({
      code: ErrorCode.SERVICE_NOT_FOUND,
      path: ['a'],
    });
  });

  test('broker forwarding - the limit is the NATS max_payload by default', async () => {
    const bus = new MemoryBus({ maxPayload: 64 });
    const { nc } = await site({}, bus);
    // The broker read max_payload when it started; NATS now takes larger messages.
    bus.maxPayload = 1024;
    const replies = thinCall(nc, meta(), new Uint8Array(65));
    expect(errorIn(await replies.nth(0))).toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
      message: 'call body of 65 bytes exceeds the limit of 64',
    });
  });

  test('broker forwarding - a call without a reply subject is dropped with a warning', async () => {
    const { nc, logger, calls } = await withInstance();
    nc.publish(subjects.call('calc'), codec.encode([1]), {
      headers: callHeaders(meta()).forNats(),
    });
    await idle();
    expect(calls.messages).toHaveLength(0);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      message: 'dropped a call without reply subject',
      fields: { service: 'calc' },
    });
  });

  test('broker forwarding - a call whose subject names another service is BAD_REQUEST', async () => {
    const { nc } = await site();
    const inbox = collect(nc, '_INBOX.x');
    nc.publish(subjects.call('other'), codec.encode([1]), {
      reply: '_INBOX.x',
      headers: callHeaders(meta()).forNats(),
    });
    expect(errorIn(await inbox.nth(0))).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      message: "the subject names service 'other' but the message is about 'calc'",
    });
  });

  test('broker forwarding - a cancel notice reaches the instance holding the call', async () => {
    const { nc, calls } = await withInstance();
    thinCall(nc, meta({ budgetMs: 60_000 }));
    await calls.nth(0);
    nc.publish(subjects.call('calc'), undefined, { headers: cancelHeaders(meta()).forNats() });
    const notice = await calls.nth(1);
    expect(headersOf(notice)?.get(Header.cancel)).toBe('1');
    expect(notice.reply).toBe('');
  });

  test('broker forwarding - a resumed instance is probed about the calls forwarded to it', async () => {
    const { nc, calls } = await withInstance();
    thinCall(nc, meta({ budgetMs: 60_000 }));
    await calls.nth(0);
    const beat = codec.encode({ v: V, id: 'i1', secret: SECRET, resumed: true });
    nc.publish(subjects.services.heartbeat('calc'), beat);
    const probe: Msg = await calls.nth(1);
    expect(headersOf(probe)?.get(Header.probe)).toBe('1');
    expect(codec.decode(probe.data)).toEqual({ v: V, calls: ['c1'] });
  });
});

describe('broker in-flight limits', () => {
  test('broker in-flight limits - past maxCalls a thin call is refused UNAVAILABLE, completion no, until one ends', async () => {
    const { nc, calls } = await withInstance({ inFlight: { maxCalls: 2, maxCallsPerCaller: 2 } });
    const first = thinCall(nc, meta({ callId: 'c1', budgetMs: 60_000 }));
    thinCall(nc, meta({ callId: 'c2', budgetMs: 60_000 }));
    await calls.atLeast(2);
    const third = thinCall(nc, meta({ callId: 'c3', budgetMs: 60_000 }));
    expect(errorIn(await third.nth(0))).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      site: 'a',
      service: 'calc',
      message: 'broker busy: its limit of 2 calls in flight is reached',
    });
    expect(calls.messages).toHaveLength(2);
    (await calls.nth(0)).respond(codec.encode('done'));
    expect(codec.decode((await first.nth(0)).data)).toBe('done');
    await idle();
    thinCall(nc, meta({ callId: 'c4', budgetMs: 60_000 }));
    expect(headersOf(await calls.nth(2))?.get(Header.call)).toContain(';c4;');
  });

  test('broker in-flight limits - one thin client holds at most its share; another client still gets through', async () => {
    const { nc, calls } = await withInstance({ inFlight: { maxCalls: 4 } });
    const call = (callId: string, client: string) =>
      thinCall(nc, meta({ callId, budgetMs: 60_000 }), undefined, [], client);
    call('g1', 'greedy');
    call('g2', 'greedy');
    await calls.atLeast(2);
    expect(errorIn(await call('g3', 'greedy').nth(0))).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message: 'broker busy: its limit per caller of 2 calls in flight is reached',
    });
    const other = call('o1', 'other');
    await calls.atLeast(3);
    (await calls.nth(2)).respond(codec.encode('done'));
    expect(codec.decode((await other.nth(0)).data)).toBe('done');
  });

  test('broker in-flight limits - past maxBytes a call is refused; one call alone passes whatever its size', async () => {
    const { nc, calls } = await withInstance({ inFlight: { maxBytes: 100 } });
    const big = new Uint8Array(150);
    thinCall(nc, meta({ callId: 'c1', budgetMs: 60_000 }), big);
    await calls.nth(0);
    const refused = thinCall(nc, meta({ callId: 'c2', budgetMs: 60_000 }), new Uint8Array(1));
    expect(errorIn(await refused.nth(0))).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message:
        'broker busy: its limit of 100 bytes of calls in flight would be passed (150 held, 1 more)',
    });
    (await calls.nth(0)).respond(codec.encode('done'));
    await idle();
    const small = thinCall(nc, meta({ callId: 'c3' }), new Uint8Array(100));
    (await calls.nth(1)).respond(codec.encode('ok'));
    expect(codec.decode((await small.nth(0)).data)).toBe('ok');
  });

  test('broker in-flight limits - a call ended by the broker (no instance, a refusal) gives its room back', async () => {
    const { nc } = await site({ inFlight: { maxCalls: 1 } });
    for (const callId of ['c1', 'c2', 'c3']) {
      const replies = thinCall(nc, meta({ callId }));
      expect(errorIn(await replies.nth(0)).code).toBe(ErrorCode.SERVICE_NOT_FOUND);
    }
  });

  test('broker in-flight limits - metrics show the calls held and count refusals under -', async () => {
    const metrics = new Metrics();
    const { nc, calls } = await withInstance({ metrics, inFlight: { maxCalls: 1 } });
    thinCall(nc, meta({ callId: 'c1', budgetMs: 60_000 }));
    await calls.nth(0);
    await thinCall(nc, meta({ callId: 'c2' })).nth(0);
    const text = await metrics.registry.metrics();
    expect(text).toContain('switchboard_broker_calls_in_flight{site="a"} 1');
    expect(text).toContain(
      'switchboard_broker_forwarded_calls_total{site="a",service="-",code="UNAVAILABLE"} 1',
    );
  });

  test('broker in-flight limits - a closed broker no longer reports its gauges', async () => {
    const metrics = new Metrics();
    const { broker } = await site({ metrics });
    expect(await metrics.registry.metrics()).toContain(
      'switchboard_broker_calls_in_flight{site="a"} 0',
    );
    await broker.close();
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('switchboard_broker_calls_in_flight{site="a"}');
    expect(text).not.toContain('switchboard_broker_instances{site="a"}');
  });
});

/** Another connection on the same bus as `nc`. */
function bus2(nc: MemoryConnection): MemoryConnection {
  return nc.bus.connect({ name: 'server' });
}
