import { encode } from '@msgpack/msgpack';
import { connect, headers } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  Bridge,
  type Calculator,
  Client,
  Codec,
  calculatorService,
  type InstanceView,
  parse,
  serve,
  subjectsFor,
} from '../../src/internal.js';
import {
  eventually,
  failure,
  reachable,
  startBridge,
  startSite,
  track,
  type Where,
  whereService,
} from './helpers.js';

/**
 * Sends a call with a hand-written `sb-call` header straight to a route
 * instance (as a hostile client could), and returns the error it gets back.
 */
async function craftedCall(url: string, route: InstanceView, sbCall: string) {
  const nc = track(await connect({ servers: url }));
  const h = headers();
  h.set('sb-call', sbCall);
  const reply = await nc.request(subjectsFor().route(route.service, route.id), encode([]), {
    headers: h,
    timeout: 2000,
  });
  return parse.errorData(new Codec().decode(reply.data));
}

describe('federation', () => {
  test('two sites - call, exception, timeout and lookup across a bridge', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const calculator = track(await serve(calculatorService(), { nats: b.url }));
    track(await serve(whereService('b'), { nats: b.url }));
    await startBridge(a, b);
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'calculator', 'b', 1);
    await reachable(client, 'where', 'b', 1);
    // Ids end the subject of every call, so they are short: an instance's is 12
    // random characters, a route's its bridge half's id and a count.
    expect(calculator.instanceId).toMatch(/^[0-9a-z]{12}$/);
    const routes = [...(await client.lookup('calculator')), ...(await client.lookup('where'))];
    for (const route of routes) expect(route.id).toMatch(/^[0-9a-z]{10}-[0-9a-z]{1,3}$/);
    expect(new Set(routes.map((r) => r.id.split('-')[0])).size).toBe(1);
    expect(new Set(routes.map((r) => r.id)).size).toBe(2);
    const calc = client.proxy<Calculator>('calculator');
    expect(await calc.add(2, 3)).toBe(5);
    const where = client.proxy<Where>('where');
    expect(await where.path()).toEqual(['a', 'b']);
    const err = await failure(where.fail());
    expect(err).toMatchObject({
      code: 'APPLICATION',
      remoteName: 'RangeError',
      appCode: 'OUT_OF_RANGE',
      details: { site: 'b' },
      site: 'b',
      service: 'where',
      completed: 'yes',
      path: ['a', 'b'],
    });
    expect(await failure(calc.divide(1, 0))).toMatchObject({
      appCode: 'DIVIDE_BY_ZERO',
      site: 'b',
    });
    const slow = client.proxy<Where>('where', { timeoutMs: 300 });
    expect(await failure(slow.sleep(5000))).toMatchObject({ code: 'TIMEOUT' });
    const [instance] = await client.lookup('calculator');
    expect(instance).toMatchObject({ site: 'b', path: ['b'], hops: 1 });
    // Lookups and listings at A show the remote service with its site and path.
    const listing = await client.list();
    expect(listing.services.find((s) => s.name === 'calculator')?.instances[0]).toMatchObject({
      site: 'b',
      path: ['b'],
    });
  });

  test('two sites - the deadline budget shrinks across the bridge', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    track(await serve(whereService('b'), { nats: b.url }));
    await startBridge(a, b);
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'where', 'b');
    const left = await client.proxy<Where>('where', { timeoutMs: 1000 }).budget();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(1000);
  });

  test('two sites - a thin client at A reaches B through its broker and the bridge', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    track(await serve(calculatorService(), { nats: b.url }));
    await startBridge(a, b);
    const direct = track(await Client.connect({ nats: a.url }));
    await reachable(direct, 'calculator', 'b');
    const thin = track(await Client.connect({ nats: a.url, viaBroker: true }));
    expect(await thin.proxy<Calculator>('calculator').add(20, 22)).toBe(42);
  });

  test('chain A-B-C - a client at A calls a server at C that joins after the bridges, and leaves', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const c = await startSite('c');
    await startBridge(a, b);
    await startBridge(b, c);
    const client = track(await Client.connect({ nats: a.url }));
    const joined = Date.now();
    const server = await serve(whereService('c'), { nats: c.url });
    await reachable(client, 'where', 'c', 2);
    // Visible across two bridges well within a second or so.
    expect(Date.now() - joined).toBeLessThan(3000);
    const where = client.proxy<Where>('where');
    expect(await where.site()).toBe('c');
    expect(await where.path()).toEqual(['a', 'b', 'c']);
    expect(await failure(where.fail())).toMatchObject({
      site: 'c',
      path: ['a', 'b', 'c'],
      appCode: 'OUT_OF_RANGE',
    });
    const [before] = await client.lookup('where');
    await server.close();
    await eventually(
      async () => (await client.lookup('where')).length === 0,
      5000,
      'route withdrawal',
    );
    expect(await failure(where.site())).toMatchObject({ code: 'UNAVAILABLE', service: 'where' });
    // Advertised again, the route gets a new id from the same bridge half.
    track(await serve(whereService('c'), { nats: c.url }));
    await reachable(client, 'where', 'c', 2);
    const [after] = await client.lookup('where');
    expect(after!.id).not.toBe(before!.id);
    expect(after!.id.split('-')[0]).toBe(before!.id.split('-')[0]);
    expect(await where.site()).toBe('c');
  });

  test('chain A-B-C - the middle bridge stops and restarts', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const c = await startSite('c');
    await startBridge(a, b);
    const bc = await Bridge.start({
      local: { nats: b.url },
      remote: { nats: c.url },
      heartbeatMs: 200,
    });
    await bc.ready();
    track(await serve(whereService('c'), { nats: c.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'where', 'c', 2);
    expect(await client.proxy<Where>('where').site()).toBe('c');
    await bc.close();
    await eventually(async () => (await client.lookup('where')).length === 0, 5000, 'withdrawal');
    expect(await failure(client.proxy<Where>('where').site())).toMatchObject({
      code: 'UNAVAILABLE',
    });
    await startBridge(b, c);
    await reachable(client, 'where', 'c', 2);
    expect(await client.proxy<Where>('where').site()).toBe('c');
  });

  test('triangle A-B-C-A - no loops, direct link preferred, fail over when cut, back when healed', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const c = await startSite('c');
    await startBridge(a, b);
    await startBridge(b, c);
    const ca = await Bridge.start({
      local: { nats: c.url },
      remote: { nats: a.url },
      heartbeatMs: 200,
    });
    await ca.ready();
    track(await serve(whereService('c'), { nats: c.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'where', 'c', 1);
    await reachable(client, 'where', 'c', 2);
    // Only loop-free paths: [c] and [b, c]; never a path crossing a site twice.
    const paths = (await client.lookup('where')).map((i) => i.path.join(','));
    expect(new Set(paths)).toEqual(new Set(['c', 'b,c']));
    const where = client.proxy<Where>('where');
    for (let i = 0; i < 5; i++) expect(await where.path()).toEqual(['a', 'c']);
    // Cut the direct link: calls go round through B.
    await ca.close();
    await eventually(
      async () => (await client.lookup('where')).every((i) => i.hops === 2),
      5000,
      'withdrawal',
    );
    for (let i = 0; i < 5; i++) expect(await where.path()).toEqual(['a', 'b', 'c']);
    // Heal it: the direct path comes back.
    await startBridge(c, a);
    await reachable(client, 'where', 'c', 1);
    await eventually(async () => (await where.path()).length === 2, 5000, 'direct path');
    expect(await where.path()).toEqual(['a', 'c']);
  });

  test('policies - an export filter hides a service across a link and through the next one', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const c = await startSite('c');
    // C exports only calculator to B; B passes on whatever it has to A.
    await startBridge(c, b, { export: ['calc*'] });
    await startBridge(b, a);
    track(await serve(calculatorService(), { nats: c.url }));
    track(await serve(whereService('c'), { nats: c.url }));
    const atA = track(await Client.connect({ nats: a.url }));
    const atB = track(await Client.connect({ nats: b.url }));
    await reachable(atA, 'calculator', 'c', 2);
    expect(await atA.proxy<Calculator>('calculator').add(1, 1)).toBe(2);
    expect(await atB.lookup('where')).toHaveLength(0);
    expect(await atA.lookup('where')).toHaveLength(0);
    expect(await failure(atA.call('where', 'site'))).toMatchObject({ code: 'SERVICE_NOT_FOUND' });
    expect(await failure(atB.call('where', 'site'))).toMatchObject({ code: 'SERVICE_NOT_FOUND' });
    expect((await atA.list()).services.map((s) => s.name)).toEqual(['calculator']);
  });

  test('policies - an import filter keeps remote services out of the local site', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await startBridge(a, b, { import: ['where'] });
    track(await serve(calculatorService(), { nats: b.url }));
    track(await serve(whereService('b'), { nats: b.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'where', 'b');
    expect(await client.lookup('calculator')).toHaveLength(0);
  });

  test('policies - a call crafted to cross a link for a service it does not let through is FORBIDDEN', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await startBridge(a, b, { import: ['calc*'] });
    track(await serve(calculatorService(), { nats: b.url }));
    track(await serve(whereService('b'), { nats: b.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'calculator', 'b');
    const [route] = await client.lookup('calculator');
    expect(await craftedCall(a.url, route!, '1;x1;where;site;2000;a;b;')).toMatchObject({
      code: 'FORBIDDEN',
      service: 'where',
      site: 'a',
    });
  });

  test('hop limit - routes longer than maxHops are not advertised', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const c = await startSite('c');
    await startBridge(a, b, { maxHops: 1 });
    await startBridge(b, c, { maxHops: 1 });
    track(await serve(whereService('c'), { nats: c.url }));
    track(await serve(whereService('b'), { nats: b.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'where', 'b', 1);
    const atB = track(await Client.connect({ nats: b.url }));
    await reachable(atB, 'where', 'c', 1);
    expect((await client.lookup('where')).map((i) => i.site)).toEqual(['b']);
  });

  test('pinning - a caller can pin the site of a service present at several sites', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const c = await startSite('c');
    await startBridge(a, b);
    await startBridge(a, c);
    track(await serve(whereService('b'), { nats: b.url }));
    track(await serve(whereService('c'), { nats: c.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'where', 'b');
    await reachable(client, 'where', 'c');
    for (let i = 0; i < 4; i++) {
      expect(await client.proxy<Where>('where', { site: 'c' }).site()).toBe('c');
      expect(await client.call('where@b', 'site')).toBe('b');
    }
    expect(await failure(client.call('where@z', 'site'))).toMatchObject({
      code: 'SERVICE_NOT_FOUND',
    });
  });

  test('pinning - a thin client pinned to a site is served there, and told when that site has none', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await startBridge(a, b);
    track(await serve(whereService('a'), { nats: a.url }));
    track(await serve(whereService('b'), { nats: b.url }));
    const thin = track(await Client.connect({ nats: a.url, viaBroker: true }));
    const direct = track(await Client.connect({ nats: a.url }));
    await reachable(direct, 'where', 'b');
    for (let i = 0; i < 4; i++) {
      expect(await thin.call('where@b', 'site')).toBe('b');
      expect(await thin.proxy<Where>('where', { site: 'b' }).site()).toBe('b');
      expect(await thin.call('where@a', 'site')).toBe('a');
    }
    expect(await failure(thin.call('where@z', 'site'))).toMatchObject({
      code: 'SERVICE_NOT_FOUND',
      message: "service 'where' at site 'z' is not registered",
    });
  });

  test('policies - a call crafted at the remote side for a service the link does not export is FORBIDDEN', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await startBridge(a, b, { export: ['calc*'] });
    track(await serve(calculatorService(), { nats: a.url }));
    track(await serve(whereService('a'), { nats: a.url }));
    const atB = track(await Client.connect({ nats: b.url }));
    await reachable(atB, 'calculator', 'a');
    expect((await atB.lookup('where')).length).toBe(0);
    const [route] = await atB.lookup('calculator');
    expect(await craftedCall(b.url, route!, '1;x2;where;site;2000;b;a;')).toMatchObject({
      code: 'FORBIDDEN',
      service: 'where',
      site: 'b',
    });
  });

  test('remote NATS down - calls fail fast with UNAVAILABLE, and work again once it is back', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    track(await serve(calculatorService(), { nats: b.url }));
    await startBridge(a, b);
    const client = track(await Client.connect({ nats: a.url }));
    await reachable(client, 'calculator', 'b');
    const calc = client.proxy<Calculator>('calculator', { timeoutMs: 3000 });
    expect(await calc.add(1, 2)).toBe(3);
    await b.nats.stop();
    // Fail fast: well before the 3 s deadline, and with UNAVAILABLE.
    await eventually(
      async () => {
        const started = Date.now();
        const err = await failure(calc.add(1, 2));
        return err.code === 'UNAVAILABLE' && Date.now() - started < 1000;
      },
      5000,
      'calls to fail fast',
    );
    await b.nats.restart();
    await eventually(
      async () => (await calc.add(1, 2).catch(() => 0)) === 3,
      10_000,
      'calls to work again',
    );
  }, 30_000);

  test('bridges wait for a broker on each side, saying so', async () => {
    const a = await startSite('a');
    const b = await startSite('b', { broker: false });
    const lines: string[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };
    const link = track(
      await Bridge.start({ local: { nats: a.url }, remote: { nats: b.url }, logger }),
    );
    await eventually(
      () => lines.some((l) => /waiting for a broker on the remote side/.test(l)),
      3000,
      'the waiting line',
    );
    const { Broker } = await import('../../src/internal.js');
    track(await Broker.start({ nats: b.url, site: 'b' }));
    expect(await link.ready()).toBe(true);
    expect(link.sites).toEqual({ local: 'a', remote: 'b' });
  });
});
