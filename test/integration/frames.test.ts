/**
 * publishFrame against a real nats-server: what a subscriber receives is what
 * `nc.publish` would have sent, and what nats.js refuses it refuses alike.
 */
import { connect, type Msg, type NatsConnection, headers as natsHeaders } from 'nats';
import { describe, expect, test } from 'vitest';
import { errorReplyHeaders, HeaderBlock, isErrorReply } from '../../src/protocol/index.js';
import { startNatsServer } from '../../src/testing/index.js';
import { answerCall } from '../../src/transport/call-request.js';
import { publishFrame, writesFrames } from '../../src/transport/frames.js';
import { headersOf } from '../../src/transport/received-headers.js';
import { receive, track } from './helpers.js';

async function connection(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  track({ close: () => nc.close() });
  return nc;
}

/** Everything a receiver can tell of a message. */
function seen(msg: Msg) {
  return {
    subject: msg.subject,
    reply: msg.reply,
    data: [...msg.data],
    headers: msg.headers ? [...msg.headers.keys()].map((k) => [k, msg.headers!.get(k)]) : undefined,
    code: msg.headers?.code,
  };
}

const block = () =>
  new HeaderBlock([
    ['sb-call', '1;abc;calc;add;5000;a,b;;^1'],
    ['sb-meta', 'k=caf%C3%A9'],
    ['x-text', 'héllo wörld'],
  ]);

const bodies = [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(2048).fill(7)];
const replies = [undefined, '_INBOX.abc.def'];
const headerSets = [undefined, block, () => natsHeaders(503, 'No Responders')];

function errorOf(publish: () => void): unknown {
  try {
    publish();
  } catch (err) {
    return { name: (err as Error).name, code: (err as { code?: string }).code };
  }
  return 'no error';
}

describe('publishFrame', () => {
  test('frames - writes its own frames with the nats.js installed', async () => {
    const nats = track(await startNatsServer({ name: 'frames' }));
    const nc = await connection(nats.url);
    expect(writesFrames(nc)).toBe(true);
  });

  test('frames - a subscriber receives what nc.publish sends, in the order published', async () => {
    const nats = track(await startNatsServer({ name: 'frames' }));
    const [sender, receiver] = [await connection(nats.url), await connection(nats.url)];
    const cases = bodies.flatMap((body) =>
      replies.flatMap((reply) => headerSets.map((headers) => ({ body, reply, headers }))),
    );
    const got = receive(receiver, 'frames.test', cases.length * 2);
    await receiver.flush();
    for (const { body, reply, headers } of cases) {
      publishFrame(sender, 'frames.test', body, reply, headers?.());
      sender.publish('frames.test', body, { reply, headers: headers?.() as never });
    }
    await sender.flush();
    const msgs = await got;
    expect(msgs).toHaveLength(cases.length * 2);
    for (let i = 0; i < cases.length; i++) {
      const [framed, published] = [seen(msgs[2 * i]!), seen(msgs[2 * i + 1]!)];
      expect(framed).toEqual(published);
      expect(framed.data).toEqual([...cases[i]!.body]);
      expect(framed.reply).toBe(cases[i]!.reply ?? '');
    }
    const [a, b] = [msgs[2]!, msgs[3]!];
    expect(a.headers?.get('x-text')).toBe(b.headers?.get('x-text'));
  });

  test('frames - counts in nc.stats() as nc.publish does', async () => {
    const nats = track(await startNatsServer({ name: 'frames' }));
    const [framed, published] = [await connection(nats.url), await connection(nats.url)];
    for (const nc of [framed, published]) {
      const before = nc.stats();
      for (const body of bodies) {
        if (nc === framed) publishFrame(nc, 'frames.stats', body, 'r', block());
        else nc.publish('frames.stats', body, { reply: 'r', headers: block().forNats() });
      }
      const after = nc.stats();
      expect({ msgs: after.outMsgs - before.outMsgs }).toEqual({ msgs: bodies.length });
    }
    expect(framed.stats().outBytes).toBe(published.stats().outBytes);
  });

  test('frames - refuses what nc.publish refuses, with its error', async () => {
    const nats = track(await startNatsServer({ name: 'frames', maxPayload: 4096 }));
    const nc = await connection(nats.url);
    const big = new Uint8Array(4097);
    const justFits = new Uint8Array(4096 - Buffer.byteLength(block().text()));
    expect(errorOf(() => publishFrame(nc, 'frames.big', big))).toEqual(
      errorOf(() => nc.publish('frames.big', big)),
    );
    expect(errorOf(() => publishFrame(nc, 'frames.big', justFits, undefined, block()))).toBe(
      'no error',
    );
    const over = new Uint8Array(justFits.length + 1);
    expect(errorOf(() => publishFrame(nc, 'frames.big', over, undefined, block()))).toEqual(
      errorOf(() => nc.publish('frames.big', over, { headers: block().forNats() })),
    );
    expect(errorOf(() => publishFrame(nc, '', bodies[1]!))).toEqual(
      errorOf(() => nc.publish('', bodies[1]!)),
    );
    await nc.close();
    const closed = errorOf(() => publishFrame(nc, 'frames.closed', bodies[1]!));
    expect(closed).toEqual(errorOf(() => nc.publish('frames.closed', bodies[1]!)));
    expect(closed).not.toBe('no error');
  });

  test('frames - headers to a server that does not say it takes them are refused as nc.publish does', async () => {
    const nats = track(await startNatsServer({ name: 'frames' }));
    const nc = await connection(nats.url);
    const info = (nc as unknown as { protocol: { info: { headers?: boolean } } }).protocol.info;
    for (const headers of [undefined, false]) {
      info.headers = headers;
      const refused = errorOf(() => publishFrame(nc, 'frames.h', bodies[1]!, undefined, block()));
      expect(refused).toEqual(
        errorOf(() => nc.publish('frames.h', bodies[1]!, { headers: block().forNats() })),
      );
      expect(refused).not.toBe('no error');
      expect(errorOf(() => publishFrame(nc, 'frames.h', bodies[1]!))).toBe('no error');
    }
  });

  test('frames - a draining connection refuses as nc.publish does', async () => {
    const nats = track(await startNatsServer({ name: 'frames' }));
    const nc = await connection(nats.url);
    const drained = nc.drain();
    // Publishing goes on while the subscriptions drain; both refuse from the same moment.
    for (;;) {
      const framed = errorOf(() => publishFrame(nc, 'frames.drain', bodies[1]!));
      const published = errorOf(() => nc.publish('frames.drain', bodies[1]!));
      expect(framed).toEqual(published);
      if (published !== 'no error') break;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await drained;
  });

  test('frames - answerCall answers on the reply subject, and throws once the connection is closed', async () => {
    const nats = track(await startNatsServer({ name: 'frames' }));
    const [server, caller] = [await connection(nats.url), await connection(nats.url)];
    const calls = server.subscribe('frames.call', { max: 2 });
    await server.flush();
    const answered = caller.request('frames.call', bodies[1]!, { timeout: 5000 });
    const late = caller.request('frames.call', bodies[1]!, { timeout: 300 }).catch(() => 'none');
    const received: Msg[] = [];
    for await (const msg of calls) received.push(msg);
    answerCall(server, { msg: received[0]!, replyTo: undefined }, bodies[2]!, errorReplyHeaders());
    const reply = await answered;
    expect([...reply.data]).toEqual([...bodies[2]!]);
    expect(isErrorReply(headersOf(reply))).toBe(true);
    await server.close();
    expect(
      errorOf(() =>
        answerCall(server, { msg: received[1]!, replyTo: undefined }, bodies[1]!, undefined),
      ),
    ).toEqual({ name: 'NatsError', code: 'CONNECTION_CLOSED' });
    expect(await late).toBe('none');
  });
});
