/**
 * An instance whose connection to NATS moves (a node of the site's cluster
 * died and it reconnected to another) may have lost calls on the way: it says
 * so with a `resumed` heartbeat, the broker announces it, and callers probe
 * their calls in flight to it, ending those it does not hold. A restarted
 * broker does not report a live service missing while servers register again.
 */
import { decode, encode } from '@msgpack/msgpack';
import { connect, type NatsConnection, headers as natsHeaders } from 'nats';
import { describe, expect, test } from 'vitest';
import { Broker } from '../../src/broker/index.js';
import { type CallContext, Client, serve } from '../../src/internal.js';
import { eventually, failure, latch, registerRaw, startSite, track } from './helpers.js';

const SECRET = 'lossy-instance-secret';

/**
 * An instance played over a plain NATS connection: it takes calls and never
 * answers them (as if they were lost on the way), answers probes with the
 * call ids `held` names, and can say its connection moved.
 */
async function lossyInstance(url: string, held: (callIds: string[]) => string[] = () => []) {
  await registerRaw(url, {
    id: 'lossy',
    service: 'holder',
    methods: ['hold'],
    secret: SECRET,
    heartbeatMs: 60_000,
  });
  const nc: NatsConnection = await connect({ servers: url });
  const calls: Array<{ callId: string; reply: string }> = [];
  const arrived = latch();
  const probes: string[][] = [];
  nc.subscribe('sb.instance.holder.lossy', {
    callback: (_err, msg) => {
      if (msg.headers?.get('sb-probe')) {
        const { calls: asked } = decode(msg.data) as { calls: string[] };
        probes.push(asked);
        msg.respond(encode({ v: 1, held: held(asked) }));
        return;
      }
      const callId = msg.headers?.get('sb-call').split(';')[1] ?? '';
      calls.push({ callId, reply: msg.reply ?? '' });
      arrived.open();
    },
  });
  await nc.flush();
  return {
    calls,
    probes,
    arrived: arrived.opened,
    /** Heartbeats with `resumed`, as a server back on another node does. */
    resume: () =>
      nc.publish(
        'sb.broker.heartbeat.holder',
        encode({ v: 1, id: 'lossy', secret: SECRET, resumed: true }),
      ),
    answer: (reply: string, value: unknown) => nc.publish(reply, encode(value)),
    close: () => nc.close(),
  };
}

describe('resumed instances', () => {
  test('resumed - a call the instance lost ends at once, UNAVAILABLE with completion maybe', async () => {
    const site = await startSite('a');
    const lossy = track(await lossyInstance(site.url));
    const client = track(await Client.connect({ nats: site.url }));
    const call = client.call('holder', 'hold', [], { timeoutMs: 120_000 });
    await lossy.arrived;
    lossy.resume();
    const err = await failure(call);
    expect(err).toMatchObject({ code: 'UNAVAILABLE', completed: 'maybe' });
    expect(String(err.message)).toMatch(/lost the call when its connection to NATS moved/);
    expect(lossy.probes).toEqual([[lossy.calls[0]?.callId]]);
  });

  test('resumed - an idempotent call the instance lost moves to another instance', async () => {
    const site = await startSite('a');
    const lossy = track(await lossyInstance(site.url));
    const client = track(await Client.connect({ nats: site.url }));
    const call = client.call('holder', 'hold', [], { timeoutMs: 120_000, idempotent: true });
    await lossy.arrived;
    track(
      await serve({ name: 'holder', methods: { hold: () => 'elsewhere' } }, { nats: site.url }),
    );
    await eventually(async () => (await client.lookup('holder')).length === 2, 5000, 'two');
    lossy.resume();
    expect(await call).toBe('elsewhere');
  });

  test('resumed - a call the instance still holds goes on and gets its answer', async () => {
    const site = await startSite('a');
    const lossy = track(await lossyInstance(site.url, (asked) => asked));
    const client = track(await Client.connect({ nats: site.url }));
    const call = client.call('holder', 'hold', [], { timeoutMs: 120_000 });
    await lossy.arrived;
    lossy.resume();
    await eventually(() => lossy.probes.length === 1, 5000, 'the probe');
    // Sent after the probe's answer on the same connection: the client has read that first.
    lossy.answer(lossy.calls[0]?.reply ?? '', 'kept');
    expect(await call).toBe('kept');
  });

  test('resumed - a server answers a probe with the listed calls it is running', async () => {
    const site = await startSite('a');
    const running = latch();
    let runningId = '';
    const server = track(
      await serve(
        {
          name: 'holder',
          methods: {
            hold: (ctx: CallContext) =>
              new Promise((resolve) => {
                runningId = ctx.callId;
                running.open();
                ctx.signal.addEventListener('abort', () => resolve('aborted'));
              }),
          },
        },
        { nats: site.url },
      ),
    );
    const client = track(await Client.connect({ nats: site.url }));
    const controller = new AbortController();
    const call = client.call('holder', 'hold', [], { signal: controller.signal });
    await running.opened;
    const nc = await connect({ servers: site.url });
    try {
      const h = natsHeaders();
      h.set('sb-probe', '1');
      const answer = await nc.request(
        `sb.instance.holder.${server.instanceId}`,
        encode({ v: 1, calls: ['someone-else-1', runningId] }),
        { headers: h, timeout: 2000 },
      );
      expect(decode(answer.data)).toEqual({ v: 1, held: [runningId] });
      const bad = await nc.request(
        `sb.instance.holder.${server.instanceId}`,
        encode({ v: 1, calls: ['not a call id'] }),
        { headers: h, timeout: 2000 },
      );
      expect(bad.headers?.get('sb-st')).toBe('err');
      expect(decode(bad.data)).toMatchObject({ code: 'BAD_REQUEST' });
    } finally {
      await nc.close();
    }
    controller.abort();
    expect(await failure(call)).toMatchObject({ code: 'CANCELLED' });
  });

  test('resumed - a broker announces a resumed instance at most once a second', async () => {
    const site = await startSite('a');
    const lossy = track(await lossyInstance(site.url));
    const nc = await connect({ servers: site.url });
    const events: unknown[] = [];
    nc.subscribe('sb.events.registry.holder', {
      callback: (_e, msg) => events.push(decode(msg.data)),
    });
    await nc.flush();
    const beat = encode({ v: 1, id: 'lossy', secret: SECRET, resumed: true });
    for (let i = 0; i < 3; i++) nc.publish('sb.broker.heartbeat.holder', beat);
    // The broker handles our messages in order, and its answers reach us in order.
    await nc.request('sb.broker.info', encode({ v: 1 }), { timeout: 2000 });
    expect(events).toEqual([{ v: 1, kind: 'resumed', service: 'holder', id: 'lossy', site: 'a' }]);
    expect(lossy.calls).toHaveLength(0);
    await nc.close();
  });
});

describe('broker warm-up', () => {
  test('warm-up - a broker that restarts does not answer a live service missing', async () => {
    const site = await startSite('a');
    track(await serve({ name: 'greeter', methods: { hi: () => 'hi' } }, { nats: site.url }));
    await site.broker?.close();
    const nc = await connect({ servers: site.url });
    try {
      const restarted = track(await Broker.start({ nats: site.url, site: 'a' }));
      // Asked at once, before the server has heard of the start and registered again.
      const answer = await nc.request('sb.broker.lookup', encode({ v: 1, service: 'greeter' }), {
        timeout: 2000,
      });
      const { instances } = decode(answer.data) as { instances: unknown[] };
      expect(instances).toHaveLength(1);
      expect(restarted.registry.size).toBe(1);
    } finally {
      await nc.close();
    }
  });
});
