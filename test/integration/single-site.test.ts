import { describe, expect, test } from 'vitest';
import {
  ApplicationError,
  type Calculator,
  type CallContext,
  Client,
  calculatorService,
  SwitchboardError,
  serve,
} from '../../src/internal.js';
import { eventually, failure, latch, registerRaw, startSite, track } from './helpers.js';

/** A service whose methods tell which instance answered. */
function labelled(label: string, version = '1.0.0') {
  return {
    name: 'echo',
    version,
    methods: {
      who: () => label,
      echo: (value: unknown) => value,
      slow: (ms: number, ctx: CallContext) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve(label), ms);
          ctx.signal.addEventListener('abort', () => clearTimeout(timer));
        }),
    },
  };
}

interface Echo {
  who(): string;
  echo<T>(value: T): T;
  slow(ms: number): string;
}

describe('single site', () => {
  test('registry - a server registers, is looked up and listed', async () => {
    const site = await startSite('a');
    const server = track(await serve(calculatorService('1.2.0'), { nats: site.url }));
    expect(server.registered).toBe(true);
    expect(server.site).toBe('a');
    const client = track(await Client.connect({ nats: site.url }));
    const instances = await client.lookup('calculator');
    expect(instances).toEqual([
      expect.objectContaining({
        id: server.instanceId,
        service: 'calculator',
        version: '1.2.0',
        site: 'a',
        hops: 0,
        path: [],
        methods: expect.arrayContaining(['add', 'divide', 'sleep']),
      }),
    ]);
    expect(await client.lookup('calculator', '^1.0.0')).toHaveLength(1);
    expect(await client.lookup('calculator', '^2.0.0')).toHaveLength(0);
    const listing = await client.list();
    expect(listing.site).toBe('a');
    expect(listing.services).toEqual([
      expect.objectContaining({
        name: 'calculator',
        version: '1.2.0',
        instances: [expect.anything()],
      }),
    ]);
    expect((await client.brokerInfo()).site).toBe('a');
  });

  test('calls - results come back through the typed proxy', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    const calc = client.proxy<Calculator>('calculator');
    expect(await calc.add(1, 2)).toBe(3);
    expect(await calc.divide(9, 3)).toBe(3);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => calc.add(i, i)));
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => 2 * i));
    expect(client.site).toBe('a');
  });

  test('headers - received call headers are read from the raw block and agree with nats.js', async () => {
    const site = await startSite('a', { broker: false });
    const { connect } = await import('nats');
    const { callHeaders, headersOf, readsRawHeaders, Header } = await import(
      '../../src/internal.js'
    );
    const nc = await connect({ servers: site.url });
    track({ close: () => nc.close() });
    const got = new Promise<import('nats').Msg>((resolve) => {
      nc.subscribe('probe', { max: 1, callback: (_err, msg) => resolve(msg) });
    });
    const meta = {
      callId: 'c1',
      service: 'svc',
      method: 'm',
      budgetMs: 900,
      path: ['a', 'b'],
      site: 'c',
    };
    nc.publish('probe', new Uint8Array([1]), {
      headers: callHeaders(meta, [Header.replyTo, 'inbox.1']).forNats(),
    });
    const msg = await got;
    // If a nats.js upgrade moves its raw fields, this fails and headersOf falls back to msg.headers.
    expect(readsRawHeaders(msg)).toBe(true);
    const fast = headersOf(msg)!;
    for (const name of [Header.call, Header.replyTo, Header.cancel]) {
      expect(fast.get(name)).toBe(msg.headers?.get(name) ?? '');
    }
    expect(fast.get(Header.call)).toBe('1;c1;svc;m;900;a,b;c;');
  });

  test('calls - structured values and binary data round-trip', async () => {
    const site = await startSite('a');
    track(await serve(labelled('x'), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    const echo = client.proxy<Echo>('echo');
    const value = { list: [1, 'two', null, true], nested: { bytes: new Uint8Array([1, 2, 3]) } };
    expect(await echo.echo(value)).toEqual(value);
  });

  test('errors - a handler exception arrives with name, message, app code, details, site and service', async () => {
    const site = await startSite('a');
    class QuotaError extends Error {
      code = 'QUOTA';
      details = { limit: 3 };
      override name = 'QuotaError';
    }
    track(
      await serve(
        {
          name: 'thrower',
          methods: {
            custom: () => {
              throw new QuotaError('quota exceeded');
            },
            app: async () => {
              throw new ApplicationError('NOPE', 'refused', { why: 'because' });
            },
            plain: () => {
              throw 'a string';
            },
          },
        },
        { nats: site.url },
      ),
    );
    track(await serve(calculatorService(), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    const calc = client.proxy<Calculator>('calculator');
    const divide = await failure(calc.divide(1, 0));
    expect(divide).toBeInstanceOf(SwitchboardError);
    expect(divide).toMatchObject({
      code: 'APPLICATION',
      appCode: 'DIVIDE_BY_ZERO',
      remoteName: 'ApplicationError',
      message: 'cannot divide by zero',
      details: { a: 1 },
      site: 'a',
      service: 'calculator',
      completed: 'yes',
      path: ['a'],
    });
    expect(await failure(client.call('thrower', 'custom'))).toMatchObject({
      code: 'APPLICATION',
      appCode: 'QUOTA',
      remoteName: 'QuotaError',
      details: { limit: 3 },
      message: 'quota exceeded',
    });
    expect(await failure(client.call('thrower', 'app'))).toMatchObject({
      appCode: 'NOPE',
      details: { why: 'because' },
    });
    expect(await failure(client.call('thrower', 'plain'))).toMatchObject({
      code: 'APPLICATION',
      message: 'a string',
    });
  });

  test('errors - unknown service and unknown method have stable codes', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    expect(await failure(client.call('nope', 'add', [1, 2]))).toMatchObject({
      code: 'SERVICE_NOT_FOUND',
      completed: 'no',
    });
    expect(await failure(client.call('calculator', 'multiply', [1, 2]))).toMatchObject({
      code: 'METHOD_NOT_FOUND',
      completed: 'no',
      service: 'calculator',
    });
    expect(
      await failure(client.call('calculator', 'add', [1], { version: '^9.0.0' })),
    ).toMatchObject({
      code: 'SERVICE_NOT_FOUND',
    });
  });

  test('errors - a service whose last instance left is UNAVAILABLE, an unknown one SERVICE_NOT_FOUND', async () => {
    const site = await startSite('a');
    const server = await serve(calculatorService(), { nats: site.url });
    const direct = track(await Client.connect({ nats: site.url }));
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    expect(await direct.call('calculator', 'add', [1, 1])).toBe(2);
    await server.close();
    for (const client of [direct, thin]) {
      const err = await failure(client.call('calculator', 'add', [1, 1]));
      expect(err).toMatchObject({ code: 'UNAVAILABLE', completed: 'no', service: 'calculator' });
      expect(String(err.message)).toMatch(/no live instance of 'calculator'/);
      expect(await failure(client.call('abacus', 'add'))).toMatchObject({
        code: 'SERVICE_NOT_FOUND',
      });
    }
  });

  test('deadlines - a slow call times out and the handler sees its signal abort', async () => {
    const site = await startSite('a');
    let aborted: unknown;
    track(
      await serve(
        {
          name: 'slowpoke',
          methods: {
            wait: (ms: number, ctx: CallContext) =>
              new Promise((resolve) => {
                const timer = setTimeout(() => resolve(ms), ms);
                ctx.signal.addEventListener('abort', () => {
                  aborted = ctx.signal.reason;
                  clearTimeout(timer);
                  resolve('aborted');
                });
              }),
          },
        },
        { nats: site.url },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    const started = Date.now();
    const err = await failure(client.call('slowpoke', 'wait', [5000], { timeoutMs: 200 }));
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(4000);
    await eventually(() => aborted !== undefined, 2000, 'the handler to be aborted');
    expect(aborted).toMatchObject({ code: 'TIMEOUT' });
    expect(await client.call('slowpoke', 'wait', [10], { timeoutMs: 2000 })).toBe(10);
  });

  test('deadlines - a caller that aborts gets CANCELLED and the handler sees the abort', async () => {
    const site = await startSite('a');
    let reason: unknown;
    const running = latch();
    track(
      await serve(
        {
          name: 'waiter',
          methods: {
            wait: (ctx: CallContext) =>
              new Promise((_resolve, reject) => {
                running.open();
                ctx.signal.addEventListener('abort', () => {
                  reason = ctx.signal.reason;
                  reject(ctx.signal.reason);
                });
              }),
          },
        },
        { nats: site.url },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    const controller = new AbortController();
    const call = client.call('waiter', 'wait', [], { signal: controller.signal });
    // Aborted once the handler runs, so that the abort must reach it.
    await running.opened;
    controller.abort();
    expect(await failure(call)).toMatchObject({ code: 'CANCELLED' });
    await eventually(() => reason !== undefined, 2000, 'the handler to see the cancellation');
    expect(reason).toMatchObject({ code: 'CANCELLED' });
  });

  test('lifecycle - a clean stop disappears at once and callers move to the other instance', async () => {
    const site = await startSite('a');
    const one = track(await serve(labelled('one'), { nats: site.url }));
    track(await serve(labelled('two'), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url, policy: 'round-robin' }));
    const echo = client.proxy<Echo>('echo');
    const seen = new Set(await Promise.all(Array.from({ length: 10 }, () => echo.who())));
    expect(seen).toEqual(new Set(['one', 'two']));
    await one.close();
    // Deregistration is immediate: the registry no longer has it, with no lease to wait for.
    expect((await client.lookup('echo')).map((i) => i.id)).not.toContain(one.instanceId);
    const after = await Promise.all(Array.from({ length: 10 }, () => echo.who()));
    expect(new Set(after)).toEqual(new Set(['two']));
  });

  test('lifecycle - a server that stops heartbeating is dropped when its lease expires', async () => {
    const site = await startSite('a', { brokerOptions: { sweepIntervalMs: 50 } });
    const { connect } = await import('nats');
    const nc = await connect({ servers: site.url });
    // A server whose connection dies without deregistering, as after SIGKILL.
    const doomed = track(await serve(labelled('doomed'), { connection: nc, heartbeatMs: 100 }));
    const client = track(await Client.connect({ nats: site.url }));
    expect(await client.lookup('echo')).toHaveLength(1);
    await nc.close();
    const gone = Date.now();
    await eventually(async () => (await client.lookup('echo')).length === 0, 3000, 'lease expiry');
    // Lease is 3 heartbeats (300 ms); it must not vanish before that.
    expect(Date.now() - gone).toBeGreaterThanOrEqual(200);
    await doomed.close();
  });

  test('lifecycle - the client cache follows instances that come and go', async () => {
    const site = await startSite('a');
    track(await serve(labelled('one'), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url, policy: 'round-robin' }));
    const echo = client.proxy<Echo>('echo');
    expect(await echo.who()).toBe('one');
    const two = track(await serve(labelled('two'), { nats: site.url }));
    // The registry event invalidates the cached resolution; soon both instances get calls.
    await eventually(
      async () => {
        const seen = new Set(await Promise.all(Array.from({ length: 6 }, () => echo.who())));
        return seen.size === 2;
      },
      3000,
      'the new instance to receive calls',
    );
    await two.close();
    const after = new Set(await Promise.all(Array.from({ length: 6 }, () => echo.who())));
    expect(after).toEqual(new Set(['one']));
  });

  test('versions - a proxy with a version range reaches only matching instances', async () => {
    const site = await startSite('a');
    track(await serve(labelled('v1', '1.4.0'), { nats: site.url }));
    track(await serve(labelled('v2', '2.1.0'), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    const v2 = client.proxy<Echo>('echo', { version: '^2.0.0' });
    const seen = new Set(await Promise.all(Array.from({ length: 8 }, () => v2.who())));
    expect(seen).toEqual(new Set(['v2']));
  });

  test('thin clients - calls forwarded by the broker reach an instance and errors come back', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    const calc = thin.proxy<Calculator>('calculator');
    expect(await calc.add(20, 22)).toBe(42);
    expect(await failure(calc.divide(1, 0))).toMatchObject({
      code: 'APPLICATION',
      appCode: 'DIVIDE_BY_ZERO',
    });
    expect(await failure(thin.call('nope', 'x'))).toMatchObject({
      code: 'SERVICE_NOT_FOUND',
      site: 'a',
    });
    const slow = thin.proxy<Calculator>('calculator', { timeoutMs: 200 });
    expect(await failure(slow.sleep(3000))).toMatchObject({ code: 'TIMEOUT' });
  });

  test('thin clients - the broker skips an instance that no longer answers', async () => {
    const site = await startSite('a');
    track(await serve(labelled('alive'), { nats: site.url }));
    // A registration whose instance has no subscription: a stale entry.
    await registerRaw(site.url, { id: 'ghost', service: 'echo', methods: ['who'] });
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    const direct = track(await Client.connect({ nats: site.url, policy: 'round-robin' }));
    for (const client of [thin, direct]) {
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => client.call('echo', 'who')),
      );
      expect(new Set(answers)).toEqual(new Set(['alive']));
    }
  });
});
