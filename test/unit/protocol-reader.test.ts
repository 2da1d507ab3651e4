/**
 * The protocol reader against nats.js's own parser: the same byte stream,
 * cut into the same chunks at random places, must produce the same
 * deliveries (every field a receiver can read) after every chunk, the same
 * other operations and the same counters; what nats.js refuses, it refuses.
 */
import type { NatsConnection } from 'nats';
import { MsgImpl } from 'nats/lib/nats-base-client/msg.js';
import { Kind, Parser } from 'nats/lib/nats-base-client/parser.js';
import { describe, expect, test } from 'vitest';
import {
  installProtocolReader,
  MAX_WAITING_BYTES,
  ProtocolReader,
  readsProtocol,
  SLICE_MESSAGES,
} from '../../src/transport/protocol-reader.js';
import { afterArrivals } from '../../src/util/late-timers.js';
import { mulberry32 } from '../support/seeded-random.js';

type Seen = Record<string, unknown>;

/** What a receiver can read of a delivered message. */
function seen(msg: MsgImpl): Seen {
  const raw = msg as unknown as { _msg: { hdr: number } };
  return {
    subject: msg.subject,
    reply: msg.reply,
    sid: msg.sid,
    hdr: raw._msg.hdr,
    data: Buffer.from(msg.data).toString('hex'),
    headers: msg.headers ? [...msg.headers.keys()].map((k) => [k, msg.headers!.get(k)]) : null,
    size: msg.size(),
  };
}

/** Records what nats.js's protocol handler would do with what a reader hands it. */
class Recorder {
  readonly events: Seen[] = [];
  /** Messages nats.js's parser read (the reader hands it none it can read itself). */
  byNats = 0;
  inMsgs = 0;
  inBytes = 0;
  readonly subscriptions = {
    sidCounter: 1,
    get: (sid: number) => (sid === 404 ? undefined : this.#sub),
  };
  readonly #sub = {
    received: 0,
    callback: (_err: null, msg: MsgImpl) => this.events.push({ kind: 'MSG', ...seen(msg) }),
    unsubscribe: () => {},
  };
  parser: Parser = new Parser(this as never);
  lastError: string | undefined;
  readonly disconnects: unknown[] = [];
  resetOutbound(): void {
    this.parser = new Parser(this as never);
  }
  async disconnected(err?: unknown): Promise<void> {
    this.disconnects.push(err);
  }

  /** nats.js's parser calls this (its `ProtocolHandler.push`). */
  push(e: { kind: Kind; msg?: never; data?: Uint8Array }): void {
    if (e.kind === Kind.MSG) {
      this.byNats++;
      this.inMsgs++;
      this.inBytes += e.data!.length;
      if (e.msg && (e.msg as { sid: number }).sid === 404) return;
      this.#sub.callback(null, new MsgImpl(e.msg!, e.data!, this as never));
      return;
    }
    const data = e.data ? Buffer.from(e.data).toString('latin1') : undefined;
    if (e.kind === Kind.ERR) this.lastError = data;
    this.events.push({ kind: Kind[e.kind], data });
  }
}

const SUBJECTS = [
  'sb.instance.calc.Ab3dE5fG7hJ9',
  'a',
  '_INBOX.Xy12Ab34Cd56.k1',
  Buffer.from('caf\u00e9.sujet').toString('latin1'),
  Buffer.from('\ufeffbom.first').toString('latin1'),
  'bad\xff\xfe.utf8',
];

/** One operation as the server could send it. */
function operation(rnd: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const kind = rnd();
  if (kind < 0.1) return pick(['PING\r\n', 'PONG\r\n', '+OK\r\n', 'ping\r\n']);
  if (kind < 0.15)
    return `INFO {"server_id":"x${Math.floor(rnd() * 1000)}","max_payload":1048576}\r\n`;
  if (kind < 0.18) return "-ERR 'Unknown Subject'\r\n";
  const bodyLength = rnd() < 0.1 ? Math.floor(rnd() * 5000) : Math.floor(rnd() * 40);
  // Payloads may hold anything, line ends included.
  let body = '';
  for (let i = 0; i < bodyLength; i++)
    body += String.fromCharCode(pick([10, 13, 32, 77, 0, 255, 97]));
  const subject = pick(SUBJECTS);
  const reply = rnd() < 0.6 ? ` _INBOX.r${Math.floor(rnd() * 100)}` : '';
  const gap = rnd() < 0.1 ? ' \t ' : ' ';
  const sid = rnd() < 0.05 ? 404 : 1 + Math.floor(rnd() * 30);
  // What ends a payload: nats.js takes the byte after it as the `\r`, whatever it is.
  const ending = rnd() < 0.97 ? '\r\n' : pick(['\n', 'x\r\n']);
  const lineEnd = rnd() < 0.1 ? '\n' : '\r\n';
  if (rnd() < 0.5) {
    const op = rnd() < 0.1 ? 'msg' : 'MSG';
    return `${op}${gap}${subject} ${sid}${reply}${gap}${body.length}${lineEnd}${body}${ending}`;
  }
  const block = `NATS/1.0${rnd() < 0.2 ? ' 503' : ''}\r\nsb-call: 1;k;calc;add;99;a;;\r\n\r\n`;
  const op = rnd() < 0.1 ? 'hmsg' : 'HMSG';
  const total = block.length + body.length;
  return `${op} ${subject} ${sid}${reply} ${block.length}${gap}${total}${lineEnd}${block}${body}${ending}`;
}

/** `bytes` in chunks cut at random places (single bytes among them). */
function chunks(bytes: Buffer, rnd: () => number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const r = rnd();
    const size = r < 0.2 ? 1 : r < 0.6 ? 1 + Math.floor(rnd() * 64) : 1 + Math.floor(rnd() * 9000);
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

/**
 * How a reader took `stream`: the events after each chunk, and the error
 * that ended it, if one did (its label: nats.js quotes the rest of the
 * buffer it was given, which is only the operation when the reader hands
 * one over).
 */
function readAll(host: Recorder, parse: (chunk: Buffer) => void, stream: readonly Buffer[]) {
  const counts: number[] = [];
  let thrown: string | undefined;
  for (const chunk of stream) {
    try {
      parse(chunk);
    } catch (err) {
      thrown = (err as Error).message.split(':')[0];
      break;
    }
    counts.push(host.events.length);
  }
  return { host, counts, thrown };
}

function natsReads(stream: readonly Buffer[]) {
  const host = new Recorder();
  return readAll(host, (chunk) => host.parser.parse(chunk), stream);
}

function ourReads(stream: readonly Buffer[]) {
  const host = new Recorder();
  const reader = new ProtocolReader(host as never, host.parser);
  return readAll(host, (chunk) => reader.parse(chunk), stream);
}

/** Until `reader` has delivered everything it holds. */
function delivered(reader: ProtocolReader): Promise<void> {
  return new Promise((resolve) => reader.afterHeld(resolve));
}

/** `count` messages on subject `m<i>`, as one buffer. */
function messages(count: number, body = 'x'): Buffer {
  let text = '';
  for (let i = 0; i < count; i++) text += `MSG m${i} 1 ${body.length}\r\n${body}\r\n`;
  return Buffer.from(text);
}

function expectSame(stream: readonly Buffer[], what: string) {
  const theirs = natsReads(stream);
  const ours = ourReads(stream);
  expect(ours.host.events, what).toEqual(theirs.host.events);
  // nats.js throws at the first byte it cannot take, the reader once that byte's line is in.
  const compared =
    theirs.thrown === undefined ? ours.counts : ours.counts.slice(0, theirs.counts.length);
  expect(compared, `${what}: events after each chunk`).toEqual(theirs.counts);
  expect(ours.thrown, what).toBe(theirs.thrown);
  expect([ours.host.inMsgs, ours.host.inBytes], what).toEqual([
    theirs.host.inMsgs,
    theirs.host.inBytes,
  ]);
  expect(ours.host.byNats, what).toBe(0);
  return theirs;
}

describe('protocol reader', () => {
  test('protocol reader - the same deliveries, operations and counters as nats.js, chunk by chunk', () => {
    let whole = 0;
    let events = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = mulberry32(seed);
      const ops = Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => operation(rnd));
      const stream = chunks(Buffer.from(ops.join(''), 'latin1'), rnd);
      const { host, thrown } = expectSame(stream, `seed ${seed}`);
      events += host.events.length;
      if (thrown === undefined) whole++;
    }
    // Most streams are read to their end (a stray line end makes nats.js lose step, as in some).
    expect(whole).toBeGreaterThan(200);
    expect(events).toBeGreaterThan(3000);
  });

  test('protocol reader - a message is delivered once the byte after its payload is in, as by nats.js', () => {
    const stream = ['MSG a 1 _INBOX.x 3\r\nab', 'c', '\r', '\nPING\r\n'].map((s) => Buffer.from(s));
    const { host } = expectSame(stream, 'split');
    expect(host.events).toMatchObject([
      { subject: 'a', reply: '_INBOX.x', data: '616263' },
      { kind: 'PING' },
    ]);
    expect(natsReads(stream).counts).toEqual([0, 0, 1, 2]);
    const endsWithPayload = ['MSG a 1 3\r\nabc', '\r\n'].map((s) => Buffer.from(s));
    expectSame(endsWithPayload, 'payload at the end of a chunk');
    expect(natsReads(endsWithPayload).counts).toEqual([0, 1]);
  });

  test('protocol reader - large payloads and control lines in many small pieces', () => {
    const body = 'b'.repeat(200_000);
    const subject = `s.${'t'.repeat(3000)}`;
    const text = `MSG ${subject} 1 ${body.length}\r\n${body}\r\nPING\r\n`;
    const bytes = Buffer.from(text);
    const pieces: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += at < 4000 ? 1 : 997) {
      pieces.push(bytes.subarray(at, at < 4000 ? at + 1 : at + 997));
    }
    const { host } = expectSame(pieces, 'small pieces');
    expect(host.events.map((e) => e.kind)).toEqual(['MSG', 'PING']);
  });

  test('protocol reader - an overlong line is read by nats.js, and what follows by the reader again', () => {
    const info = `INFO {"x":"${'y'.repeat(1200 * 1024)}"}\r\n`;
    const text = `${info}MSG a 1 2\r\nok\r\n`;
    const stream: Buffer[] = [];
    for (let at = 0; at < text.length; at += 60_000)
      stream.push(Buffer.from(text.slice(at, at + 60_000)));
    stream.push(Buffer.from('MSG b 1 2\r\nok\r\n'));
    const theirs = natsReads(stream);
    const ours = ourReads(stream);
    expect(ours.host.events).toEqual(theirs.host.events);
    expect(ours.host.events.map((e) => e.kind ?? e.subject)).toEqual(['INFO', 'MSG', 'MSG']);
    expect(ours.thrown).toBeUndefined();
    // nats.js read the line and the message in the chunk that ended it; the last chunk is ours.
    expect(ours.host.byNats).toBe(1);
  });

  test('protocol reader - a message line nats.js reads otherwise (a \\r within it) is read by nats.js', () => {
    for (const text of [
      'MSG a 1\r 23\n0123456789012345678901\r\nPING\r\n',
      'MSG a\r1 3\nabc\r\n',
    ]) {
      const stream = [Buffer.from(text)];
      const ours = ourReads(stream);
      const theirs = natsReads(stream);
      expect(ours.host.events, JSON.stringify(text)).toEqual(theirs.host.events);
      expect(ours.thrown, JSON.stringify(text)).toBe(theirs.thrown);
    }
  });

  test('protocol reader - what nats.js refuses throws, as from nats.js', () => {
    const bad = [
      'MSG a 1\r\n',
      'MSG a x 3\r\nabc\r\n',
      'MSG a 1 b c 3\r\nabc\r\n',
      'HMSG a 1 9 3\r\nabc\r\n',
      'HMSG a 1 r 3 -1\r\nabc\r\n',
      'MSGa 1 3\r\nabc\r\n',
      'XYZ\r\n',
    ];
    for (const line of bad) {
      const theirs = natsReads([Buffer.from(line)]);
      expect(theirs.thrown, line).toBeDefined();
      expect(ourReads([Buffer.from(line)]).thrown, line).toBe(theirs.thrown);
    }
  });

  test('protocol reader - a parser handed an operation and left in the middle of one reads on until it is out', () => {
    const host = new Recorder();
    const given: string[] = [];
    // A stand-in for nats.js's parser that ends between operations only where a chunk says "END".
    const delegate = {
      state: 0,
      parse(buf: Uint8Array) {
        const text = Buffer.from(buf).toString('latin1');
        given.push(text);
        delegate.state = text.endsWith('END') ? 0 : 7;
      },
    };
    const reader = new ProtocolReader(host as never, delegate);
    reader.parse(Buffer.from('ODD line\r\nMSG a 1 0\r\n\r\n'));
    reader.parse(Buffer.from('MSG b 1 0\r\n\r\nEND'));
    reader.parse(Buffer.from('MSG c 1 0\r\n\r\n'));
    expect(given).toEqual(['ODD line\r\n', 'MSG a 1 0\r\n\r\n', 'MSG b 1 0\r\n\r\nEND']);
    expect(host.events.map((e) => e.subject)).toEqual(['c']);
  });

  test('protocol reader - subscriptions as nats.js delivers to them: max, unknown sids, none yet', () => {
    const host = new Recorder();
    const got: string[] = [];
    let unsubscribed = 0;
    const sub = {
      received: 0,
      max: 2,
      callback: (_err: null, msg: MsgImpl) => got.push(msg.subject),
      unsubscribe: () => unsubscribed++,
    };
    const subscriptions = { sidCounter: 0, get: (sid: number) => (sid === 1 ? sub : undefined) };
    const reader = new ProtocolReader({ ...host, subscriptions } as never, host.parser);
    reader.parse(Buffer.from('MSG none 1 0\r\n\r\n'));
    subscriptions.sidCounter = 1;
    reader.parse(Buffer.from('MSG a 1 0\r\n\r\nMSG b 2 0\r\n\r\nMSG c 1 0\r\n\r\n'));
    expect(got).toEqual(['a', 'c']);
    expect(sub.received).toBe(2);
    expect(unsubscribed).toBe(1);
  });

  test('protocol reader - installed once, between operations or else from the next reconnection', () => {
    const host = new Recorder();
    const nc = { protocol: host } as unknown as NatsConnection;
    expect(installProtocolReader(nc)).toBe(true);
    expect(installProtocolReader(nc)).toBe(true);
    expect(readsProtocol(nc)).toBe(true);
    host.resetOutbound();
    expect(host.parser).toBeInstanceOf(ProtocolReader);
    // In the middle of an operation: nats.js's parser keeps reading until the connection is new.
    const busy = new Recorder();
    busy.parser.parse(Buffer.from('MSG a 1 5\r\nab'));
    const busyNc = { protocol: busy } as unknown as NatsConnection;
    expect(installProtocolReader(busyNc)).toBe(false);
    expect(readsProtocol(busyNc)).toBe(false);
    busy.resetOutbound();
    expect(readsProtocol(busyNc)).toBe(true);
    // Not the protocol handler this was written against.
    expect(installProtocolReader({ protocol: {} } as unknown as NatsConnection)).toBe(false);
    expect(installProtocolReader({} as NatsConnection)).toBe(false);
  });

  test('protocol reader - read in slices, the same deliveries and operations as nats.js, in order', async () => {
    let sliced = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const rnd = mulberry32(seed);
      const ops = Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => operation(rnd));
      const stream = chunks(Buffer.from(ops.join(''), 'latin1'), rnd);
      const theirs = natsReads(stream);
      const host = new Recorder();
      const reader = new ProtocolReader(host as never, host.parser, 1 + (seed % 3));
      let thrown: string | undefined;
      const parse = (chunk: Buffer) => {
        try {
          reader.parse(chunk);
        } catch (err) {
          thrown = (err as Error).message.split(':')[0];
        }
      };
      // Chunks arrive while earlier ones wait, some in the same turn, some a turn later.
      for (const chunk of stream) {
        parse(chunk);
        if (thrown !== undefined) break;
        if (host.events.length < theirs.host.events.length) sliced++;
        if (rnd() < 0.5) await new Promise((resolve) => setImmediate(resolve));
      }
      if (thrown === undefined) {
        await delivered(reader);
        // What the last slices threw, the next chunk's parse throws.
        parse(Buffer.alloc(0));
      }
      const what = `seed ${seed}`;
      if (theirs.thrown === undefined) expect(host.events, what).toEqual(theirs.host.events);
      // A throw ends the read: what came before it was delivered as by nats.js.
      else expect(theirs.host.events.slice(0, host.events.length), what).toEqual(host.events);
      expect(thrown, what).toBe(theirs.thrown);
      expect(host.byNats, what).toBe(0);
    }
    expect(sliced).toBeGreaterThan(100);
  });

  test('protocol reader - a chunk of many messages is delivered a slice at a time, the rest and what follows in order', async () => {
    const host = new Recorder();
    const reader = new ProtocolReader(host as never, host.parser);
    const many = 2 * SLICE_MESSAGES + 72;
    reader.parse(Buffer.concat([messages(many), Buffer.from('PING\r\n')]));
    expect(host.events).toHaveLength(SLICE_MESSAGES);
    reader.parse(Buffer.concat([messages(1, 'late'), Buffer.from('PONG\r\n')]));
    expect(host.events).toHaveLength(SLICE_MESSAGES);
    await new Promise((resolve) => setImmediate(resolve));
    expect(host.events).toHaveLength(2 * SLICE_MESSAGES);
    await delivered(reader);
    expect(host.events.map((e) => e.subject ?? e.kind)).toEqual([
      ...Array.from({ length: many }, (_, i) => `m${i}`),
      'PING',
      'm0',
      'PONG',
    ]);
    expect(host.events.at(-2)).toMatchObject({ data: Buffer.from('late').toString('hex') });
    expect([host.inMsgs, host.byNats]).toEqual([many + 1, 0]);
  });

  test('protocol reader - past its bound of bytes waiting, everything waiting is delivered at once', () => {
    const host = new Recorder();
    const reader = new ProtocolReader(host as never, host.parser);
    const body = 'b'.repeat(1000);
    reader.parse(messages(SLICE_MESSAGES + 10, body));
    let parsed = 1;
    while (host.events.length < SLICE_MESSAGES + 10) {
      reader.parse(messages(10, body));
      parsed++;
      expect(parsed * 10 * 1020).toBeLessThan(
        MAX_WAITING_BYTES + 20 * 1020 + SLICE_MESSAGES * 1020,
      );
    }
    // Read at once: what the last chunk brought too.
    expect(host.events).toHaveLength(SLICE_MESSAGES + 10 * parsed);
    reader.parse(messages(1));
    expect(host.events).toHaveLength(SLICE_MESSAGES + 10 * parsed + 1);
  });

  test('protocol reader - a late timer waits for every message already received', async () => {
    const host = new Recorder();
    const reader = new ProtocolReader(host as never, host.parser, 5);
    const other = new Recorder();
    const otherReader = new ProtocolReader(other as never, other.parser, 5);
    reader.parse(messages(100));
    otherReader.parse(messages(50));
    const seenByTask = await new Promise<number[]>((resolve) =>
      afterArrivals(Date.now() - 1, () => resolve([host.events.length, other.events.length])),
    );
    expect(seenByTask).toEqual([100, 50]);
    // In time too: a timer fires on time while a slice's rest waits.
    reader.parse(messages(100));
    const onTime = await new Promise<number>((resolve) =>
      afterArrivals(Date.now() + 1000, () => resolve(host.events.length)),
    );
    expect(onTime).toBe(200);
    // Nothing held: at once.
    let ran = false;
    afterArrivals(Date.now() + 1000, () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  test('protocol reader - what a later slice throws, the next parse throws, and nothing after it is delivered', async () => {
    const host = new Recorder();
    let taken = 0;
    const sub = {
      received: 0,
      callback: (_err: null, msg: MsgImpl) => {
        taken++;
        if (msg.subject === 'm7') throw new Error('handler failed');
      },
      unsubscribe: () => {},
    };
    const subscriptions = { sidCounter: 1, get: () => sub };
    const reader = new ProtocolReader({ ...host, subscriptions } as never, host.parser, 3);
    reader.parse(messages(20));
    await delivered(reader);
    expect(taken).toBe(8);
    expect(() => reader.parse(messages(1))).toThrow('handler failed');
    expect(taken).toBe(8);
  });

  test('protocol reader - a connection lost while messages wait: they go first, a held -ERR counts, a throw is told', async () => {
    const host = new Recorder();
    const lost: unknown[] = [];
    const nc = { protocol: host } as unknown as NatsConnection;
    expect(installProtocolReader(nc, (error) => lost.push(error))).toBe(true);
    host.parser.parse(
      Buffer.concat([
        messages(SLICE_MESSAGES + 5),
        Buffer.from("-ERR 'Authorization Violation'\r\n"),
      ]),
    );
    expect(host.lastError).toBeUndefined();
    await host.disconnected(undefined);
    expect(host.events).toHaveLength(SLICE_MESSAGES + 6);
    expect(host.disconnects).toEqual(["'Authorization Violation'"]);
    // What a subscriber throws on those last messages is told, not lost.
    const reader = host.parser as unknown as ProtocolReader;
    const failing = {
      received: 0,
      callback: (_err: null, msg: MsgImpl) => {
        if (msg.subject === `m${SLICE_MESSAGES}`) throw new Error('handler failed');
      },
      unsubscribe: () => {},
    };
    host.subscriptions.get = () => failing as never;
    reader.parse(messages(SLICE_MESSAGES + 1));
    expect(lost).toEqual([]);
    await host.disconnected(undefined);
    expect(lost).toHaveLength(1);
  });

  test('protocol reader - at a reconnection, what the old connection sent is delivered before nats.js resets', () => {
    const host = new Recorder();
    const order: string[] = [];
    const reset = host.resetOutbound.bind(host);
    host.resetOutbound = () => {
      order.push(`reset after ${host.events.length}`);
      reset();
    };
    const nc = { protocol: host } as unknown as NatsConnection;
    expect(installProtocolReader(nc)).toBe(true);
    host.parser.parse(Buffer.concat([messages(SLICE_MESSAGES + 36), Buffer.from('PONG\r\n')]));
    expect(host.events).toHaveLength(SLICE_MESSAGES);
    host.resetOutbound();
    expect(order).toEqual([`reset after ${SLICE_MESSAGES + 37}`]);
    expect(host.events.at(-1)).toEqual({ kind: 'PONG', data: undefined });
    expect(readsProtocol(nc)).toBe(true);
  });

  test('protocol reader - nothing waiting is delivered once the connection is closed', async () => {
    const host = new Recorder() as Recorder & { _closed?: boolean };
    const reader = new ProtocolReader(host as never, host.parser);
    reader.parse(messages(SLICE_MESSAGES + 20));
    host._closed = true;
    await delivered(reader);
    expect(host.events).toHaveLength(SLICE_MESSAGES);
    // Closed by a subscriber in the middle of a slice: the rest of it is not delivered either.
    const closing = new Recorder() as Recorder & { _closed?: boolean };
    const got: string[] = [];
    const sub = {
      received: 0,
      callback: (_err: null, msg: MsgImpl) => {
        got.push(msg.subject);
        if (msg.subject === 'm3') closing._closed = true;
      },
      unsubscribe: () => {},
    };
    closing.subscriptions.get = () => sub as never;
    new ProtocolReader(closing as never, closing.parser).parse(messages(10));
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3']);
  });
});
