/**
 * The protocol reader on a real nats-server: a connection Switchboard opens
 * is read by it, receives what a connection read by nats.js receives (large
 * messages split across socket reads included), and is read by it again
 * after a reconnection.
 */
import { connect, type Msg } from 'nats';
import { describe, expect, test } from 'vitest';
import { HeaderBlock } from '../../src/protocol/index.js';
import { startNatsServer } from '../../src/testing/index.js';
import { openSiteConnection } from '../../src/transport/connection.js';
import { publishFrame } from '../../src/transport/frames.js';
import { readsProtocol } from '../../src/transport/protocol-reader.js';
import { eventually, receive, track } from './helpers.js';

function seen(msg: Msg) {
  return {
    subject: msg.subject,
    reply: msg.reply,
    data: Buffer.from(msg.data).toString('base64'),
    headers: msg.headers ? [...msg.headers.keys()].map((k) => [k, msg.headers!.get(k)]) : undefined,
  };
}

async function ours(url: string) {
  const conn = await openSiteConnection({ nats: url }, 'protocol-reader-test');
  track({ close: () => conn.release() });
  return conn.nc;
}

async function natsOwn(url: string) {
  const nc = await connect({ servers: url });
  track({ close: () => nc.close() });
  return nc;
}

const block = new HeaderBlock([
  ['sb-call', '1;abc;calc;add;5000;a,b;;^1'],
  ['x-text', 'héllo wörld'],
]);

describe('protocol reader', () => {
  test('protocol reader - a connection of ours receives what one read by nats.js receives', async () => {
    const nats = track(await startNatsServer({ name: 'reader', maxPayload: 4 * 1024 * 1024 }));
    const [sender, reader, plain] = [
      await natsOwn(nats.url),
      await ours(nats.url),
      await natsOwn(nats.url),
    ];
    expect(readsProtocol(reader)).toBe(true);
    expect(readsProtocol(plain)).toBe(false);
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 256);
    const bodies = [new Uint8Array(0), new Uint8Array([13, 10, 77, 83, 71]), big];
    const subjects = ['reader.a', 'reader.caf\u00e9'];
    const count = bodies.length * subjects.length * 2;
    const got = [receive(reader, 'reader.>', count), receive(plain, 'reader.>', count)];
    await Promise.all([reader.flush(), plain.flush()]);
    for (const subject of subjects) {
      for (const body of bodies) {
        publishFrame(sender, subject, body, '_INBOX.r.1', block);
        sender.publish(subject, body);
      }
    }
    await sender.flush();
    const [byOurs, byNats] = await Promise.all(got);
    expect(byOurs!.map(seen)).toEqual(byNats!.map(seen));
    expect(byOurs![4]!.data.length).toBe(big.length);
    expect(reader.stats().inMsgs).toBe(count);
    expect(reader.stats().inBytes).toBe(plain.stats().inBytes);
  });

  test('protocol reader - read by it again after a reconnection', async () => {
    const nats = track(await startNatsServer({ name: 'reader' }));
    const [sender, reader] = [await natsOwn(nats.url), await ours(nats.url)];
    const sub = reader.subscribe('reader.again');
    const received: string[] = [];
    void (async () => {
      for await (const msg of sub) received.push(msg.string());
    })();
    await reader.flush();
    sender.publish('reader.again', new TextEncoder().encode('before'));
    await eventually(() => received.length === 1);
    await nats.restart();
    await eventually(async () => {
      sender.publish('reader.again', new TextEncoder().encode('after'));
      await sender.flush().catch(() => {});
      return received.includes('after');
    }, 15_000);
    expect(readsProtocol(reader)).toBe(true);
    expect(received[0]).toBe('before');
  });
});
