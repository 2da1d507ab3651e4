/**
 * A thin client against a stand-in broker: a plain NATS subscriber on the
 * broker's call subject that answers with the failure under test, to count
 * how often the client asks again.
 */
import { connect, type NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  Client,
  Codec,
  type Completion,
  calculatorService,
  ErrorCode,
  errorReplyHeaders,
  Metrics,
  SwitchboardError,
  serve,
  subjectsFor,
} from '../../src/internal.js';
import { eventually, failure, startSite, track } from './helpers.js';

const codec = new Codec();

/** A stand-in broker that answers every call with `code`/`completed`; returns the calls it saw. */
async function standInBroker(url: string, code: ErrorCode, completed: Completion) {
  const nc: NatsConnection = track(await connect({ servers: url }));
  const seen: string[] = [];
  nc.subscribe(subjectsFor().callAll, {
    callback: (_err, msg) => {
      seen.push(msg.headers?.get('sb-call') ?? '');
      const err = new SwitchboardError(code, 'stand-in', { completed });
      msg.respond(codec.encode(err.toData()), { headers: errorReplyHeaders().forNats() });
    },
  });
  await nc.flush();
  return seen;
}

describe('thin client', () => {
  test('thin client - asks its broker again after a failure that says the call never ran, three times at most', async () => {
    const site = await startSite('a', { broker: false });
    const seen = await standInBroker(site.url, ErrorCode.UNAVAILABLE, 'no');
    const client = track(await Client.connect({ nats: site.url, viaBroker: true }));
    const err = await failure(client.call('calc', 'add', [1, 2], { timeoutMs: 2000 }));
    expect(err).toMatchObject({ code: 'UNAVAILABLE', completed: 'no' });
    expect(seen).toHaveLength(3);
    // Each attempt carries what is left of the budget, and the same call id.
    const ids = new Set(seen.map((h) => h.split(';')[1]));
    expect(ids.size).toBe(1);
  });

  test('thin client - a failure that may have run the handler is not asked again unless the method is idempotent', async () => {
    const site = await startSite('a', { broker: false });
    const seen = await standInBroker(site.url, ErrorCode.UNAVAILABLE, 'maybe');
    const client = track(await Client.connect({ nats: site.url, viaBroker: true }));
    expect(await failure(client.call('calc', 'add', [1, 2]))).toMatchObject({ completed: 'maybe' });
    expect(seen).toHaveLength(1);
    await failure(client.call('calc', 'add', [1, 2], { idempotent: true }));
    expect(seen).toHaveLength(4);
  });

  test('thin client - a pinned site travels in the call header to the broker', async () => {
    const site = await startSite('a', { broker: false });
    const seen = await standInBroker(site.url, ErrorCode.SERVICE_NOT_FOUND, 'no');
    const client = track(await Client.connect({ nats: site.url, viaBroker: true }));
    await failure(client.call('where@b', 'site'));
    expect(seen[0]?.split(';')[6]).toBe('b');
  });

  test('thin client - through a real broker and server, the instance tells the broker of the calls that ended in batches, not one empty reply each', async () => {
    const metrics = new Metrics();
    const site = await startSite('a', { brokerOptions: { metrics } });
    track(await serve(calculatorService(), { nats: site.url }));
    const spy: NatsConnection = track(await connect({ servers: site.url }));
    const batched: string[] = [];
    let emptyNotices = 0;
    spy.subscribe('_INBOX.>', {
      callback: (_err, msg) => {
        if (msg.subject.endsWith('.~done')) batched.push(...msg.string().split(' '));
        else if (msg.data.length === 0) emptyNotices++;
      },
    });
    await spy.flush();
    const client = track(await Client.connect({ nats: site.url, viaBroker: true }));
    const sums = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.call('calculator', 'add', [i, 1])),
    );
    expect(sums).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // The batches leave the server a moment after the answers.
    await eventually(() => new Set(batched).size === 200);
    expect(emptyNotices).toBe(0);
    // The broker took them: it holds no call any more, long before the calls' deadlines.
    const inFlight = metrics.registry.getSingleMetric('switchboard_broker_calls_in_flight');
    await eventually(async () => (await inFlight!.get()).values[0]?.value === 0, 1000);
  });
});
