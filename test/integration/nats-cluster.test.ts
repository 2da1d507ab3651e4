/**
 * The NATS cluster fixture: three nodes joined by routes, each stoppable and
 * restartable alone, a client given every URL that rides the loss of its
 * node, and a site (broker, server, client) that calls through the loss of
 * each node in turn. Under load, across bridges: the fault suite
 * (test/faults/cluster-node-kill.test.ts).
 */
import { connect, type NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import {
  Broker,
  type Calculator,
  Client,
  calculatorService,
  openSiteConnection,
  returnGraceMs,
  SwitchboardError,
  serve,
} from '../../src/internal.js';
import {
  findNatsServerBinary,
  type NatsClusterHandle,
  startNatsCluster,
  startNatsServer,
} from '../../src/testing/index.js';
import { eventually, track } from './helpers.js';

async function cluster(): Promise<NatsClusterHandle> {
  return track(await startNatsCluster({ name: 'paris' }));
}

async function natsClient(servers: string | readonly string[]): Promise<NatsConnection> {
  const nc = await connect({ servers: [servers].flat(), reconnectTimeWait: 100, timeout: 2_000 });
  return track({ close: () => nc.close() }) && nc;
}

const binary = findNatsServerBinary();

describe.skipIf(binary === undefined)(
  binary === undefined
    ? 'nats cluster (skipped: no nats-server binary; sudo apt-get install nats-server)'
    : 'nats cluster',
  () => {
    test('nats cluster - three nodes route a message from one node to another', async () => {
      const site = await cluster();
      expect(site.nodes.map((node) => node.name)).toEqual(['paris-1', 'paris-2', 'paris-3']);
      expect(site.urls).toHaveLength(3);
      expect(site.url).toBe(site.urls.join(','));
      const first = await natsClient(site.urls[0]!);
      const third = await natsClient(site.urls[2]!);
      let received = '';
      first.subscribe('hello', { callback: (_err, msg) => (received = msg.string()) });
      await first.flush();
      // Interest crosses the route a moment after the subscription.
      await eventually(async () => {
        third.publish('hello', 'from node 3');
        await third.flush();
        return received === 'from node 3';
      });
    });

    test('nats cluster - a connection given one node learns from the server that it may move to another; one to a lone server can only come back to it', async () => {
      const site = await cluster();
      const lone = track(await startNatsServer());
      const toNode = await openSiteConnection({ nats: site.urls[0]! }, 'probe-test');
      const toLone = await openSiteConnection({ nats: lone.url }, 'probe-test');
      track({ close: () => toNode.release() });
      track({ close: () => toLone.release() });
      // One URL each: the connections' own grace is 0; the cluster's server says what it is.
      expect([toNode.reconnectGraceMs, toLone.reconnectGraceMs]).toEqual([0, 0]);
      expect(returnGraceMs(toNode)).toBe(1500);
      expect(returnGraceMs(toLone)).toBe(500);
    });

    test('nats cluster - a stopped node restarts on its ports and joins again', async () => {
      const site = await cluster();
      const node = site.nodes[1]!;
      const { port, routePort, monitorUrl } = node;
      await node.stop();
      await node.restart();
      expect([node.port, node.routePort, node.monitorUrl]).toEqual([port, routePort, monitorUrl]);
      await site.formed();
    });

    test('nats cluster - a client given every URL keeps working when its node is killed', async () => {
      const site = await cluster();
      const nc = await natsClient(site.urls);
      const echo = nc.subscribe('echo');
      void (async () => {
        for await (const msg of echo) msg.respond(msg.data);
      })();
      const home = site.nodes.find((node) => nc.info?.server_name === node.name);
      expect(home).toBeDefined();
      await home!.stop();
      await eventually(
        async () => {
          try {
            return (await nc.request('echo', 'x', { timeout: 500 })).string() === 'x';
          } catch {
            return false;
          }
        },
        5_000,
        'a reply through another node',
      );
      expect(nc.info?.server_name).not.toBe(home!.name);
    });

    /**
     * A client on one node calls `sleep(1500)` on a server on another node,
     * and the client's node dies once the call runs there: the client is on
     * another node well before the answer comes.
     */
    async function callThroughNodeLoss(reconnectGraceMs: number): Promise<unknown> {
      const site = await cluster();
      const nc = await natsClient(site.urls);
      const home = site.nodes.findIndex((node) => nc.info?.server_name === node.name);
      const away = site.urls.filter((_, i) => i !== home);
      track(await Broker.start({ nats: away, site: 'paris' }));
      const server = track(await serve(calculatorService(), { nats: away[0]! }));
      const client = track(await Client.connect({ connection: nc, reconnectGraceMs }));
      const calc = client.proxy<Calculator>('calculator', { timeoutMs: 5_000 });
      expect(await calc.add(1, 2)).toBe(3);
      const call = calc.sleep(1_500).catch((err: unknown) => err);
      await eventually(() => server.activeCalls === 1, 2_000, 'the call running at the server');
      await site.nodes[home]!.stop();
      return call;
    }

    test('nats cluster - a call in flight when the caller moves to another node is answered (reconnect grace)', async () => {
      expect(await callThroughNodeLoss(1_500)).toBe(1_500);
    });

    test('nats cluster - without a reconnect grace, that call fails at once UNAVAILABLE, completion maybe', async () => {
      const outcome = await callThroughNodeLoss(0);
      expect(outcome).toBeInstanceOf(SwitchboardError);
      expect(outcome).toMatchObject({ code: 'UNAVAILABLE', completed: 'maybe' });
    });

    test('nats cluster - a site on it calls through the loss of each node in turn', async () => {
      const site = await cluster();
      const nats = [...site.urls];
      track(await Broker.start({ nats, site: 'paris' }));
      track(await serve(calculatorService(), { nats }));
      const client = track(await Client.connect({ nats, timeoutMs: 2_000 }));
      const calc = client.proxy<Calculator>('calculator', { idempotent: true });
      expect(await calc.add(1, 2)).toBe(3);
      for (const node of site.nodes) {
        await node.stop();
        await eventually(
          () =>
            calc.add(2, 2).then(
              (sum) => sum === 4,
              () => false,
            ),
          10_000,
          `a call with ${node.name} down`,
        );
        await node.restart();
        await site.formed();
      }
    });
  },
);
