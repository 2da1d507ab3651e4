/**
 * A lease holder whose renewals are a whole heartbeat late is probed: when
 * NATS says nothing listens on its control subject any more (its connection
 * closed: the process died, the link was cut), a broker drops its entries
 * then, not when the lease ends; a holder that is only late keeps its lease.
 * (A holder is probed once silent for two heartbeats and 1.5 s, the time a
 * connection may take to move to another node of a NATS cluster.)
 * Brokers here give leases of 10 heartbeats, so that "before the lease ends"
 * leaves a wide margin on a loaded machine.
 */
import { encode } from '@msgpack/msgpack';
import { connect } from 'nats';
import { afterAll, describe, expect, test } from 'vitest';
import { Codec, serve } from '../../src/internal.js';
import { killAll, start } from './cli-process.js';
import { eventually, startSite, type TestSite, track } from './helpers.js';

afterAll(killAll);

const codec = new Codec();
const LEASE_FACTOR = 10;

/** Registry events published at `site`, with when each was seen. */
async function events(site: TestSite) {
  const nc = await connect({ servers: site.url });
  track({ close: () => nc.close() });
  const seen: Array<{ kind: string; id: string; reason?: string; at: number }> = [];
  nc.subscribe('sb.events.registry.>', {
    callback: (_err, msg) => {
      const event = codec.decode(msg.data) as { kind: string; id: string; reason?: string };
      seen.push({ ...event, at: Date.now() });
    },
  });
  await nc.flush();
  return seen;
}

/**
 * Registers instance `id` of `calc` over a NATS connection of its own,
 * listening on its control subject as a server does; returns that
 * connection and when the registration was answered.
 */
async function holder(site: TestSite, id: string, heartbeatMs: number) {
  const nc = await connect({ servers: site.url });
  track({ close: () => nc.close() });
  nc.subscribe(`sb.control.calc.${id}`, { callback: () => {} });
  const instance = {
    id,
    service: 'calc',
    version: '1.0.0',
    methods: ['add'],
    metadata: {},
    heartbeatMs,
    secret: 'a-holder-secret-16',
  };
  await nc.request('sb.broker.register.calc', encode({ v: 1, instance }), { timeout: 2000 });
  return { nc, registeredAt: Date.now() };
}

describe('gone lease holders', () => {
  test('gone holders - an instance whose connection closed goes at its first overdue sweep, as expired; one only late keeps its lease', async () => {
    const site = await startSite('a', { brokerOptions: { leaseFactor: LEASE_FACTOR } });
    const seen = await events(site);
    // Leases of 4 s; both are probed once silent for 1.5 s (more than two heartbeats).
    const late = await holder(site, 'late', 400);
    const gone = await holder(site, 'gone', 400);
    await gone.nc.close();
    const downOf = (id: string) => seen.find((e) => e.id === id && e.kind === 'down');
    await eventually(() => downOf('gone') !== undefined, 3000, 'gone withdrawn');
    const down = downOf('gone')!;
    expect(down.reason).toBe('expired');
    expect(down.at - gone.registeredAt).toBeLessThan(400 * LEASE_FACTOR);
    // The late one still listens: probed too, it stays until its lease ends.
    expect(site.broker!.registry.lookup('calc').map((v) => v.id)).toEqual(['late']);
    await eventually(() => downOf('late') !== undefined, 6000, 'late expired');
    const expired = downOf('late')!;
    expect(expired.reason).toBe('expired');
    expect(expired.at - late.registeredAt).toBeGreaterThanOrEqual(400 * LEASE_FACTOR);
  });

  test('gone holders - a server that beats on time is never dropped, and takes a ping as no word to register again', async () => {
    const site = await startSite('a', { brokerOptions: { leaseFactor: LEASE_FACTOR } });
    const seen = await events(site);
    track(
      await serve(
        { name: 'calc', version: '1.0.0', methods: { add: (a: number, b: number) => a + b } },
        { nats: site.url, discovery: false, heartbeatMs: 100 },
      ),
    );
    const nc = await connect({ servers: site.url });
    track({ close: () => nc.close() });
    const registrations: string[] = [];
    nc.subscribe('sb.broker.register.>', {
      callback: (_err, msg) => registrations.push(msg.subject),
    });
    await nc.flush();
    const { id } = site.broker!.registry.lookup('calc')[0]!;
    for (const kind of ['ping', 'ping', 'reregister']) {
      nc.publish(`sb.control.calc.${id}`, encode({ v: 1, kind }));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(seen.filter((e) => e.kind === 'down')).toEqual([]);
    expect(site.broker!.registry.size).toBe(1);
    // Only the reregister asked for a registration.
    expect(registrations).toEqual(['sb.broker.register.calc']);
  });

  test('gone holders - the routes of a bridge killed mid-run leave the far broker before their lease ends', async () => {
    const a = await startSite('a', { brokerOptions: { leaseFactor: LEASE_FACTOR } });
    const b = await startSite('b');
    track(
      await serve(
        { name: 'calc', version: '1.0.0', methods: { add: (x: number, y: number) => x + y } },
        { nats: b.url, discovery: false },
      ),
    );
    const seen = await events(a);
    const bridge = start(['bridge', '--local', a.url, '--remote', b.url, '--heartbeat-ms', '300']);
    await bridge.waitFor(/bridge linked site/, 15_000);
    await eventually(() => a.broker!.registry.lookup('calc').length === 1, 5000, 'route at a');
    bridge.kill('SIGKILL');
    await bridge.exited;
    const killedAt = Date.now();
    // Waited for as the event is heard: the registry empties a moment before.
    const heardDown = () => seen.find((e) => e.kind === 'down');
    await eventually(() => heardDown() !== undefined, 3000, 'route withdrawn at a');
    expect(a.broker!.registry.size).toBe(0);
    const down = heardDown()!;
    expect(down).toMatchObject({ reason: 'expired' });
    // Probed 1.5 s after its last renewal: the lease (3 s) still had at least 1.2 s to run.
    expect(down.at - killedAt).toBeLessThan(300 * (LEASE_FACTOR - 1));
  });
});
