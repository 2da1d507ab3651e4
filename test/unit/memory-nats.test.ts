/**
 * The in-memory NATS of the unit tests behaves as NATS does where the
 * wiring relies on it: wildcards, queue groups, order, no responders, the
 * size limit, raw headers, status events.
 */
import { type NatsError, ErrorCode as NatsErrorCode } from 'nats';
import { describe, expect, test, vi } from 'vitest';
import { HeaderBlock } from '../../src/protocol/index.js';
import { headersOf, readsRawHeaders } from '../../src/transport/index.js';
import { collect, idle, MemoryBus, within } from '../support/memory-nats.js';

const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe('memory nats', () => {
  test('memory nats - * matches one token, > one or more, an exact subject only itself', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const star = collect(nc, 'a.*.c');
    const tail = collect(nc, 'a.>');
    const exact = collect(nc, 'a.b');
    for (const subject of ['a.b.c', 'a.b', 'a', 'a.b.c.d', 'a.x.c']) nc.publish(subject, subject);
    await idle();
    expect(star.messages.map((m) => m.subject)).toEqual(['a.b.c', 'a.x.c']);
    expect(tail.messages.map((m) => m.subject)).toEqual(['a.b.c', 'a.b', 'a.b.c.d', 'a.x.c']);
    expect(exact.messages.map((m) => text(m.data))).toEqual(['a.b']);
  });

  test('memory nats - one member of a queue group gets each message, in turn; plain subscribers get all', async () => {
    const bus = new MemoryBus();
    const [q1, q2, plain] = ['q1', 'q2', 'p'].map((name) => bus.connect({ name }));
    const got: string[] = [];
    for (const nc of [q1!, q2!]) {
      nc.subscribe('s', {
        queue: 'g',
        callback: (_e, m) => got.push(`${nc.name}:${text(m.data)}`),
      });
    }
    const all = collect(plain!, 's');
    for (const n of ['1', '2', '3']) plain!.publish('s', n);
    await idle();
    expect(got).toEqual(['q1:1', 'q2:2', 'q1:3']);
    expect(all.messages).toHaveLength(3);
  });

  test('memory nats - delivery comes after the publish, in publish order, and not to later subscribers', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const first = collect(nc, 's');
    nc.publish('s', '1');
    const late = collect(nc, 's');
    nc.publish('s', '2');
    expect(first.messages).toHaveLength(0);
    await nc.flush();
    expect(first.messages.map((m) => text(m.data))).toEqual(['1', '2']);
    expect(late.messages.map((m) => text(m.data))).toEqual(['2']);
  });

  test('memory nats - a message with a reply subject nobody hears gets a 503 with no body', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const inbox = collect(nc, '_INBOX.x');
    nc.publish('nobody', 'hi', { reply: '_INBOX.x' });
    const reply = await inbox.nth(0);
    expect(reply.data).toHaveLength(0);
    expect(headersOf(reply)?.code).toBe(503);
    expect(reply.headers?.code).toBe(503);
    await expect(nc.request('nobody', 'hi')).rejects.toMatchObject({
      code: NatsErrorCode.NoResponders,
    });
  });

  test('memory nats - headers travel raw, as nats.js keeps them, and respond() answers the reply subject', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    nc.subscribe('svc', {
      callback: (_e, m) => {
        expect(readsRawHeaders(m)).toBe(true);
        m.respond(`${headersOf(m)?.get('sb-x')}:${text(m.data)}`);
      },
    });
    const headers = new HeaderBlock([['sb-x', 'v']]).forNats();
    const reply = await nc.request('svc', 'body', { headers });
    expect(text(reply.data)).toBe('v:body');
    expect(headersOf(reply)).toBeUndefined();
  });

  test('memory nats - a publish over max_payload (body and headers) throws MAX_PAYLOAD_EXCEEDED', () => {
    const bus = new MemoryBus({ maxPayload: 100 });
    const nc = bus.connect();
    expect(nc.info.max_payload).toBe(100);
    expect(() => nc.publish('s', new Uint8Array(100))).not.toThrow();
    const headers = new HeaderBlock([['a', 'b']]).forNats();
    expect(() => nc.publish('s', new Uint8Array(95), { headers })).toThrow(
      expect.objectContaining({ code: 'MAX_PAYLOAD_EXCEEDED' }),
    );
  });

  test('memory nats - a disconnected connection hears nothing and holds what it publishes until it is back', async () => {
    const bus = new MemoryBus();
    const a = bus.connect();
    const b = bus.connect();
    const atA = collect(a, 's');
    const atB = collect(b, 't');
    const status = a.status();
    a.disconnect();
    b.publish('s', 'lost');
    a.publish('t', 'held');
    await idle();
    expect(atA.messages).toHaveLength(0);
    expect(atB.messages).toHaveLength(0);
    a.reconnect();
    await idle();
    expect(atB.messages.map((m) => text(m.data))).toEqual(['held']);
    const seen = [(await status.next()).value.type, (await status.next()).value.type];
    expect(seen).toEqual(['disconnect', 'reconnect']);
  });

  test('memory nats - close ends subscriptions and status streams, resolves closed(), refuses publishes', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    collect(nc, 's');
    const status = nc.status();
    expect(bus.subscriptionCount).toBe(1);
    await nc.close();
    await nc.closed();
    expect(nc.isClosed()).toBe(true);
    expect(bus.subscriptionCount).toBe(0);
    expect(await status.next()).toEqual({ value: undefined, done: true });
    let thrown: NatsError | undefined;
    try {
      nc.publish('s');
    } catch (err) {
      thrown = err as NatsError;
    }
    expect(thrown?.code).toBe(NatsErrorCode.ConnectionClosed);
  });

  test('memory nats - a drained subscription still gets what was routed to it, nothing after', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const got = collect(nc, 's');
    nc.publish('s', '1');
    const drained = got.sub.drain();
    nc.publish('s', '2');
    await drained;
    await idle();
    expect(got.messages.map((m) => text(m.data))).toEqual(['1']);
    expect(got.sub.isClosed()).toBe(true);
  });

  test('memory nats - a filter drops the messages it refuses', async () => {
    const bus = new MemoryBus();
    const nc = bus.connect();
    const got = collect(nc, 's');
    bus.filter = (d) => text(d.data) !== 'drop';
    for (const n of ['keep', 'drop', 'keep']) nc.publish('s', n);
    await idle();
    expect(got.messages).toHaveLength(2);
  });

  test('memory nats - works under fake timers; a request times out when the clock passes its timeout', async () => {
    vi.useFakeTimers();
    try {
      const bus = new MemoryBus();
      const nc = bus.connect();
      const got = collect(nc, 's');
      nc.publish('s', 'x');
      await got.nth(0);
      nc.subscribe('silent', { callback: () => {} });
      const pending = nc.request('silent', 'x', { timeout: 50 });
      const outcome = expect(pending).rejects.toMatchObject({ code: NatsErrorCode.Timeout });
      await vi.advanceTimersByTimeAsync(50);
      await outcome;
    } finally {
      vi.useRealTimers();
    }
  });

  test('memory nats - a wait bounded in real time fails naming what it waited for, even under fake timers', async () => {
    vi.useFakeTimers();
    try {
      const never = new Promise<never>(() => {});
      await expect(within(never, () => 'nothing', 10)).rejects.toThrow('waited 10 ms for nothing');
      await expect(within(Promise.resolve(7), () => 'seven', 10)).resolves.toBe(7);
    } finally {
      vi.useRealTimers();
    }
  });
});
