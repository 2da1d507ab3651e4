/**
 * Per-role credentials against real nats-servers started with the config
 * `switchboard secure init` writes (TLS, one user per identity, subject
 * permissions): what each credential cannot do — NATS refuses it with a
 * permissions violation — and that every component does its own job with
 * its own credential alone. Each test is one finding of the least-privilege
 * issue; on an open NATS every refusal below would have been a success.
 */
import { encode } from '@msgpack/msgpack';
import { connect, headers, type NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import { secureInit } from '../../src/cli/secure/index.js';
import {
  Bridge,
  type Calculator,
  Client,
  Codec,
  type ConnectionOptions,
  calculatorService,
  type Logger,
  parse,
  serve,
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
import { connectAs, refusalsOf, type SecuredSite, startSecuredSite } from './secured-sites.js';

const codec = new Codec();

const greeterService = { name: 'greeter', methods: { hello: (who: string) => `hello ${who}` } };
interface Greeter {
  hello(who: string): string;
}

/** A register request for `service`, as any process could send it. */
function registration(service: string, id: string, route?: { site: string; path: string[] }) {
  const instance = {
    id,
    service,
    version: '1.0.0',
    methods: ['add'],
    metadata: {},
    heartbeatMs: 60_000,
    secret: 'a-bogus-but-well-formed-secret',
    ...(route ? { route } : {}),
  };
  return encode({ v: 1, instance });
}

/** A heartbeat or deregistration claiming instance `id`. */
const claim = (id: string) => encode({ v: 1, id, secret: 'a-bogus-but-well-formed-secret' });

/**
 * A logger for the legitimate components of a test, which records every
 * refusal NATS reports to them: with the right credential, there is none.
 */
function refusalRecorder(): Logger & { refused: string[] } {
  const refused: string[] = [];
  const record = (message: string) => {
    if (message.startsWith('NATS refused')) refused.push(message);
  };
  return { refused, debug: record, info: record, warn: record, error: record };
}

/** Subscribes to `subject` and collects the subjects of what arrives there. */
function eavesdrop(nc: NatsConnection, subject: string, heard: string[]): void {
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (!err) heard.push(msg.subject);
    },
  });
}

/** A site a with a calculator served by its own credential, and a client. */
async function siteWithCalculator(extra: string[] = []) {
  const log = refusalRecorder();
  const site = await startSecuredSite('a', { services: ['calculator', ...extra] });
  const server = track(
    await serve(calculatorService(), { ...(await site.as('server-calculator')), logger: log }),
  );
  const client = track(await Client.connect({ ...(await site.as('client')), logger: log }));
  return { site, server, client, log };
}

describe('security - a client credential', () => {
  test('client credential - cannot register, heartbeat or deregister anything', async () => {
    const { site, server, client, log } = await siteWithCalculator();
    const options = await site.as('client');
    const nc = await connectAs(options);
    const refused = refusalsOf(nc);
    nc.publish('sb.broker.register.calculator', registration('calculator', 'bogus'), {
      reply: `${options.inboxPrefix}.register`,
    });
    nc.publish('sb.broker.heartbeat.calculator', claim('bogus'));
    nc.publish('sb.broker.deregister.calculator', claim(server.instanceId));
    for (const kind of ['register', 'heartbeat', 'deregister']) {
      await refused.expect('publish', `sb.broker.${kind}.calculator`);
    }
    // Through the library too: serving with a client credential fails at once.
    const err = await failure(serve(greeterService, options));
    expect(err).toMatchObject({ code: 'FORBIDDEN', completed: 'no' });
    expect(String(err.message)).toMatch(
      /NATS refused the publish to sb\.broker\.register\.greeter/,
    );
    expect((await client.lookup('calculator')).map((i) => i.id)).toEqual([server.instanceId]);
    expect(site.broker?.registry.size).toBe(1);
    expect(log.refused).toEqual([]);
  });

  test("client credential - cannot subscribe to an instance subject, a route, control messages or another user's inbox", async () => {
    const { site, server, client, log } = await siteWithCalculator();
    const nc = await connectAs(await site.as('client'));
    const refused = refusalsOf(nc);
    const heard: string[] = [];
    const subjects = [
      `sb.instance.calculator.${server.instanceId}`,
      'sb.instance.>',
      'sb.route.*.*',
      'sb.control.calculator.*',
      'sb.broker.call.*',
      'sb.broker.register.*',
      '_INBOX.>',
      '_INBOX.server-calculator.>',
      '>',
    ];
    for (const subject of subjects) eavesdrop(nc, subject, heard);
    for (const subject of subjects) await refused.expect('subscription', subject);
    const thin = track(await Client.connect({ ...(await site.as('client')), viaBroker: true }));
    expect(await client.proxy<Calculator>('calculator').add(1, 2)).toBe(3);
    expect(await thin.proxy<Calculator>('calculator').add(20, 22)).toBe(42);
    await nc.flush();
    expect(heard).toEqual([]);
    expect(log.refused).toEqual([]);
  });

  test('client credential - its calls work: direct, thin, errors, lookups and the listing', async () => {
    const { site, server, client, log } = await siteWithCalculator();
    const calc = client.proxy<Calculator>('calculator');
    expect(await calc.add(1, 2)).toBe(3);
    expect(await failure(calc.divide(1, 0))).toMatchObject({
      code: 'APPLICATION',
      appCode: 'DIVIDE_BY_ZERO',
      site: 'a',
    });
    expect(
      await failure(client.proxy<Calculator>('calculator', { timeoutMs: 200 }).sleep(5000)),
    ).toMatchObject({ code: 'TIMEOUT' });
    const thin = track(
      await Client.connect({ ...(await site.as('client')), viaBroker: true, logger: log }),
    );
    expect(await thin.proxy<Calculator>('calculator').add(2, 3)).toBe(5);
    expect(await thin.brokerInfo()).toMatchObject({ site: 'a' });
    expect((await client.list()).services.map((s) => s.name)).toEqual(['calculator']);
    expect((await client.lookup('calculator')).map((i) => i.id)).toEqual([server.instanceId]);
    expect(log.refused).toEqual([]);
  });

  test('client credential - a component on a borrowed connection replies to its inbox prefix', async () => {
    const { site } = await siteWithCalculator();
    const nc = await connectAs(await site.as('client'));
    const borrowing = track(await Client.connect({ connection: nc }));
    expect(await borrowing.proxy<Calculator>('calculator').add(2, 2)).toBe(4);
  });

  test('observer credential - lists, looks up and discovers ($SRV), and every call is FORBIDDEN at once', async () => {
    const { site, server } = await siteWithCalculator();
    const observer = track(await Client.connect(await site.as('observer')));
    expect((await observer.list()).services.map((s) => s.name)).toEqual(['calculator']);
    // The server hears the discovery requests of its service with its own credential.
    const nc = await connectAs(await site.as('observer'));
    const info = await nc.request('$SRV.INFO.calculator', undefined, { timeout: 2000 });
    expect(JSON.parse(info.string())).toMatchObject({ name: 'calculator', id: server.instanceId });
    const started = Date.now();
    const err = await failure(
      observer.proxy<Calculator>('calculator', { timeoutMs: 10_000 }).add(1, 2),
    );
    expect(err).toMatchObject({ code: 'FORBIDDEN', completed: 'no', service: 'calculator' });
    // At once: the refusal, not the 10 s deadline, ends the call.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('security - a server credential', () => {
  test('server credential for calculator - cannot register, serve or deregister greeter', async () => {
    const log = refusalRecorder();
    const site = await startSecuredSite('a', { services: ['calculator', 'greeter'] });
    const greeter = track(
      await serve(greeterService, { ...(await site.as('server-greeter')), logger: log }),
    );
    const calculatorCredential = await site.as('server-calculator');
    const err = await failure(serve(greeterService, calculatorCredential));
    expect(err).toMatchObject({ code: 'FORBIDDEN', completed: 'no' });
    const nc = await connectAs(calculatorCredential);
    const refused = refusalsOf(nc);
    const heard: string[] = [];
    eavesdrop(nc, 'sb.instance.greeter.*', heard);
    eavesdrop(nc, `sb.instance.greeter.${greeter.instanceId}`, heard);
    // Nor hear (and answer, as if it were greeter) greeter's discovery requests.
    eavesdrop(nc, '$SRV.INFO.greeter', heard);
    eavesdrop(nc, '$SRV.*.greeter', heard);
    eavesdrop(nc, '$SRV.>', heard);
    nc.publish('sb.broker.register.greeter', registration('greeter', 'bogus'));
    nc.publish('sb.broker.heartbeat.greeter', claim(greeter.instanceId));
    nc.publish('sb.broker.deregister.greeter', claim(greeter.instanceId));
    await refused.expect('subscription', 'sb.instance.greeter.*');
    await refused.expect('subscription', `sb.instance.greeter.${greeter.instanceId}`);
    for (const subject of ['$SRV.INFO.greeter', '$SRV.*.greeter', '$SRV.>']) {
      await refused.expect('subscription', subject);
    }
    for (const kind of ['register', 'heartbeat', 'deregister']) {
      await refused.expect('publish', `sb.broker.${kind}.greeter`);
    }
    const client = track(await Client.connect(await site.as('client')));
    expect(await client.proxy<Greeter>('greeter').hello('you')).toBe('hello you');
    expect((await client.lookup('greeter')).map((i) => i.id)).toEqual([greeter.instanceId]);
    expect(heard).toEqual([]);
    expect(log.refused).toEqual([]);
  });

  test('server credential for calculator - cannot register a route, nor publish where its role does not', async () => {
    const { site, server, client } = await siteWithCalculator();
    const nc = await connectAs(await site.as('server-calculator'));
    const refused = refusalsOf(nc);
    const route = { site: 'z', path: ['z'] };
    const publishes = [
      'sb.broker.route.register.calculator',
      'sb.broker.route.heartbeat.calculator',
      'sb.broker.route.deregister.calculator',
      'sb.events.registry.calculator',
      'sb.events.broker',
      `sb.control.calculator.${server.instanceId}`,
      'anything.at.all',
      '$SYS.REQ.SERVER.PING',
    ];
    for (const subject of publishes) nc.publish(subject, registration('calculator', 'r1', route));
    for (const subject of ['sb.route.*.*', 'sb.broker.register.*', 'sb.events.>']) {
      nc.subscribe(subject);
    }
    for (const subject of publishes) await refused.expect('publish', subject);
    for (const subject of ['sb.route.*.*', 'sb.broker.register.*', 'sb.events.>']) {
      await refused.expect('subscription', subject);
    }
    expect((await client.lookup('calculator')).map((i) => i.id)).toEqual([server.instanceId]);
  });

  test('server credential - it serves its own service, and its handlers call other services with it', async () => {
    const log = refusalRecorder();
    const site = await startSecuredSite('a', { services: ['calculator', 'greeter'] });
    track(await serve(greeterService, { ...(await site.as('server-greeter')), logger: log }));
    const own = await site.as('server-calculator');
    const outbound = track(await Client.connect({ ...own, logger: log }));
    track(
      await serve(
        {
          name: 'calculator',
          methods: {
            add: (a: number, b: number) => a + b,
            greet: (who: string) => outbound.call('greeter', 'hello', [who]),
          },
        },
        { ...own, logger: log },
      ),
    );
    const client = track(await Client.connect(await site.as('client')));
    expect(await client.call('calculator', 'greet', ['mesh'])).toBe('hello mesh');
    expect(await client.call('calculator', 'add', [1, 2])).toBe(3);
    expect(log.refused).toEqual([]);
  });
});

describe('security - routes', () => {
  test('routes - only the bridge credential can register a route', async () => {
    const site = await startSecuredSite('a', { services: ['calculator'], bridgeTo: ['b'] });
    const route = { site: 'b', path: ['b'] };
    for (const identity of ['client', 'observer', 'server-calculator', 'broker']) {
      const nc = await connectAs(await site.as(identity));
      const refused = refusalsOf(nc);
      nc.publish('sb.broker.route.register.calculator', registration('calculator', 'r1', route));
      await refused.expect('publish', 'sb.broker.route.register.calculator');
    }
    expect(site.broker?.registry.size).toBe(0);
    const bridge = await connectAs(await site.bridgeSide('bridge-b', 'local'));
    const reply = await bridge.request(
      'sb.broker.route.register.calculator',
      registration('calculator', 'r1', route),
      { timeout: 2000 },
    );
    expect(parse.registerReply(codec.decode(reply.data))).toMatchObject({ site: 'a' });
    const client = track(await Client.connect(await site.as('client')));
    expect(await client.lookup('calculator')).toEqual([
      expect.objectContaining({ id: 'r1', site: 'b', hops: 1 }),
    ]);
  });
});

describe('security - credentials of an earlier revision', () => {
  test('earlier credentials - without route batches in the users file, a bridge still registers its routes, one request each, and calls pass', async () => {
    const withoutBatches = (text: string) =>
      text
        .split('\n')
        .filter((line) => !line.includes('sb.broker.route.batch'))
        .join('\n');
    const a = await startSecuredSite(
      'a',
      { services: ['calculator'], bridgeTo: ['b'] },
      { editAuth: withoutBatches },
    );
    const b = await startSecuredSite('b', { bridgeTo: ['a'] }, { editAuth: withoutBatches });
    const log = refusalRecorder();
    await securedBridge(a, b, { logger: log });
    track(await serve(calculatorService(), await a.as('server-calculator')));
    const atB = track(await Client.connect(await b.as('client')));
    await reachable(atB, 'calculator', 'a', 1);
    expect(await atB.proxy<Calculator>('calculator').add(2, 3)).toBe(5);
    // NATS refused the half's batch, said once; from then on each route went on its own.
    expect(log.refused).toEqual([
      "NATS refused the publish to sb.broker.route.batch: this component's credential does not permit it",
    ]);
    expect(b.broker?.registry.lookup('calculator')).toEqual([
      expect.objectContaining({ site: 'a', hops: 1 }),
    ]);
  });
});

describe('security - the hijack of the issue', () => {
  test.each(['client', 'server-greeter'])(
    'hijack - with the %s credential: a bogus instance, eavesdropping and deregistering the real one each fail with a permissions violation, while calls keep flowing',
    async (attacker) => {
      const { site, server, client, log } = await siteWithCalculator(['greeter']);
      const thin = track(
        await Client.connect({ ...(await site.as('client')), viaBroker: true, logger: log }),
      );
      const answers: unknown[] = [];
      let traffic = true;
      const flowing = (async () => {
        for (let i = 0; traffic || i < 40; i++) {
          const caller = i % 2 === 0 ? client : thin;
          answers.push(await caller.call('calculator', 'add', [1, 2]).catch((e: unknown) => e));
        }
      })();

      const nc = await connectAs(await site.as(attacker));
      const refused = refusalsOf(nc);
      const heard: string[] = [];
      // 1. A bogus instance of calculator, with a long lease, taking calls.
      eavesdrop(nc, 'sb.instance.calculator.bogus', heard);
      nc.publish('sb.broker.register.calculator', registration('calculator', 'bogus'));
      await refused.expect('subscription', 'sb.instance.calculator.bogus');
      await refused.expect('publish', 'sb.broker.register.calculator');
      // 2. Eavesdropping on the real instance's calls and on everyone's replies.
      eavesdrop(nc, `sb.instance.calculator.${server.instanceId}`, heard);
      eavesdrop(nc, '_INBOX.>', heard);
      await refused.expect('subscription', `sb.instance.calculator.${server.instanceId}`);
      await refused.expect('subscription', '_INBOX.>');
      // 3. Deregistering the real instance.
      nc.publish('sb.broker.deregister.calculator', claim(server.instanceId));
      await refused.expect('publish', 'sb.broker.deregister.calculator');

      traffic = false;
      await flowing;
      expect(answers.length).toBeGreaterThanOrEqual(40);
      expect(answers.filter((answer) => answer !== 3)).toEqual([]);
      expect((await client.lookup('calculator')).map((i) => i.id)).toEqual([server.instanceId]);
      await nc.flush();
      expect(heard).toEqual([]);
      expect(log.refused).toEqual([]);
    },
  );
});

describe('security - a connection that moved', () => {
  test('resumed - each with its own credential: the resumed heartbeat, its event and the probes pass, and the lost calls end at once', async () => {
    const log = refusalRecorder();
    const site = await startSecuredSite('a', { services: ['holder'] });
    // An instance of holder that loses every call (as if they were lost on its way to another
    // NATS node), then says its connection moved.
    const nc = await connectAs(await site.as('server-holder'));
    const refused = refusalsOf(nc);
    await nc.request('sb.broker.register.holder', registration('holder', 'lossy'), {
      timeout: 2000,
    });
    let arrived = 0;
    const probes: unknown[] = [];
    nc.subscribe('sb.instance.holder.lossy', {
      callback: (_err, msg) => {
        if (!msg.headers?.get('sb-probe')) {
          arrived++;
          return;
        }
        probes.push(parse.probeRequest(codec.decode(msg.data)).calls);
        msg.respond(encode({ v: 1, held: [] }));
      },
    });
    const observer = await connectAs(await site.as('observer'));
    const events: Array<Record<string, unknown>> = [];
    observer.subscribe('sb.events.registry.holder', {
      callback: (_err, msg) => events.push(codec.decode(msg.data) as Record<string, unknown>),
    });
    await Promise.all([nc.flush(), observer.flush()]);

    const client = track(await Client.connect({ ...(await site.as('client')), logger: log }));
    const thin = track(
      await Client.connect({ ...(await site.as('client')), viaBroker: true, logger: log }),
    );
    const direct = failure(client.call('holder', 'add', [1, 2], { timeoutMs: 60_000 }));
    const forwarded = failure(thin.call('holder', 'add', [1, 2], { timeoutMs: 60_000 }));
    await eventually(() => arrived === 2, 5000, 'both calls at the instance');
    const started = Date.now();
    nc.publish(
      'sb.broker.heartbeat.holder',
      encode({ v: 1, id: 'lossy', secret: 'a-bogus-but-well-formed-secret', resumed: true }),
    );
    const lost = { code: 'UNAVAILABLE', completed: 'maybe' };
    expect(await direct).toMatchObject(lost);
    expect(await forwarded).toMatchObject(lost);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The client probed its call, the broker the one it forwarded.
    expect(probes).toHaveLength(2);
    // The observer hears the event on a connection of its own: maybe after the calls ended.
    const resumed = () => events.some((e) => e.kind === 'resumed' && e.id === 'lossy');
    await eventually(resumed, 5000, 'the resumed event of lossy');
    await nc.flush();
    expect(refused.seen).toEqual([]);
    expect(log.refused).toEqual([]);
  });
});

/** A bridge between two secured sites, each side logged in with that side's bridge credential. */
async function securedBridge(
  local: SecuredSite,
  remote: SecuredSite,
  options: { export?: string[]; logger?: Logger } = {},
): Promise<Bridge> {
  const bridge = track(
    await Bridge.start({
      local: await local.bridgeSide(`bridge-${remote.name}`, 'local'),
      remote: await remote.bridgeSide(`bridge-${local.name}`, 'remote'),
      heartbeatMs: 200,
      ...options,
    }),
  );
  if (!(await bridge.ready())) throw new Error(`${local.name}-${remote.name} did not link`);
  return bridge;
}

/** The chain A-B-C, and how a client at A and the servers at C log in to it. */
interface Chain {
  client: ConnectionOptions;
  serverAtC(service: string): Promise<ConnectionOptions>;
}

/** The same chain open (no credentials) and secured (TLS, one credential per role). */
const CHAINS: { title: string; start(log: Logger): Promise<Chain> }[] = [
  {
    title: 'open',
    start: async (log) => {
      const [a, b, c] = [await startSite('a'), await startSite('b'), await startSite('c')];
      await startBridge(a, b, { logger: log });
      await startBridge(b, c, { logger: log });
      return { client: { nats: a.url, logger: log }, serverAtC: async () => ({ nats: c.url }) };
    },
  },
  {
    title: 'secured',
    start: async (log) => {
      const a = await startSecuredSite('a', { bridgeTo: ['b'] });
      const b = await startSecuredSite('b', { bridgeTo: ['a', 'c'] });
      const c = await startSecuredSite('c', {
        services: ['calculator', 'where'],
        bridgeTo: ['b'],
      });
      await securedBridge(a, b, { logger: log });
      await securedBridge(b, c, { logger: log });
      return {
        client: { ...(await a.as('client')), logger: log },
        serverAtC: (service) => c.as(`server-${service}`),
      };
    },
  },
];

describe('security - the three-site mesh, open and secured', () => {
  test.each(CHAINS.map((chain) => [chain.title, chain] as const))(
    '%s mesh - chain A-B-C: calls, exceptions, timeouts, paths, lookups and thin calls cross both bridges',
    async (_title, { start }) => {
      const log = refusalRecorder();
      const chain = await start(log);
      track(await serve(whereService('c'), { ...(await chain.serverAtC('where')), logger: log }));
      track(
        await serve(calculatorService(), {
          ...(await chain.serverAtC('calculator')),
          logger: log,
        }),
      );
      const client = track(await Client.connect(chain.client));
      await reachable(client, 'where', 'c', 2);
      await reachable(client, 'calculator', 'c', 2);
      const where = client.proxy<Where>('where');
      expect(await where.site()).toBe('c');
      expect(await where.path()).toEqual(['a', 'b', 'c']);
      expect(await failure(where.fail())).toMatchObject({
        code: 'APPLICATION',
        appCode: 'OUT_OF_RANGE',
        site: 'c',
        path: ['a', 'b', 'c'],
      });
      const calc = client.proxy<Calculator>('calculator@c');
      expect(await calc.add(1, 2)).toBe(3);
      expect(await failure(calc.divide(1, 0))).toMatchObject({
        appCode: 'DIVIDE_BY_ZERO',
        site: 'c',
      });
      const slow = client.proxy<Calculator>('calculator', { timeoutMs: 300 });
      expect(await failure(slow.sleep(5000))).toMatchObject({ code: 'TIMEOUT' });
      const [instance] = await client.lookup('calculator');
      expect(instance).toMatchObject({ site: 'c', path: ['b', 'c'], hops: 2 });
      const thin = track(await Client.connect({ ...chain.client, viaBroker: true }));
      expect(await thin.proxy<Calculator>('calculator').add(20, 22)).toBe(42);
      expect(log.refused).toEqual([]);
    },
  );

  test('secured mesh - a call crafted with a client credential for a service the link does not export is FORBIDDEN', async () => {
    const a = await startSecuredSite('a', { services: ['calculator', 'where'], bridgeTo: ['b'] });
    const b = await startSecuredSite('b', { bridgeTo: ['a'] });
    await securedBridge(a, b, { export: ['calc*'] });
    track(await serve(calculatorService(), await a.as('server-calculator')));
    track(await serve(whereService('a'), await a.as('server-where')));
    const atB = track(await Client.connect(await b.as('client')));
    await reachable(atB, 'calculator', 'a', 1);
    expect(await atB.lookup('where')).toEqual([]);
    const [route] = await atB.lookup('calculator');
    const nc = await connectAs(await b.as('client'));
    const h = headers();
    h.set('sb-call', '1;x2;where;site;2000;b;a;');
    const reply = await nc.request(`sb.route.calculator.${route?.id}`, encode([]), {
      headers: h,
      timeout: 2000,
    });
    expect(parse.errorData(codec.decode(reply.data))).toMatchObject({
      code: 'FORBIDDEN',
      service: 'where',
      site: 'b',
    });
  });
});

describe('security - rotating a credential', () => {
  test('rotation - after secure init --rotate and a reload, the old password is refused and its holder cut off; the others carry on', async () => {
    const { site } = await siteWithCalculator();
    const before = await site.as('client');
    const holder = await connectAs(before);
    const refused = refusalsOf(holder);
    await secureInit({
      site: 'a',
      out: site.dir,
      services: ['calculator'],
      bridgeTo: [],
      rotate: ['client'],
      tlsHosts: [],
      prefix: 'sb',
    });
    const after = await site.as('client');
    expect(after.pass).not.toBe(before.pass);
    // nats-server reloads its config (and so auth.conf) on SIGHUP.
    process.kill(site.nats.pid as number, 'SIGHUP');
    await eventually(() => holder.isClosed(), 10_000, 'the old credential to be cut off');
    expect(refused.seen).toEqual([]);
    const login = (options: ConnectionOptions) =>
      connect({
        servers: options.nats,
        user: options.user,
        pass: options.pass,
        tls: { caFile: options.tls?.caFile },
        maxReconnectAttempts: 0,
      });
    expect(await failure(login(before))).toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
    await (await login(after)).close();
    // The broker and the server kept their credentials, and their connections.
    const fresh = track(await Client.connect(after));
    expect(await fresh.proxy<Calculator>('calculator').add(1, 2)).toBe(3);
  });
});
