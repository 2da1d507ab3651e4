/**
 * What a process with an ordinary connection to a site's NATS can send, and
 * what it must not achieve: deafen a component, make it publish where it
 * chooses, crash it, grow it without bound, take over an instance, or
 * mislead a caller. Each test is one finding of the hardening issue.
 */
import { encode } from '@msgpack/msgpack';
import { connect, headers, type Msg } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  Broker,
  type Calculator,
  Client,
  Codec,
  calculatorService,
  ErrorCode,
  isErrorReply,
  parse,
  respondError,
  SwitchboardError,
  serve,
} from '../../src/internal.js';
import { rawNats } from '../support/raw-nats.js';
import {
  eventually,
  failure,
  latch,
  registerRaw,
  startBridge,
  startSite,
  track,
} from './helpers.js';

const codec = new Codec();

/** A header block nats.js cannot parse: a value holding a lone LF. */
const POISON = 'NATS/1.0\r\nx-poison: a\nb\r\n\r\n';

/**
 * A bogus instance of `service`: registered like any, it answers every call
 * it gets on the message's own reply subject with a poisoned header block.
 */
async function poisonedInstance(url: string, service: string, id = 'bogus') {
  await registerRaw(url, { id, service, methods: ['add'] });
  const nc = track(await connect({ servers: url }));
  const raw = await rawNats(url);
  track({ close: () => raw.close() });
  nc.subscribe(`sb.instance.${service}.${id}`, {
    callback: (_err, msg) => {
      if (msg.reply) raw.hpub(msg.reply, POISON, encode(999));
    },
  });
  await nc.flush();
}

/** A service that is not the bogus one, to show the component still serves. */
const echo = { name: 'echo', methods: { say: (text: string) => text } };

function errorOf(msg: Msg) {
  expect(isErrorReply(msg.headers)).toBe(true);
  return parse.errorData(codec.decode(msg.data));
}

describe('hostile peers', () => {
  test('deaf - a reply with a malformed header fails nothing but its own call: the client reads on', async () => {
    const site = await startSite('a');
    await poisonedInstance(site.url, 'calculator');
    track(await serve(echo, { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    await client.proxy<Calculator>('calculator', { timeoutMs: 2000 }).add(1, 2);
    expect(await client.call('echo', 'say', ['still here'], { timeoutMs: 2000 })).toBe(
      'still here',
    );
  });

  test('deaf - a forwarding broker that gets a malformed reply still answers', async () => {
    const site = await startSite('a');
    await poisonedInstance(site.url, 'calculator');
    track(await serve(echo, { nats: site.url }));
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    await thin.call('calculator', 'add', [1, 2], { timeoutMs: 2000 }).catch(() => undefined);
    expect(await thin.brokerInfo()).toMatchObject({ site: 'a' });
    expect(await thin.call('echo', 'say', ['forwarded'], { timeoutMs: 2000 })).toBe('forwarded');
  });

  test('deaf - a bridge that gets a malformed reply on a relayed call still relays', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await poisonedInstance(b.url, 'calculator');
    track(await serve(echo, { nats: b.url }));
    await startBridge(a, b);
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('echo')).length > 0, 5000, 'echo at a');
    await eventually(async () => (await client.lookup('calculator')).length > 0, 5000, 'route');
    await client.call('calculator', 'add', [1, 2], { timeoutMs: 2000 }).catch(() => undefined);
    expect(await client.call('echo', 'say', ['relayed'], { timeoutMs: 2000 })).toBe('relayed');
  });

  test('subjects - a heartbeat whose id is no subject token is refused; the broker stays connected', async () => {
    const site = await startSite('a');
    const client = track(await Client.connect({ nats: site.url }));
    const nc = track(await connect({ servers: site.url }));
    const bad = encode({ v: 1, id: 'x y z', secret: 'long-enough-secret' });
    let answered = 0;
    for (let i = 0; i < 20; i++) {
      nc.publish('sb.broker.heartbeat.calc', bad);
      nc.publish('sb.broker.heartbeat.calc x', bad);
      await nc.flush();
      if ((await client.brokerInfo()).site === 'a') answered++;
    }
    expect(answered).toBe(20);
  });

  test('subjects - sb-reply must be one inbox subject: anything else is BAD_REQUEST and the handler never runs', async () => {
    const site = await startSite('a');
    let runs = 0;
    const server = track(
      await serve({ name: 'count', methods: { hit: () => ++runs } }, { nats: site.url }),
    );
    const nc = track(await connect({ servers: site.url }));
    const leaked: string[] = [];
    nc.subscribe('sb.broker.>', { callback: (_e, m) => leaked.push(m.subject) });
    for (const replyTo of ['sb.broker.register.count', '_INBOX.a b', 'x y', '_INBOX.*']) {
      const h = headers();
      h.set('sb-call', '1;c1;count;hit;2000;;;');
      h.set('sb-reply', replyTo);
      const reply = await nc.request(`sb.instance.count.${server.instanceId}`, encode([]), {
        headers: h,
        timeout: 2000,
      });
      expect(errorOf(reply), replyTo).toMatchObject({ code: 'BAD_REQUEST' });
    }
    await nc.flush();
    expect(runs).toBe(0);
    expect(leaked.filter((s) => s.startsWith('sb.broker.register'))).toEqual([]);
  });

  test('calls - a call nobody could receive the answer of (no reply subject) never runs', async () => {
    const site = await startSite('a');
    let runs = 0;
    const server = track(
      await serve({ name: 'count', methods: { hit: () => ++runs } }, { nats: site.url }),
    );
    const nc = track(await connect({ servers: site.url }));
    const h = headers();
    h.set('sb-call', '1;c1;count;hit;2000;;;');
    nc.publish(`sb.instance.count.${server.instanceId}`, encode([]), { headers: h });
    await nc.flush();
    const client = track(await Client.connect({ nats: site.url }));
    expect(await client.call('count', 'hit')).toBe(1);
  });

  test('budgets - a budget past what timers can count is cut to a day, not turned into an instant TIMEOUT', async () => {
    const site = await startSite('a');
    const server = track(await serve(calculatorService(), { nats: site.url }));
    const nc = track(await connect({ servers: site.url }));
    const h = headers();
    h.set('sb-call', '1;c1;calculator;sleep;1000000000000;;;');
    const reply = await nc.request(`sb.instance.calculator.${server.instanceId}`, encode([30]), {
      headers: h,
      timeout: 2000,
    });
    expect(reply.headers?.get('sb-st') ?? '').toBe('');
    expect(codec.decode(reply.data)).toBe(30);
  });

  test('decoding - type confusion in an envelope is BAD_REQUEST, never INTERNAL', async () => {
    const site = await startSite('a');
    const nc = track(await connect({ servers: site.url }));
    for (const body of [
      { v: { toString: 1 } },
      { v: 1, service: { valueOf: 2 } },
      { v: [1], service: 'x' },
      { v: 1, service: 'x', version: { toString: 'y' } },
    ]) {
      const reply = await nc.request('sb.broker.lookup', encode(body), { timeout: 2000 });
      expect(errorOf(reply), JSON.stringify(body)).toMatchObject({ code: 'BAD_REQUEST' });
    }
  });

  test('limits - a broker refuses registrations past its limits, saying which', async () => {
    const site = await startSite('a', {
      brokerOptions: { limits: { maxInstances: 3, maxMethods: 10, maxMetadataBytes: 100 } },
    });
    const refusal = async (reg: Parameters<typeof registerRaw>[1]) =>
      errorOf(await registerRaw(site.url, reg));
    for (const id of ['i1', 'i2', 'i3']) await registerRaw(site.url, { id, service: 'calc' });
    expect(await refusal({ id: 'i4', service: 'calc' })).toMatchObject({
      code: 'UNAVAILABLE',
      message: "the registry of site 'a' is full (3 instances)",
    });
    const methods = Array.from({ length: 11 }, (_, i) => `m${i}`);
    expect(await refusal({ id: 'i1', service: 'calc', methods })).toMatchObject({
      code: 'BAD_REQUEST',
      message: "instance 'i1' declares 11 methods, over the limit of 10",
    });
    expect(
      (await refusal({ id: 'i1', service: 'calc', metadata: { k: 'v'.repeat(200) } })).message,
    ).toMatch(/201 bytes of metadata, over the limit of 100/);
    for (const heartbeatMs of [1e308, 10]) {
      expect((await refusal({ id: 'i1', service: 'calc', heartbeatMs })).message).toMatch(
        /accepts 50 to 60000 ms/,
      );
    }
    expect(site.broker?.registry.size).toBe(3);
  });

  test('limits - a server past a broker limit fails to start with the broker refusal', async () => {
    const site = await startSite('a', { brokerOptions: { limits: { maxMetadataBytes: 10 } } });
    const err = await failure(
      serve({ ...echo, metadata: { zone: 'a long zone name' } }, { nats: site.url }),
    );
    expect(err).toMatchObject({ code: 'BAD_REQUEST' });
    expect(String(err.message)).toMatch(/over the limit of 10/);
  });

  test('registration - a FORBIDDEN that names no site is no refusal: no broker sent it, the server starts and retries', async () => {
    const site = await startSite('a', { broker: false });
    const nc = track(await connect({ servers: site.url }));
    let answered = 0;
    nc.subscribe('sb.broker.register.echo', {
      callback: (_err, msg) => {
        answered++;
        // NATS's own refusal of a credential reads the same, but never comes as a reply.
        const forged = new SwitchboardError(ErrorCode.FORBIDDEN, 'permissions violation', {
          completed: 'no',
        });
        respondError(msg, codec, forged);
      },
    });
    await nc.flush();
    const server = track(await serve(echo, { nats: site.url, registerTimeoutMs: 500 }));
    expect(answered).toBeGreaterThan(0);
    expect(server.instanceId).toBeTruthy();
  });

  test('listing - a registry larger than one message is listed whole, page by page', async () => {
    const site = await startSite('a', { nats: { maxPayload: 16 * 1024 } });
    const nc = track(await connect({ servers: site.url }));
    const count = 600;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        nc.request(
          `sb.broker.register.svc${i % 7}`,
          encode({
            v: 1,
            instance: {
              id: `inst-${i}`,
              service: `svc${i % 7}`,
              version: '1.0.0',
              methods: ['alpha', 'beta', 'gamma'],
              metadata: { note: 'x'.repeat(40) },
              heartbeatMs: 60_000,
              secret: 'listing-test-secret',
            },
          }),
          { timeout: 5000 },
        ),
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    const listing = await client.list();
    const ids = listing.services.flatMap((s) => s.instances.map((i) => i.id));
    expect(ids).toHaveLength(count);
    expect(new Set(ids).size).toBe(count);
    expect(listing.services.map((s) => s.name)).toEqual([
      'svc0',
      'svc1',
      'svc2',
      'svc3',
      'svc4',
      'svc5',
      'svc6',
    ]);
    // Lookups of a service too large for one reply give the nearest that fit.
    expect((await client.lookup('svc0')).length).toBeGreaterThan(0);
  });

  test('ownership - a live instance cannot be taken over, renewed or removed without its secret', async () => {
    const site = await startSite('a');
    const server = track(await serve(calculatorService(), { nats: site.url }));
    const id = server.instanceId;
    expect(
      errorOf(
        await registerRaw(site.url, { id, service: 'calculator', secret: 'hijacker-secret-long' }),
      ),
    ).toMatchObject({ code: 'FORBIDDEN' });
    const nc = track(await connect({ servers: site.url }));
    const claim = encode({ v: 1, id, secret: 'hijacker-secret-long' });
    nc.publish('sb.broker.deregister.calculator', claim);
    nc.publish('sb.broker.heartbeat.calculator', claim);
    await nc.flush();
    const client = track(await Client.connect({ nats: site.url }));
    expect((await client.lookup('calculator')).map((i) => i.id)).toEqual([id]);
    expect(await client.proxy<Calculator>('calculator').add(1, 2)).toBe(3);
  });

  test('ownership - only the route subjects take registrations that carry a route', async () => {
    const site = await startSite('a');
    const nc = track(await connect({ servers: site.url }));
    const instance = {
      id: 'fake-route',
      service: 'calculator',
      version: '1.0.0',
      methods: ['add'],
      metadata: {},
      heartbeatMs: 1000,
      secret: 'route-poser-secret',
      route: { site: 'z', path: ['z'] },
    };
    const reply = await nc.request('sb.broker.register.calculator', encode({ v: 1, instance }));
    expect(errorOf(reply).message).toMatch(/a route registers on sb\.broker\.route\.register/);
    const mismatched = await nc.request(
      'sb.broker.register.other',
      encode({ v: 1, instance: { ...instance, route: undefined } }),
    );
    expect(errorOf(mismatched).message).toMatch(/subject names service 'other'/);
    expect(site.broker?.registry.size).toBe(0);
  });

  test('cancel - a cancel notice sent to the broker never becomes a call', async () => {
    const site = await startSite('a');
    let runs = 0;
    track(
      await serve(
        {
          name: 'slow',
          methods: {
            sleep: (ms: number) => {
              runs += 1;
              return ms;
            },
          },
        },
        { nats: site.url },
      ),
    );
    const nc = track(await connect({ servers: site.url }));
    const h = headers();
    h.set('sb-call', '1;c9;slow;sleep;2000;;;');
    h.set('sb-cancel', '1');
    nc.publish('sb.broker.call.slow', encode([]), {
      headers: h,
      reply: '_INBOX.cancel.1',
    });
    await nc.flush();
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    expect(await thin.call('slow', 'sleep', [5])).toBe(5);
    expect(runs).toBe(1);
  });

  test('cancel - a thin client that aborts reaches the handler through the broker', async () => {
    const site = await startSite('a');
    const aborted = latch();
    const started = latch();
    track(
      await serve(
        {
          name: 'slow',
          methods: {
            wait: (ctx: { signal: AbortSignal }) =>
              new Promise((resolve) => {
                started.open();
                ctx.signal.addEventListener('abort', () => {
                  aborted.open();
                  resolve('aborted');
                });
              }),
          },
        },
        { nats: site.url },
      ),
    );
    const thin = track(await Client.connect({ nats: site.url, viaBroker: true }));
    const controller = new AbortController();
    const call = thin.call('slow', 'wait', [], { signal: controller.signal, timeoutMs: 10_000 });
    await started.opened;
    controller.abort();
    expect(await failure(call)).toMatchObject({ code: 'CANCELLED' });
    await aborted.opened;
  });

  test('cancel - a budget of 0 sent to the broker gets TIMEOUT, completion no', async () => {
    const site = await startSite('a');
    track(await serve(calculatorService(), { nats: site.url }));
    const nc = track(await connect({ servers: site.url }));
    const h = headers();
    h.set('sb-call', '1;c1;calculator;add;0;;;');
    const reply = await nc.request('sb.broker.call.calculator', encode([1, 2]), {
      headers: h,
      timeout: 2000,
    });
    expect(errorOf(reply)).toMatchObject({ code: 'TIMEOUT', completed: 'no' });
  });

  test('payloads - a result too large for the caller site comes back across a bridge as PAYLOAD_TOO_LARGE at once', async () => {
    const a = await startSite('a', { nats: { maxPayload: 1024 * 1024 } });
    const b = await startSite('b', { nats: { maxPayload: 8 * 1024 * 1024 } });
    track(
      await serve(
        { name: 'source', methods: { give: (n: number) => new Uint8Array(n) } },
        { nats: b.url },
      ),
    );
    await startBridge(a, b);
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('source')).length > 0, 5000, 'route');
    expect(await client.call('source', 'give', [10])).toHaveLength(10);
    const started = Date.now();
    const err = await failure(
      client.call('source', 'give', [2 * 1024 * 1024], { timeoutMs: 30_000 }),
    );
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', completed: 'yes' });
    // Promptly: long before the 30 s deadline a timeout would have taken.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  test('brokers - two brokers keep serving after each has been sent garbage on every subject', async () => {
    const site = await startSite('a', { broker: false });
    track(await Broker.start({ nats: site.url, site: 'a' }));
    track(await Broker.start({ nats: site.url, site: 'a' }));
    const raw = await rawNats(site.url);
    track({ close: () => raw.close() });
    for (const subject of [
      'sb.broker.register.x',
      'sb.broker.route.register.x',
      'sb.broker.heartbeat.x',
      'sb.broker.deregister.x',
      'sb.broker.lookup',
      'sb.broker.list',
      'sb.broker.info',
      'sb.broker.call.x',
    ]) {
      raw.hpub(subject, POISON, new Uint8Array([0xc1, 0xff]), '_INBOX.sink.1');
    }
    await raw.flush();
    track(await serve(echo, { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    expect(await client.call('echo', 'say', ['ok'])).toBe('ok');
  });
});
