/**
 * The handshake guard on a stand-in for nats.js's protocol handler: which
 * socket closing fails the attempt under way, and that nats.js's own
 * handling runs in every case.
 */
import type { NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import { failHandshakesOnClose, guardsHandshakes } from '../../src/transport/handshake-guard.js';

function fakeConnection(transportClosed: boolean) {
  const calls: string[] = [];
  const protocol = {
    transport: { isClosed: transportClosed },
    connectError: ((err: Error) => calls.push(`attempt failed: ${err.message}`)) as
      | ((err: Error) => void)
      | undefined,
    async disconnected(err?: Error) {
      calls.push(`nats.js disconnected ${err?.message ?? ''}`.trim());
    },
  };
  return { nc: { protocol } as unknown as NatsConnection, protocol, calls };
}

describe('handshake guard', () => {
  test('handshake guard - the attempt whose own socket closed is failed once, then nats.js goes on', async () => {
    const { nc, protocol, calls } = fakeConnection(true);
    expect(failHandshakesOnClose(nc)).toBe(true);
    expect(guardsHandshakes(nc)).toBe(true);
    await protocol.disconnected(new Error('reset'));
    await protocol.disconnected(new Error('reset'));
    expect(calls).toEqual([
      'attempt failed: reset',
      'nats.js disconnected reset',
      'nats.js disconnected reset',
    ]);
    expect(protocol.connectError).toBeUndefined();
  });

  test('handshake guard - a socket of an earlier attempt closing leaves the attempt under way alone', async () => {
    const { nc, protocol, calls } = fakeConnection(false);
    failHandshakesOnClose(nc);
    await protocol.disconnected();
    expect(calls).toEqual(['nats.js disconnected']);
    expect(protocol.connectError).toBeTypeOf('function');
  });

  test('handshake guard - nats.js handles the close even when failing the attempt throws', async () => {
    const { nc, protocol, calls } = fakeConnection(true);
    protocol.connectError = () => {
      throw new Error('patched elsewhere');
    };
    failHandshakesOnClose(nc);
    await protocol.disconnected();
    expect(calls).toEqual(['nats.js disconnected']);
  });

  test('handshake guard - a handler of another shape is left as it is', () => {
    const nc = { protocol: { disconnected: 'not a function' } } as unknown as NatsConnection;
    expect([failHandshakesOnClose(nc), guardsHandshakes(nc)]).toEqual([false, false]);
  });
});
