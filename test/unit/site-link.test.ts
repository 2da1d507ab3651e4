/**
 * A site link over the in-memory NATS when its connection moves within the
 * reconnect grace, or an instance's does; the request channel's bulk
 * endings and reply tokens behind it.
 */
import type { NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import { ErrorCode, type SwitchboardError } from '../../src/protocol/index.js';
import { isLinkFailure, RequestChannel, SiteLink } from '../../src/transport/index.js';
import { collect, idle, MemoryBus } from '../support/memory-nats.js';
import { codec, V } from '../support/memory-wire.js';

const DATA = new Uint8Array([1]);
const meta = (callId: string) => ({
  callId,
  service: 'calc',
  method: 'm',
  budgetMs: 60_000,
  path: ['a'],
});

/** The error a promise rejects with. */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: SwitchboardError) => e,
  );

describe('request channel endings', () => {
  test('request channel - each bulk ending says how far the request got', async () => {
    const bus = new MemoryBus();
    const channel = new RequestChannel(bus.connect() as unknown as NatsConnection);
    bus.connect().subscribe('svc.>', { callback: () => {} });
    const call = failure(channel.request('svc.a', { data: DATA, timeoutMs: 60_000, callId: 'c1' }));
    const plain = failure(channel.request('svc.a', { data: DATA, timeoutMs: 60_000 }));
    const other = failure(
      channel.request('svc.b', { data: DATA, timeoutMs: 60_000, callId: 'c2' }),
    );
    expect([...channel.subjectsOfCalls()].sort()).toEqual(['svc.a', 'svc.b']);
    channel.failAllButCalls('moved');
    const lost = await plain;
    expect(lost).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'maybe',
      message: 'moved',
    });
    expect(isLinkFailure(lost)).toBe(true);
    expect(channel.pendingCount).toBe(2);
    channel.failCalls([...channel.callsTo('svc.a').keys()], 'gone');
    const gone = await call;
    expect(gone).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'maybe',
      message: 'gone',
    });
    expect(isLinkFailure(gone)).toBe(false);
    channel.refuse('svc.b', 'not allowed');
    expect(await other).toMatchObject({
      code: ErrorCode.FORBIDDEN,
      completed: 'no',
      message: 'not allowed',
    });
    expect(channel.subjectsOfCalls().size).toBe(0);
    channel.close();
  });

  test('request channel - reply tokens are a counter then 8 random characters, refilled past the pool', () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const channel = new RequestChannel(nc as unknown as NatsConnection, '_INBOX.t');
    bus.connect().subscribe('svc', { callback: () => {} });
    const sent: string[] = [];
    const original = nc.publish.bind(nc);
    nc.publish = (subject, payload, opts) => {
      sent.push(opts?.reply ?? '');
      original(subject, payload, opts);
    };
    for (let i = 0; i < 1100; i++) {
      channel.request('svc', { data: DATA, timeoutMs: 60_000 }).catch(() => {});
    }
    const tokens = sent.map((reply) => reply.slice(reply.lastIndexOf('.') + 1));
    expect(sent[0]!.startsWith('_INBOX.t.')).toBe(true);
    expect(tokens[0]).toMatch(/^1[A-Za-z0-9_-]{8}$/);
    expect(tokens[35]).toMatch(/^10[A-Za-z0-9_-]{8}$/);
    expect(tokens.every((t, i) => t.length === (i + 1).toString(36).length + 8)).toBe(true);
    expect(tokens.every((t, i) => t.startsWith((i + 1).toString(36)))).toBe(true);
    expect(tokens.every((t) => /^[A-Za-z0-9_-]+$/.test(t))).toBe(true);
    expect(new Set(tokens.map((t) => t.slice(-8))).size).toBeGreaterThan(1090);
    channel.close();
  });
});

describe('site link moves', () => {
  test('site link - a connection back within its grace ends the requests that carry no call and probes the calls', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const link = await SiteLink.open({ connection: nc, reconnectGraceMs: 60_000 }, 'comp', 'a');
    const states: string[] = [];
    link.onGracefulState((s) => states.push(s));
    const peer = bus.connect();
    peer.subscribe('sb.broker.info', { callback: () => {} });
    const calls = collect(peer, 'sb.instance.calc.i1');
    const info = failure(link.brokers.info(60_000));
    const call = link.invoker.invoke('sb.instance.calc.i1', {
      meta: meta('c1'),
      body: DATA,
      timeoutMs: 60_000,
    });
    await calls.nth(0);
    nc.disconnect();
    await idle();
    expect(link.reachable).toBe(true);
    expect(link.connected).toBe(false);
    nc.reconnect();
    expect(await info).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message:
        'no broker answered on this site (the connection to NATS moved mid-call and the answer was lost)',
    });
    const probe = await calls.nth(1);
    expect(codec.decode(probe.data)).toEqual({ v: V, calls: ['c1'] });
    probe.respond(codec.encode({ v: V, held: [] }));
    const reply = await call;
    expect(reply.ok ? undefined : reply.error).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      site: 'a',
      message: 'the connection to NATS moved mid-call and the answer was lost',
    });
    expect(states).toEqual(['moved']);
    await link.close();
  });

  test('site link - a resumed instance is probed on its instance and route subjects; the calls it lost end', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const link = await SiteLink.open({ connection: nc }, 'comp');
    link.abandonCallsOnDeparture();
    await nc.flush();
    const peer = bus.connect();
    const calls = collect(peer, 'sb.instance.calc.i1');
    const routeProbes = collect(peer, 'sb.route.calc.i1');
    const call = link.invoker.invoke('sb.instance.calc.i1', {
      meta: meta('c1'),
      body: DATA,
      timeoutMs: 60_000,
    });
    await calls.nth(0);
    peer.publish(
      'sb.events.registry.calc',
      codec.encode({ v: V, kind: 'resumed', service: 'calc', id: 'i1', site: 'a' }),
    );
    const probe = await calls.nth(1);
    probe.respond(codec.encode({ v: V, held: [] }));
    const reply = await call;
    expect(reply.ok ? undefined : reply.error).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: 'calc instance i1 lost the call when its connection to NATS moved',
    });
    expect(reply.ok ? 'ok' : reply.error.site).toBeUndefined();
    await idle();
    expect(routeProbes.messages).toHaveLength(0);
    await link.close();
  });

  test('site link - the errors of a link with no site of its own name the site its brokers named', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const link = await SiteLink.open({ connection: nc }, 'comp');
    bus.connect().subscribe('sb.broker.info', {
      callback: (_e, m) =>
        m.respond(codec.encode({ v: V, site: 'b', brokerId: 'x', startedAt: 1 })),
    });
    await link.brokers.info(1000);
    const reply = await link.invoker.invoke('sb.instance.calc.nobody', {
      meta: meta('c1'),
      body: DATA,
      timeoutMs: 1000,
    });
    expect(reply.ok ? undefined : reply.error.site).toBe('b');
    await link.close();
  });
});
