/**
 * A real `Bridge` between sites on the in-memory NATS (`memory-mesh.ts`):
 * linking, the routes each half advertises and withdraws, and close.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { Bridge, calculatorService, Metrics, subjectsFor } from '../../src/internal.js';
import {
  MemoryMesh,
  type MemorySite,
  routed,
  routesAt,
  until,
  whereService,
} from '../support/memory-mesh.js';
import { collect, idle, MemoryBus } from '../support/memory-nats.js';
import { bodies, RecordingLogger, V } from '../support/memory-wire.js';

const subjects = subjectsFor();
const mesh = new MemoryMesh();
afterEach(() => mesh.close());

describe('bridge wiring', () => {
  test('bridge - links two sites: both names learned, ready, healthy, logged', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const { bridge, logger } = await mesh.bridge(a, b);
    expect(await bridge.ready()).toBe(true);
    expect(bridge.sites).toEqual({ local: 'a', remote: 'b' });
    expect(bridge.health()).toEqual({ ok: true, reason: '' });
    expect(logger.at('info')).toEqual(
      expect.arrayContaining([
        "local side is site 'a'",
        "remote side is site 'b'",
        "bridge linked site 'a' and site 'b'",
      ]),
    );
    expect(logger.at('error')).toEqual([]);
  });

  test('bridge - waits for a broker on each side, and links once one starts', async () => {
    const a = await mesh.site('a');
    const bus = new MemoryBus();
    const b = { name: 'b', bus } as MemorySite;
    const { bridge } = await mesh.bridge(a, b);
    await idle();
    expect(bridge.sites).toEqual({ local: 'a', remote: undefined });
    expect(bridge.health()).toEqual({
      ok: false,
      reason: 'bridge a-?: waiting for a broker on each side',
    });
    const started = await mesh.broker(bus, 'b');
    expect(started.registry.site).toBe('b');
    expect(await bridge.ready()).toBe(true);
    expect(bridge.health()).toEqual({ ok: true, reason: '' });
  });

  test('bridge - closed before a broker answers, ready is false and health says closing', async () => {
    const a = { name: 'a', bus: new MemoryBus() } as MemorySite;
    const b = await mesh.site('b');
    const { bridge } = await mesh.bridge(a, b);
    await until(() => bridge.sites.remote === 'b', 'the remote site learned');
    expect(bridge.health()).toEqual({
      ok: false,
      reason: 'bridge ?-b: waiting for a broker on each side',
    });
    await bridge.close();
    expect(await bridge.ready()).toBe(false);
    expect(bridge.health()).toEqual({ ok: false, reason: 'bridge ?-b: closing' });
  });

  test('bridge - both sides the same site: refused and logged, nothing advertised', async () => {
    const a = await mesh.site('a');
    const again = await mesh.site('a');
    await mesh.serve(again, calculatorService());
    const { bridge, logger } = await mesh.bridge(a, again);
    expect(await bridge.ready()).toBe(false);
    expect(logger.at('error')).toEqual([
      "both sides of the bridge are site 'a': a bridge links two different sites",
    ]);
    expect(bridge.health().reason).toBe('bridge a-a: waiting for a broker on each side');
    await idle();
    expect(routesAt(a, 'calculator')).toEqual([]);
  });

  test('bridge - each side gets a route, in the half lease session, for the services of the other', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    // Routes are registered in batches (one request for all of a burst's).
    const spyA = collect(a.bus.connect(), subjects.routeBatch);
    const spyB = collect(b.bus.connect(), subjects.routeBatch);
    await mesh.serve(b, calculatorService());
    await mesh.serve(a, whereService('a').service);
    const { bridge, logger } = await mesh.bridge(a, b, { heartbeatMs: 700 });
    const [toB] = await routed(a, 'calculator');
    const [toA] = await routed(b, 'where');
    expect(toB).toMatchObject({
      service: 'calculator',
      version: '1.0.0',
      methods: ['add', 'divide', 'sleep'],
      site: 'b',
      path: ['b'],
      hops: 1,
    });
    expect(toA).toMatchObject({ service: 'where', site: 'a', path: ['a'], hops: 1 });
    const [registration] = bodies(await spyA.atLeast(1)) as Array<{
      instances: Array<Record<string, unknown>>;
    }>;
    const bridgeId = (toB!.metadata as Record<string, string>).bridge!;
    expect(registration).toEqual({
      v: V,
      instances: [
        {
          id: toB!.id,
          service: 'calculator',
          version: '1.0.0',
          methods: ['add', 'divide', 'sleep'],
          metadata: { bridge: bridgeId },
          heartbeatMs: 700,
          secret: expect.any(String),
          session: bridgeId,
          route: { site: 'b', path: ['b'] },
        },
      ],
    });
    expect(toB!.id.startsWith(`${bridgeId}-`)).toBe(true);
    const [other] = bodies(await spyB.atLeast(1)) as Array<{ instances: [{ session: string }] }>;
    expect(other!.instances[0].session).not.toBe(bridgeId);
    expect(bridge.local.routeCount).toBe(1);
    expect(bridge.remote.routeCount).toBe(1);
    expect(logger.at('info')).toEqual(
      expect.arrayContaining([
        "advertised route to calculator@1.0.0 at site 'b' (via b) at site 'a'",
        "advertised route to where@1.0.0 at site 'a' (via a) at site 'b'",
      ]),
    );
  });

  test('bridge - export and import patterns choose what crosses each way', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    await mesh.serve(a, calculatorService(), 'calc-a');
    await mesh.serve(a, whereService('a').service, 'where-a');
    await mesh.serve(b, calculatorService(), 'calc-b');
    await mesh.serve(b, whereService('b').service, 'where-b');
    const { bridge } = await mesh.bridge(a, b, { export: ['calc*'], import: ['wh*'] });
    await routed(b, 'calculator');
    await routed(a, 'where');
    await idle();
    expect(routesAt(b, 'where')).toHaveLength(0);
    expect(routesAt(a, 'calculator')).toHaveLength(0);
    expect(bridge.local.routeCount).toBe(1);
    expect(bridge.remote.routeCount).toBe(1);
  });

  test('bridge - a server leaving withdraws its route at the other side, and one coming back is advertised again', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const { server } = await mesh.serve(b, calculatorService());
    const { bridge, logger } = await mesh.bridge(a, b);
    const [first] = await routed(a, 'calculator');
    const reads = collect(b.bus.connect(), subjects.lookup);
    await server.close();
    await routed(a, 'calculator', 0);
    expect(bridge.local.routeCount).toBe(0);
    expect(logger.at('info')).toContain(
      "withdrew route to calculator@1.0.0 at site 'b' (via b) at site 'a'",
    );
    await mesh.serve(b, calculatorService(), 'again');
    const [second] = await routed(a, 'calculator');
    expect(second!.id).not.toBe(first!.id);
    // Both changes came as views of the one service, applied without a hitch;
    // the registry events carried the instances, so nothing was looked up.
    expect(logger.lines.filter((l) => l.level !== 'info')).toEqual([]);
    expect(reads.messages).toEqual([]);
  });

  test('bridge - close deregisters every route, unsubscribes everything, leaves borrowed connections open', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    await mesh.serve(b, calculatorService());
    await mesh.serve(a, whereService('a').service);
    const { bridge, localNc, remoteNc, logger } = await mesh.bridge(a, b);
    await routed(a, 'calculator');
    await routed(b, 'where');
    expect(localNc.subscriptions.length).toBeGreaterThan(0);
    await bridge.close();
    await bridge.close();
    await routed(a, 'calculator', 0);
    await routed(b, 'where', 0);
    expect(localNc.subscriptions).toEqual([]);
    expect(remoteNc.subscriptions).toEqual([]);
    expect(localNc.isClosed()).toBe(false);
    expect(bridge.health()).toEqual({ ok: false, reason: 'bridge a-b: closing' });
    expect(logger.lines.at(-1)).toEqual({
      level: 'info',
      message: 'bridge stopped',
      fields: { local: 'a', remote: 'b' },
    });
  });

  test('bridge - routes are renewed every 500 ms unless told otherwise', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const spy = collect(a.bus.connect(), subjects.routeBatch);
    await mesh.serve(b, calculatorService());
    await mesh.bridge(a, b);
    const [registration] = bodies(await spy.atLeast(1)) as Array<{ instances: [object] }>;
    expect(registration!.instances[0]).toMatchObject({ heartbeatMs: 500 });
  });

  test('bridge - a side given its own logger logs there; the bridge logger gets the rest', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const logger = new RecordingLogger();
    const localLogger = new RecordingLogger();
    const bridge = await Bridge.start({
      local: { connection: a.bus.connect(), logger: localLogger },
      remote: { connection: b.bus.connect() },
      logger,
    });
    expect(await bridge.ready()).toBe(true);
    await bridge.close();
    expect(localLogger.at('info')).toContain("local side is site 'a'");
    expect(logger.at('info')).toContain("remote side is site 'b'");
    expect(logger.at('info')).not.toContain("local side is site 'a'");
  });

  test('bridge - start fails when the remote side cannot be opened, and closes the local side', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const localNc = a.bus.connect();
    const remoteNc = b.bus.connect();
    await remoteNc.close();
    await expect(
      Bridge.start({ local: { connection: localNc }, remote: { connection: remoteNc } }),
    ).rejects.toThrow();
    expect(localNc.subscriptions).toEqual([]);
  });

  test('bridge - the link is named by its two sites in order, whichever side is local', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const metrics = new Metrics();
    await mesh.serve(a, calculatorService());
    await mesh.bridge(b, a, { metrics });
    await routed(b, 'calculator');
    const text = await metrics.registry.metrics();
    expect(text.split('\n').filter((l) => l.startsWith('switchboard_bridge_routes{'))).toEqual([
      'switchboard_bridge_routes{site="b",link="a-b"} 1',
      'switchboard_bridge_routes{site="a",link="a-b"} 0',
    ]);
  });
});
