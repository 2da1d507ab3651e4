/**
 * Observing a three-site chain: Prometheus metrics of a broker, a bridge and
 * a server, health that follows the connection to NATS, the NATS service
 * discovery protocol across sites, metadata and interceptors across bridges.
 */
import { connect } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  Broker,
  type CallContext,
  Client,
  calculatorService,
  Metrics,
  type ServerInterceptor,
  SwitchboardError,
  serve,
  serveObservability,
} from '../../src/internal.js';
import { portToListenOn, start } from './cli-process.js';
import { eventually, failure, startBridge, startSite, track } from './helpers.js';

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** The text `endpoint` serves on /metrics. */
async function metricsText(endpoint: { port: number }): Promise<string> {
  return (await get(`http://127.0.0.1:${endpoint.port}/metrics`)).text;
}

/** The value of one series in a Prometheus text exposition, if present. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('observability', () => {
  test('metrics - a broker, a bridge and a server at a three-site chain count the calls just made', async () => {
    const [a, b] = [await startSite('a'), await startSite('b', { broker: false })];
    const c = await startSite('c', { broker: false });
    const brokerMetrics = new Metrics();
    track(await Broker.start({ nats: b.url, site: 'b', metrics: brokerMetrics }));
    track(await Broker.start({ nats: c.url, site: 'c' }));
    const bridgeMetrics = new Metrics();
    await startBridge(a, b, { metrics: bridgeMetrics });
    await startBridge(b, c);
    const serverMetrics = new Metrics();
    track(await serve(calculatorService(), { nats: c.url, metrics: serverMetrics }));
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('calculator')).length > 0, 5000, 'route');
    for (let i = 0; i < 3; i++) expect(await client.call('calculator', 'add', [i, 1])).toBe(i + 1);
    await failure(client.call('calculator', 'divide', [1, 0]));
    const thin = track(await Client.connect({ nats: b.url, viaBroker: true }));
    expect(await thin.call('calculator', 'add', [2, 2])).toBe(4);

    const endpoints = await Promise.all(
      [brokerMetrics, bridgeMetrics, serverMetrics].map(async (metrics) =>
        track(await serveObservability({ port: 0, metrics, health: () => [] })),
      ),
    );
    const [broker, bridge, server] = await Promise.all(endpoints.map(metricsText));
    expect(
      series(server!, 'switchboard_server_calls_total', { site: 'c', method: 'add', code: 'OK' }),
    ).toBe(4);
    expect(
      series(server!, 'switchboard_server_calls_total', { method: 'divide', code: 'APPLICATION' }),
    ).toBe(1);
    expect(
      series(server!, 'switchboard_server_call_duration_seconds_count', { method: 'add' }),
    ).toBe(4);
    expect(
      series(bridge!, 'switchboard_bridge_relayed_calls_total', {
        link: 'a-b',
        direction: 'a→b',
        code: 'OK',
      }),
    ).toBe(3);
    expect(
      series(bridge!, 'switchboard_bridge_relayed_calls_total', {
        direction: 'a→b',
        code: 'APPLICATION',
      }),
    ).toBe(1);
    expect(series(bridge!, 'switchboard_bridge_link_up', { site: 'b', side: 'remote' })).toBe(1);
    expect(
      series(bridge!, 'switchboard_bridge_routes', { site: 'a', link: 'a-b' }),
    ).toBeGreaterThan(0);
    // Counted when the instance's "ended" notice reaches the broker, on a connection other than the caller's.
    const forwarded = async () =>
      series(await metricsText(endpoints[0]!), 'switchboard_broker_forwarded_calls_total', {
        site: 'b',
        code: 'OK',
      }) === 1;
    await eventually(forwarded, 5000, 'the thin call counted as forwarded at the broker');
    expect(series(broker!, 'switchboard_broker_instances', { site: 'b' })).toBeGreaterThan(0);
  });

  test('health - /healthz turns 503 when the process loses its NATS, and 200 when it is back', async () => {
    const site = await startSite('a');
    const server = track(await serve(calculatorService(), { nats: site.url }));
    const endpoint = track(
      await serveObservability({ port: 0, metrics: new Metrics(), health: () => [server] }),
    );
    const healthz = `http://127.0.0.1:${endpoint.port}/healthz`;
    await eventually(async () => (await get(healthz)).status === 200, 5000, 'healthy');
    await site.nats.stop();
    await eventually(async () => (await get(healthz)).status === 503, 10_000, 'unhealthy');
    expect((await get(healthz)).text).toMatch(/calculator: not connected to NATS/);
    await site.nats.restart();
    await eventually(async () => (await get(healthz)).status === 200, 10_000, 'healthy again');
  });

  test('discovery - the nats.js services client at site a lists the calculator at c and at a, and counts calls', async () => {
    const [a, b, c] = [await startSite('a'), await startSite('b'), await startSite('c')];
    await startBridge(a, b);
    await startBridge(b, c);
    const local = track(await serve(calculatorService(), { nats: a.url }));
    track(await serve(calculatorService(), { nats: c.url }));
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('calculator')).length === 2, 5000, 'both');
    await client.call('calculator@c', 'add', [1, 1]);
    await client.call('calculator@c', 'add', [1, 2]);
    await client.call('calculator@a', 'add', [1, 3]);
    const nc = track(await connect({ servers: a.url }));
    const services = nc.services.client();
    const pings: Array<{ id: string; metadata?: Record<string, string> | null }> = [];
    for await (const ping of await services.ping('calculator')) pings.push(ping);
    expect(pings.map((p) => p.metadata?.site).sort()).toEqual(['a', 'c']);
    const remote = pings.find((p) => p.metadata?.site === 'c');
    expect(remote?.metadata).toMatchObject({ kind: 'route', path: 'b,c' });
    await expect(client.call('calculator@c', 'divide', [1, 0])).rejects.toThrow();
    const stats = new Map<string, number>();
    const data = new Map<string, unknown>();
    for await (const s of await services.stats('calculator')) {
      const add = s.endpoints?.find((e) => e.name === 'add');
      stats.set(s.metadata?.site ?? '', add?.num_requests ?? -1);
      data.set(s.metadata?.site ?? '', s.endpoints?.find((e) => e.name === 'divide')?.data);
    }
    expect(Object.fromEntries(stats)).toEqual({ a: 1, c: 2 });
    // The route at a: the call came from a, failed at c, where it had come by a and b.
    expect(data.get('c')).toEqual({
      calls_by_path: { a: 1 },
      errors_by_code: { APPLICATION: 1 },
      last_error_code: 'APPLICATION',
      last_error_site: 'c',
      last_error_path: 'a,b,c',
    });
    const infos = [];
    for await (const info of await services.info('calculator', local.instanceId)) infos.push(info);
    expect(infos.map((i) => i.endpoints.map((e) => e.name).sort())).toEqual([
      ['add', 'divide', 'sleep'],
    ]);
  });

  test('metadata - crosses two bridges to the handler, and an interceptor there may refuse calls without it', async () => {
    const [a, b, c] = [await startSite('a'), await startSite('b'), await startSite('c')];
    await startBridge(a, b);
    await startBridge(b, c);
    const requireTenant: ServerInterceptor = (request, next) => {
      if (!request.context.meta.tenant) {
        throw new SwitchboardError('FORBIDDEN', 'a tenant is required', { completed: 'no' });
      }
      return next();
    };
    let runs = 0;
    track(
      await serve(
        {
          name: 'who',
          methods: {
            tenant: (ctx: CallContext) => {
              runs++;
              return ctx.meta;
            },
          },
        },
        { nats: c.url, interceptors: [requireTenant] },
      ),
    );
    const client = track(await Client.connect({ nats: a.url }));
    await eventually(async () => (await client.lookup('who')).length > 0, 5000, 'route');
    expect(
      await client.call('who', 'tenant', [], { meta: { tenant: 'acme', 'x.y': 'a b,c=d' } }),
    ).toEqual({
      tenant: 'acme',
      'x.y': 'a b,c=d',
    });
    expect(await failure(client.call('who', 'tenant'))).toMatchObject({
      code: 'FORBIDDEN',
      completed: 'no',
      message: 'a tenant is required',
      site: 'c',
    });
    expect(runs).toBe(1);
    expect(
      await failure(client.call('who', 'tenant', [], { meta: { 'bad key': 'x' } })),
    ).toMatchObject({ code: 'BAD_REQUEST' });
  });

  test('context - with asyncContext, a call made in a handler inherits its deadline and metadata unasked', async () => {
    const site = await startSite('a');
    const inner = track(await Client.connect({ nats: site.url }));
    track(
      await serve(
        {
          name: 'leaf',
          methods: { see: (ctx: CallContext) => [ctx.meta, ctx.deadline - Date.now()] },
        },
        { nats: site.url },
      ),
    );
    track(
      await serve(
        { name: 'front', methods: { ask: () => inner.call('leaf', 'see') } },
        { nats: site.url, asyncContext: true },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    const [meta, left] = (await client.call('front', 'ask', [], {
      timeoutMs: 1500,
      meta: { tenant: 'acme' },
    })) as [Record<string, string>, number];
    expect(meta).toEqual({ tenant: 'acme' });
    // The client's default timeout is 5 s: only the caller's deadline makes it 1.5 s or less.
    expect(left).toBeLessThanOrEqual(1500);
  });

  test('interceptors - a client interceptor adds metadata and sees each result or error', async () => {
    const site = await startSite('a');
    track(
      await serve(
        { name: 'who', methods: { tenant: (ctx: CallContext) => ctx.meta.tenant ?? 'none' } },
        { nats: site.url },
      ),
    );
    const seen: string[] = [];
    const client = track(
      await Client.connect({
        nats: site.url,
        interceptors: [
          async (request, next) => {
            request.meta.tenant = 'from-interceptor';
            try {
              const result = await next();
              seen.push(`ok ${String(result)}`);
              return result;
            } catch (err) {
              seen.push(`error ${(err as SwitchboardError).code}`);
              throw err;
            }
          },
        ],
      }),
    );
    expect(await client.call('who', 'tenant')).toBe('from-interceptor');
    await failure(client.call('who', 'nope'));
    expect(seen).toEqual(['ok from-interceptor', 'error METHOD_NOT_FOUND']);
  });

  test('cli - --metrics-port serves /metrics and /healthz of a broker', async () => {
    const site = await startSite('a', { broker: false });
    const port = await portToListenOn();
    const broker = start([
      'broker',
      '--site',
      'm',
      '--nats',
      site.url,
      '--metrics-port',
      String(port),
    ]);
    await broker.waitFor(/serving site m/);
    await eventually(
      async () =>
        (await get(`http://127.0.0.1:${port}/healthz`).catch(() => ({ status: 0, text: '' })))
          .status === 200,
      10_000,
      'healthz',
    );
    const metrics = await get(`http://127.0.0.1:${port}/metrics`);
    expect(series(metrics.text, 'switchboard_broker_instances', { site: 'm' })).toBe(0);
    broker.kill('SIGTERM');
    expect((await broker.exited).code).toBe(0);
  });
});
