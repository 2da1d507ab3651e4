import { encode } from '@msgpack/msgpack';
import { connect, headers, type Msg, type NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  type Calculator,
  Client,
  Codec,
  calculatorService,
  isErrorReply,
  parse,
  serve,
} from '../../src/internal.js';
import { eventually, failure, latch, reachable, startBridge, startSite, track } from './helpers.js';

const codec = new Codec();

async function rawConnection(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  track({ close: () => nc.close() });
  return nc;
}

/** Reads an error reply; fails the test when the reply is not one. */
function errorOf(msg: Msg) {
  expect(isErrorReply(msg.headers)).toBe(true);
  return parse.errorData(codec.decode(msg.data));
}

describe('bad input', () => {
  test('broker - malformed registry requests get BAD_REQUEST and the broker keeps serving', async () => {
    const site = await startSite('a');
    const nc = await rawConnection(site.url);
    const garbage = new Uint8Array([0xc1, 0xff, 0x00]);
    for (const subject of ['sb.broker.register.calc', 'sb.broker.lookup', 'sb.broker.list']) {
      const reply = errorOf(await nc.request(subject, garbage, { timeout: 2000 }));
      expect(reply).toMatchObject({ code: 'BAD_REQUEST', site: 'a' });
      expect(reply.message).toMatch(/malformed msgpack/);
    }
    const wrongVersion = errorOf(
      await nc.request('sb.broker.lookup', encode({ v: 99, service: 'x' })),
    );
    expect(wrongVersion.message).toMatch(/unsupported protocol version 99/);
    const missing = errorOf(
      await nc.request(
        'sb.broker.register.calc',
        encode({ v: 1, instance: { id: 'x1', service: 'calc' } }),
      ),
    );
    expect(missing).toMatchObject({ code: 'BAD_REQUEST' });
    expect(missing.message).toMatch(/instance\.version/);
    // Messages without a reply subject are dropped with a log line, not a crash.
    nc.publish('sb.broker.heartbeat.calc', garbage);
    nc.publish('sb.broker.deregister.calc', encode({ v: 1 }));
    track(await serve(calculatorService(), { nats: site.url }));
    const client = track(await Client.connect({ nats: site.url }));
    expect(await client.proxy<Calculator>('calculator').add(2, 2)).toBe(4);
  });

  test('server - calls with bad headers or bodies get BAD_REQUEST', async () => {
    const site = await startSite('a');
    const server = track(await serve(calculatorService(), { nats: site.url }));
    const nc = await rawConnection(site.url);
    const subject = `sb.instance.calculator.${server.instanceId}`;
    const call = (h: Record<string, string> | undefined, body: Uint8Array) => {
      const hdrs = h ? headers() : undefined;
      for (const [k, v] of Object.entries(h ?? {})) hdrs?.set(k, v);
      return nc.request(subject, body, { timeout: 2000, headers: hdrs });
    };
    // The routing metadata header: version;call id;service;method;budget;path;site;range.
    const good = { 'sb-call': '1;c1;calculator;add;2000;;;' };
    expect(errorOf(await call(undefined, encode([1, 2]))).message).toMatch(/no headers/);
    expect(
      errorOf(await call({ 'sb-call': '7;c1;calculator;add;2000;;;' }, encode([1, 2]))).message,
    ).toMatch(/version '7'/);
    expect(
      errorOf(await call({ 'sb-call': '1;c1;calculator;add;soon;;;' }, encode([1, 2]))).message,
    ).toMatch(/budget/);
    expect(errorOf(await call({ 'sb-call': '1;c1;calculator' }, encode([1, 2]))).message).toMatch(
      /8 fields/,
    );
    expect(errorOf(await call(good, new Uint8Array([0x92, 0x01]))).code).toBe('BAD_REQUEST');
    expect(errorOf(await call(good, encode({ a: 1 }))).message).toMatch(/must be a msgpack array/);
    // The server is unharmed.
    expect(codec.decode((await call(good, encode([40, 2]))).data)).toBe(42);
  });

  test('thin clients - the broker answers BAD_REQUEST to calls without routing headers', async () => {
    const site = await startSite('a');
    const nc = await rawConnection(site.url);
    const reply = errorOf(
      await nc.request('sb.broker.call.calculator', encode([1, 2]), { timeout: 2000 }),
    );
    expect(reply).toMatchObject({ code: 'BAD_REQUEST', site: 'a' });
  });

  test('payloads - oversized arguments are refused by the server with PAYLOAD_TOO_LARGE', async () => {
    const site = await startSite('a');
    track(
      await serve(
        { name: 'sink', methods: { take: (b: Uint8Array) => b.length } },
        { nats: site.url, maxPayload: 1024 },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    expect(await client.call('sink', 'take', [new Uint8Array(100)])).toBe(100);
    expect(await failure(client.call('sink', 'take', [new Uint8Array(4096)]))).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      completed: 'no',
    });
  });

  test('payloads - the client refuses arguments over the limit before sending', async () => {
    const site = await startSite('a', { nats: { maxPayload: 64 * 1024 } });
    track(
      await serve(
        { name: 'sink', methods: { take: (b: Uint8Array) => b.length } },
        { nats: site.url },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    const err = await failure(client.call('sink', 'take', [new Uint8Array(100 * 1024)]));
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', completed: 'no' });
    const small = track(await Client.connect({ nats: site.url, maxPayload: 512 }));
    expect(await failure(small.call('sink', 'take', [new Uint8Array(1024)]))).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
  });

  test('payloads - a result too large for NATS comes back as PAYLOAD_TOO_LARGE, completed', async () => {
    const site = await startSite('a', { nats: { maxPayload: 64 * 1024 } });
    track(
      await serve(
        { name: 'source', methods: { give: (n: number) => new Uint8Array(n) } },
        { nats: site.url },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    expect(await client.call('source', 'give', [10])).toHaveLength(10);
    expect(await failure(client.call('source', 'give', [200 * 1024]))).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      completed: 'yes',
      service: 'source',
    });
  });
});

/** A service whose calls wait for `release`; `started` counts the calls its handler took. */
async function holdingService(url: string) {
  const release = latch();
  const held = { started: 0 };
  const wait = async () => {
    held.started++;
    await release.opened;
    return 'done';
  };
  track(await serve({ name: 'slow', methods: { wait } }, { nats: url, maxConcurrent: 1000 }));
  return { held, release: release.open };
}

/** Settles every call (attached at once): the values, and the errors' codes and completions. */
async function outcomes(calls: Promise<unknown>[]) {
  const settled = await Promise.allSettled(calls);
  const done = settled.filter((s) => s.status === 'fulfilled' && s.value === 'done').length;
  const refused = settled.flatMap((s) =>
    s.status === 'rejected' ? [`${s.reason.code}/${s.reason.completed}`] : [],
  );
  return { done, refused: [...new Set(refused)], refusedCount: refused.length };
}

describe('calls in flight', () => {
  test('broker - thin calls past its in-flight limit, or past the share of one client, are refused UNAVAILABLE, completion no, while those it holds finish', async () => {
    const site = await startSite('a', { brokerOptions: { inFlight: { maxCalls: 20 } } });
    const { held, release } = await holdingService(site.url);
    const connect = async () =>
      track(await Client.connect({ nats: site.url, viaBroker: true, timeoutMs: 10_000 }));
    const [greedy, other] = [await connect(), await connect()];
    const wait = (client: Client) => client.call('slow', 'wait', []);
    // One client holds at most half of the room: 10 of its 15 calls.
    const greedyCalls = outcomes(Array.from({ length: 15 }, () => wait(greedy)));
    await eventually(() => held.started === 10, 5000, '10 calls of one client held');
    const overShare = await failure(wait(greedy));
    expect(overShare).toMatchObject({ code: 'UNAVAILABLE', completed: 'no', site: 'a' });
    expect(overShare.message).toMatch(/broker busy: its limit per caller of 10 calls/);
    // The other client still has the rest, up to the whole limit.
    const otherCalls = outcomes(Array.from({ length: 15 }, () => wait(other)));
    await eventually(() => held.started === 20, 5000, '20 calls held by the server');
    expect((await failure(wait(other))).message).toMatch(/broker busy: its limit of 20 calls/);
    release();
    expect(await greedyCalls).toEqual({ done: 10, refused: ['UNAVAILABLE/no'], refusedCount: 5 });
    expect(await otherCalls).toEqual({ done: 10, refused: ['UNAVAILABLE/no'], refusedCount: 5 });
    expect(held.started).toBe(20);
    expect(await wait(greedy)).toBe('done');
  });

  test('bridge - calls past its in-flight limit are refused UNAVAILABLE, completion no, while those it holds finish', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const { held, release } = await holdingService(a.url);
    // One origin site's share is the whole room here (half by default: see the broker's test).
    await startBridge(a, b, { inFlight: { maxCalls: 10, maxCallsPerCaller: 10 } });
    const client = track(await Client.connect({ nats: b.url, timeoutMs: 10_000 }));
    await reachable(client, 'slow', 'a');
    const calls = outcomes(Array.from({ length: 25 }, () => client.call('slow', 'wait', [])));
    await eventually(() => held.started === 10, 5000, '10 calls held by the server');
    release();
    expect(await calls).toEqual({
      done: 10,
      refused: ['UNAVAILABLE/no'],
      refusedCount: 15,
    });
    expect(held.started).toBe(10);
    expect(await client.call('slow', 'wait', [])).toBe('done');
  });
});

describe('registry share', () => {
  test('bridge - a linked site offering more services than a bridge may hold fills only its share of the registry', async () => {
    const a = await startSite('a');
    const b = await startSite('b', {
      brokerOptions: { limits: { maxInstances: 6, maxBridgeRoutes: 3 } },
    });
    const names = ['s1', 's2', 's3', 's4', 's5'];
    for (const name of names) {
      track(await serve({ name, methods: { ping: () => name } }, { nats: a.url }));
    }
    await startBridge(a, b);
    const client = track(await Client.connect({ nats: b.url }));
    const routes = async () => (await client.list()).services.filter((s) => s.instances.length);
    await eventually(async () => (await routes()).length === 3, 5000, '3 routes at site b');
    track(await serve({ name: 'local', methods: { ping: () => 'here' } }, { nats: b.url }));
    track(await serve({ name: 'local2', methods: { ping: () => 'here too' } }, { nats: b.url }));
    expect(await client.call('local2', 'ping', [])).toBe('here too');
    const reached = (await routes()).map((s) => s.name).filter((n) => names.includes(n));
    expect(reached).toHaveLength(3);
    expect(await client.call(reached[0]!, 'ping', [])).toBe(reached[0]);
  });
});
