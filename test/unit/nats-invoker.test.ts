/**
 * The NATS invoker over a fake connection: what a call carries on the wire,
 * how each failure is reported to the failover loop, cancel notices, and
 * probes of the calls in flight to an instance that moved.
 */
import type { MsgHdrs, NatsConnection } from 'nats';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { CallReply } from '../../src/core/index.js';
import {
  Codec,
  ErrorCode,
  errorReplyHeaders,
  Header,
  PROTOCOL_VERSION,
  SwitchboardError,
} from '../../src/protocol/index.js';
import type { SiteConnection } from '../../src/transport/connection.js';
import { NatsInvoker } from '../../src/transport/nats-invoker.js';
import { RequestChannel } from '../../src/transport/request-channel.js';
import { silentLogger } from '../../src/util/index.js';
import { FakeNats } from '../support/fake-nats.js';
import { args, callMeta, errorOf, resultOf, subjects } from '../support/memory-site.js';

const codec = new Codec();
const INSTANCE = subjects.instance('calc', 'i1');

function open() {
  const nc = new FakeNats();
  const channel = new RequestChannel(nc as unknown as NatsConnection);
  const conn: SiteConnection = {
    nc: nc as unknown as NatsConnection,
    subjects,
    logger: silentLogger,
    peerLog: silentLogger,
    inboxPrefix: '_INBOX',
    reconnectGraceMs: 0,
    release: async () => {},
  };
  return { nc, channel, invoker: new NatsInvoker(conn, channel, codec, () => 'a') };
}

function call(
  fields: { replyTo?: string; signal?: AbortSignal; callId?: string; timeoutMs?: number } = {},
) {
  const { replyTo, signal, callId = 'c1', timeoutMs = 500 } = fields;
  return {
    meta: callMeta('calc', { callId, method: 'add', budgetMs: timeoutMs, path: ['a'] }),
    body: args(1, 2),
    timeoutMs,
    replyTo,
    signal,
  };
}

/** Headers as the invoker published them. */
function sent(nc: FakeNats, index: number): MsgHdrs {
  return nc.published[index]!.headers!;
}

/** Lets the invoker's promise chains run. */
const turn = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('nats invoker', () => {
  test('nats invoker - a call goes to the subject with its body untouched and its metadata in one header', async () => {
    const { nc, invoker } = open();
    const c = call();
    const pending = invoker.invoke(INSTANCE, c);
    expect(nc.published[0]).toMatchObject({ subject: INSTANCE, data: c.body });
    expect(sent(nc, 0).get(Header.call)).toBe('1;c1;calc;add;500;a;;');
    expect(sent(nc, 0).get(Header.replyTo)).toBe('');
    const body = codec.encode(3);
    nc.reply(0, body);
    expect(await pending).toEqual({ ok: true, body });
  });

  test('nats invoker - a forwarded call names where the answer goes', async () => {
    const { nc, invoker } = open();
    void invoker.invoke(INSTANCE, call({ replyTo: '_INBOX.caller.1' }));
    expect(sent(nc, 0).get(Header.replyTo)).toBe('_INBOX.caller.1');
  });

  test('nats invoker - an error reply is rebuilt, its body kept for relays', async () => {
    const { nc, invoker } = open();
    const pending = invoker.invoke(INSTANCE, call());
    const thrown = new SwitchboardError(ErrorCode.APPLICATION, 'boom', {
      completed: 'yes',
      appCode: 'E42',
    });
    const body = codec.encode(thrown.toData());
    nc.reply(0, body, () => errorReplyHeaders());
    const reply = await pending;
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.APPLICATION, message: 'boom' });
    expect(reply).toMatchObject({ ok: false, body });
  });

  test('nats invoker - an error reply that cannot be read is UNAVAILABLE, completion maybe', async () => {
    const { nc, invoker } = open();
    const pending = invoker.invoke(INSTANCE, call());
    nc.reply(0, new Uint8Array([0xc1]), () => errorReplyHeaders());
    const err = errorOf(await pending);
    expect(err).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
    expect(err.message).toMatch(/^unreadable error reply: /);
  });

  test('nats invoker - no responders at an instance says which instance, stamped with site, service and path', async () => {
    const { nc, invoker } = open();
    const pending = invoker.invoke(INSTANCE, call());
    nc.reply(0, new Uint8Array(), () => ({ code: 503, get: () => '' }));
    const reply = await pending;
    expect(errorOf(reply)).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'no',
      message: 'calc.add: instance i1 did not answer (no responders)',
      site: 'a',
      service: 'calc',
      path: ['a'],
    });
    expect(reply).not.toHaveProperty('linkDown');
    expect(reply).not.toHaveProperty('body');
  });

  test('nats invoker - no responders on the broker subject says that no broker answered', async () => {
    const { nc, invoker } = open();
    const pending = invoker.invoke(subjects.call('calc'), call());
    nc.reply(0, new Uint8Array(), () => ({ code: 503, get: () => '' }));
    expect(errorOf(await pending).message).toBe(
      'calc.add: no broker of this site answered (no responders)',
    );
  });

  test('nats invoker - a timeout keeps its message and completion, stamped with the site', async () => {
    const { invoker } = open();
    const pending = invoker.invoke(INSTANCE, call());
    await vi.advanceTimersByTimeAsync(500);
    expect(errorOf(await pending)).toMatchObject({
      code: ErrorCode.TIMEOUT,
      completed: 'maybe',
      message: 'calc.add: no reply within 500 ms',
      site: 'a',
    });
  });

  test('nats invoker - a call cut off by our own link going down is marked linkDown', async () => {
    const { channel, invoker } = open();
    const pending = invoker.invoke(INSTANCE, call());
    channel.failAll('link down');
    const reply = await pending;
    expect(reply).toMatchObject({ ok: false, linkDown: true });
    expect(errorOf(reply)).toMatchObject({ code: ErrorCode.UNAVAILABLE, completed: 'maybe' });
  });

  test('nats invoker - an abort sends a cancel notice to where the call went', async () => {
    const { nc, invoker } = open();
    const controller = new AbortController();
    const pending = invoker.invoke(INSTANCE, call({ signal: controller.signal }));
    controller.abort();
    expect(errorOf(await pending).code).toBe(ErrorCode.CANCELLED);
    expect(nc.published).toHaveLength(2);
    expect(nc.published[1]).toMatchObject({ subject: INSTANCE, data: undefined });
    expect(sent(nc, 1).get(Header.cancel)).not.toBe('');
    expect(sent(nc, 1).get(Header.call)).toMatch(/^1;c1;calc;add;/);
  });

  test('nats invoker - no cancel notice on a closed connection', () => {
    const { nc, invoker } = open();
    nc.closed = true;
    invoker.cancel(INSTANCE, call().meta);
    expect(nc.published).toHaveLength(0);
  });

  test('nats invoker - abandon fails the calls in flight to that subject only', async () => {
    const { nc, invoker } = open();
    const a = invoker.invoke(INSTANCE, call());
    const b = invoker.invoke(subjects.instance('calc', 'i2'), call({ callId: 'c2' }));
    invoker.abandon(INSTANCE, 'instance i1 left');
    expect(errorOf(await a)).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      completed: 'maybe',
      message: 'instance i1 left',
    });
    nc.reply(1, codec.encode(1));
    expect(resultOf(await b)).toBe(1);
  });

  describe('probes', () => {
    /** Two calls in flight to INSTANCE (c1, c2) and one elsewhere, then a probe. */
    async function probing() {
      const site = open();
      const replies: Record<string, CallReply | undefined> = {};
      const track = (id: string, p: Promise<CallReply>) => {
        void p.then((r) => {
          replies[id] = r;
        });
      };
      track('c1', site.invoker.invoke(INSTANCE, call({ callId: 'c1', timeoutMs: 60_000 })));
      track('c2', site.invoker.invoke(INSTANCE, call({ callId: 'c2', timeoutMs: 60_000 })));
      track(
        'c3',
        site.invoker.invoke(
          subjects.instance('calc', 'i2'),
          call({ callId: 'c3', timeoutMs: 60_000 }),
        ),
      );
      const probe = site.invoker.probe(INSTANCE, 'lost on the way');
      await turn();
      return { ...site, replies, probe };
    }

    test('nats invoker - a probe asks the instance about its calls in flight; those it does not hold fail', async () => {
      const { nc, replies, probe } = await probing();
      const asked = nc.published[3]!;
      expect(asked.subject).toBe(INSTANCE);
      expect(asked.headers?.get(Header.probe)).not.toBe('');
      expect(codec.decode(asked.data!)).toEqual({ v: PROTOCOL_VERSION, calls: ['c1', 'c2'] });
      nc.reply(3, codec.encode({ v: PROTOCOL_VERSION, held: ['c1'] }));
      await probe;
      await turn();
      expect(replies.c1).toBeUndefined();
      expect(errorOf(replies.c2!)).toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        completed: 'maybe',
        message: 'lost on the way',
      });
      expect(replies.c3).toBeUndefined();
    });

    test('nats invoker - a probe nobody takes fails every call in flight there', async () => {
      const { nc, replies, probe } = await probing();
      nc.reply(3, new Uint8Array(), () => ({ code: 503, get: () => '' }));
      await probe;
      await turn();
      expect(Object.keys(replies).sort()).toEqual(['c1', 'c2']);
    });

    test('nats invoker - a probe unanswered, refused or answered with nonsense fails nothing', async () => {
      for (const answer of [
        (nc: FakeNats) => nc.reply(3, codec.encode({ v: PROTOCOL_VERSION, nonsense: 1 })),
        (nc: FakeNats) =>
          nc.reply(
            3,
            codec.encode(new SwitchboardError(ErrorCode.BAD_REQUEST, 'no', {}).toData()),
            () => errorReplyHeaders(),
          ),
        (nc: FakeNats) =>
          nc.reply(3, new Uint8Array(), () => {
            throw new Error('unreadable headers');
          }),
        () => vi.advanceTimersByTimeAsync(1000),
      ]) {
        const { nc, replies, probe, channel } = await probing();
        await answer(nc);
        await probe;
        await turn();
        expect(replies).toEqual({});
        expect(channel.pendingCount).toBe(3);
        channel.close();
      }
    });

    test('nats invoker - no probe on a closed connection, nor when nothing is in flight', async () => {
      const { nc, invoker } = open();
      await invoker.probe(INSTANCE, 'x');
      expect(nc.published).toHaveLength(0);
      void invoker.invoke(INSTANCE, call()).catch(() => {});
      nc.closed = true;
      await invoker.probe(INSTANCE, 'x');
      expect(nc.published).toHaveLength(1);
    });
  });
});
