/**
 * The request channel over a fake NATS connection: how each way a request
 * can end is reported (code and completion), with fake timers.
 */
import type { Msg, NatsConnection } from 'nats';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ErrorCode, SwitchboardError } from '../../src/protocol/index.js';
import { isLinkFailure, RequestChannel } from '../../src/transport/request-channel.js';
import { FakeNats } from '../support/fake-nats.js';

function open() {
  const nc = new FakeNats();
  return { nc, channel: new RequestChannel(nc as unknown as NatsConnection) };
}

/** The error a request rejected with. */
async function rejection(request: Promise<Msg>): Promise<SwitchboardError> {
  const err = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SwitchboardError))
    throw new Error(`expected a SwitchboardError, got ${err}`);
  return err;
}

const DATA = new Uint8Array([9]);

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('request channel', () => {
  test('request channel - a reply resolves the request with its message', async () => {
    const { nc, channel } = open();
    const pending = channel.request('svc.a', { data: DATA, timeoutMs: 100 });
    expect(nc.published).toHaveLength(1);
    expect(nc.published[0]).toMatchObject({ subject: 'svc.a', data: DATA });
    expect(nc.published[0]!.reply!.startsWith(nc.subscribedTo.slice(0, -1))).toBe(true);
    expect(channel.pendingCount).toBe(1);
    const msg = nc.reply(0);
    expect(await pending).toBe(msg);
    expect(channel.pendingCount).toBe(0);
  });

  test('request channel - a batch of done notices ends the requests it lists as empty replies; tokens it does not hold, and a batch too long, end nothing', async () => {
    const { nc, channel } = open();
    const requests = [0, 1, 2].map(() => channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    const tokenOf = (i: number) => nc.published[i]!.reply!.split('.').at(-1)!;
    const batch = `${nc.subscribedTo.slice(0, -2)}.~done`;
    nc.deliver(batch, null, Buffer.from(`${tokenOf(0)} guessed  ${tokenOf(2)}`));
    expect(channel.pendingCount).toBe(1);
    for (const i of [0, 2]) expect((await requests[i]!).data).toHaveLength(0);
    nc.deliver(batch, null, Buffer.from(`${tokenOf(1)} ${'x'.repeat(70_000)}`));
    expect(channel.pendingCount).toBe(1);
    nc.deliver(batch, null, Buffer.from(tokenOf(1)));
    expect((await requests[1]!).data).toHaveLength(0);
  });

  test('request channel - no reply in time is TIMEOUT with completion maybe, naming the target', async () => {
    const { channel } = open();
    const pending = rejection(
      channel.request('svc.a', { data: DATA, timeoutMs: 250, target: 'calc.add' }),
    );
    await vi.advanceTimersByTimeAsync(249);
    expect(channel.pendingCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const err = await pending;
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT, completed: 'maybe' });
    expect(err.message).toBe('calc.add: no reply within 250 ms');
    expect(isLinkFailure(err)).toBe(false);
    expect(channel.pendingCount).toBe(0);
  });

  test('request channel - a timeout without a target names the subject; a late reply is dropped', async () => {
    const { nc, channel } = open();
    const pending = rejection(channel.request('svc.a', { data: DATA, timeoutMs: 10 }));
    await vi.advanceTimersByTimeAsync(10);
    expect((await pending).message).toBe('svc.a: no reply within 10 ms');
    expect(() => nc.reply(0)).not.toThrow();
    expect(channel.pendingCount).toBe(0);
  });

  test('request channel - a 503 status is UNAVAILABLE no responders, completion no', async () => {
    const { nc, channel } = open();
    const pending = rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    nc.reply(0, new Uint8Array(), () => ({ code: 503 }));
    expect(await pending).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message: 'no responders',
    });
  });

  test('request channel - a reply with other headers resolves', async () => {
    const { nc, channel } = open();
    const pending = channel.request('svc.a', { data: DATA, timeoutMs: 100 });
    const msg = nc.reply(0, DATA, () => ({ code: 0 }));
    expect(await pending).toBe(msg);
  });

  test('request channel - a reply whose headers cannot be read fails the request, maybe completed', async () => {
    const { nc, channel } = open();
    const pending = rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    nc.reply(0, DATA, () => {
      throw new Error('bad header block');
    });
    expect(await pending).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'maybe',
      message: 'unreadable reply',
    });
    expect(channel.pendingCount).toBe(0);
  });

  test('request channel - an error from the subscription or a reply to an unknown token changes nothing', async () => {
    const { nc, channel } = open();
    const pending = channel.request('svc.a', { data: DATA, timeoutMs: 100 });
    const reply = nc.published[0]!.reply!;
    nc.deliver(reply, new Error('permissions'));
    nc.deliver(`${reply}x`);
    expect(channel.pendingCount).toBe(1);
    nc.reply(0);
    await pending;
  });

  test('request channel - every request gets its own reply subject', () => {
    const { nc, channel } = open();
    for (let i = 0; i < 50; i++) {
      channel.request('svc.a', { data: DATA, timeoutMs: 100 }).catch(() => {});
    }
    const replies = new Set(nc.published.map((p) => p.reply));
    expect(replies.size).toBe(50);
    channel.close();
  });

  test('request channel - each channel listens on an inbox of its own, 12 random characters after the prefix, as docs/protocol.md says', () => {
    const inboxes = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const nc = new FakeNats();
      const channel = new RequestChannel(nc as unknown as NatsConnection, '_INBOX.site-a');
      expect(nc.subscribedTo).toMatch(/^_INBOX\.site-a\.[A-Za-z0-9_-]{12}\.\*$/);
      inboxes.add(nc.subscribedTo);
      channel.request('svc.a', { data: DATA, timeoutMs: 100 }).catch(() => {});
      expect(nc.published[0]!.reply).toMatch(
        /^_INBOX\.site-a\.[A-Za-z0-9_-]{12}\.[0-9a-z]+[A-Za-z0-9_-]{8}$/,
      );
      channel.close();
    }
    expect(inboxes.size).toBe(200);
    const { nc, channel } = open();
    expect(nc.subscribedTo).toMatch(/^_INBOX\.[A-Za-z0-9_-]{12}\.\*$/);
    channel.close();
  });

  test('request channel - an abort while in flight is CANCELLED maybe and tells onAbort', async () => {
    const { channel } = open();
    const controller = new AbortController();
    const onAbort = vi.fn();
    const pending = rejection(
      channel.request('svc.a', {
        data: DATA,
        timeoutMs: 100,
        signal: controller.signal,
        onAbort,
        target: 'calc.add',
      }),
    );
    controller.abort();
    const err = await pending;
    expect(err).toMatchObject({ code: ErrorCode.CANCELLED, completed: 'maybe' });
    expect(err.message).toBe('calc.add: cancelled by the caller');
    expect(onAbort).toHaveBeenCalledTimes(1);
    expect(channel.pendingCount).toBe(0);
  });

  test('request channel - an abort after the reply changes nothing', async () => {
    const { nc, channel } = open();
    const controller = new AbortController();
    const onAbort = vi.fn();
    const pending = channel.request('svc.a', {
      data: DATA,
      timeoutMs: 100,
      signal: controller.signal,
      onAbort,
    });
    nc.reply(0);
    await pending;
    controller.abort();
    expect(onAbort).not.toHaveBeenCalled();
  });

  test('request channel - a signal already aborted is CANCELLED no, and nothing is sent', async () => {
    const { nc, channel } = open();
    const err = await rejection(
      channel.request('svc.a', { data: DATA, timeoutMs: 100, signal: AbortSignal.abort() }),
    );
    expect(err).toMatchObject({ code: ErrorCode.CANCELLED, completed: 'no' });
    expect(err.message).toBe('call: cancelled by the caller');
    expect(nc.published).toHaveLength(0);
  });

  test('request channel - a payload NATS refuses is PAYLOAD_TOO_LARGE, completion no', async () => {
    const { nc, channel } = open();
    nc.publishError = Object.assign(new Error('too big'), { code: 'MAX_PAYLOAD_EXCEEDED' });
    const err = await rejection(
      channel.request('svc.a', { data: DATA, timeoutMs: 100, target: 'calc.add' }),
    );
    expect(err).toMatchObject({ code: ErrorCode.PAYLOAD_TOO_LARGE, completed: 'no' });
    expect(err.message).toBe("calc.add: message exceeds the NATS server's max_payload");
    expect(channel.pendingCount).toBe(0);
  });

  test('request channel - any other publish failure is UNAVAILABLE, completion no', async () => {
    const { nc, channel } = open();
    nc.publishError = new Error('connection closed');
    const err = await rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'no' });
    expect(err.message).toBe('svc.a: cannot publish: connection closed');
    expect(err.cause).toBe(nc.publishError);
  });

  test('request channel - failAll fails every request as a link failure, maybe completed', async () => {
    const { channel } = open();
    const a = rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    const b = rejection(channel.request('svc.b', { data: DATA, timeoutMs: 100 }));
    channel.failAll('link down');
    for (const err of await Promise.all([a, b])) {
      expect(err).toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        completed: 'maybe',
        message: 'link down',
      });
      expect(isLinkFailure(err)).toBe(true);
    }
    expect(channel.pendingCount).toBe(0);
  });

  test('request channel - failTo fails only the requests to that subject, not as link failures', async () => {
    const { nc, channel } = open();
    const a = rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    const b = channel.request('svc.b', { data: DATA, timeoutMs: 100 });
    channel.failTo('svc.a', 'instance left');
    const err = await a;
    expect(err).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'maybe',
      message: 'instance left',
    });
    expect(isLinkFailure(err)).toBe(false);
    expect(channel.pendingCount).toBe(1);
    nc.reply(1);
    await b;
  });

  test('request channel - callsTo lists the calls in flight to a subject by token; failCalls fails those', async () => {
    const { channel } = open();
    const a = rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100, callId: 'c1' }));
    void channel.request('svc.a', { data: DATA, timeoutMs: 100 }).catch(() => {});
    void channel.request('svc.b', { data: DATA, timeoutMs: 100, callId: 'c3' }).catch(() => {});
    const calls = channel.callsTo('svc.a');
    expect([...calls.values()]).toEqual(['c1']);
    channel.failCalls([...calls.keys(), 'unknown'], 'lost');
    expect(await a).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
    expect(channel.pendingCount).toBe(2);
    channel.close();
  });

  test('request channel - close fails what is in flight as a link failure, unsubscribes once, refuses more', async () => {
    const { nc, channel } = open();
    const a = rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    channel.close();
    const err = await a;
    expect(err.message).toBe('closed while the call was in flight');
    expect(isLinkFailure(err)).toBe(true);
    expect(nc.unsubscribed).toBe(true);
    nc.unsubscribed = false;
    channel.close();
    expect(nc.unsubscribed).toBe(false);
    const refused = await rejection(channel.request('svc.a', { data: DATA, timeoutMs: 100 }));
    expect(refused).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message: 'request channel is closed',
    });
    expect(nc.published).toHaveLength(1);
  });

  test('request channel - close on a closed connection does not unsubscribe', () => {
    const { nc, channel } = open();
    nc.closed = true;
    channel.close();
    expect(nc.unsubscribed).toBe(false);
  });

  test('request channel - isLinkFailure is false for anything else', () => {
    expect(isLinkFailure(new Error('x'))).toBe(false);
    expect(isLinkFailure(undefined)).toBe(false);
    expect(
      isLinkFailure(new SwitchboardError(ErrorCode.UNAVAILABLE, 'x', { completed: 'maybe' })),
    ).toBe(false);
  });
});
