/**
 * A link that drops again just after coming back: the reconnection attempt
 * under way when the socket closes (after the server's INFO, before its
 * PONG) must fail at once so that the next one, over the restored link,
 * goes through; nats.js alone would wait for that PONG until its connect
 * timeout (a minute here).
 */
import { describe, expect, test } from 'vitest';
import { LinkCutter } from '../../scale/link-cutter.js';
import { startNatsServer } from '../../src/testing/index.js';
import { openNatsConnection, openSiteConnection } from '../../src/transport/connection.js';
import { guardsHandshakes } from '../../src/transport/handshake-guard.js';
import { packsOutboundPooled } from '../../src/transport/outbound-pack.js';
import { readsProtocol } from '../../src/transport/protocol-reader.js';
import { eventually, receive, track } from './helpers.js';

describe('handshake guard', () => {
  test('handshake guard - a reconnection cut mid-handshake is retried at once, not after the connect timeout', async () => {
    const nats = track(await startNatsServer({ name: 'handshake' }));
    const link = track(await LinkCutter.start(nats.url));
    const conn = await openSiteConnection(
      { nats: link.url, connectTimeoutMs: 60_000 },
      'handshake-guard-test',
    );
    track({ close: () => conn.release() });
    const statuses: string[] = [];
    void (async () => {
      for await (const s of conn.nc.status()) statuses.push(s.type);
    })();

    link.flicker();
    // Several attempts die mid-handshake: each must fail at once for the next to be made.
    await eventually(() => link.flickers >= 3, 10_000, 'three attempts reset mid-handshake');
    link.restore();
    await eventually(() => statuses.includes('reconnect'), 10_000, 'the reconnection');

    const got = receive(conn.nc, 'handshake.after', 1);
    await conn.nc.flush();
    conn.nc.publish('handshake.after', new Uint8Array([1]));
    expect((await got).map((m) => m.subject)).toEqual(['handshake.after']);
  }, 30_000);

  test('handshake guard - a connection opened for a component is set up as the component would set up its own', async () => {
    const nats = track(await startNatsServer({ name: 'handshake-open' }));
    const nc = await openNatsConnection({ nats: nats.url }, 'handshake-guard-open');
    track({ close: () => nc.close() });
    expect([readsProtocol(nc), guardsHandshakes(nc), packsOutboundPooled(nc)]).toEqual([
      true,
      true,
      true,
    ]);
  });
});
