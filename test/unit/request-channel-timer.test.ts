/**
 * The request channel's deadlines, over a fake connection: every request
 * times out at its own deadline although they share one timer, a reply
 * settles its request, and once nothing is pending the timer stays for the
 * next request until its deadline (keeping nothing alive); with
 * real timers, a reply received before a late timer fires still wins.
 */
import { once } from 'node:events';
import net from 'node:net';
import type { Msg, NatsConnection } from 'nats';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ErrorCode, SwitchboardError } from '../../src/protocol/index.js';
import { RequestChannel } from '../../src/transport/index.js';

/** Just what the channel uses of a connection: one subscription, publish, isClosed. */
function fakeConnection() {
  const sent: Array<{ subject: string; reply: string }> = [];
  let deliver: ((err: Error | null, msg: Msg) => void) | undefined;
  const nc = {
    subscribe: (_subject: string, opts: { callback: typeof deliver }) => {
      deliver = opts.callback;
      return { unsubscribe: () => {} };
    },
    publish: (subject: string, _data: Uint8Array, opts: { reply: string }) => {
      sent.push({ subject, reply: opts.reply });
    },
    isClosed: () => false,
  } as unknown as NatsConnection;
  const reply = (to: string) =>
    deliver?.(null, { subject: to, data: new Uint8Array([1]), headers: undefined } as Msg);
  return { nc, sent, reply };
}

/** Checks that the only pending `request` is still pending 1 ms before `ms` from now, and has timed out at `ms`. */
async function timesOutAfter(channel: RequestChannel, request: Promise<Msg>, ms: number) {
  const timedOut = expect(request).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
  await vi.advanceTimersByTimeAsync(ms - 1);
  expect(channel.pendingCount).toBe(1);
  await vi.advanceTimersByTimeAsync(1);
  await timedOut;
}

describe('request channel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('request channel - each request times out at its own deadline, sharing one timer', async () => {
    const { nc } = fakeConnection();
    const channel = new RequestChannel(nc);
    const ended: Array<[string, number]> = [];
    const start = Date.now();
    const track = (name: string, timeoutMs: number) =>
      channel
        .request(`s.${name}`, { data: new Uint8Array(), timeoutMs, target: name })
        .catch((err: SwitchboardError) => {
          expect(err).toBeInstanceOf(SwitchboardError);
          expect(err.code).toBe(ErrorCode.TIMEOUT);
          expect(err.completed).toBe('maybe');
          expect(err.message).toBe(`${name}: no reply within ${timeoutMs} ms`);
          ended.push([name, Date.now() - start]);
        });
    const all = Promise.all([track('slow', 30), track('fast', 10), track('mid', 20)]);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(9);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(25);
    await all;
    expect(ended).toEqual([
      ['fast', 10],
      ['mid', 20],
      ['slow', 30],
    ]);
    expect(vi.getTimerCount()).toBe(0);
    channel.close();
  });

  test('request channel - a reply settles its request; after the last, the idle timer times out nothing and ends', async () => {
    const { nc, sent, reply } = fakeConnection();
    const channel = new RequestChannel(nc);
    const first = channel.request('s.one', { data: new Uint8Array(), timeoutMs: 50 });
    const second = channel.request('s.two', { data: new Uint8Array(), timeoutMs: 50 });
    reply(sent[0]!.reply);
    await expect(first).resolves.toMatchObject({ subject: sent[0]!.reply });
    expect(channel.pendingCount).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    reply(sent[1]!.reply);
    await second;
    // Left armed (keeping nothing alive: test/unit/deadline-timer.test.ts) for the next request.
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(vi.getTimerCount()).toBe(0);
    channel.close();
  });

  test('request channel - one request after another shares the timer armed for the first', async () => {
    const { nc, sent, reply } = fakeConnection();
    const channel = new RequestChannel(nc);
    const armed = vi.spyOn(globalThis, 'setTimeout');
    for (let i = 0; i < 3; i++) {
      const pending = channel.request(`s.${i}`, { data: new Uint8Array(), timeoutMs: 1000 });
      reply(sent[i]!.reply);
      await pending;
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(armed).toHaveBeenCalledTimes(1);
    // Once the idle timer has fired and ended, a new request arms one of its own.
    await vi.advanceTimersByTimeAsync(1000);
    const late = channel.request('s.late', { data: new Uint8Array(), timeoutMs: 1000 });
    await timesOutAfter(channel, late, 1000);
    armed.mockRestore();
    channel.close();
  });

  test('request channel - a request made while the timer is idle times out at its own, later deadline', async () => {
    const { nc, sent, reply } = fakeConnection();
    const channel = new RequestChannel(nc);
    const first = channel.request('s.one', { data: new Uint8Array(), timeoutMs: 50 });
    reply(sent[0]!.reply);
    await first;
    await vi.advanceTimersByTimeAsync(10);
    // Due at 60: the idle timer, armed for 50, fires first and must not end it.
    const second = channel.request('s.two', { data: new Uint8Array(), timeoutMs: 50 });
    await timesOutAfter(channel, second, 50);
    expect(vi.getTimerCount()).toBe(0);
    channel.close();
  });

  test('request channel - close fails what is pending and clears the timer', async () => {
    const { nc } = fakeConnection();
    const channel = new RequestChannel(nc);
    const pending = channel.request('s.one', { data: new Uint8Array(), timeoutMs: 1000 });
    channel.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('request channel, real timers and a real socket', () => {
  test('request channel - after the last reply no timer keeps the process alive', async () => {
    const { nc, sent, reply } = fakeConnection();
    const channel = new RequestChannel(nc);
    const live = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = live();
    try {
      const pending = channel.request('s.one', { data: new Uint8Array(), timeoutMs: 60_000 });
      expect(live()).toBe(before + 1);
      reply(sent[0]!.reply);
      await pending;
      expect(live()).toBe(before);
    } finally {
      channel.close();
    }
  });

  test('request channel - a reply already received when the deadline timer fires late is not a TIMEOUT', async () => {
    // Replies reach the channel through a real loopback socket, as nats.js's do.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const accepted = once(server, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const [peer] = (await accepted) as [net.Socket];
    // One round trip first: the socket is reading before the request is made.
    peer.write('.');
    await once(socket, 'data');
    const { nc, sent, reply } = fakeConnection();
    socket.on('data', () => reply(sent[0]!.reply));
    const channel = new RequestChannel(nc);
    try {
      const answer = channel.request('s.one', { data: new Uint8Array(), timeoutMs: 20 });
      // The answer is in the socket in time; then the process is busy past the deadline,
      // so the timer fires late, before the socket is read.
      peer.write('x');
      const busyUntil = Date.now() + 100;
      while (Date.now() < busyUntil) {}
      await expect(answer).resolves.toMatchObject({ subject: sent[0]!.reply });
    } finally {
      channel.close();
      socket.destroy();
      peer.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
