/**
 * The broker client over the in-memory NATS, against a real broker (or a
 * hand-made one where a broker misbehaves): requests and what they learn,
 * published heartbeats, renewals and deregistrations, event streams, control
 * messages, link states, and close.
 */
import type { Status } from 'nats';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Broker } from '../../src/broker/index.js';
import {
  type BrokerClient,
  type InstanceEvent,
  Registrar,
  type RouteResult,
} from '../../src/core/index.js';
import { ErrorCode, errorReplyHeaders, SwitchboardError } from '../../src/protocol/index.js';
import { SiteLink } from '../../src/transport/index.js';
import { MAX_LISTING_BYTES } from '../../src/transport/nats-broker-client.js';
import { holderTag } from '../../src/util/index.js';
import { collect, idle, MemoryBus, type MemoryConnection } from '../support/memory-nats.js';
import { instanceView, registration, SECRET, subjects } from '../support/memory-site.js';
import { bodies, codec, RecordingLogger, V } from '../support/memory-wire.js';

const closing: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c.close();
});

async function setup({ broker = true, maxPayload = 1024 * 1024 } = {}) {
  const bus = new MemoryBus({ maxPayload });
  if (broker) {
    closing.push(
      await Broker.start({ site: 'a', id: 'b1', warmupMs: 0, connection: bus.connect() }),
    );
  }
  const nc = bus.connect({ name: 'client' });
  const logger = new RecordingLogger();
  const link = await SiteLink.open({ connection: nc, logger }, 'test');
  closing.push(link);
  const spy = bus.connect({ name: 'spy' });
  return { bus, nc, link, client: link.brokers, spy, logger };
}

/** The error a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<SwitchboardError> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: SwitchboardError) => err,
  );
}

/** Answers every request on `subject` with what `answer` returns for its decoded body. */
function fakeBroker(nc: MemoryConnection, subject: string, answer: (body: unknown) => unknown) {
  const asked: unknown[] = [];
  nc.subscribe(subject, {
    callback: (_e, msg) => {
      const body = codec.decode(msg.data);
      asked.push(body);
      msg.respond(codec.encode(answer(body)));
    },
  });
  return asked;
}

describe('nats broker client', () => {
  test('nats broker client - a registration is acknowledged with the lease; the site is learned from the answer', async () => {
    const { client } = await setup();
    expect(client.site).toBeUndefined();
    const ack = await client.register(registration('i1', 'calc'), 1000);
    expect(ack).toEqual({ site: 'a', brokerId: 'b1', leaseMs: 3000 });
    expect(client.site).toBe('a');
  });

  test('nats broker client - a route registers on the routes subject', async () => {
    const { client, spy } = await setup();
    const routes = collect(spy, subjects.routes.all.register);
    const reg = registration('r1', 'calc', { route: { site: 'c', path: ['c'] } });
    await client.register(reg, 1000);
    expect(bodies(routes.messages)).toEqual([{ v: V, instance: reg }]);
  });

  describe('route batches', () => {
    const route = (id: string) =>
      registration(id, 'calc', { route: { site: 'c', path: ['c'] }, session: 's1' });
    const routes = (n: number) => Array.from({ length: n }, (_, i) => route(`r${i}`));
    /** Registers `ids` beforehand with another secret: the batch's routes of those ids are refused. */
    const takeFirst = (client: BrokerClient, ids: string[]) =>
      Promise.all(
        ids.map((id) =>
          client.register(registration(id, 'calc', { secret: 'another-secret-of-16' }), 1000),
        ),
      );
    /** The indexes of the results that are refusals. */
    const refusedAt = (results: readonly RouteResult[]) =>
      results.flatMap((r, i) => (r instanceof SwitchboardError ? [i] : []));

    test('nats broker client - routes go in batches of at most 256, each answered in its place', async () => {
      const { client, spy } = await setup();
      const batches = collect(spy, subjects.routeBatch);
      await takeFirst(client, ['r1', 'r520']);
      const results = await client.registerRoutes(routes(600), 1000);
      expect(
        batches.messages.map((m) => (codec.decode(m.data) as { instances: [] }).instances.length),
      ).toEqual([256, 256, 88]);
      expect(results).toHaveLength(600);
      expect(results[0]).toEqual({ site: 'a', brokerId: 'b1', leaseMs: 3000 });
      expect(results[1]).toMatchObject({ code: ErrorCode.FORBIDDEN, site: 'a', completed: 'no' });
      expect(refusedAt(results)).toEqual([1, 520]);
      expect(client.site).toBe('a');
    });

    test('nats broker client - a batch past max_payload is halved until it fits, its results in order', async () => {
      const { client, spy } = await setup({ maxPayload: 16 * 1024 });
      const batches = collect(spy, subjects.routeBatch);
      await takeFirst(client, ['r3', 'r150', 'r199']);
      const results = await client.registerRoutes(routes(200), 1000);
      const sizes = batches.messages.map((m) => m.data.length);
      expect(sizes.length).toBeGreaterThan(1);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(16 * 1024);
      expect(refusedAt(results)).toEqual([3, 150, 199]);
      expect(results.filter((r) => r && 'leaseMs' in r)).toHaveLength(197);
    });

    test('nats broker client - where no broker takes batches, no route is taken (each is to go on its own)', async () => {
      // Nothing listens on the batches' subject (NATS answers no responders).
      const { client } = await setup({ broker: false });
      expect(await client.registerRoutes(routes(3), 1000)).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
    });

    test('nats broker client - once NATS refuses a batch (a credential of an earlier revision), none is sent again', async () => {
      const { client, link, spy } = await setup({ broker: false });
      const batches = collect(spy, subjects.routeBatch);
      // A listener that never answers: the batch waits.
      spy.subscribe(subjects.routeBatch, { callback: () => {} });
      await idle();
      const first = client.registerRoutes(routes(2), 5000);
      await batches.atLeast(1);
      // What the connection does when NATS reports a permissions violation for the publish.
      link.channel.refuse(subjects.routeBatch, 'NATS refused the publish');
      expect(await first).toEqual([undefined, undefined]);
      expect(await client.registerRoutes(routes(1), 5000)).toEqual([undefined]);
      expect(batches.messages).toHaveLength(1);
    });

    test('nats broker client - a broker answering FORBIDDEN without its site fails that batch; batches go on', async () => {
      const { client, spy } = await setup({ broker: false });
      const batches = collect(spy, subjects.routeBatch);
      spy.subscribe(subjects.routeBatch, {
        callback: (_e, msg) =>
          msg.respond(codec.encode({ code: 'FORBIDDEN', message: 'not you' }), {
            headers: errorReplyHeaders().forNats(),
          }),
      });
      await idle();
      const [refused] = await client.registerRoutes(routes(1), 1000);
      expect(refused).toMatchObject({ code: 'FORBIDDEN' });
      await client.registerRoutes(routes(1), 1000);
      expect(batches.messages).toHaveLength(2);
    });

    test('nats broker client - a batch a broker cannot read (one bad route) goes route by route, not refused whole', async () => {
      const { client, spy } = await setup({ broker: false });
      spy.subscribe(subjects.routeBatch, {
        callback: (_e, msg) =>
          msg.respond(
            codec.encode({
              code: 'BAD_REQUEST',
              message: 'route batch.instances[1]: …',
              site: 'a',
            }),
            { headers: errorReplyHeaders().forNats() },
          ),
      });
      await idle();
      expect(await client.registerRoutes(routes(2), 1000)).toEqual([undefined, undefined]);
    });

    test('nats broker client - a batch no broker answers in time, or answered amiss, fails every route of it', async () => {
      const { client, spy } = await setup({ broker: false });
      let answer: unknown;
      fakeBroker(spy, subjects.routeBatch, () => answer);
      await idle();
      answer = { v: V, site: 'a', brokerId: 'x', results: [{ leaseMs: 1500 }] };
      const short = await client.registerRoutes(routes(2), 1000);
      expect(short.map((e) => (e as SwitchboardError).message)).toEqual(
        Array(2).fill('a broker answered 1 results to a batch of 2 routes'),
      );
      answer = { v: V, site: 'a', brokerId: 'x', results: [{ leaseMs: -1 }, { leaseMs: 1 }] };
      const bad = await client.registerRoutes(routes(2), 1000);
      expect(bad.map((e) => (e as SwitchboardError).code)).toEqual(['BAD_REQUEST', 'BAD_REQUEST']);
      expect(client.site).toBeUndefined();
      // A refusal without a site is the answering broker's.
      answer = { v: V, site: 'a', brokerId: 'x', results: [{ error: { code: 'FORBIDDEN' } }] };
      const [refused] = await client.registerRoutes(routes(1), 1000);
      expect(refused).toMatchObject({ code: 'FORBIDDEN', site: 'a' });
    });

    test('registrar over NATS - a site with a broker of each revision: once the earlier one asks, it gets every route', async () => {
      const { link, spy } = await setup();
      // A broker of an earlier revision: it takes route registrations one by one only.
      const old = fakeBroker(spy, subjects.routes.all.register, () => ({
        v: V,
        site: 'a',
        brokerId: 'old',
        leaseMs: 3000,
      })) as Array<{ instance: { id: string } }>;
      await idle();
      const lease = { id: 's1', secret: SECRET };
      const registrar = new Registrar(link.brokers, new RecordingLogger(), 1000, lease);
      closing.push(registrar);
      const all = ['r1', 'r2', 'r3'].map((id) => registrar.add(route(id)));
      expect(await Promise.all(all)).toEqual([true, true, true]);
      expect(old).toEqual([]);
      // At its next renewal the earlier broker lacks them, and asks as it does (no `batch`).
      spy.publish(subjects.session('s1'), codec.encode({ v: V, kind: 'reregister' }));
      await vi.waitFor(() => expect(old).toHaveLength(3));
      await registrar.add(route('r4'));
      expect(old.map((r) => r.instance.id).sort()).toEqual(['r1', 'r2', 'r3', 'r4']);
    });

    test('nats broker client - a batch that cannot be encoded here fails every route of it (no broker refused it)', async () => {
      const { client } = await setup();
      const looped = route('r1');
      (looped.metadata as Record<string, unknown>).self = looped.metadata;
      const results = await client.registerRoutes([looped, route('r2')], 1000);
      for (const result of results) {
        expect(result).toBeInstanceOf(SwitchboardError);
        expect(result).toMatchObject({ code: 'BAD_REQUEST', site: undefined });
      }
    });

    test('nats broker client - a batch nobody answers in time fails every route of it, UNAVAILABLE', async () => {
      const { client, spy } = await setup({ broker: false });
      spy.subscribe(subjects.routeBatch, { callback: () => {} });
      await idle();
      const results = await client.registerRoutes(routes(2), 50);
      expect(results.map((e) => (e as SwitchboardError).code)).toEqual([
        'UNAVAILABLE',
        'UNAVAILABLE',
      ]);
    });
  });

  test('nats broker client - a lookup sends the range only when given, and returns what the broker said', async () => {
    const { client, spy } = await setup();
    const asked = collect(spy, subjects.lookup);
    await client.register(registration('i1', 'calc', { version: '1.5.0' }), 1000);
    const found = await client.lookup('calc', '^1.0.0', 1000);
    expect(found).toEqual({
      site: 'a',
      instances: [expect.objectContaining({ id: 'i1', version: '1.5.0' })],
      departedFrom: undefined,
      departedSites: undefined,
      similar: undefined,
    });
    const typo = await client.lookup('calk', undefined, 1000);
    expect(typo).toMatchObject({ instances: [], similar: 'calc' });
    expect(bodies(asked.messages)).toEqual([
      { v: V, service: 'calc', version: '^1.0.0' },
      { v: V, service: 'calk' },
    ]);
  });

  test('nats broker client - a lookup names the site the service departed from', async () => {
    const { client } = await setup();
    const reg = registration('r1', 'calc', { route: { site: 'c', path: ['c'] } });
    await client.register(reg, 1000);
    client.deregister(reg);
    await idle();
    expect(await client.lookup('calc', undefined, 1000)).toMatchObject({
      departedFrom: 'c',
      departedSites: ['c'],
    });
  });

  test('nats broker client - info is the broker identity', async () => {
    const { client } = await setup();
    const info = await client.info(1000);
    expect(info).toEqual({ site: 'a', brokerId: 'b1', startedAt: expect.any(Number) });
    expect(client.site).toBe('a');
  });

  test('nats broker client - a listing over several pages is joined, a service version split across pages made whole again', async () => {
    const { client } = await setup({ maxPayload: 8192 });
    const metadata = { note: 'x'.repeat(200) };
    for (let i = 0; i < 30; i++) {
      await client.register(
        registration(`i${String(i).padStart(2, '0')}`, 'calc', { metadata }),
        1000,
      );
    }
    await client.register(registration('j1', 'other'), 1000);
    const listing = await client.list(1000);
    expect(listing.site).toBe('a');
    expect(listing.services.map((s) => [s.name, s.instances.length])).toEqual([
      ['calc', 30],
      ['other', 1],
    ]);
    expect(listing.generation).toMatch(/^b1\.[A-Za-z0-9_-]{6}\.\d+$/);
    expect(listing).not.toHaveProperty('unchanged');
  });

  test('nats broker client - a lookup whose instances did not all fit in the reply says so', async () => {
    const { client } = await setup({ maxPayload: 8192 });
    const metadata = { note: 'x'.repeat(200) };
    for (let i = 0; i < 30; i++) {
      await client.register(registration(`i${i}`, 'calc', { metadata }), 1000);
    }
    await client.register(registration('j1', 'other'), 1000);
    const partial = await client.lookup('calc', undefined, 1000);
    expect(partial.truncated).toBe(true);
    expect(partial.instances.length).toBeGreaterThan(0);
    expect(partial.instances.length).toBeLessThan(30);
    expect((await client.lookup('other', undefined, 1000)).truncated).toBeUndefined();
  });

  test('nats broker client - a listing asked unless the generation held is unchanged, and lists nothing', async () => {
    const { client, spy } = await setup();
    await client.register(registration('i1', 'calc'), 1000);
    const first = await client.list(1000);
    const asked = collect(spy, subjects.list);
    const again = await client.list(1000, first.generation);
    expect(again).toEqual({
      site: 'a',
      services: [],
      generation: first.generation,
      unchanged: true,
    });
    expect(bodies(asked.messages)).toEqual([{ v: V, unless: first.generation }]);
  });

  test('nats broker client - the generation is the first page’s, and unless goes with the first page only', async () => {
    const { client, nc } = await setup({ broker: false });
    const pages: Record<string, object> = {
      first: { v: V, site: 'a', services: [svc('s1')], next: 'k1', generation: 'g1' },
      k1: { v: V, site: 'a', services: [svc('s2')], generation: 'g2', unchanged: true },
    };
    const asked = fakeBroker(nc.bus.connect(), subjects.list, (body) => {
      const after = (body as { after?: string }).after;
      return pages[after ?? 'first'];
    });
    const listing = await client.list(1000, 'g0');
    expect(asked).toEqual([
      { v: V, unless: 'g0' },
      { v: V, after: 'k1' },
    ]);
    expect(listing).toEqual({ site: 'a', services: [svc('s1'), svc('s2')], generation: 'g1' });
  });

  test('nats broker client - a broker that hands back the same cursor is not asked again', async () => {
    const { client, nc } = await setup({ broker: false });
    const asked = fakeBroker(nc.bus.connect(), subjects.list, () => ({
      v: V,
      site: 'a',
      services: [],
      next: 'same',
    }));
    const listing = await client.list(1000);
    expect(asked).toHaveLength(2);
    expect(listing.services).toEqual([]);
  });

  test('nats broker client - a listing past MAX_LISTING_BYTES in all is UNAVAILABLE (a hostile site sets its page size and count)', async () => {
    const { client, nc } = await setup({ broker: false, maxPayload: 8 * 1024 * 1024 });
    const metadata = { note: 'x'.repeat(3_000_000) };
    const page = (n: number) => ({
      v: V,
      site: 'a',
      services: [{ ...svc('calculator'), instances: [instanceView(`i${n}`, { metadata })] }],
      // Twice the pages the limit takes, then the last: without the limit, the listing ends.
      ...(n < (2 * MAX_LISTING_BYTES) / 3_000_000 ? { next: `k${n}` } : {}),
    });
    let n = 0;
    const asked = fakeBroker(nc.bus.connect(), subjects.list, () => page(++n));
    const err = await rejection(client.list(5000));
    expect(err).toMatchObject({ code: 'UNAVAILABLE', completed: 'no' });
    expect(err.message).toBe(`the listing of site 'a' exceeds ${MAX_LISTING_BYTES / 2 ** 20} MiB`);
    const pageBytes = codec.encode(page(1)).length;
    expect(asked.length).toBe(Math.floor(MAX_LISTING_BYTES / pageBytes) + 1);
  });

  test('nats broker client - no broker is UNAVAILABLE, completion no, saying so', async () => {
    const { client } = await setup({ broker: false });
    const err = await rejection(client.info(1000));
    expect(err).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message: 'no broker answered on this site (no responders)',
    });
  });

  test('nats broker client - a broker silent past the timeout is UNAVAILABLE, completion no', async () => {
    const { client, nc } = await setup({ broker: false });
    nc.bus.connect().subscribe(subjects.info, { callback: () => {} });
    const err = await rejection(client.info(5));
    expect(err).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message: 'no broker answered on this site (broker: no reply within 5 ms)',
    });
  });

  test('nats broker client - an error reply is thrown as it came; other failures as they are', async () => {
    const { client } = await setup({ maxPayload: 4096 });
    const bad = await rejection(
      client.register(registration('i1', 'calc', { heartbeatMs: 1 }), 1000),
    );
    expect(bad).toMatchObject({ code: ErrorCode.BAD_REQUEST, site: 'a' });
    const metadata = { note: 'x'.repeat(5000) };
    const big = await rejection(client.register(registration('i1', 'calc', { metadata }), 1000));
    expect(big.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
  });

  test('nats broker client - heartbeats and deregistrations are published to the kind of instance they are about', async () => {
    const { client, spy } = await setup({ broker: false });
    const sent = collect(spy, 'sb.broker.>');
    const server = registration('i1', 'calc');
    const route = registration('r1', 'calc', { route: { site: 'c', path: ['c'] } });
    client.heartbeat(server);
    client.heartbeat(route, true);
    client.deregister(server);
    client.deregister(route);
    await sent.atLeast(4);
    expect(sent.messages.map((m) => [m.subject, codec.decode(m.data)])).toEqual([
      [subjects.services.heartbeat('calc'), { v: V, id: 'i1', secret: SECRET }],
      [subjects.routes.heartbeat('calc'), { v: V, id: 'r1', secret: SECRET, resumed: true }],
      [subjects.services.deregister('calc'), { v: V, id: 'i1', secret: SECRET }],
      [subjects.routes.deregister('calc'), { v: V, id: 'r1', secret: SECRET }],
    ]);
  });

  test('nats broker client - a session renewal names the routes gone only when there are some, and says resumed only when so', async () => {
    const { client, spy } = await setup({ broker: false });
    const sent = collect(spy, subjects.routeRenew);
    const session = { id: 's1', secret: SECRET };
    const gone = ['r1'];
    client.renewSession(session, { routes: 3, held: 4, gone: [] });
    client.renewSession(session, { routes: 2, held: 2, gone, resumed: false });
    client.renewSession(session, { routes: 2, held: 2, gone: [], resumed: true });
    await sent.atLeast(3);
    expect(bodies(sent.messages)).toEqual([
      { v: V, session: 's1', secret: SECRET, routes: 3, held: 4 },
      { v: V, session: 's1', secret: SECRET, routes: 2, held: 2, gone: ['r1'] },
      { v: V, session: 's1', secret: SECRET, routes: 2, held: 2, resumed: true },
    ]);
  });

  test('nats broker client - registry events reach every listener through one subscription, until each leaves', async () => {
    const { client, nc } = await setup();
    const before = nc.subscriptions.length;
    const one: InstanceEvent[] = [];
    const two: InstanceEvent[] = [];
    const offOne = client.onInstanceEvent((e) => one.push(e));
    client.onInstanceEvent((e) => two.push(e));
    expect(nc.subscriptions.length).toBe(before + 1);
    await nc.flush();
    await client.register(registration('i1', 'calc'), 1000);
    await idle();
    expect(one).toEqual([
      {
        kind: 'up',
        service: 'calc',
        id: 'i1',
        site: 'a',
        reason: undefined,
        view: instanceView('i1', { service: 'calc', methods: ['m'] }),
        since: expect.stringMatching(/^b1\.\w+\.0$/),
        generation: expect.stringMatching(/^b1\.\w+\.1$/),
      },
    ]);
    offOne();
    client.deregister(registration('i1', 'calc'));
    await idle();
    expect(one).toHaveLength(1);
    expect(two.map((e) => [e.kind, e.reason, e.since, e.generation])).toEqual([
      ['up', undefined, one[0]!.since, one[0]!.generation],
      ['down', 'deregistered', one[0]!.generation, one[0]!.generation!.replace(/1$/, '2')],
    ]);
  });

  test('nats broker client - broker events are heard; a malformed one is dropped and logged', async () => {
    const { client, nc, logger } = await setup({ broker: false });
    const heard: unknown[] = [];
    client.onBrokerEvent((e) => heard.push(e));
    await nc.flush();
    const broker = await Broker.start({
      site: 'a',
      id: 'b2',
      warmupMs: 0,
      connection: nc.bus.connect(),
    });
    closing.push(broker);
    nc.bus.connect().publish(subjects.brokerEvents, codec.encode({ v: V, kind: 'exploded' }));
    await idle();
    expect(heard).toEqual([{ kind: 'started', site: 'a', brokerId: 'b2' }]);
    expect(logger.at('warn')).toHaveLength(1);
  });

  test('nats broker client - a control message asks the instance, or the session, to register again', async () => {
    const { client, spy } = await setup({ broker: false });
    let asked = 0;
    let lost = 0;
    const off = client.onReregister(registration('i1', 'calc'), () => asked++);
    const asks: boolean[] = [];
    client.onSessionLost({ id: 's1', secret: SECRET }, ({ batches }) => {
      lost++;
      asks.push(batches);
    });
    await idle();
    const control = codec.encode({ v: V, kind: 'reregister' });
    spy.publish(subjects.control('calc', 'i1'), control);
    spy.publish(subjects.control('calc', 'i1'), codec.encode({ v: V, kind: 'nonsense' }));
    spy.publish(subjects.session('s1'), control);
    spy.publish(subjects.session('s1'), codec.encode({ v: V, kind: 'reregister', batch: true }));
    await idle();
    expect([asked, lost]).toEqual([1, 2]);
    // Only a broker that says so takes batches.
    expect(asks).toEqual([false, true]);
    off();
    spy.publish(subjects.control('calc', 'i1'), control);
    await idle();
    expect(asked).toBe(1);
  });

  test('nats broker client - an ask tagged for another secret is ignored: a heartbeat or renewal was forged', async () => {
    const { client, spy } = await setup({ broker: false });
    const heard: string[] = [];
    client.onReregister(registration('i1', 'calc'), () => heard.push('instance'));
    client.onSessionLost({ id: 's1', secret: SECRET }, () => heard.push('session'));
    await idle();
    const ask = (holder: unknown) => codec.encode({ v: V, kind: 'reregister', holder });
    for (const subject of [subjects.control('calc', 'i1'), subjects.session('s1')]) {
      spy.publish(subject, ask(holderTag('forged-secret-of-16')));
      spy.publish(subject, ask(42));
      spy.publish(subject, ask(holderTag(SECRET)));
    }
    await idle();
    expect(heard).toEqual(['instance', 'session']);
  });

  test('nats broker client - link states follow the connection: down on disconnect, up on reconnect, nothing else', async () => {
    const { client, nc } = await setup({ broker: false });
    const states: string[] = [];
    const off = client.onLinkState((s) => states.push(s));
    client.onLinkState(() => {});
    nc.disconnect();
    nc.emitStatus({ type: 'pingTimer', data: 1 } as Status);
    nc.reconnect();
    await idle();
    expect(states).toEqual(['down', 'up']);
    off();
    nc.disconnect();
    await idle();
    expect(states).toHaveLength(2);
  });

  test('nats broker client - close stops every subscription and stream; what is sent after is dropped', async () => {
    const { client, nc, spy, bus } = await setup({ broker: false });
    const states: string[] = [];
    client.onLinkState((s) => states.push(s));
    client.onInstanceEvent(() => {});
    client.onReregister(registration('i1', 'calc'), () => {});
    const sent = collect(spy, 'sb.>');
    const subs = nc.subscriptions.length;
    client.close();
    client.close();
    expect(nc.subscriptions.length).toBe(subs - 2);
    client.heartbeat(registration('i1', 'calc'));
    client.onLinkState((s) => states.push(s));
    nc.disconnect();
    await idle();
    expect(states).toEqual([]);
    expect(sent.messages).toHaveLength(0);
    expect(bus.subscriptionCount).toBeGreaterThan(0);
  });

  test('nats broker client - nothing is published or unsubscribed on a closed connection', async () => {
    const { client, nc, spy } = await setup({ broker: false });
    const off = client.onReregister(registration('i1', 'calc'), () => {});
    await nc.close();
    expect(() => off()).not.toThrow();
    expect(() => client.heartbeat(registration('i1', 'calc'))).not.toThrow();
    expect(() => client.close()).not.toThrow();
    const sent = collect(spy, 'sb.>');
    await idle();
    expect(sent.messages).toHaveLength(0);
  });
});

function svc(name: string) {
  return { name, version: '1.0.0', methods: ['m'], instances: [] };
}
