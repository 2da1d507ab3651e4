/**
 * Bytes allocated per call, in one process: every part of a mesh (brokers,
 * bridges, the server, the client) runs here, each site on a nats-server of
 * its own, and V8's sampling heap profiler counts what the calls allocate
 * (objects the GC has since collected included). Unlike CPU time on a shared
 * machine, this barely moves between runs, so it shows the effect of a change
 * to the call path that the end-to-end bench cannot resolve. Prints bytes per
 * call, scavenges per 1,000 calls and the largest allocation sites.
 *   node bench/alloc.mjs [--mode local|thin|bridge|bridge-2] [--async] [--dist DIR] [--top N]
 * (`thin`: through the broker; `bridge-2`: across two bridges; `--async`:
 * the handler is an async function, as most are.)
 */

import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    mode: { type: 'string', default: 'local' },
    async: { type: 'boolean', default: false },
    dist: { type: 'string', default: new URL('../dist/', import.meta.url).pathname },
    top: { type: 'string', default: '20' },
  },
});
const SITES = { local: 1, thin: 1, bridge: 2, 'bridge-2': 3 }[opts.mode];
if (SITES === undefined) throw new Error(`unknown mode '${opts.mode}'`);
const INFLIGHT = 256;
const CALLS_PER_LOOP = 100;
const ROUNDS = 4;

const load = (path) => import(pathToFileURL(`${opts.dist}/${path}`).href);
const { Broker, Bridge, serve, Client } = await load('index.js');
const { startNatsServer } = await load('testing/index.js');

const closers = [];
try {
  const urls = [];
  for (let i = 0; i < SITES; i++) {
    const server = await startNatsServer({ backend: 'binary' });
    closers.push(() => server.close());
    urls.push(server.url);
  }
  for (const [i, nats] of urls.entries()) {
    const broker = await Broker.start({ site: `s${i}`, nats });
    closers.push(() => broker.close());
  }
  for (let i = 0; i + 1 < SITES; i++) {
    const bridge = await Bridge.start({ local: { nats: urls[i] }, remote: { nats: urls[i + 1] } });
    closers.push(() => bridge.close());
    if (!(await bridge.ready())) throw new Error('a bridge did not link');
  }
  const methods = { add: opts.async ? async (a, b) => a + b : (a, b) => a + b };
  const server = await serve({ name: 'calc', methods }, { nats: urls.at(-1) });
  closers.push(() => server.close());
  await server.whenRegistered();
  const client = await Client.connect({
    nats: urls[0],
    timeoutMs: 10_000,
    viaBroker: opts.mode === 'thin',
  });
  closers.push(() => client.close());
  const calc = client.proxy('calc');
  await untilCallable(() => calc.add(1, 2));

  const round = () =>
    Promise.all(
      Array.from({ length: INFLIGHT }, async () => {
        for (let i = 0; i < CALLS_PER_LOOP; i++) await calc.add(1, 2);
      }),
    );
  await round(); // warm-up: optimised code, caches filled
  let scavenges = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (entry.detail?.kind === 1) scavenges++;
  });
  gc.observe({ entryTypes: ['gc'] });
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let r = 0; r < ROUNDS; r++) await round();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  gc.disconnect();
  report(profile, ROUNDS * INFLIGHT * CALLS_PER_LOOP, scavenges);
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
}

async function untilCallable(call) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function report(profile, calls, scavenges) {
  const nodes = new Map();
  const walk = (node) => {
    nodes.set(node.id, node.callFrame);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const bySite = new Map();
  let total = 0;
  for (const { nodeId, size } of profile.samples) {
    const f = nodes.get(nodeId);
    const where = f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '(vm)';
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    bySite.set(key, (bySite.get(key) ?? 0) + size);
    total += size;
  }
  const handler = opts.async ? 'async' : 'sync';
  console.log(
    `mode ${opts.mode}, ${handler} handler, ${calls} calls, ${INFLIGHT} in flight (${opts.dist})`,
  );
  console.log(`allocated per call: ${Math.round(total / calls)} B`);
  console.log(`scavenges per 1,000 calls: ${((scavenges / calls) * 1000).toFixed(2)}`);
  const top = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top));
  for (const [key, bytes] of top) {
    console.log(`${String(Math.round(bytes / calls)).padStart(7)} B  ${key}`);
  }
}
