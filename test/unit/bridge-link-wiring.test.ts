/**
 * A real `Bridge` on the in-memory NATS when a side's connection goes and
 * comes back, the lease session that keeps its routes, and how a half
 * answers the discovery protocol.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { calculatorService, subjectsFor } from '../../src/internal.js';
import {
  MemoryMesh,
  type MemorySite,
  routed,
  routesAt,
  until,
  whereService,
} from '../support/memory-mesh.js';
import { collect, idle, MemoryBus, type MemoryConnection } from '../support/memory-nats.js';
import { bodies, V } from '../support/memory-wire.js';

const subjects = subjectsFor();
const mesh = new MemoryMesh();
afterEach(async () => {
  vi.useRealTimers();
  await mesh.close();
});

/** The first answer to a discovery request on `subject`, parsed. */
async function discover(nc: MemoryConnection, subject: string) {
  const inbox = `_INBOX.discover.${Math.random().toString(36).slice(2)}`;
  const answers = collect(nc, inbox);
  nc.publish(subject, undefined, { reply: inbox });
  const [msg] = await answers.atLeast(1);
  answers.sub.unsubscribe();
  return JSON.parse(new TextDecoder().decode(msg!.data));
}

describe('bridge link wiring', () => {
  test('bridge link - one side lost withdraws its routes at the other; back, they are advertised again', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    await mesh.serve(b, calculatorService());
    const { bridge, remoteNc, logger } = await mesh.bridge(a, b);
    await routed(a, 'calculator');
    remoteNc.disconnect();
    await routed(a, 'calculator', 0);
    expect(bridge.local.routeCount).toBe(0);
    expect(bridge.remote.connected).toBe(false);
    expect(bridge.health()).toEqual({ ok: false, reason: "bridge a-b: lost site 'b'" });
    expect(logger.at('info')).toContain(
      "withdrew route to calculator@1.0.0 at site 'b' (via b) at site 'a'",
    );
    expect(logger.at('warn')).toContain("lost the connection to site 'b'; withdrawing its routes");
    remoteNc.reconnect();
    await routed(a, 'calculator');
    expect(logger.at('info')).toContain("reconnected to site 'b'");
    expect(bridge.health()).toEqual({ ok: true, reason: '' });
  });

  test('bridge link - the local side lost: health names it', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const { bridge, localNc } = await mesh.bridge(a, b);
    expect(await bridge.ready()).toBe(true);
    localNc.disconnect();
    await until(() => !bridge.local.connected, 'the local half to see its link down');
    expect(bridge.health()).toEqual({ ok: false, reason: "bridge a-b: lost site 'a'" });
  });

  test('bridge link - one renewal per interval names the routes of the session, and those withdrawn', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const renewals = collect(a.bus.connect(), subjects.routeRenew);
    await mesh.serve(b, calculatorService());
    const { server } = await mesh.serve(b, whereService('b').service, 'where-b');
    await mesh.bridge(a, b, { heartbeatMs: 50 });
    await routed(a, 'calculator');
    const [where] = await routed(a, 'where');
    const session = (where!.metadata as Record<string, string>).bridge;
    await until(
      () => bodies(renewals.messages).some((r) => (r as { routes: number }).routes === 2),
      'a renewal of both routes',
    );
    const first = bodies(renewals.messages).find((r) => (r as { routes: number }).routes === 2);
    expect(first).toEqual({ v: V, session, secret: expect.any(String), routes: 2, held: 2 });
    await server.close();
    await routed(a, 'where', 0);
    const seen = renewals.messages.length;
    await renewals.atLeast(seen + 1);
    const later = bodies(renewals.messages.slice(seen)) as Array<Record<string, unknown>>;
    expect(later[0]).toEqual({
      v: V,
      session,
      secret: (first as { secret: string }).secret,
      routes: 1,
      held: 1,
      gone: [where!.id],
    });
  });

  test('bridge link - each half answers discovery for itself, naming both sites, and for its routes', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    await mesh.serve(b, calculatorService());
    const { remoteNc } = await mesh.bridge(a, b);
    const [route] = await routed(a, 'calculator');
    const bridgeId = (route!.metadata as Record<string, string>).bridge;
    const nc = a.bus.connect();
    expect(await discover(nc, '$SRV.PING.switchboard-bridge')).toEqual({
      type: 'io.nats.micro.v1.ping_response',
      name: 'switchboard-bridge',
      id: bridgeId,
      version: '1.0.0',
      metadata: { kind: 'bridge', site: 'a', peer: 'b', peer_connected: 'true' },
    });
    expect(await discover(nc, '$SRV.INFO.switchboard-bridge')).toMatchObject({
      description: 'Switchboard bridge from site a to site b',
      endpoints: [],
    });
    expect(await discover(nc, `$SRV.INFO.calculator.${route!.id}`)).toEqual({
      type: 'io.nats.micro.v1.info_response',
      name: 'calculator',
      id: route!.id,
      version: '1.0.0',
      metadata: { site: 'b', path: 'b', kind: 'route', bridge: bridgeId },
      description: 'Switchboard service calculator at site b, through a bridge',
      endpoints: ['add', 'divide', 'sleep'].map((name) => ({
        name,
        subject: subjects.route('calculator', route!.id),
        queue_group: '',
        metadata: null,
      })),
    });
    const atB = await discover(b.bus.connect(), '$SRV.PING.switchboard-bridge');
    expect(atB.metadata).toEqual({ kind: 'bridge', site: 'b', peer: 'a', peer_connected: 'true' });
    expect(atB.id).not.toBe(bridgeId);
    remoteNc.disconnect();
    await until(
      async () =>
        (await discover(nc, '$SRV.PING.switchboard-bridge')).metadata.peer_connected === 'false',
      'the local half to say its peer is not connected',
    );
  });

  test('bridge link - before linking a half answers discovery for nothing, after it for itself', async () => {
    const a = await mesh.site('a');
    const bus = new MemoryBus();
    const { bridge, logger } = await mesh.bridge(a, { name: 'b', bus } as MemorySite);
    await until(() => bridge.sites.local === 'a', 'the local site learned');
    const nc = a.bus.connect();
    const answers = collect(nc, '_INBOX.ping');
    nc.publish('$SRV.PING.switchboard-bridge', undefined, { reply: '_INBOX.ping' });
    await idle();
    expect(answers.messages).toHaveLength(0);
    expect(logger.at('warn').filter((l) => l.startsWith('cannot answer'))).toEqual([]);
    await mesh.broker(bus, 'b');
    expect(await bridge.ready()).toBe(true);
    nc.publish('$SRV.PING.switchboard-bridge', undefined, { reply: '_INBOX.ping' });
    const [msg] = await answers.atLeast(1);
    expect(JSON.parse(new TextDecoder().decode(msg!.data)).metadata.peer).toBe('b');
  });

  test('bridge link - a half asks for its site again 100 ms after a failed ask, doubling the wait up to 2 s, and says it is waiting', async () => {
    vi.useFakeTimers();
    const a = await mesh.site('a');
    const bus = new MemoryBus();
    const asks = collect(bus.connect(), subjects.info);
    const { bridge, logger } = await mesh.bridge(a, { name: 'b', bus } as MemorySite);
    await idle();
    expect(asks.messages).toHaveLength(1);
    // Each ask waits 1 s for an answer (what listens here never answers), then the back-off.
    const waits = [100, 200, 400, 800, 1600, 2000, 2000].map((backoff) => 1000 + backoff);
    for (const [n, wait] of waits.entries()) {
      await vi.advanceTimersByTimeAsync(wait - 1);
      await idle();
      expect(asks.messages, `before wait ${n}`).toHaveLength(n + 1);
      await vi.advanceTimersByTimeAsync(1);
      await idle();
      expect(asks.messages, `after wait ${n}`).toHaveLength(n + 2);
    }
    expect(logger.at('warn')[0]).toMatch(/^waiting for a broker on the remote side \(.+\)$/);
    await mesh.broker(bus, 'b');
    // The ask under way goes unanswered (it was sent before the broker started); the next is answered.
    await vi.advanceTimersByTimeAsync(3000);
    expect(await bridge.ready()).toBe(true);
    const seen = asks.messages.length;
    const warned = logger.at('warn').length;
    expect(logger.at('warn')[1]).toMatch(/^still waiting for a broker on the remote side after /);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(asks.messages.length).toBe(seen);
    expect(logger.at('warn')).toHaveLength(warned);
  });

  test('bridge link - a chain of three sites: routes carry both bridges on their path, calls cross both', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const c = await mesh.site('c');
    await mesh.serve(c, whereService('c').service);
    const ab = await mesh.bridge(a, b);
    await mesh.bridge(b, c);
    const [route] = await routed(a, 'where');
    expect(route).toMatchObject({ site: 'c', path: ['b', 'c'], hops: 2 });
    expect(ab.logger.at('info')).toContain(
      "advertised route to where@1.0.0 at site 'c' (via b → c) at site 'a'",
    );
    const client = await mesh.client(a);
    expect(await client.call('where', 'path')).toEqual(['a', 'b', 'c']);
    const info = await discover(a.bus.connect(), `$SRV.INFO.where.${route!.id}`);
    expect(info.metadata).toMatchObject({ site: 'c', path: 'b,c' });
  });

  test('bridge link - a chain longer than maxHops is not advertised past the limit', async () => {
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const c = await mesh.site('c');
    await mesh.serve(c, whereService('c').service);
    await mesh.serve(b, calculatorService());
    await mesh.bridge(b, c);
    await routed(b, 'where');
    const { bridge } = await mesh.bridge(a, b, { maxHops: 1 });
    await routed(a, 'calculator');
    await idle();
    expect(routesAt(a, 'where')).toEqual([]);
    expect(bridge.local.routeCount).toBe(1);
  });

  test('bridge link - each side reads its whole registry again every 5 s unless told otherwise', async () => {
    vi.useFakeTimers();
    const a = await mesh.site('a');
    const b = await mesh.site('b');
    const reads = collect(b.bus.connect(), subjects.list);
    const { bridge } = await mesh.bridge(a, b);
    expect(await bridge.ready()).toBe(true);
    // A read goes 2 ms after it is asked for (events of a burst are gathered).
    await vi.advanceTimersByTimeAsync(2);
    await reads.atLeast(1);
    await idle();
    expect(reads.messages).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4999);
    await idle();
    expect(reads.messages).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await reads.atLeast(2);
  });
});
