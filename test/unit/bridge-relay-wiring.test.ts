/**
 * Calls through a real `Bridge` between sites on the in-memory NATS: results
 * and error replies, the path and budget a call arrives with, refusals (hop
 * limit, loops, policy), cancel notices and probes, the discovery stats and
 * the metrics of what a bridge relays.
 */
import { afterEach, describe, expect, test } from 'vitest';
import {
  type CallMeta,
  calculatorService,
  callHeaders,
  cancelHeaders,
  Metrics,
  probeHeaders,
  SwitchboardError,
  subjectsFor,
} from '../../src/internal.js';
import {
  MemoryMesh,
  type MemorySite,
  routed,
  until,
  whereService,
} from '../support/memory-mesh.js';
import { collect, type MemoryConnection, within } from '../support/memory-nats.js';
import { callMeta } from '../support/memory-site.js';
import { codec, errorIn, resultIn, V } from '../support/memory-wire.js';

const subjects = subjectsFor();
const mesh = new MemoryMesh();
afterEach(() => mesh.close());

/** Sites a and b with `where` served at b, bridged; a raw connection at a and the route to b. */
async function linked(options: Parameters<MemoryMesh['bridge']>[2] = {}) {
  const a = await mesh.site('a');
  const b = await mesh.site('b');
  const where = whereService('b');
  await mesh.serve(b, where.service);
  const linkedBridge = await mesh.bridge(a, b, options);
  const route = await routeTo(a, 'where');
  const client = await mesh.client(a);
  return { a, b, where, ...linkedBridge, route, client, nc: a.bus.connect({ name: 'raw' }) };
}

async function routeTo(site: MemorySite, service: string) {
  return (await routed(site, service))[0]!;
}

/** A call sent by hand to a route, as a caller (or a hostile peer) would send it. */
function crafted(nc: MemoryConnection, subject: string, meta: CallMeta, args: unknown[] = []) {
  const reply = nc.request(subject, codec.encode(args), {
    timeout: 60_000,
    headers: callHeaders(meta).forNats(),
  });
  return within(reply, () => `a reply from ${subject}`);
}

const whereCall = (fields: Partial<CallMeta> = {}) =>
  callMeta('where', { callId: 'x1', method: 'path', budgetMs: 2000, path: ['a'], ...fields });

describe('bridge relay wiring', () => {
  test('bridge relay - a call from a client at a reaches the server at b and its result comes back', async () => {
    const { client, logger } = await linked();
    expect(await client.call('where', 'site')).toBe('b');
    expect(await client.call('where', 'path')).toEqual(['a', 'b']);
    expect([...logger.at('warn'), ...logger.at('error')]).toEqual([]);
  });

  test('bridge relay - a call for a method the route does not list is relayed, and the server answers it', async () => {
    const metrics = new Metrics();
    const { nc, route, logger } = await linked({ metrics });
    const err = errorIn(
      await crafted(nc, subjects.route('where', route.id), whereCall({ method: 'nope' })),
    );
    expect(err).toMatchObject({ site: 'b', path: ['a', 'b'] });
    expect(logger.at('error')).toEqual([]);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      `switchboard_bridge_relayed_calls_total{site="a",link="a-b",direction="a→b",code="${err.code}"} 1`,
    );
  });

  test('bridge relay - a message on a route that is not a call is BAD_REQUEST from the bridge site', async () => {
    const { nc, route } = await linked();
    const reply = await within(
      nc.request(subjects.route('where', route.id), codec.encode([]), { timeout: 60_000 }),
      () => 'a reply to a message without a call header',
    );
    expect(errorIn(reply)).toMatchObject({ code: 'BAD_REQUEST', site: 'a', completed: 'no' });
  });

  test('bridge relay - a call without a reply subject is dropped at the bridge, not run at b', async () => {
    const { nc, route, where, logger } = await linked();
    const subject = subjects.route('where', route.id);
    const sleep = (callId: string) => whereCall({ callId, method: 'sleep' });
    nc.publish(subject, codec.encode([1]), { headers: callHeaders(sleep('quiet-1')).forNats() });
    expect(resultIn(await crafted(nc, subject, sleep('loud-1'), [1]))).toBe(1);
    expect(where.started).toEqual(['loud-1']);
    expect(logger.at('warn').join('\n')).toMatch(/dropped a call without reply subject/);
  });

  test("bridge relay - a call for another service than the route's, which the link lets through, is SERVICE_NOT_FOUND from the bridge site", async () => {
    const { a, b, nc, route } = await linked();
    await mesh.serve(b, calculatorService(), 'calc-b');
    await routeTo(a, 'calculator');
    const add = whereCall({ service: 'calculator', method: 'add' });
    const reply = await crafted(nc, subjects.route('where', route.id), add, [1, 2]);
    expect(errorIn(reply)).toMatchObject({
      code: 'SERVICE_NOT_FOUND',
      service: 'calculator',
      site: 'a',
      completed: 'no',
      message: "this route carries 'where', not 'calculator'",
    });
  });

  test('bridge relay - probes at the side of b are answered by the inward relay', async () => {
    const { a, b } = await linked();
    await mesh.serve(a, calculatorService(), 'calc-a');
    const route = await routeTo(b, 'calculator');
    const nc = b.bus.connect();
    const reply = await nc.request(
      subjects.route('calculator', route.id),
      codec.encode({ v: V, calls: ['c1'] }),
      { headers: probeHeaders().forNats() },
    );
    expect(codec.decode(reply.data)).toEqual({ v: V, held: [] });
  });

  test('bridge relay - an error reply comes back untouched, with the far site and the path', async () => {
    const { client } = await linked();
    const err = await client.call('where', 'fail').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err).toMatchObject({
      code: 'APPLICATION',
      remoteName: 'RangeError',
      appCode: 'OUT_OF_RANGE',
      message: 'bad at b',
      site: 'b',
      completed: 'yes',
      path: ['a', 'b'],
    });
  });

  test('bridge relay - the budget arriving at b is the budget sent, shrunk', async () => {
    const { nc, route } = await linked();
    const subject = subjects.route('where', route.id);
    const left = resultIn(
      await crafted(nc, subject, whereCall({ method: 'budget', budgetMs: 1500 })),
    ) as number;
    expect(left).toBeLessThanOrEqual(1500);
    expect(left).toBeGreaterThan(1000);
    const path = resultIn(await crafted(nc, subject, whereCall({ path: ['z', 'a'] })));
    expect(path).toEqual(['z', 'a', 'b']);
  });

  test('bridge relay - a call whose budget is spent is refused with TIMEOUT at the bridge', async () => {
    const { nc, route } = await linked();
    const err = errorIn(
      await crafted(nc, subjects.route('where', route.id), whereCall({ budgetMs: 0 })),
    );
    expect(err).toMatchObject({ code: 'TIMEOUT', site: 'a', completed: 'no' });
  });

  test('bridge relay - the hop limit of the bridge: maxHops sites on the path pass, one more is refused', async () => {
    const { nc, route } = await linked({ maxHops: 2 });
    const subject = subjects.route('where', route.id);
    expect(resultIn(await crafted(nc, subject, whereCall({ path: ['z', 'a'] })))).toEqual([
      'z',
      'a',
      'b',
    ]);
    const err = errorIn(await crafted(nc, subject, whereCall({ path: ['y', 'z', 'a'] })));
    expect(err).toMatchObject({
      code: 'UNAVAILABLE',
      message: "'where': the call exceeds the hop limit of 2",
      site: 'a',
      completed: 'no',
    });
  });

  test('bridge relay - the default hop limit is 8', async () => {
    const { nc, route } = await linked();
    const subject = subjects.route('where', route.id);
    const eight = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 'a'];
    expect(resultIn(await crafted(nc, subject, whereCall({ path: eight })))).toHaveLength(9);
    const err = errorIn(await crafted(nc, subject, whereCall({ path: ['s0', ...eight] })));
    expect(err.message).toBe("'where': the call exceeds the hop limit of 8");
  });

  test('bridge relay - a call that has crossed the far site already is refused', async () => {
    const { nc, route } = await linked();
    const err = errorIn(
      await crafted(nc, subjects.route('where', route.id), whereCall({ path: ['b', 'a'] })),
    );
    expect(err).toMatchObject({
      code: 'UNAVAILABLE',
      message: "'where': the call would cross site 'b' twice",
    });
  });

  test('bridge relay - a call crafted at b for a service a does not export is FORBIDDEN; at a, imports decide', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    await mesh.serve(a, calculatorService(), 'calc-a');
    await mesh.serve(a, whereService('a').service, 'where-a');
    await mesh.serve(b, calculatorService(), 'calc-b');
    await mesh.serve(b, whereService('b').service, 'where-b');
    await mesh.bridge(a, b, { export: ['calc*'], import: ['wh*'] });
    const atB = await routeTo(b, 'calculator');
    const atA = await routeTo(a, 'where');
    const forbidden = (service: string, site: string, far: string) => ({
      code: 'FORBIDDEN',
      service,
      site,
      completed: 'no',
      message: `the bridge from site '${far}' to site '${site}' does not let '${service}' through`,
    });
    const add = (path: string[]) =>
      whereCall({ service: 'calculator', method: 'add', path, budgetMs: 2000 });
    // Inward (b to a): exports decide, so 'where' is refused and 'calculator' let through.
    const ncB = b.bus.connect();
    const toA = subjects.route('calculator', atB.id);
    expect(errorIn(await crafted(ncB, toA, whereCall({ path: ['b'] })))).toMatchObject(
      forbidden('where', 'b', 'a'),
    );
    expect(resultIn(await crafted(ncB, toA, add(['b']), [1, 2]))).toBe(3);
    // Outward (a to b): imports decide, so 'calculator' is refused and 'where' let through.
    const ncA = a.bus.connect();
    const toB = subjects.route('where', atA.id);
    expect(errorIn(await crafted(ncA, toB, add(['a']), [1, 2]))).toMatchObject(
      forbidden('calculator', 'a', 'b'),
    );
    expect(resultIn(await crafted(ncA, toB, whereCall({ method: 'site' })))).toBe('b');
  });

  test('bridge relay - a cancel notice follows the call to the server; probes see the call held until it ends', async () => {
    const { nc, route, where } = await linked();
    const subject = subjects.route('where', route.id);
    const probe = async (calls: string[]) => {
      const reply = await nc.request(subject, codec.encode({ v: V, calls }), {
        headers: probeHeaders().forNats(),
      });
      return codec.decode(reply.data);
    };
    const meta = whereCall({ callId: 'slow1', method: 'sleep', budgetMs: 10_000 });
    const pending = crafted(nc, subject, meta, [60_000]);
    await until(async () => {
      const { held } = (await probe(['slow1', 'other'])) as { held: string[] };
      return held.length === 1;
    }, 'the call held by the bridge');
    expect(await probe(['slow1', 'other'])).toEqual({ v: V, held: ['slow1'] });
    nc.publish(subject, undefined, { headers: cancelHeaders(meta).forNats() });
    await until(() => where.aborted.length === 1, 'the server to hear the cancel notice');
    expect(where.aborted).toEqual(['slow1']);
    await pending.catch(() => undefined);
    expect(await probe(['slow1'])).toEqual({ v: V, held: [] });
  });

  test('bridge relay - a call under way when its route is withdrawn still gets its reply', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const where = whereService('b');
    const { server } = await mesh.serve(b, where.service);
    const { logger } = await mesh.bridge(a, b);
    const route = await routeTo(a, 'where');
    const nc = a.bus.connect();
    const meta = whereCall({ method: 'sleep', budgetMs: 10_000 });
    const pending = crafted(nc, subjects.route('where', route.id), meta, [300]);
    await until(() => where.started.length === 1, 'the call to reach the server');
    const closed = server.close();
    await routed(a, 'where', 0);
    expect(resultIn(await pending)).toBe(300);
    await closed;
    expect(logger.at('error')).toEqual([]);
  });

  test('bridge relay - a client giving up sends the cancel notice across', async () => {
    const { client, where } = await linked();
    const controller = new AbortController();
    const call = client.call('where', 'sleep', [60_000], { signal: controller.signal });
    await until(() => where.started.length === 1, 'the call to reach the server');
    controller.abort();
    await call.catch(() => undefined);
    await until(() => where.aborted.length === 1, 'the server to hear the cancel notice');
  });

  test('bridge relay - discovery stats of a route count the calls relayed on it, by method and errors', async () => {
    const { nc, client, route } = await linked();
    await client.call('where', 'site');
    await client.call('where', 'fail').catch(() => undefined);
    const stats = collect(nc, '_INBOX.stats');
    nc.publish(`$SRV.STATS.where.${route.id}`, undefined, { reply: '_INBOX.stats' });
    const [msg] = await stats.atLeast(1);
    const answer = JSON.parse(new TextDecoder().decode(msg!.data));
    const byName = Object.fromEntries(
      (answer.endpoints as Array<{ name: string; num_requests: number; num_errors: number }>).map(
        (e) => [e.name, [e.num_requests, e.num_errors]],
      ),
    );
    expect(byName).toEqual({
      site: [1, 0],
      path: [0, 0],
      budget: [0, 0],
      fail: [1, 1],
      sleep: [0, 0],
    });
    expect(answer.endpoints[0].subject).toBe(subjects.route('where', route.id));
    const fail = answer.endpoints.find((e: { name: string }) => e.name === 'fail');
    expect(fail.processing_time).toBeLessThan(1e9);
    expect(fail).toMatchObject({
      last_error: 'bad at b',
      data: {
        errors_by_code: { APPLICATION: 1 },
        calls_by_path: { a: 1 },
        last_error_code: 'APPLICATION',
        last_error_site: 'b',
        last_error_path: 'a,b',
      },
    });
  });

  test('bridge relay - metrics count what is relayed per link, direction and code, and read routes and link state', async () => {
    const metrics = new Metrics();
    const { a, b, nc, route, bridge } = await linked({ metrics, maxHops: 2 });
    await mesh.serve(a, whereService('a').service, 'where-a');
    await routeTo(b, 'where');
    const atB = await mesh.client(b);
    expect(await atB.call('where@a', 'site')).toBe('a');
    const subject = subjects.route('where', route.id);
    expect(resultIn(await crafted(nc, subject, whereCall({ method: 'site' })))).toBe('b');
    await crafted(nc, subject, whereCall({ path: ['x', 'y', 'a'] }));
    const lines = async (prefix: string) =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith(prefix))
        .sort();
    const labels = 'site="a",link="a-b",direction="a→b"';
    expect(await lines('switchboard_bridge_relayed_calls_total')).toEqual([
      `switchboard_bridge_relayed_calls_total{${labels},code="OK"} 1`,
      `switchboard_bridge_relayed_calls_total{${labels},code="UNAVAILABLE"} 1`,
      'switchboard_bridge_relayed_calls_total{site="b",link="a-b",direction="b→a",code="OK"} 1',
    ]);
    // Bodies: [] is one byte of msgpack, 'b' two; a refusal has no body.
    expect(await lines(`switchboard_bridge_relayed_bytes_total{${labels}`)).toEqual([
      `switchboard_bridge_relayed_bytes_total{${labels},kind="reply"} 2`,
      `switchboard_bridge_relayed_bytes_total{${labels},kind="request"} 2`,
    ]);
    expect(await lines(`switchboard_bridge_relay_duration_seconds_count{${labels}}`)).toEqual([
      `switchboard_bridge_relay_duration_seconds_count{${labels}} 2`,
    ]);
    const [sum] = await lines(`switchboard_bridge_relay_duration_seconds_sum{${labels}}`);
    expect(Number(sum?.split(' ').at(-1))).toBeLessThan(1);
    expect(await lines('switchboard_bridge_routes')).toEqual([
      'switchboard_bridge_routes{site="a",link="a-b"} 1',
      'switchboard_bridge_routes{site="b",link="a-b"} 1',
    ]);
    expect(await lines('switchboard_bridge_link_up')).toEqual([
      'switchboard_bridge_link_up{site="a",link="a-b",side="local"} 1',
      'switchboard_bridge_link_up{site="b",link="a-b",side="remote"} 1',
    ]);
    expect(await lines('switchboard_bridge_calls_in_flight')).toEqual([
      'switchboard_bridge_calls_in_flight{link="a-b"} 0',
    ]);
    await bridge.close();
    expect(await lines('switchboard_bridge_routes{')).toEqual([]);
    expect(await lines('switchboard_bridge_link_up{')).toEqual([]);
    expect(await lines('switchboard_bridge_calls_in_flight{')).toEqual([]);
  });

  test('bridge relay - an error reply with a body counts its bytes', async () => {
    const metrics = new Metrics();
    const { client } = await linked({ metrics });
    await client.call('where', 'fail').catch(() => undefined);
    const text = await metrics.registry.metrics();
    const reply = text.split('\n').find((l) => l.includes('kind="reply"'));
    expect(Number(reply?.split(' ').at(-1))).toBeGreaterThan(10);
  });
});
