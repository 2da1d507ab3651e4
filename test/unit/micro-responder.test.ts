/**
 * The NATS service discovery answers ($SRV.PING, INFO, STATS) over the
 * in-memory NATS: their exact shape, which services answer which subject,
 * and what is heard when a component is held to one service.
 */
import type { Msg } from 'nats';
import { describe, expect, test } from 'vitest';
import { discoverySubjects } from '../../src/protocol/index.js';
import { EndpointStats, MicroResponder, type MicroService } from '../../src/transport/index.js';
import { collect, idle, MemoryBus } from '../support/memory-nats.js';
import { RecordingLogger } from '../support/memory-wire.js';

const STARTED = new Date('2026-01-02T03:04:05.000Z');

function service(name: string, id: string): MicroService {
  const stats = new EndpointStats();
  stats.record(2, ['a']);
  stats.record(4, ['b', 'a'], {
    code: 'APPLICATION',
    message: 'boom',
    site: 'a',
    path: ['b', 'a'],
  });
  return {
    name,
    id,
    version: '1.2.3',
    description: `the ${name} service`,
    metadata: { team: 'x' },
    started: STARTED,
    endpoints: [{ name: 'add', subject: `sb.instance.${name}.${id}`, stats }],
  };
}

function setup(services: MicroService[], only?: string, list?: () => Iterable<MicroService>) {
  const bus = new MemoryBus();
  const nc = bus.connect();
  const logger = new RecordingLogger();
  const responder = new MicroResponder(nc, list ?? (() => services), logger, only);
  const asker = bus.connect();
  let n = 0;
  /** Every answer to one request to `subject`. */
  const ask = async (subject: string): Promise<unknown[]> => {
    const inbox = `_INBOX.${++n}`;
    const got = collect(asker, inbox);
    asker.publish(subject, '', { reply: inbox });
    await idle();
    return got.messages.map((m: Msg) => JSON.parse(new TextDecoder().decode(m.data)));
  };
  return { nc, responder, ask, logger, asker };
}

const two = [service('calc', 'i1'), service('calc', 'i2'), service('echo', 'e1')];

describe('micro responder', () => {
  test('micro responder - PING names each service instance', async () => {
    const { ask } = setup(two);
    expect(await ask('$SRV.PING')).toEqual([
      {
        type: 'io.nats.micro.v1.ping_response',
        name: 'calc',
        id: 'i1',
        version: '1.2.3',
        metadata: { team: 'x' },
      },
      {
        type: 'io.nats.micro.v1.ping_response',
        name: 'calc',
        id: 'i2',
        version: '1.2.3',
        metadata: { team: 'x' },
      },
      {
        type: 'io.nats.micro.v1.ping_response',
        name: 'echo',
        id: 'e1',
        version: '1.2.3',
        metadata: { team: 'x' },
      },
    ]);
  });

  test('micro responder - INFO describes the endpoints', async () => {
    const { ask } = setup(two);
    expect(await ask('$SRV.INFO.calc.i2')).toEqual([
      {
        type: 'io.nats.micro.v1.info_response',
        name: 'calc',
        id: 'i2',
        version: '1.2.3',
        metadata: { team: 'x' },
        description: 'the calc service',
        endpoints: [
          { name: 'add', subject: 'sb.instance.calc.i2', queue_group: '', metadata: null },
        ],
      },
    ]);
  });

  test('micro responder - STATS counts requests, errors and time per endpoint', async () => {
    const { ask } = setup(two);
    expect(await ask('$SRV.STATS.echo')).toEqual([
      {
        type: 'io.nats.micro.v1.stats_response',
        name: 'echo',
        id: 'e1',
        version: '1.2.3',
        metadata: { team: 'x' },
        started: '2026-01-02T03:04:05.000Z',
        endpoints: [
          {
            name: 'add',
            subject: 'sb.instance.echo.e1',
            queue_group: '',
            num_requests: 2,
            num_errors: 1,
            last_error: 'boom',
            data: {
              errors_by_code: { APPLICATION: 1 },
              calls_by_path: { a: 1, 'b,a': 1 },
              last_error_code: 'APPLICATION',
              last_error_site: 'a',
              last_error_path: 'b,a',
            },
            processing_time: 6_000_000,
            average_processing_time: 3_000_000,
          },
        ],
      },
    ]);
  });

  test('micro responder - an endpoint with no request yet averages 0', async () => {
    const idle = service('calc', 'i1');
    idle.endpoints[0]!.stats = new EndpointStats();
    const { ask } = setup([idle]);
    const [stats] = (await ask('$SRV.STATS')) as Array<{
      endpoints: Array<Record<string, unknown>>;
    }>;
    expect(stats!.endpoints[0]).toMatchObject({
      num_requests: 0,
      processing_time: 0,
      average_processing_time: 0,
    });
  });

  test('micro responder - a name narrows to that service, a name and id to that instance', async () => {
    const { ask } = setup(two);
    const ids = async (subject: string) =>
      ((await ask(subject)) as Array<{ id: string }>).map((a) => a.id);
    expect(await ids('$SRV.PING.calc')).toEqual(['i1', 'i2']);
    expect(await ids('$SRV.PING.calc.i1')).toEqual(['i1']);
    expect(await ids('$SRV.PING.echo.i1')).toEqual([]);
    expect(await ids('$SRV.PING.nope')).toEqual([]);
  });

  test('micro responder - unknown verbs, longer subjects and messages without a reply subject get nothing', async () => {
    const { ask, asker } = setup(two);
    expect(await ask('$SRV.HELLO')).toEqual([]);
    expect(await ask('$SRV.PING.calc.i1.extra')).toEqual([]);
    const all = collect(asker, '_INBOX.>');
    asker.publish('$SRV.PING', '');
    await idle();
    expect(all.messages).toHaveLength(0);
  });

  test('micro responder - a failure while answering is logged, not thrown', async () => {
    const { ask, logger } = setup([], undefined, () => {
      throw new Error('gone');
    });
    expect(await ask('$SRV.PING')).toEqual([]);
    expect(logger.at('warn')).toEqual(['cannot answer a discovery request: Error: gone']);
    expect(logger.lines.at(-1)?.fields).toEqual({ subject: '$SRV.PING' });
  });

  test('micro responder - held to one service, it hears only that service’s requests', async () => {
    const { nc, ask } = setup(two.slice(0, 2), 'calc');
    expect(nc.subscriptions.map((s) => s.subject)).toEqual(discoverySubjects('calc'));
    expect(await ask('$SRV.PING')).toHaveLength(2);
    expect(await ask('$SRV.INFO.calc.i1')).toHaveLength(1);
    expect(await ask('$SRV.STATS.calc')).toHaveLength(2);
  });

  test('micro responder - close stops answering; on a closed connection it does nothing', async () => {
    const { nc, responder, asker } = setup(two);
    expect(nc.subscriptions.map((s) => s.subject)).toEqual(['$SRV.>']);
    responder.close();
    expect(nc.subscriptions).toHaveLength(0);
    // Nobody listens any more: NATS itself answers "no responders".
    const reply = await asker.request('$SRV.PING', '').catch((err: { code: string }) => err.code);
    expect(reply).toBe('503');
    const other = setup(two);
    const subs = other.nc.subscriptions;
    await other.nc.close();
    other.responder.close();
    expect(subs.map((s) => s.isClosed())).toEqual([true]);
  });
});
