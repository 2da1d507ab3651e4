import { connect } from 'nats';
import { describe, expect, test } from 'vitest';
import { Client, Codec, type InstanceRegistration, serve } from '../../src/internal.js';
import { eventually, startBridge, startSite, track } from './helpers.js';

const codec = new Codec();

/** Serves `names` at a site (closed after the test). */
async function serveAt(url: string, names: string[]) {
  for (const name of names) {
    track(
      await serve(
        { name, version: '1.0.0', methods: { ping: () => 'pong' } },
        { nats: url, discovery: false },
      ),
    );
  }
}

/** Decoded bodies of what is published on `subject` at `url`, while the test runs. */
async function overhear(url: string, subject: string) {
  const nc = await connect({ servers: url });
  track({ close: () => nc.close() });
  const seen: Array<{ subject: string; body: Record<string, unknown> }> = [];
  nc.subscribe(subject, {
    callback: (_err, msg) =>
      seen.push({ subject: msg.subject, body: codec.decode(msg.data) as Record<string, unknown> }),
  });
  await nc.flush();
  return seen;
}

describe('bridge leases', () => {
  test('bridge - one renewal per interval keeps every route of a half; no heartbeat per route', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await serveAt(b.url, ['s1', 's2', 's3', 's4']);
    const seen = await overhear(a.url, 'sb.broker.route.>');
    await startBridge(a, b, { heartbeatMs: 100 });
    await eventually(() => a.broker!.registry.lookup('s4').length === 1);
    seen.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(seen.filter((m) => m.subject.includes('.heartbeat.'))).toEqual([]);
    const renewals = seen.filter((m) => m.subject === 'sb.broker.route.renew');
    // About 10; timers run late on a loaded machine, hence the slack below.
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(renewals.length).toBeLessThanOrEqual(15);
    expect(renewals.at(-1)?.body).toMatchObject({ routes: 4 });
    // The leases hold: 1 s is over three leases of 300 ms.
    expect(a.broker!.registry.size).toBe(4);
  });

  test('bridge - a broker that lost some routes of a session gets them all again at the next renewal', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await serveAt(b.url, ['s1', 's2']);
    await startBridge(a, b, { heartbeatMs: 100 });
    const registry = a.broker!.registry;
    await eventually(() => registry.size === 2);
    const lost = registry.lookup('s1')[0]!;
    registry.deregister(lost.id);
    expect(registry.lookup('s1')).toHaveLength(0);
    await eventually(() => registry.lookup('s1').length === 1, 2000, 's1 registered again');
    const client = track(await Client.connect({ nats: a.url }));
    expect(await client.proxy<{ ping(): string }>('s1').ping()).toBe('pong');
  });

  test('bridge - a route whose deregistration a broker missed is dropped at the next renewal, which names it gone', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    const batches = await overhear(a.url, 'sb.broker.route.batch');
    const events = await overhear(a.url, 'sb.events.registry.s2');
    track(
      await serve(
        { name: 's1', version: '1.0.0', methods: { ping: () => 'pong' } },
        { nats: b.url, discovery: false },
      ),
    );
    const s2 = await serve(
      { name: 's2', version: '1.0.0', methods: { ping: () => 'pong' } },
      { nats: b.url, discovery: false },
    );
    await startBridge(a, b, { heartbeatMs: 100 });
    const registry = a.broker!.registry;
    await eventually(() => registry.size === 2);
    // The registration (in a batch) reaches this listener over NATS, maybe after the broker took it.
    const heard = () =>
      batches
        .flatMap((m) => m.body.instances as Array<{ service: string }>)
        .find((instance) => instance.service === 's2');
    await eventually(() => heard() !== undefined, 5000, 'the registration of s2');
    const route = heard();
    expect(route).toMatchObject({ service: 's2', session: expect.any(String) });
    await s2.close();
    await eventually(() => registry.lookup('s2').length === 0, 3000, 's2 withdrawn');
    // Its down event too, lest it be taken below for the one of the renewal's drop.
    const down = () => events.some((m) => m.body.kind === 'down');
    await eventually(down, 5000, 'the down event of the withdrawal');
    // As if the bridge's deregistration had never reached this broker.
    registry.register(route as InstanceRegistration);
    expect(registry.lookup('s2')).toHaveLength(1);
    events.length = 0;
    // Renewals go every 100 ms and name it for 10 s: a generous bound for a loaded machine.
    await eventually(() => registry.lookup('s2').length === 0, 5000, 's2 dropped again');
    // The event crosses NATS after the registry changed: wait for it too.
    await eventually(down, 5000, 'the down event of the drop');
    expect(registry.lookup('s1')).toHaveLength(1);
  });

  test('bridge - the periodic refresh lists nothing while a registry is unchanged, and sees changes', async () => {
    const a = await startSite('a');
    const b = await startSite('b');
    await serveAt(b.url, ['s1']);
    const lists = await overhear(b.url, 'sb.broker.list');
    await startBridge(a, b, { heartbeatMs: 100, refreshMs: 100 });
    await eventually(() => a.broker!.registry.lookup('s1').length === 1);
    await eventually(() => lists.filter((m) => m.body.unless !== undefined).length >= 3);
    await serveAt(b.url, ['s2']);
    await eventually(() => a.broker!.registry.lookup('s2').length === 1, 2000, 's2 across');
  });
});
