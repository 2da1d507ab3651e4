/**
 * Writes joined in Node's buffer pool on a real nats-server: what a
 * connection of ours sends in bursts (messages of every size, through
 * nats.js's `publish` and our frames) arrives as sent, before and after a
 * reconnection.
 */
import type { Msg, NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import { HeaderBlock } from '../../src/protocol/index.js';
import { startNatsServer } from '../../src/testing/index.js';
import { openNatsConnection } from '../../src/transport/connection.js';
import { publishFrame } from '../../src/transport/frames.js';
import { packsOutboundPooled } from '../../src/transport/outbound-pack.js';
import { eventually, receive, track } from './helpers.js';

const SIZES = [0, 1, 13, 200, 1024, 4000, 5000, 40_000];
const block = new HeaderBlock([['sb-call', '1;abc;calc;add;5000;a;;']]);

const bodyOf = (size: number, seed: number) =>
  Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed) & 0xff);

/**
 * Publishes every size, both ways, and checks what `peer` got: each pair in
 * a write of its own (pooled up to 4 KiB), then all of them at once (writes
 * of several messages, up to nats.js's 32 KiB).
 */
async function burst(nc: NatsConnection, peer: NatsConnection, seed: number): Promise<void> {
  const count = SIZES.length * 2;
  const got = receive(peer, 'pack.>', 2 * count);
  await peer.flush();
  const publishAll = async (flushEach: boolean) => {
    for (const [i, size] of SIZES.entries()) {
      nc.publish(`pack.plain.${i}`, bodyOf(size, seed + i));
      publishFrame(nc, `pack.frame.${i}`, bodyOf(size, seed + i), `_INBOX.p.${i}`, block);
      if (flushEach) await nc.flush();
    }
  };
  await publishAll(true);
  await publishAll(false);
  const seen = (m: Msg) => [m.subject, m.reply ?? '', Buffer.from(m.data).toString('base64')];
  const once = SIZES.flatMap((size, i) => [
    [`pack.plain.${i}`, '', Buffer.from(bodyOf(size, seed + i)).toString('base64')],
    [`pack.frame.${i}`, `_INBOX.p.${i}`, Buffer.from(bodyOf(size, seed + i)).toString('base64')],
  ]);
  const expected = [...once, ...once];
  expect((await got).map(seen)).toEqual(expected);
}

describe('outbound pack', () => {
  test('outbound pack - bursts of every size arrive as sent, before and after a reconnection', async () => {
    const nats = track(await startNatsServer({ name: 'outbound-pack' }));
    const nc = await openNatsConnection({ nats: nats.url }, 'outbound-pack-test');
    track({ close: () => nc.close() });
    const peer = await openNatsConnection({ nats: nats.url }, 'outbound-pack-peer');
    track({ close: () => peer.close() });
    expect(packsOutboundPooled(nc)).toBe(true);
    await burst(nc, peer, 1);
    await nats.restart();
    await eventually(async () => {
      try {
        await Promise.all([nc.flush(), peer.flush()]);
        return true;
      } catch {
        return false;
      }
    }, 15_000);
    expect(packsOutboundPooled(nc)).toBe(true);
    await burst(nc, peer, 2);
  });
});
