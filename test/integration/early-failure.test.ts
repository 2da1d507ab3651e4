/**
 * Calls that cannot succeed end as soon as that is known, not at their
 * deadline; negative answers stay truthful; a cancel follows its call across
 * bridges; an instance that keeps timing out is avoided.
 */
import { connect } from 'nats';
import { describe, expect, test } from 'vitest';
import { type CallContext, Client, calculatorService, serve } from '../../src/internal.js';
import {
  eventually,
  failure,
  latch,
  registerRaw,
  startBridge,
  startSite,
  track,
} from './helpers.js';

/** A service whose `hold` runs until its signal aborts, counting runs and aborts. */
function holder() {
  const state = { runs: 0, aborted: latch(), running: latch() };
  const service = {
    name: 'holder',
    methods: {
      hold: (ctx: CallContext) =>
        new Promise((resolve) => {
          state.runs++;
          state.running.open();
          ctx.signal.addEventListener('abort', () => {
            state.aborted.open();
            resolve('aborted');
          });
        }),
      ping: () => 'pong',
    },
  };
  return { state, service };
}

describe('early failure', () => {
  test('cancel - a caller aborting at site a aborts the handler at site c, through two bridges', async () => {
    const [a, b, c] = [await startSite('a'), await startSite('b'), await startSite('c')];
    await startBridge(a, b);
    await startBridge(b, c);
    const { state, service } = holder();
    track(await serve(service, { nats: c.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('holder')).length > 0, 5000, 'route to c');
    const controller = new AbortController();
    const call = client.call('holder', 'hold', [], {
      signal: controller.signal,
      timeoutMs: 20_000,
    });
    await state.running.opened;
    controller.abort();
    expect(await failure(call)).toMatchObject({ code: 'CANCELLED' });
    await state.aborted.opened;
    expect(state.runs).toBe(1);
  });

  test('leases - a call held by an instance that stops heartbeating ends when its lease runs out, not at its deadline', async () => {
    const site = await startSite('a', { brokerOptions: { sweepIntervalMs: 50 } });
    // A server on a connection we can cut without any goodbye, as a crash would.
    const nc = await connect({ servers: site.url });
    const { state, service } = holder();
    track(await serve(service, { connection: nc, heartbeatMs: 100, drainTimeoutMs: 100 }));
    const client = track(await Client.connect({ nats: site.url }));
    // A deadline far past the test's own timeout: only the lease can end this call in time.
    const call = client.call('holder', 'hold', [], { timeoutMs: 120_000 });
    await state.running.opened;
    await nc.close();
    const err = await failure(call);
    expect(err).toMatchObject({ code: 'UNAVAILABLE', completed: 'maybe' });
    expect(String(err.message)).toMatch(/left while the call was in flight/);
  });

  test('leases - an idempotent call held by an instance that stops heartbeating moves to another', async () => {
    const site = await startSite('a', { brokerOptions: { sweepIntervalMs: 50 } });
    const nc = await connect({ servers: site.url });
    const dying = holder();
    const server = track(
      await serve(dying.service, {
        connection: nc,
        heartbeatMs: 100,
        instanceId: 'dying',
        drainTimeoutMs: 100,
      }),
    );
    const client = track(await Client.connect({ nats: site.url, policy: 'round-robin' }));
    expect((await client.lookup('holder')).map((i) => i.id)).toEqual([server.instanceId]);
    const call = client.call('holder', 'hold', [], { timeoutMs: 120_000, idempotent: true });
    await dying.state.running.opened;
    const healthy = holder();
    const other = track(
      await serve({ ...healthy.service, methods: { hold: () => 'elsewhere' } }, { nats: site.url }),
    );
    await eventually(async () => (await client.lookup('holder')).length === 2, 5000, 'two');
    await nc.close();
    expect(await call).toBe('elsewhere');
    expect(other.instanceId).not.toBe('dying');
  });

  test('negatives - with a bridge down, a service known at the far site is UNAVAILABLE there, never SERVICE_NOT_FOUND', async () => {
    const [a, b, c] = [await startSite('a'), await startSite('b'), await startSite('c')];
    await startBridge(a, b);
    const bc = await startBridge(b, c);
    track(await serve(calculatorService(), { nats: c.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('calculator')).length > 0, 5000, 'route');
    expect(await client.call('calculator@c', 'add', [1, 2])).toBe(3);
    await bc.close();
    await eventually(async () => (await client.lookup('calculator')).length === 0, 5000, 'gone');
    for (const target of ['calculator@c', 'calculator']) {
      const err = await failure(client.call(target, 'add', [1, 2]));
      expect(err, target).toMatchObject({ code: 'UNAVAILABLE', completed: 'no' });
    }
    const thin = track(await Client.connect({ nats: a.url, viaBroker: true }));
    expect(await failure(thin.call('calculator@c', 'add', [1, 2]))).toMatchObject({
      code: 'UNAVAILABLE',
    });
  });

  test('ejection - an instance that takes calls but never answers is avoided after a few timeouts', async () => {
    const site = await startSite('a');
    track(await serve({ name: 'echo', methods: { say: (t: string) => t } }, { nats: site.url }));
    // Registered and heartbeating as far as the broker knows, but deaf to its calls.
    await registerRaw(site.url, { id: 'deaf', service: 'echo', methods: ['say'] });
    const swallow = track(await connect({ servers: site.url }));
    swallow.subscribe('sb.instance.echo.deaf', { callback: () => {} });
    await swallow.flush();
    const client = track(await Client.connect({ nats: site.url, policy: 'round-robin' }));
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      outcomes.push(
        await client
          // Long enough that a loaded machine does not time out the healthy instance too.
          .call('echo', 'say', ['hi'], { timeoutMs: 500 })
          .then(() => 'ok')
          .catch((err: { code: string }) => err.code),
      );
    }
    // Three timeouts eject the deaf instance; every call after them is answered.
    expect(outcomes.filter((o) => o === 'TIMEOUT')).toHaveLength(3);
    expect(outcomes.slice(-20)).toEqual(Array(20).fill('ok'));
  });
});
