import { connect } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  Broker,
  type Calculator,
  type CallContext,
  Client,
  calculatorService,
  serve,
} from '../../src/internal.js';
import { eventually, failure, latch, registerRaw, startSite, track } from './helpers.js';

/** A broker whose connection can be cut without any goodbye, as when its process is killed. */
async function killableBroker(url: string, site: string) {
  const nc = await connect({ servers: url });
  const broker = track(await Broker.start({ connection: nc, site }));
  return { broker, kill: () => nc.close() };
}

describe('resilience', () => {
  test('broker restart - servers register again and the new broker knows them', async () => {
    const site = await startSite('a', { broker: false });
    const first = await Broker.start({ nats: site.url, site: 'a' });
    const server = track(await serve(calculatorService(), { nats: site.url, heartbeatMs: 200 }));
    expect(first.registry.size).toBe(1);
    await first.close();
    const second = track(await Broker.start({ nats: site.url, site: 'a' }));
    // The `started` announcement makes the server register again at once.
    await eventually(
      () => second.registry.get(server.instanceId) !== undefined,
      2000,
      're-registration',
    );
    const client = track(await Client.connect({ nats: site.url }));
    expect(await client.proxy<Calculator>('calculator').add(1, 1)).toBe(2);
  });

  test('broker restart - a broker that does not know a heartbeating instance asks it to register', async () => {
    const site = await startSite('a');
    const server = track(await serve(calculatorService(), { nats: site.url, heartbeatMs: 100 }));
    const broker = site.broker!;
    // Make the broker forget the instance behind the server's back.
    broker.registry.deregister(server.instanceId);
    expect(broker.registry.get(server.instanceId)).toBeUndefined();
    await eventually(
      () => broker.registry.get(server.instanceId) !== undefined,
      2000,
      're-registration',
    );
  });

  test('servers started before any broker register once a broker starts', async () => {
    const site = await startSite('a', { broker: false });
    const server = track(
      await serve(calculatorService(), {
        nats: site.url,
        heartbeatMs: 100,
        registerTimeoutMs: 200,
      }),
    );
    expect(server.registered).toBe(false);
    const broker = track(await Broker.start({ nats: site.url, site: 'a' }));
    await eventually(() => server.registered, 2000, 'registration');
    expect(broker.registry.get(server.instanceId)).toBeDefined();
    expect(server.site).toBe('a');
  });

  test('two brokers - either may die while calls run; direct calls lose nothing, thin calls go on', async () => {
    const site = await startSite('a', { broker: false });
    const one = await killableBroker(site.url, 'a');
    const two = await killableBroker(site.url, 'a');
    track(await serve(calculatorService(), { nats: site.url }));
    track(await serve(calculatorService(), { nats: site.url }));
    // A server's first registration reply comes from one broker: the other may take it a moment later.
    const both = () => one.broker.registry.size === 2 && two.broker.registry.size === 2;
    await eventually(both, 5000, 'both brokers holding both servers');
    const direct = track(await Client.connect({ nats: site.url }));
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    const directCalc = direct.proxy<Calculator>('calculator', { timeoutMs: 2000 });
    const thinCalc = thin.proxy<Calculator>('calculator', { timeoutMs: 1000 });
    let stop = false;
    let directDone = 0;
    let thinDone = 0;
    const thinFailures: unknown[] = [];
    const directLoad = Array.from({ length: 4 }, async (_, worker) => {
      while (!stop) {
        expect(await directCalc.add(worker, 1)).toBe(worker + 1);
        directDone++;
      }
    });
    const thinLoad = Array.from({ length: 4 }, async (_, worker) => {
      while (!stop) {
        try {
          expect(await thinCalc.add(worker, 1)).toBe(worker + 1);
          thinDone++;
        } catch (err) {
          thinFailures.push(err);
        }
      }
    });
    await eventually(() => directDone > 200 && thinDone > 200, 5000, 'calls to flow');
    await one.kill();
    const [directAtKill, thinAtKill] = [directDone, thinDone];
    await eventually(
      () => directDone > directAtKill + 200 && thinDone > thinAtKill + 200,
      5000,
      'calls to keep flowing through the surviving broker',
    );
    stop = true;
    await Promise.all([...directLoad, ...thinLoad]);
    // A thin call the dead broker had taken but not yet forwarded ends with TIMEOUT
    // (it may or may not have run); at most one per worker in flight at the kill.
    // None at all is the usual outcome (nothing in flight at the kill), and a pass.
    expect(thinFailures.length).toBeLessThanOrEqual(4);
    const timedOut = expect.objectContaining({ code: 'TIMEOUT', completed: 'maybe' });
    expect(thinFailures).toEqual(thinFailures.map(() => timedOut));
    // The survivor still answers lookups and learns about new servers.
    const late = track(await serve(calculatorService(), { nats: site.url }));
    expect(two.broker.registry.get(late.instanceId)).toBeDefined();
    expect(await direct.lookup('calculator')).toHaveLength(3);
  });

  test('thin clients - a broker closing while it forwards a call does not fail it: the instance answers the caller', async () => {
    const site = await startSite('a', { broker: false });
    // On a connection it does not own, so that it could still answer as it closes.
    const nc = track(await connect({ servers: site.url }));
    const broker = track(await Broker.start({ connection: nc, site: 'a' }));
    let runs = 0;
    const started = latch();
    track(
      await serve(
        {
          name: 'slow',
          methods: {
            sleep: (ms: number) => {
              runs++;
              started.open();
              return new Promise((resolve) => setTimeout(() => resolve(ms), ms));
            },
          },
        },
        { nats: site.url },
      ),
    );
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    const call = thin.call('slow', 'sleep', [300], { timeoutMs: 3000 });
    await started.opened;
    await broker.close();
    expect(await call).toBe(300);
    expect(runs).toBe(1);
  });

  test('concurrency - calls beyond the limit wait in the queue, beyond the queue they are refused', async () => {
    const site = await startSite('a');
    let running = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    track(
      await serve(
        {
          name: 'gate',
          methods: {
            enter: () =>
              new Promise<void>((resolve) => {
                running++;
                peak = Math.max(peak, running);
                release.push(() => {
                  running--;
                  resolve();
                });
              }),
          },
        },
        { nats: site.url, maxConcurrent: 2, maxQueued: 1 },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    const calls = Array.from({ length: 3 }, () => client.call('gate', 'enter'));
    await eventually(() => running === 2, 2000, 'two running calls');
    const refused = await failure(client.call('gate', 'enter'));
    expect(refused).toMatchObject({ code: 'UNAVAILABLE', completed: 'no' });
    expect(String(refused.message)).toMatch(/busy/);
    while (release.length > 0 || running > 0) {
      release.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(calls);
    expect(peak).toBe(2);
  });

  test('drain - close() finishes calls in flight, then new calls find no instance', async () => {
    const site = await startSite('a');
    const server = await serve(
      {
        name: 'worker',
        methods: {
          work: (ms: number, ctx: CallContext) =>
            new Promise((resolve) => setTimeout(() => resolve(`done by ${ctx.deadline > 0}`), ms)),
        },
      },
      { nats: site.url },
    );
    const client = track(await Client.connect({ nats: site.url }));
    const inFlight = client.call('worker', 'work', [300]);
    await eventually(() => server.activeCalls === 1, 2000, 'the call to start');
    const closing = server.close();
    expect(await inFlight).toBe('done by true');
    await closing;
    // Known but with no live instance: UNAVAILABLE, not SERVICE_NOT_FOUND.
    expect(await failure(client.call('worker', 'work', [1]))).toMatchObject({
      code: 'UNAVAILABLE',
      completed: 'no',
    });
  });

  test('drain - calls still running after the grace period are aborted and answered UNAVAILABLE', async () => {
    const site = await startSite('a');
    let aborted = false;
    const server = await serve(
      {
        name: 'stuck',
        methods: {
          hang: (ctx: CallContext) =>
            new Promise(() => {
              ctx.signal.addEventListener('abort', () => {
                aborted = true;
              });
            }),
        },
      },
      { nats: site.url, drainTimeoutMs: 200 },
    );
    const client = track(await Client.connect({ nats: site.url }));
    const call = client.call('stuck', 'hang', [], { timeoutMs: 5000 });
    await eventually(() => server.activeCalls === 1, 2000, 'the call to start');
    await server.close();
    expect(await failure(call)).toMatchObject({ code: 'UNAVAILABLE', completed: 'maybe' });
    expect(aborted).toBe(true);
  });

  test('close - brokers, servers and clients leave no timers or sockets behind', async () => {
    const site = await startSite('a', { broker: false });
    const count = () => {
      const counts = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
      return counts;
    };
    const before = count();
    const broker = await Broker.start({ nats: site.url, site: 'a' });
    const server = await serve(calculatorService(), { nats: site.url });
    const client = await Client.connect({ nats: site.url });
    const thin = await Client.connect({ nats: site.url, viaBroker: true });
    await client.proxy<Calculator>('calculator').add(1, 2);
    await thin.proxy<Calculator>('calculator').add(1, 2);
    await failure(client.proxy<Calculator>('calculator', { timeoutMs: 50 }).sleep(1000));
    // More sockets than before: the check below that they go is not vacuous.
    expect(count().get('TCPSocketWrap') ?? 0).toBeGreaterThan(before.get('TCPSocketWrap') ?? 0);
    await Promise.all([client.close(), thin.close(), client.close()]);
    await server.close();
    await server.close();
    await broker.close();
    await broker.close();
    // Socket handles go away on the next turns of the event loop.
    await eventually(
      () => {
        const after = count();
        return ['Timeout', 'TCPSocketWrap'].every(
          (k) => (after.get(k) ?? 0) <= (before.get(k) ?? 0),
        );
      },
      2000,
      'handles to be released',
    );
  });

  test('raw registrations - a stale entry whose instance is gone is skipped by direct clients', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    await registerRaw(site.url, { id: 'gone', service: 'calculator' });
    const client = track(await Client.connect({ nats: site.url, policy: 'round-robin' }));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.proxy<Calculator>('calculator').add(i, 0)),
    );
    expect(results).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });
});
