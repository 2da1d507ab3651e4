/**
 * The wire fuzzer: two sites joined by a bridge, every component in a process
 * of its own, and a stream of hostile frames to every subject a broker, a
 * server and both bridge halves listen on. Afterwards every process must be
 * alive and serving calls across the bridge, no reply may be `INTERNAL`, no
 * connection may have been dropped by nats-server, and each process's
 * heap in use must be back within 1.5× of what it was before (RSS within 2×).
 *
 * Bounded: SWITCHBOARD_FUZZ_FRAMES frames (default 100 000) and about a
 * minute; SWITCHBOARD_FUZZ_SEED replays a run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { Child } from '../../scripts/lib/child-ipc.mjs';
import { Client, Codec, parse } from '../../src/internal.js';
import { eventually, startSite, type TestSite, track } from '../integration/helpers.js';
import { isAlive, startComponent } from '../support/components.js';
import { type RawNats, rawNats } from '../support/raw-nats.js';
import { nextFrame, Random, type Target } from './frames.js';

const FRAMES = Number(process.env.SWITCHBOARD_FUZZ_FRAMES ?? 100_000);
const SEED = Number(process.env.SWITCHBOARD_FUZZ_SEED ?? 20261202);
/** Frames sent between two flushes: keeps the fuzzer from outrunning the components. */
const BATCH = 500;

const codec = new Codec();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A site whose nats-server also serves its monitoring endpoint (to read /connz). */
async function monitoredSite(
  name: string,
): Promise<{ site: TestSite; connz: () => Promise<Conn[]> }> {
  const port = await freePort();
  const site = await startSite(name, { broker: false, nats: { args: ['-m', String(port)] } });
  const connz = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/connz?limit=1024`);
    return ((await res.json()) as { connections?: Conn[] }).connections ?? [];
  };
  return { site, connz };
}

interface Conn {
  cid: number;
  name?: string;
}

/** The connection ids of our components (not the fuzzer's, not the test's clients). */
function componentConnections(conns: Conn[]): string[] {
  return conns
    .filter((c) => /^switchboard-(broker|server|bridge)/.test(c.name ?? ''))
    .map((c) => `${c.name}#${c.cid}`)
    .sort();
}

/** Every subject the components of one site listen on. */
function targetsAt(ids: { instance?: string; routes: string[] }): Target[] {
  const targets: Target[] = [
    { subject: 'sb.broker.register.calculator', kind: 'register' },
    { subject: 'sb.broker.register.x', kind: 'register' },
    { subject: 'sb.broker.heartbeat.calculator', kind: 'claim' },
    { subject: 'sb.broker.deregister.calculator', kind: 'claim' },
    { subject: 'sb.broker.route.register.calculator', kind: 'routeRegister' },
    { subject: 'sb.broker.route.heartbeat.calculator', kind: 'claim' },
    { subject: 'sb.broker.route.deregister.calculator', kind: 'claim' },
    { subject: 'sb.broker.lookup', kind: 'lookup' },
    { subject: 'sb.broker.list', kind: 'list' },
    { subject: 'sb.broker.info', kind: 'info' },
    { subject: 'sb.broker.call.calculator', kind: 'call' },
    { subject: 'sb.events.registry.calculator', kind: 'registryEvent' },
    { subject: 'sb.events.broker', kind: 'brokerEvent' },
  ];
  if (ids.instance) {
    targets.push(
      { subject: `sb.instance.calculator.${ids.instance}`, kind: 'call' },
      { subject: `sb.control.calculator.${ids.instance}`, kind: 'control' },
    );
  }
  for (const route of ids.routes) {
    targets.push(
      { subject: `sb.route.calculator.${route}`, kind: 'call' },
      { subject: `sb.control.calculator.${route}`, kind: 'control' },
    );
  }
  return targets;
}

/** Resident memory of each component after a full GC, and the heap it holds. */
async function memory(components: Child[]): Promise<NodeJS.MemoryUsage[]> {
  return Promise.all(components.map((c) => c.request<NodeJS.MemoryUsage>('memory', { gc: true })));
}

async function calls(client: Client, site: string, n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    if ((await client.call(`calculator@${site}`, 'add', [i, 1], { timeoutMs: 3000 })) === i + 1) {
      ok++;
    }
  }
  return ok;
}

describe('wire fuzz', () => {
  test('fuzz - every component survives hostile frames on every subject and keeps serving', async () => {
    const a = await monitoredSite('a');
    const b = await monitoredSite('b');
    const components = [
      await startComponent({ role: 'broker', site: 'a', nats: a.site.url }, 'broker-a'),
      await startComponent({ role: 'broker', site: 'b', nats: b.site.url }, 'broker-b'),
    ];
    const serverA = await startComponent(
      { role: 'server', service: 'calculator', nats: a.site.url },
      'server-a',
    );
    const serverB = await startComponent(
      { role: 'server', service: 'calculator', nats: b.site.url },
      'server-b',
    );
    const bridge = await startComponent(
      { role: 'bridge', local: a.site.url, remote: b.site.url },
      'bridge',
    );
    components.push(serverA, serverB, bridge);
    const atA = track(await Client.connect({ nats: a.site.url }));
    const atB = track(await Client.connect({ nats: b.site.url }));
    await eventually(async () => (await atA.lookup('calculator')).length === 2, 5000, 'routes');
    await eventually(async () => (await atB.lookup('calculator')).length === 2, 5000, 'routes');
    // Warm every path up before the baseline.
    expect(await calls(atA, 'b', 200)).toBe(200);
    expect(await calls(atB, 'a', 200)).toBe(200);
    const before = await memory(components);
    const connsBefore = [
      componentConnections(await a.connz()),
      componentConnections(await b.connz()),
    ];
    const routesAt = async (client: Client) =>
      (await client.lookup('calculator')).filter((i) => i.hops > 0).map((i) => i.id);
    const instanceAt = async (client: Client) =>
      (await client.lookup('calculator')).find((i) => i.hops === 0)?.id;
    const sites: Array<{ raw: RawNats; targets: Target[] }> = [];
    for (const [site, client] of [
      [a.site, atA],
      [b.site, atB],
    ] as const) {
      const raw = await rawNats(site.url);
      track({ close: () => raw.close() });
      const targets = targetsAt({
        instance: await instanceAt(client),
        routes: await routesAt(client),
      });
      sites.push({ raw, targets });
    }

    const replies = { total: 0, errors: 0, byCode: new Map<string, number>() };
    for (const { raw } of sites) {
      raw.sub('_INBOX.fuzz.>', (msg) => {
        replies.total++;
        if (!msg.headers.includes('sb-st: err')) return;
        replies.errors++;
        let code = 'unreadable';
        try {
          code = parse.errorData(codec.decode(msg.payload)).code;
        } catch {
          // counted as unreadable
        }
        replies.byCode.set(code, (replies.byCode.get(code) ?? 0) + 1);
      });
    }
    const random = new Random(SEED);
    for (let sent = 0; sent < FRAMES; ) {
      for (let i = 0; i < BATCH && sent < FRAMES; i++, sent++) {
        const { raw, targets } = sites[sent % 2]!;
        const frame = nextFrame(targets, random);
        const reply = `_INBOX.fuzz.${sent}`;
        if (frame.headers) raw.hpub(frame.subject, frame.headers, frame.body, reply);
        else raw.pub(frame.subject, frame.body, reply);
      }
      await Promise.all(sites.map(({ raw }) => raw.flush()));
    }
    // Let the last frames be answered, then see what is left standing. Until
    // then a call may still fail: a forged `down` of an instance the fuzz
    // registered ends the calls in flight to it ("left while the call was in
    // flight"), which is what a client must do with a `down`.
    await eventually(
      async () => {
        try {
          return (await calls(atA, 'b', 5)) === 5 && (await calls(atB, 'a', 5)) === 5;
        } catch {
          return false;
        }
      },
      20_000,
      'calls across the bridge after the fuzz',
    );

    for (const c of components) expect(isAlive(c), c.label).toBe(true);
    expect(await calls(atA, 'b', 100)).toBe(100);
    expect(await calls(atB, 'a', 100)).toBe(100);
    expect(replies.byCode.get('INTERNAL') ?? 0).toBe(0);
    for (const c of components) {
      expect(c.output(), c.label).not.toMatch(/ ERROR |INTERNAL/);
    }
    expect([componentConnections(await a.connz()), componentConnections(await b.connz())]).toEqual(
      connsBefore,
    );
    const after = await memory(components);
    const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
    const report = components.map((c, i) => ({
      component: c.label,
      rssBeforeMb: mb(before[i]!.rss),
      rssAfterMb: mb(after[i]!.rss),
      heapBeforeMb: mb(before[i]!.heapUsed),
      heapAfterMb: mb(after[i]!.heapUsed),
      heapTotalBeforeMb: mb(before[i]!.heapTotal),
      heapTotalAfterMb: mb(after[i]!.heapTotal),
      externalAfterMb: mb(after[i]!.external),
    }));
    const summary = JSON.stringify({
      frames: FRAMES,
      seed: SEED,
      replies: replies.total,
      errorReplies: replies.errors,
      byCode: Object.fromEntries(replies.byCode),
      memory: report,
    });
    // The figures of the run, for the record (test-output/ is not committed).
    mkdirSync('test-output', { recursive: true });
    writeFileSync('test-output/wire-fuzz.json', `${summary}\n`);
    process.stderr.write(`wire fuzz: ${summary}\n`);
    for (const [i, c] of components.entries()) {
      // What stays reachable (a leak) is the heap in use after a full GC. The
      // resident size also holds what V8 and the allocator keep committed
      // after a burst (+12 to +40 MB over runs, from 60 to 68 MB): it is held
      // to 2x, which a native leak of 700 bytes per frame would still break.
      expect(after[i]!.heapUsed, `${c.label} heap after the fuzz`).toBeLessThanOrEqual(
        before[i]!.heapUsed * 1.5,
      );
      expect(after[i]!.rss, `${c.label} RSS after the fuzz`).toBeLessThanOrEqual(
        before[i]!.rss * 2,
      );
    }
  }, 120_000);
});
