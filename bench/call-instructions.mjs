/**
 * Instructions per sequential call, counted by valgrind's callgrind. The
 * client and the server of a case run in one Node process under callgrind
 * (nats-server natively, apart); after a warm-up, callgrind counts the
 * instructions of `--calls` calls made one after another, on the process's
 * main thread (where the calls run; V8's helper threads are left out). Unlike
 * CPU time on a shared VM, the count repeats from run to run to a few parts
 * in a thousand, so it resolves a change to the path of one call (the `local` p50
 * target) that the end-to-end bench cannot. With 256 calls in flight it does
 * not repeat (how calls batch depends on timing), so it counts one in flight.
 *   node bench/call-instructions.mjs [--cases floor,local,local-forwarded]
 *     [--dist DIR]... [--calls N] [--warm N] [--reps N] [--keep DIR]
 * (`--keep`: callgrind's output files go to DIR, for `callgrind_annotate`.)
 * Needs valgrind (Debian's `valgrind` package, with `callgrind_control`).
 * Each child takes about 30 s.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const CASES = ['floor', 'local', 'local-forwarded'];
/** Longest a child may take (20,000 warm-up calls under callgrind take about 30 s). */
const CHILD_TIMEOUT_MS = 10 * 60_000;
const SELF = fileURLToPath(import.meta.url);
const REPO_DIST = fileURLToPath(new URL('../dist/', import.meta.url));

const { values: opts } = parseArgs({
  options: {
    cases: { type: 'string', default: 'floor,local' },
    dist: { type: 'string', multiple: true },
    calls: { type: 'string', default: '1000' },
    warm: { type: 'string', default: '20000' },
    reps: { type: 'string', default: '3' },
    child: { type: 'string' },
    nats: { type: 'string' },
    keep: { type: 'string' },
  },
});

const load = (dist, path) => import(pathToFileURL(join(dist, path)).href);

if (opts.child) await child(opts.child, opts.dist?.[0] ?? REPO_DIST, opts.nats);
else await main();

async function main() {
  const cases = opts.cases.split(',');
  for (const name of cases) if (!CASES.includes(name)) throw new Error(`unknown case '${name}'`);
  if (spawnSync('callgrind_control', ['-h']).error) {
    throw new Error('callgrind_control not found: install valgrind (apt-get install valgrind)');
  }
  const dists = opts.dist ?? [REPO_DIST];
  const { startNatsServer } = await load(dists[0], 'testing/index.js');
  const nats = await startNatsServer({ name: 'call-instructions', backend: 'binary' });
  const out = opts.keep ?? mkdtempSync(join(tmpdir(), 'call-instructions-'));
  mkdirSync(out, { recursive: true });
  const counts = new Map();
  let children = 0;
  try {
    for (let rep = 0; rep < Number(opts.reps); rep++) {
      for (const name of cases) {
        for (const dist of name === 'floor' ? dists.slice(0, 1) : dists) {
          const key = name === 'floor' ? name : `${name} ${dist}`;
          const file = join(out, `callgrind.${++children}.${name}`);
          const perCall = await countOne(name, dist, nats.url, file);
          counts.set(key, [...(counts.get(key) ?? []), perCall]);
          console.log(`${key.padEnd(60)} ${Math.round(perCall).toLocaleString('en')} per call`);
        }
      }
    }
  } finally {
    if (!opts.keep) rmSync(out, { recursive: true, force: true });
    await nats.close();
  }
  console.log(
    `\ninstructions per sequential call (both sides, one process, main thread), median of ${opts.reps}:`,
  );
  const floor = median(counts.get('floor') ?? []);
  for (const [key, values] of counts) {
    const m = median(values);
    const spread = `${Math.round(Math.min(...values)).toLocaleString('en')}–${Math.round(Math.max(...values)).toLocaleString('en')}`;
    const ratio = key !== 'floor' && floor ? `  ${(m / floor).toFixed(3)}× floor` : '';
    console.log(
      `  ${key.padEnd(60)} ${Math.round(m).toLocaleString('en').padStart(9)}  (${spread})${ratio}`,
    );
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return undefined;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs one child under callgrind; instructions are counted between its `ready` and its `done`. */
function countOne(name, dist, natsUrl, outFile) {
  const args = [
    '--tool=callgrind',
    '--instr-atstart=no',
    // The main thread alone: V8's helper threads (its optimising compiler, the
    // GC's concurrent work) vary from run to run by far more than a call costs.
    '--separate-threads=yes',
    `--callgrind-out-file=${outFile}`,
    process.execPath,
    SELF,
    '--child',
    name,
    '--dist',
    dist,
    '--nats',
    natsUrl,
    '--calls',
    opts.calls,
    '--warm',
    opts.warm,
  ];
  const proc = spawn('valgrind', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let failure;
    const fail = (err) => {
      failure ??= err;
      proc.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => fail(new Error(`${name}: no result within 10 min`)),
      CHILD_TIMEOUT_MS,
    );
    // callgrind_control exits 0 whatever happened: its answer says whether it was done.
    const instrument = (on) => {
      const r = spawnSync('callgrind_control', ['-i', on ? 'on' : 'off', String(proc.pid)], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (!/\bOK\b/.test(r.stdout ?? '')) {
        throw new Error(
          `callgrind_control did not switch counting ${on ? 'on' : 'off'}: ${r.stdout}${r.stderr}`,
        );
      }
      proc.kill('SIGUSR2');
    };
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        if (line === 'ready') instrument(true);
        else if (line === 'done') instrument(false);
      } catch (err) {
        fail(err);
      }
    });
    proc.on('error', fail);
    proc.on('close', (code) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      if (code !== 0) return reject(new Error(`${name} child exited with ${code}: ${stderr}`));
      try {
        const totals = /^totals: (\d+)/m.exec(readFileSync(`${outFile}-01`, 'utf8'));
        const count = Number(totals?.[1] ?? 0);
        if (count === 0) throw new Error(`${name}: callgrind counted nothing`);
        resolve(count / Number(opts.calls));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Says `word` and waits for the parent's go-ahead (it switches callgrind's counting first). */
function signal(word) {
  return new Promise((resolve) => {
    process.once('SIGUSR2', resolve);
    console.log(word);
  });
}

async function child(name, dist, url) {
  const target = name === 'floor' ? await floorPair(url) : await switchboardPair(dist, url, name);
  try {
    for (let i = 0; i < Number(opts.warm); i++) await target.call();
    await signal('ready');
    for (let i = 0, n = Number(opts.calls); i < n; i++) await target.call();
    await signal('done');
  } finally {
    await target.close();
  }
}

/** The bench's `floor` (bench/lib/floor.mjs), calling as the `tiny-obj` payload does. */
async function floorPair(url) {
  // Imported here, so that the other cases' children load no more than Switchboard.
  const { startFloorRequester, startFloorResponder } = await import('./lib/floor.mjs');
  const { payloadByName } = await import('./lib/payloads.mjs');
  const responder = await startFloorResponder(url);
  const requester = await startFloorRequester(url);
  return {
    call: requester.caller(payloadByName('tiny-obj')),
    close: () => Promise.all([requester.close(), responder.close()]),
  };
}

/** `local` (a direct call) or `local-forwarded` (through the broker), as in the bench. */
async function switchboardPair(dist, url, name) {
  const { Broker, Client, serve } = await load(dist, 'index.js');
  const broker = await Broker.start({ site: 'ci', nats: url });
  const server = await serve(
    { name: 'calc', methods: { addObject: ({ a, b }) => a + b } },
    { nats: url },
  );
  await server.whenRegistered();
  const client = await Client.connect({
    nats: url,
    timeoutMs: 60_000,
    viaBroker: name === 'local-forwarded',
  });
  const calc = client.proxy('calc');
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await calc.addObject({ a: 1, b: 2 });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    call: () => calc.addObject({ a: 1, b: 2 }),
    close: async () => {
      await client.close();
      await server.close();
      await broker.close();
    },
  };
}
