/**
 * A busy process runs its timers before it reads its sockets. A heartbeat
 * that reached the broker's socket before the lease ended must still renew
 * it, although the sweep's timer comes due first, late.
 */
import { encode } from '@msgpack/msgpack';
import { describe, expect, test } from 'vitest';
import { rawNats } from '../support/raw-nats.js';
import { registerRaw, startSite, track } from './helpers.js';

/** Keeps this process busy (no timer, no I/O) for `ms`. */
function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {}
}

describe('busy process', () => {
  test('busy process - a heartbeat received while the broker was busy past the lease renews it before the late sweep', async () => {
    const site = await startSite('a', { brokerOptions: { sweepIntervalMs: 20 } });
    const broker = site.broker!;
    const secret = 'raw-registration-secret';
    // A lease of 900 ms.
    await registerRaw(site.url, { id: 'i1', service: 'calc', heartbeatMs: 300, secret });
    const raw = await rawNats(site.url);
    track({ close: () => raw.close() });
    const beat = encode({ v: 1, id: 'i1', secret });
    raw.pub('sb.broker.heartbeat.calc', beat);
    await raw.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(broker.registry.size).toBe(1);
    // The heartbeat is written, and nats-server passes it to the broker's socket,
    // while this process is busy past the lease the last one gave.
    // Busy from the end of a loop turn: the next turn starts with the overdue
    // sweep's timer, before the socket holding the heartbeat is read.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        raw.pub('sb.broker.heartbeat.calc', beat);
        busyFor(1500);
        resolve();
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(broker.registry.size).toBe(1);
  });
});
