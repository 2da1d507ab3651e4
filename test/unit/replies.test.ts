/**
 * The doors of every component over the in-memory NATS: `listen` (requests
 * and notices, and what a handler throws), `takeCalls` (calls, probes,
 * unreadable calls, handlers that throw), and the ways replies are sent.
 */
import { NatsError, ErrorCode as NatsErrorCode } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  callHeaders,
  cancelHeaders,
  ErrorCode,
  errorReplyHeaders,
  Header,
  probeHeaders,
  SwitchboardError,
} from '../../src/protocol/index.js';
import {
  answerWith,
  type CallRequest,
  headersOf,
  type ListenContext,
  listen,
  respondError,
  respondValue,
  takeCalls,
} from '../../src/transport/index.js';
import { collect, idle, MemoryBus, type MemoryConnection } from '../support/memory-nats.js';
import { callMeta } from '../support/memory-site.js';
import { codec, errorIn, RecordingLogger, resultIn, V } from '../support/memory-wire.js';

function setup(maxPayload = 1024 * 1024, site: string | undefined = 'a') {
  const bus = new MemoryBus({ maxPayload });
  const nc = bus.connect({ name: 'listener' });
  const peer = bus.connect({ name: 'peer' });
  const logger = new RecordingLogger();
  const ctx: ListenContext = { nc, codec, logger, site: () => site };
  return { bus, nc, peer, logger, ctx };
}

/** Sends `data` to `subject` with a reply subject, and collects what comes back there. */
function send(peer: MemoryConnection, subject: string, data = codec.encode(1), headers?: unknown) {
  const inbox = `_INBOX.${Math.random().toString(36).slice(2)}`;
  const replies = collect(peer, inbox);
  peer.publish(subject, data, { reply: inbox, headers: headers as never });
  return replies;
}

const refusal = () => new SwitchboardError(ErrorCode.BAD_REQUEST, 'no thanks', { completed: 'no' });
const OK_REPLY = { ok: true, body: codec.encode(3) } as const;

describe('listen', () => {
  test('listen - a handler that throws a SwitchboardError answers it, with the site when it names none, and logs a warning', async () => {
    const { ctx, peer, logger } = setup();
    listen(ctx, 's', () => {
      throw refusal();
    });
    const err = errorIn(await send(peer, 's').nth(0));
    expect(err).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      message: 'no thanks',
      site: 'a',
      completed: 'no',
    });
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message: 'rejected a message: no thanks',
        fields: { subject: 's', code: ErrorCode.BAD_REQUEST },
      },
    ]);
  });

  test('listen - an error that names its site keeps it; with no site known none is added', async () => {
    const { ctx: known, peer } = setup();
    const ctx = { ...known, site: () => undefined };
    listen(ctx, 's', () => {
      throw new SwitchboardError(ErrorCode.FORBIDDEN, 'no', { completed: 'no', site: 'z' });
    });
    listen(ctx, 't', () => {
      throw refusal();
    });
    expect(errorIn(await send(peer, 's').nth(0)).site).toBe('z');
    expect(errorIn(await send(peer, 't').nth(0)).site).toBeUndefined();
  });

  test('listen - anything else thrown or rejected is INTERNAL, completion maybe, logged as an error', async () => {
    const { ctx, peer, logger } = setup();
    listen(ctx, 's', () => {
      throw new Error('oops');
    });
    listen(ctx, 't', async () => {
      throw 'bare';
    });
    const thrown = errorIn(await send(peer, 's').nth(0));
    expect(thrown).toMatchObject({
      code: ErrorCode.INTERNAL,
      completed: 'maybe',
      message: 'internal error: Error: oops',
    });
    const rejected = errorIn(await send(peer, 't').nth(0));
    expect(rejected.message).toBe('internal error: bare');
    expect(logger.at('error')).toEqual([
      'rejected a message: internal error: Error: oops',
      'rejected a message: internal error: bare',
    ]);
  });

  test('listen - a result is whatever the handler sends; a handler that returns nothing answers nothing itself', async () => {
    const { ctx, peer } = setup();
    listen(ctx, 's', (msg) => respondValue(msg, codec, { ok: 1 }));
    listen(ctx, 't', async () => {});
    expect(resultIn(await send(peer, 's').nth(0))).toEqual({ ok: 1 });
    const silent = send(peer, 't');
    await idle();
    expect(silent.messages).toHaveLength(0);
  });

  test('listen - a notice subject answers nothing, and a message without a reply subject gets nothing', async () => {
    const { ctx, peer, logger } = setup();
    listen(
      ctx,
      'notice',
      () => {
        throw refusal();
      },
      { answers: false },
    );
    listen(ctx, 's', () => {
      throw refusal();
    });
    const notice = send(peer, 'notice');
    const everything = collect(peer, '_INBOX.>');
    peer.publish('s', codec.encode(1));
    await idle();
    expect(notice.messages).toHaveLength(0);
    expect(everything.messages).toHaveLength(0);
    expect(logger.at('warn')).toHaveLength(2);
  });

  test('listen - members of a queue group share the messages', async () => {
    const { ctx, peer } = setup();
    const got: string[] = [];
    listen(ctx, 's', () => void got.push('one'), { queue: 'q' });
    listen(ctx, 's', () => void got.push('two'), { queue: 'q' });
    peer.publish('s', codec.encode(1));
    peer.publish('s', codec.encode(2));
    await idle();
    expect(got.sort()).toEqual(['one', 'two']);
  });

  test('listen - an error reply that cannot be sent is logged', async () => {
    const { ctx, peer, logger, bus } = setup();
    listen(ctx, 's', () => {
      bus.maxPayload = 1;
      throw refusal();
    });
    send(peer, 's');
    await idle();
    expect(logger.lines.at(-1)).toEqual({
      level: 'error',
      message: 'cannot send an error reply',
      fields: { error: 'NatsError: MAX_PAYLOAD_EXCEEDED' },
    });
  });

  test('listen - a refusal of the subscription by NATS is left to the permission watch; other failures are logged', () => {
    const { ctx, logger } = setup();
    const sub = listen(ctx, 's', () => {}) as unknown as { fail(err: NatsError): void };
    sub.fail(NatsError.errorForCode(NatsErrorCode.PermissionsViolation));
    expect(logger.lines).toEqual([]);
    sub.fail(NatsError.errorForCode(NatsErrorCode.Timeout));
    expect(logger.at('error')).toEqual(['subscription s failed: TIMEOUT']);
  });
});

const SUBJECT = 'sb.instance.calc.i1';
const meta = () => callMeta('calc', { callId: 'c1', method: 'add', budgetMs: 1000, path: ['a'] });

describe('take calls', () => {
  test('take calls - a call is read once and handed over with the time it arrived', async () => {
    const { ctx, peer } = setup();
    const taken: Array<[CallRequest, number]> = [];
    takeCalls(
      ctx,
      SUBJECT,
      (call, at) => void taken.push([call, at]),
      () => [],
    );
    const before = Date.now();
    send(peer, SUBJECT, codec.encode([1, 2]), callHeaders(meta()).forNats());
    await idle();
    expect(taken).toHaveLength(1);
    const [call, at] = taken[0]!;
    expect(call.meta).toEqual(meta());
    expect(call.replyTo).toBeUndefined();
    expect(call.cancel).toBe(false);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  test('take calls - a call that cannot be read is BAD_REQUEST on its own reply subject, never on its sb-reply', async () => {
    const { ctx, peer } = setup();
    let handled = 0;
    takeCalls(
      ctx,
      SUBJECT,
      () => void handled++,
      () => [],
    );
    const bare = send(peer, SUBJECT);
    expect(errorIn(await bare.nth(0))).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      message: 'call has no headers',
      site: 'a',
    });
    const elsewhere = collect(peer, '_INBOX.victim');
    const badReply = callHeaders(meta(), [Header.replyTo, 'not.an.inbox']).forNats();
    const replies = send(peer, SUBJECT, codec.encode(1), badReply);
    expect(errorIn(await replies.nth(0)).message).toBe(
      "sb-reply header 'not.an.inbox' is not an inbox subject",
    );
    const forged = callHeaders({ ...meta(), budgetMs: -1 }, [Header.replyTo, '_INBOX.victim']);
    peer.publish(SUBJECT, codec.encode(1), { headers: forged.forNats() });
    await idle();
    expect(elsewhere.messages).toHaveLength(0);
    expect(handled).toBe(1);
  });

  test('take calls - an unreadable call without a reply subject is only logged', async () => {
    const { ctx, peer, logger } = setup();
    takeCalls(
      ctx,
      SUBJECT,
      () => {},
      () => [],
    );
    const all = collect(peer, '_INBOX.>');
    peer.publish(SUBJECT, codec.encode(1));
    await idle();
    expect(all.messages).toHaveLength(0);
    expect(logger.at('warn')).toEqual(['rejected a message: call has no headers']);
  });

  test('take calls - what a handler throws or rejects with is the call’s answer; a broker’s call answers its caller', async () => {
    const { ctx, peer } = setup();
    takeCalls(
      ctx,
      SUBJECT,
      (call) => {
        if (call.meta.callId === 'c1') throw refusal();
        return Promise.reject(new Error('late'));
      },
      () => [],
    );
    expect(
      errorIn(await send(peer, SUBJECT, codec.encode(1), callHeaders(meta()).forNats()).nth(0)),
    ).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      site: 'a',
    });
    const caller = collect(peer, '_INBOX.caller');
    const forwarded = callHeaders({ ...meta(), callId: 'c2' }, [Header.replyTo, '_INBOX.caller']);
    const broker = send(peer, SUBJECT, codec.encode(1), forwarded.forNats());
    expect(errorIn(await caller.nth(0))).toMatchObject({
      code: ErrorCode.INTERNAL,
      message: 'internal error: Error: late',
    });
    expect((await broker.nth(0)).data).toHaveLength(0);
  });

  test('take calls - a cancel notice whose handler throws gets no answer', async () => {
    const { ctx, peer, logger } = setup();
    takeCalls(
      ctx,
      SUBJECT,
      () => {
        throw refusal();
      },
      () => [],
    );
    const replies = send(peer, SUBJECT, new Uint8Array(0), cancelHeaders(meta()).forNats());
    await idle();
    expect(replies.messages).toHaveLength(0);
    expect(logger.at('warn')).toEqual([]);
  });

  test('take calls - a probe is answered with the listed calls still held, and never handed over', async () => {
    const { ctx, peer } = setup();
    let handled = 0;
    const asked: string[][] = [];
    takeCalls(
      ctx,
      SUBJECT,
      () => void handled++,
      (ids) => {
        asked.push([...ids]);
        return ids.filter((id) => id !== 'gone');
      },
    );
    const body = codec.encode({ v: V, calls: ['c1', 'gone'] });
    const reply = await send(peer, SUBJECT, body, probeHeaders().forNats()).nth(0);
    expect(resultIn(reply)).toEqual({ v: V, held: ['c1'] });
    expect(asked).toEqual([['c1', 'gone']]);
    expect(handled).toBe(0);
  });

  test('take calls - a probe without a reply subject is dropped; a malformed one is BAD_REQUEST', async () => {
    const { ctx, peer } = setup();
    let asked = 0;
    takeCalls(
      ctx,
      SUBJECT,
      () => {},
      () => {
        asked++;
        return [];
      },
    );
    peer.publish(SUBJECT, codec.encode({ v: V, calls: ['c1'] }), {
      headers: probeHeaders().forNats(),
    });
    const bad = send(peer, SUBJECT, codec.encode({ v: V }), probeHeaders().forNats());
    expect(errorIn(await bad.nth(0)).code).toBe(ErrorCode.BAD_REQUEST);
    await idle();
    expect(asked).toBe(0);
  });

  test('take calls - a probe answer that cannot be sent is logged', async () => {
    const { ctx, peer, logger, nc } = setup();
    takeCalls(
      ctx,
      SUBJECT,
      () => {},
      () => {
        void nc.close();
        return [];
      },
    );
    send(peer, SUBJECT, codec.encode({ v: V, calls: ['c1'] }), probeHeaders().forNats());
    await idle();
    await idle();
    expect(logger.at('warn')).toEqual(['cannot answer a probe: NatsError: CONNECTION_CLOSED']);
  });
});

describe('answers', () => {
  test('answers - respondError sends the error marked as one, and nothing without a reply subject', async () => {
    const { nc, peer } = setup();
    const err = refusal();
    let sentReply = 0;
    nc.subscribe('s', {
      callback: (_e, msg) => {
        respondError(msg, codec, err);
        sentReply++;
      },
    });
    const replies = send(peer, 's');
    peer.publish('s', codec.encode(1));
    expect(errorIn(await replies.nth(0))).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      message: 'no thanks',
    });
    expect(headersOf(replies.messages[0]!)?.get(Header.status)).toBe('err');
    await idle();
    expect(sentReply).toBe(2);
    expect(replies.messages).toHaveLength(1);
  });

  test('answers - answerWith passes a result, an error reply as received, or an error encoded here', async () => {
    const { nc, peer, logger } = setup();
    const errorBody = codec.encode(refusal().toData());
    const replies = [
      { ok: true as const, body: codec.encode('result') },
      { ok: false as const, error: refusal(), body: errorBody },
      {
        ok: false as const,
        error: new SwitchboardError(ErrorCode.TIMEOUT, 'slow', { completed: 'maybe' }),
      },
    ];
    let i = 0;
    nc.subscribe('s', {
      callback: (_e, msg) =>
        answerWith(nc, { msg, replyTo: undefined }, codec, replies[i++]!, logger),
    });
    const got = [send(peer, 's'), send(peer, 's'), send(peer, 's')];
    expect(resultIn(await got[0]!.nth(0))).toBe('result');
    const passed = await got[1]!.nth(0);
    expect(passed.data).toEqual(errorBody);
    expect(errorIn(passed).message).toBe('no thanks');
    expect(errorIn(await got[2]!.nth(0))).toMatchObject({
      code: ErrorCode.TIMEOUT,
      message: 'slow',
    });
    expect(logger.lines).toEqual([]);
  });

  test('answers - a result too large for NATS becomes PAYLOAD_TOO_LARGE, completion yes; a failed error reply is only logged', async () => {
    const { nc, peer, logger } = setup(200);
    const replies = [
      { ok: true as const, body: new Uint8Array(300) },
      { ok: false as const, error: refusal(), body: new Uint8Array(300) },
    ];
    let i = 0;
    nc.subscribe('s', {
      callback: (_e, msg) =>
        answerWith(nc, { msg, replyTo: undefined }, codec, replies[i++]!, logger),
    });
    const big = send(peer, 's');
    expect(errorIn(await big.nth(0))).toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
      completed: 'yes',
      message: "the result: message exceeds the NATS server's max_payload",
    });
    const lost = send(peer, 's');
    await idle();
    expect(lost.messages).toHaveLength(0);
    expect(logger.at('warn')).toEqual([
      'cannot pass a reply on: MAX_PAYLOAD_EXCEEDED',
      'cannot pass a reply on: MAX_PAYLOAD_EXCEEDED',
    ]);
  });

  test('answers - a forwarded call whose broker takes done notices in batches gets one batch per inbox for the calls that ended together', async () => {
    const { nc, peer, logger } = setup();
    nc.subscribe('s', {
      callback: (_e, msg) =>
        answerWith(nc, { msg, replyTo: '_INBOX.caller', done: true }, codec, OK_REPLY, logger),
    });
    const caller = collect(peer, '_INBOX.caller');
    const own = collect(peer, '_INBOX.broker.*');
    for (const token of ['t1', 't2', 't3'])
      peer.publish('s', codec.encode(1), { reply: `_INBOX.broker.${token}` });
    // A reply subject that is an inbox without a token gets its empty notice alone, as before.
    const elsewhere = send(peer, 's');
    await caller.nth(3);
    const batch = await own.nth(0);
    expect(batch.subject).toBe('_INBOX.broker.~done');
    expect(Buffer.from(batch.data).toString()).toBe('t1 t2 t3');
    expect((await elsewhere.nth(0)).data).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(own.messages).toHaveLength(1);
  });

  test('answers - an answer to a forwarded call goes to sb-reply, with an empty notice to the broker', async () => {
    const { nc, peer, logger } = setup();
    nc.subscribe('s', {
      callback: (_e, msg) =>
        answerWith(
          nc,
          { msg, replyTo: '_INBOX.caller' },
          codec,
          { ok: false, error: refusal(), body: codec.encode(refusal().toData()) },
          logger,
        ),
    });
    const caller = collect(peer, '_INBOX.caller');
    const broker = send(peer, 's');
    expect(headersOf(await caller.nth(0))?.get(Header.status)).toBe('err');
    expect((await broker.nth(0)).data).toHaveLength(0);
    expect(errorReplyHeaders().get(Header.status)).toBe('err');
  });
});
