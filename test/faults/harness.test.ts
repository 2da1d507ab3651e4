/**
 * The fault suite's harness itself: namespaces and veths made and removed,
 * nats-server and components run inside a namespace (the IPC channel crosses
 * `ip netns exec`), and a cut that drops packets silently inside a site's
 * namespace while the host's iptables stay as they were.
 */
import { describe, expect, test } from 'vitest';
import { startNatsServer } from '../../src/testing/index.js';
import { track } from '../integration/helpers.js';
import { spawnComponent } from '../support/components.js';
import { suiteTitle } from '../support/suite-title.js';
import { FaultNet, inNamespace, run } from './netns.js';
import { faultNeeds } from './prerequisites.js';

const { missing, iptables } = await faultNeeds();

/**
 * Tries a TCP connection from namespace `ns` (the root one if undefined):
 * `connected`, `refused` (an RST) or `silent` (no answer within 1 s).
 */
async function dial(ns: string | undefined, host: string, port: number): Promise<string> {
  const script = `
    const s = require('node:net').connect(${port}, '${host}');
    const done = (what) => { process.stdout.write(what); s.destroy(); process.exit(0); };
    s.once('connect', () => done('connected'));
    s.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code));
    setTimeout(() => done('silent'), 1000);`;
  if (ns === undefined) return run(process.execPath, ['-e', script]);
  return run('ip', ['netns', 'exec', ns, process.execPath, '-e', script]);
}

async function siteWithNats(sites: string[]) {
  const net = track(await FaultNet.create(sites, iptables));
  const a = net.site('a');
  const nats = track(
    await startNatsServer({
      name: 'a',
      backend: 'binary',
      host: '0.0.0.0',
      urlHost: a.rootFacing,
      wrapper: inNamespace(a.ns),
    }),
  );
  return { net, a, nats };
}

describe.skipIf(missing.length > 0)(suiteTitle('faults: harness', missing), () => {
  test('harness - a namespace per site and one for the bridges; close() leaves nothing behind', async () => {
    const net = await FaultNet.create(['a', 'b'], iptables);
    try {
      const namespaces = await run('ip', ['netns', 'list']);
      for (const ns of [net.bridgesNs, net.site('a').ns, net.site('b').ns]) {
        expect(namespaces).toContain(ns);
      }
      expect(await net.leftovers()).toHaveLength(5); // 3 namespaces, 2 root-side veths
      // The bridges reach each site over their own link, not through the root namespace.
      const b = net.site('b');
      expect(await run('ip', ['-n', net.bridgesNs, 'route', 'get', b.bridgeFacing])).toMatch(
        /dev sbf/,
      );
    } finally {
      await net.close();
    }
    expect(await net.leftovers()).toEqual([]);
  });

  test('harness - nats-server and a component run in a namespace; IPC crosses ip netns exec', async () => {
    const { a, nats } = await siteWithNats(['a']);
    expect(nats.url).toBe(`nats://${a.rootFacing}:${nats.port}`);
    expect((await run('ip', ['netns', 'identify', String(nats.pid)])).trim()).toBe(a.ns);
    const broker = await spawnComponent(
      { role: 'broker', site: 'a', nats: `nats://127.0.0.1:${nats.port}` },
      'broker-a',
      { namespace: a.ns },
    );
    track({ close: () => broker.stop() });
    expect((await run('ip', ['netns', 'identify', String(broker.pid)])).trim()).toBe(a.ns);
    // A request and its answer: both directions of the inherited channel.
    expect(await broker.request('size')).toBe(0);
  });

  test('harness - a cut drops packets without a word inside the site namespace; a heal lets them through', async () => {
    const { net, a, nats } = await siteWithNats(['a']);
    const hostRules = await run(iptables, ['-w', '-S']);
    expect(await dial(net.bridgesNs, a.bridgeFacing, nats.port)).toBe('connected');
    await net.cut('a');
    expect(await dial(net.bridgesNs, a.bridgeFacing, nats.port)).toBe('silent');
    // Only the link to the bridges is cut: the root namespace still reaches the site.
    expect(await dial(undefined, a.rootFacing, nats.port)).toBe('connected');
    expect(await run(iptables, ['-w', '-S'])).toBe(hostRules);
    await net.heal('a');
    expect(await dial(net.bridgesNs, a.bridgeFacing, nats.port)).toBe('connected');
  });
});
