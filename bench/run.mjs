/**
 * Switchboard benchmark: `npm run bench` (full) or `npm run bench -- --quick`.
 *
 * Starts one nats-server per site (a, b, c), then for each case runs its
 * brokers, bridges and hand-written relays, its responder and its requester as separate processes and
 * measures, for each payload of bench/lib/payloads.mjs (tiny and 1 KiB calls,
 * positional and object-shaped): sequential latency p50/p99, throughput at 64 and 256 calls in flight, and
 * CPU time per call of every process. When `floor` and `local` both run, each
 * round also takes their sequential latency side by side (both at once, in
 * turns). Then the registry at 100k instances,
 * time-to-callable across a chain of bridges, and failover after SIGKILL.
 *
 * Options: --quick, --out FILE, --cases a,b, --payloads tiny,1kib, --reps N,
 * --no-extras, --[no-]moleculer-variants (measure the six Moleculer set-ups
 * and compare with the fastest; on by default in the full run), --profile DIR (node
 * --cpu-prof on every child of the cases run; summarise with
 * bench/profile-summary.mjs).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { importDist, removeSnapshot, snapshotDist } from './lib/dist.mjs';
import { children, killAllChildren, spawnChild } from './lib/ipc.mjs';
import { DEFAULT_MOLECULER, MOLECULER_SERIALIZERS } from './lib/moleculer.mjs';
import { PAYLOADS } from './lib/payloads.mjs';
import { cpuModel, machineCpuUs, procCpuUs, procRssBytes, procSyscalls } from './lib/proc.mjs';
import { cell, median, percentile, round, times } from './lib/stats.mjs';

/** Moleculer set-ups users run: three serializers × default balancer or `disableBalancer`. */
const MOLECULER_VARIANTS = MOLECULER_SERIALIZERS.flatMap((serializer) =>
  [false, true].map((disableBalancer) => ({ serializer, disableBalancer })),
);
const moleculerCaseName = (v) =>
  `moleculer-${v.serializer.toLowerCase()}${v.disableBalancer ? '-nobal' : ''}`;

/**
 * `relayHops`: processes a call crosses between requester and responder (their
 * CPU is the `relays` group); `forwarding`: the broker is one of them.
 */
const CASE_DEFS = {
  floor: {
    responder: { kind: 'floor', site: 'a' },
    requester: { kind: 'floor', site: 'a' },
  },
  'floor-relay': {
    floorRelays: [{ near: 'a', far: 'b', to: 'bench.floor' }],
    relayHops: 1,
    responder: { kind: 'floor', site: 'b' },
    requester: { kind: 'floor', site: 'a', subject: 'bench.relay' },
  },
  // Two hand-written relays in a chain: what a hop costs at the least in bridge-2's shape.
  'floor-relay-2': {
    floorRelays: [
      { near: 'a', far: 'b', to: 'bench.relay' },
      { near: 'b', far: 'c', to: 'bench.floor' },
    ],
    relayHops: 2,
    responder: { kind: 'floor', site: 'c' },
    requester: { kind: 'floor', site: 'a', subject: 'bench.relay' },
  },
  raw: {
    responder: { kind: 'raw', site: 'a' },
    requester: { kind: 'raw', site: 'a' },
  },
  ...Object.fromEntries(
    MOLECULER_VARIANTS.map((v) => [
      moleculerCaseName(v),
      {
        moleculer: v,
        responder: { kind: 'moleculer', site: 'a' },
        requester: { kind: 'moleculer', site: 'a' },
      },
    ]),
  ),
  local: {
    brokers: ['a'],
    responder: { kind: 'switchboard', site: 'a' },
    requester: { kind: 'switchboard', site: 'a' },
  },
  'local-forwarded': {
    brokers: ['a'],
    forwarding: true,
    relayHops: 1,
    responder: { kind: 'switchboard', site: 'a' },
    requester: { kind: 'switchboard-thin', site: 'a' },
  },
  'bridge-1': {
    brokers: ['a', 'b'],
    bridges: [['a', 'b']],
    relayHops: 1,
    responder: { kind: 'switchboard', site: 'b' },
    requester: { kind: 'switchboard', site: 'a' },
  },
  'bridge-2': {
    brokers: ['a', 'b', 'c'],
    bridges: [
      ['a', 'b'],
      ['b', 'c'],
    ],
    relayHops: 2,
    responder: { kind: 'switchboard', site: 'c' },
    requester: { kind: 'switchboard', site: 'a' },
  },
};
const isMoleculer = (name) => CASE_DEFS[name]?.moleculer !== undefined;
/** What --cases takes: every case, and `moleculer` for every set-up measured. */
const CASE_CHOICES = Object.keys(CASE_DEFS).flatMap((n) =>
  n === moleculerCaseName(MOLECULER_VARIANTS[0]) ? ['moleculer', n] : [n],
);
const USAGE = `Usage: npm run bench -- [options]      (or: node bench/run.mjs [options])

Measures Switchboard next to nats.js request/reply and Moleculer over NATS, each
part in its own process, and prints ratios and the JSON report's path.

Options:
  --quick                    one repetition, short windows: about 3 minutes
                             (the full run takes about 20 minutes)
  --out FILE                 where the JSON report goes
                             [default: bench/results/latest.json]
  --cases A,B                cases to run (below) [default: all]
  --payloads A,B             payloads to send (below) [default: all]
  --reps N                   runs of each case [default: 3; 1 with --quick]
  --no-extras                no registry, time-to-callable and failover parts
  --[no-]moleculer-variants  measure the six Moleculer set-ups (JSON, Notepack,
                             CBOR × balancer on/off) and compare with the best;
                             off: JSON with the default balancer only
                             [default: on; off with --quick]
  --profile DIR              run every child of the cases under node --cpu-prof
  --dist DIR                 measure the build in DIR instead of dist/ (e.g. an
                             older commit's, for a before/after comparison)
  --build                    build dist/ first (npm run bench does)
  -h, --help                 show this text

Cases: ${CASE_CHOICES.join(', ')}
       (moleculer: every Moleculer set-up the run measures)
Payloads: ${PAYLOADS.map((p) => p.name).join(', ')}
`;

/** The command line, checked; a mistake is one line on stderr and exit code 2. */
function readOptions() {
  const usage = (message) => {
    process.stderr.write(`bench: ${message}\nRun 'npm run bench -- --help' for usage.\n`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        out: { type: 'string', default: 'bench/results/latest.json' },
        cases: { type: 'string' },
        reps: { type: 'string' },
        'no-extras': { type: 'boolean', default: false },
        'moleculer-variants': { type: 'boolean' },
        'no-moleculer-variants': { type: 'boolean', default: false },
        profile: { type: 'string' },
        dist: { type: 'string' },
        payloads: { type: 'string' },
        build: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    // Node's messages run on with advice about positionals: keep the first sentence.
    const first = err.message.split('. ')[0].replace(/\.$/, '');
    usage(`${first[0].toLowerCase()}${first.slice(1)}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const known = (flag, list, names) => {
    for (const name of list.split(',')) {
      if (!names.includes(name)) usage(`--${flag}: unknown '${name}' (known: ${names.join(', ')})`);
    }
  };
  if (values.cases !== undefined) known('cases', values.cases, CASE_CHOICES);
  if (values.payloads !== undefined) {
    known(
      'payloads',
      values.payloads,
      PAYLOADS.map((p) => p.name),
    );
  }
  if (values.reps !== undefined && !/^[1-9]\d*$/.test(values.reps)) {
    usage(`--reps: expected a positive whole number, got '${values.reps}'`);
  }
  return values;
}

const opts = readOptions();
if (opts.build) execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });

const QUICK = opts.quick;
const SETTINGS = QUICK
  ? {
      reps: 1,
      warmupMs: 250,
      warmupCalls: 100,
      latencyCalls: 600,
      durationMs: 500,
      ttcTrials: 2,
      killTrials: 1,
      registryInstances: 100_000,
      lookupRtts: 300,
      idleCpuMs: 1000,
    }
  : {
      reps: 3,
      warmupMs: 1000,
      warmupCalls: 300,
      latencyCalls: 4000,
      durationMs: 2000,
      ttcTrials: 5,
      killTrials: 3,
      registryInstances: 100_000,
      lookupRtts: 2000,
      idleCpuMs: 3000,
    };
if (opts.reps) SETTINGS.reps = Number(opts.reps);
const MEASURE_VARIANTS = !opts['no-moleculer-variants'] && (opts['moleculer-variants'] ?? !QUICK);
const RUN_EXTRAS = !opts['no-extras'];
const PROFILE_DIR = opts.profile ? resolve(opts.profile) : undefined;

const PAYLOAD_LIST = opts.payloads
  ? PAYLOADS.filter((p) => opts.payloads.split(',').includes(p.name))
  : PAYLOADS;
const MOLECULER_CASES = MEASURE_VARIANTS
  ? MOLECULER_VARIANTS.map(moleculerCaseName)
  : [moleculerCaseName(DEFAULT_MOLECULER)];
// `moleculer` (and the default list) stand for the set-ups measured; a set-up named alone is run.
const CASE_NAMES = [
  ...new Set(
    (
      opts.cases?.split(',') ?? [
        'moleculer',
        ...Object.keys(CASE_DEFS).filter((n) => !isMoleculer(n)),
      ]
    ).flatMap((n) => (n === 'moleculer' ? MOLECULER_CASES : [n])),
  ),
];

/** From the build in use, once main() has snapshot it. */
let subjectsFor;

const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- process hygiene: nothing outlives the run ------------------------------

const natsServers = {};
let cleaningUp;
let interrupted = false;

async function cleanup() {
  cleaningUp ??= (async () => {
    await Promise.all([...children.values()].map((c) => c.stop(1500)));
    await Promise.all(Object.values(natsServers).map((s) => s.close().catch(() => {})));
    removeSnapshot();
  })();
  return cleaningUp;
}

process.on('exit', () => {
  killAllChildren();
  removeSnapshot();
  for (const s of Object.values(natsServers)) {
    try {
      if (s.pid) process.kill(s.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted = true;
    log(`${sig}: stopping everything`);
    void cleanup().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(
  () => {
    log('the run took far too long; giving up');
    void cleanup().finally(() => process.exit(2));
  },
  // Room for every case of every repetition, slow as a loaded machine makes them.
  Math.max(QUICK ? 400_000 : 45 * 60_000, CASE_NAMES.length * (SETTINGS.reps + 1) * 90_000),
);
watchdog.unref();

// --- helpers ----------------------------------------------------------------

function nodeArgs(label, extra = []) {
  if (!PROFILE_DIR) return extra;
  return [
    ...extra,
    '--cpu-prof',
    `--cpu-prof-dir=${PROFILE_DIR}`,
    `--cpu-prof-name=${label}.cpuprofile`,
  ];
}

/** How long a case's processes may take to start: long, since others may load the machine. */
const READY_MS = 60_000;

function spawnAgent(config, label) {
  return spawnChild('agent.mjs', config, {
    label,
    nodeArgs: nodeArgs(label),
    readyTimeoutMs: READY_MS,
  });
}

/**
 * Starts the brokers, bridges and hand-written relays of a case; resolves when all are
 * ready with those in the call path (`relays`) and the others (`brokers`).
 */
async function startInfra(def, started, prefix = 'infra') {
  const brokers = (def.brokers ?? []).map((site) => {
    const c = spawnAgent(
      { role: 'broker', site, nats: natsServers[site].url },
      `${prefix}-broker-${site}`,
    );
    started.push(c);
    return c;
  });
  const bridges = (def.bridges ?? []).map(([l, r]) => {
    const c = spawnAgent(
      { role: 'bridge', local: natsServers[l].url, remote: natsServers[r].url },
      `${prefix}-bridge-${l}${r}`,
    );
    started.push(c);
    return c;
  });
  for (const { near, far, to } of def.floorRelays ?? []) {
    const label = `${prefix}-floor-relay-${near}${far}`;
    const config = { near: natsServers[near].url, far: natsServers[far].url, to, farSite: far };
    bridges.push(
      spawnChild('floor-relay.mjs', config, {
        label,
        nodeArgs: nodeArgs(label),
        readyTimeoutMs: READY_MS,
      }),
    );
    started.push(bridges.at(-1));
  }
  await Promise.all([...brokers, ...bridges].map((c) => c.ready));
  return def.forwarding ? { relays: brokers, brokers: [] } : { relays: bridges, brokers };
}

async function stopAll(started) {
  // The last started (the requester) first, then all the others.
  const [last, ...rest] = [...started].reverse();
  await last?.stop();
  await Promise.all(rest.map((c) => c.stop()));
}

/** CPU time (µs) and write system calls so far of each group of processes. */
async function sampleCpu(groups) {
  const out = {};
  const writes = {};
  for (const [group, procs] of Object.entries(groups)) {
    let total = 0;
    let w = 0;
    for (const p of procs) {
      const pid = typeof p === 'number' ? p : p.pid;
      w += procSyscalls(pid).writes;
      if (typeof p === 'number') total += procCpuUs(p);
      else {
        const u = await p.request('cpu', {}, 5000);
        total += u.user + u.system;
      }
    }
    out[group] = total;
    writes[group] = w;
  }
  Object.defineProperty(out, 'writes', { value: writes, enumerable: false });
  return out;
}

// --- one case ---------------------------------------------------------------

/**
 * Starts a case's processes (each pushed on `started`, for {@link stopAll}):
 * resolves with its requester and its processes by CPU group once all are ready.
 */
async function startCase(def, started, label) {
  // Everything starts at once: servers register when their broker comes up,
  // and the requester retries its first calls until the service is reachable.
  const infra = startInfra(def, started, label);
  const variant = def.moleculer;
  const responder = spawnChild(
    'responder.mjs',
    { kind: def.responder.kind, nats: natsServers[def.responder.site].url, variant },
    {
      label: `${label}-responder`,
      nodeArgs: nodeArgs(`${label}-responder`),
      readyTimeoutMs: READY_MS,
    },
  );
  started.push(responder);
  const requester = spawnChild(
    'requester.mjs',
    {
      kind: def.requester.kind,
      nats: natsServers[def.requester.site].url,
      subject: def.requester.subject,
      variant,
    },
    {
      label: `${label}-requester`,
      nodeArgs: nodeArgs(`${label}-requester`),
      readyTimeoutMs: READY_MS,
    },
  );
  started.push(requester);
  const [{ relays, brokers }] = await Promise.all([infra, responder.ready, requester.ready]);
  const groups = {
    requester: [requester],
    responder: [responder],
    relays,
    brokers,
    nats: Object.values(natsServers).map((s) => s.pid),
  };
  return { requester, groups };
}

async function runCaseOnce(name, def, { latency = true, rps64 = true } = {}) {
  const started = [];
  try {
    const { requester, groups } = await startCase(def, started, name);
    const result = {};
    for (const p of PAYLOAD_LIST) {
      const r = {};
      if (latency) {
        const lat = await requester.request('latency', {
          payload: p.name,
          warmupMs: SETTINGS.warmupMs,
          warmupCalls: SETTINGS.warmupCalls,
          count: SETTINGS.latencyCalls,
        });
        r.p50_us = lat.p50_us;
        r.p99_us = lat.p99_us;
      } else {
        await requester.request('throughput', {
          payload: p.name,
          inflight: 64,
          durationMs: SETTINGS.warmupMs,
        });
      }
      if (rps64) {
        const t64 = await requester.request('throughput', {
          payload: p.name,
          inflight: 64,
          durationMs: SETTINGS.durationMs,
        });
        r.rps_64 = t64.rps;
        r.errors = t64.errors;
        if (t64.errors) log(`${name} ${p.name} @64: ${t64.errors} errors (${t64.firstError})`);
      }
      const m0 = machineCpuUs();
      const cpu0 = await sampleCpu(groups);
      const t256 = await requester.request('throughput', {
        payload: p.name,
        inflight: 256,
        durationMs: SETTINGS.durationMs,
      });
      const cpu1 = await sampleCpu(groups);
      const m1 = machineCpuUs();
      if (t256.errors) log(`${name} ${p.name} @256: ${t256.errors} errors (${t256.firstError})`);
      r.rps_256 = t256.rps;
      r.errors = (r.errors ?? 0) + t256.errors;
      const cpu = {};
      let total = 0;
      for (const g of Object.keys(groups)) {
        cpu[g] = (cpu1[g] - cpu0[g]) / t256.completed;
        total += cpu[g];
      }
      cpu.total = total;
      r.cpu_us_per_call = cpu;
      // Write system calls per call: how finely the processes batch their socket writes.
      const writes = {};
      let allWrites = 0;
      for (const g of Object.keys(groups)) {
        writes[g] = (cpu1.writes[g] - cpu0.writes[g]) / t256.completed;
        allWrites += writes[g];
      }
      writes.total = allWrites;
      r.writes_per_call = writes;
      let ours = 0;
      for (const g of Object.keys(groups)) ours += cpu1[g] - cpu0[g];
      Object.assign(r, machineShare(m0, m1, ours));
      result[p.name] = r;
    }
    return result;
  } finally {
    await stopAll(started);
  }
}

/**
 * Noise check between two {@link machineCpuUs} samples: CPU the machine spent
 * outside the processes measured (`oursUs`), and CPU stolen by the
 * hypervisor, as % of the machine during the window.
 */
function machineShare(m0, m1, oursUs) {
  const windowUs = m1.busy + m1.idle + m1.steal - (m0.busy + m0.idle + m0.steal);
  return {
    other_cpu_pct: Math.max(0, ((m1.busy - m0.busy - oursUs) / windowUs) * 100),
    steal_pct: ((m1.steal - m0.steal) / windowUs) * 100,
  };
}

/** The cases whose sequential latency is also taken side by side (`local p50 / floor p50`). */
const PAIRED_CASES = ['floor', 'local'];
/** Sequential calls a requester makes in one turn of the side-by-side latency. */
const PAIRED_BLOCK = 100;

/**
 * Sequential latency of the {@link PAIRED_CASES} side by side: the processes
 * of both cases run at once and their requesters take turns, a block of
 * calls each, the first of a pair of turns alternating (ABBA). What the
 * machine does over the seconds of a measurement then falls on both cases
 * alike, where the p50 of cases run one after another differs by whatever
 * the machine did in between. By case and payload: the p50 over all its
 * blocks, and `other_cpu_pct` as for a case's window.
 */
async function pairedLatencyOnce() {
  const starts = PAIRED_CASES.map(() => []);
  try {
    const sides = await Promise.all(
      PAIRED_CASES.map((name, i) => startCase(CASE_DEFS[name], starts[i], `${name}-paired`)),
    );
    const groups = {
      ours: sides.flatMap((s) => [
        ...s.groups.requester,
        ...s.groups.responder,
        ...s.groups.relays,
        ...s.groups.brokers,
      ]),
      nats: sides[0].groups.nats,
    };
    const result = Object.fromEntries(PAIRED_CASES.map((name) => [name, {}]));
    for (const p of PAYLOAD_LIST) {
      // Each side warmed up as in its own case.
      for (const { requester } of sides) {
        await requester.request('latency', {
          payload: p.name,
          warmupMs: SETTINGS.warmupMs,
          warmupCalls: SETTINGS.warmupCalls,
          count: 0,
        });
      }
      const turn = async (i) =>
        (
          await sides[i].requester.request('latency', {
            payload: p.name,
            warmupMs: 0,
            warmupCalls: 0,
            count: PAIRED_BLOCK,
            samples: true,
          })
        ).samples;
      // One turn each, not counted: the side warmed up first has idled through the other's warm-up.
      for (const i of [0, 1]) await turn(i);
      const samples = sides.map(() => []);
      const m0 = machineCpuUs();
      const cpu0 = await sampleCpu(groups);
      for (let block = 0; block * PAIRED_BLOCK < SETTINGS.latencyCalls; block++) {
        for (const i of block % 2 === 0 ? [0, 1] : [1, 0]) samples[i].push(...(await turn(i)));
      }
      const cpu1 = await sampleCpu(groups);
      const m1 = machineCpuUs();
      const ours = cpu1.ours - cpu0.ours + cpu1.nats - cpu0.nats;
      const other = machineShare(m0, m1, ours).other_cpu_pct;
      PAIRED_CASES.forEach((name, i) => {
        result[name][p.name] = { p50_us: percentile(samples[i], 50), other_cpu_pct: other };
      });
    }
    return result;
  } finally {
    await Promise.all(starts.map(stopAll));
  }
}

/** Share of the machine used by others above which a repetition counts as disturbed. */
const DISTURBED_PCT = 20;

function disturbed(rep) {
  return Object.values(rep).some((m) => m.other_cpu_pct > DISTURBED_PCT);
}

/**
 * The repetitions of each round, by case (a disturbed one left out, unless
 * `keepDisturbed`): the cases of one round ran minutes apart, those of
 * different rounds up to the whole run apart.
 */
function roundsOf(reps, keepDisturbed = false) {
  return Array.from({ length: SETTINGS.reps }, (_, i) =>
    Object.fromEntries(
      Object.entries(reps).map(([name, rs]) => {
        const rep = rs[i];
        return [name, rep && (keepDisturbed || !disturbed(rep)) ? rep : undefined];
      }),
    ),
  );
}

/** The side-by-side rounds that count: the undisturbed ones, or all when every one was disturbed (as {@link medianOf}). */
function pairedRoundsOf(paired) {
  const [a, b] = PAIRED_CASES;
  const clean = roundsOf(paired);
  return clean.some((r) => r[a] && r[b]) ? clean : roundsOf(paired, true);
}

/** The side-by-side p50 of each payload over the undisturbed rounds (over all when every one was disturbed). */
function pairedMedianOf(rounds) {
  // A round whose processes could not start twice is left out (undefined).
  const allReps = rounds.filter(Boolean);
  const clean = allReps.filter((r) => !disturbed(r));
  const reps = clean.length > 0 ? clean : allReps;
  return Object.fromEntries(
    PAYLOAD_LIST.map((p) => [
      p.name,
      {
        p50_us: median(reps.map((r) => r[p.name].p50_us)),
        reps: reps.length,
        disturbed_reps_dropped: allReps.length - reps.length,
      },
    ]),
  );
}

/** Per payload, the median over rounds of each round's `local` p50 over `floor`'s (rounds as {@link roundsOf} gives them). */
function pairedRatios(rounds) {
  const [a, b] = PAIRED_CASES;
  return Object.fromEntries(
    PAYLOAD_LIST.map((p) => [
      p.name,
      round(
        median(rounds.map((r) => (r[a] && r[b] ? r[b][p.name].p50_us / r[a][p.name].p50_us : NaN))),
        3,
      ),
    ]),
  );
}

/** Median of each metric over the undisturbed repetitions (over all when every one was disturbed). */
function medianOf(allReps) {
  const clean = allReps.filter((r) => !disturbed(r));
  const reps = clean.length > 0 ? clean : allReps;
  const out = {};
  for (const p of PAYLOAD_LIST) {
    const rs = reps.map((r) => r[p.name]);
    const m = {};
    for (const key of ['p50_us', 'p99_us', 'rps_64', 'rps_256', 'other_cpu_pct', 'steal_pct']) {
      if (rs[0][key] !== undefined) m[key] = median(rs.map((r) => r[key]));
    }
    m.cpu_us_per_call = {};
    for (const g of Object.keys(rs[0].cpu_us_per_call)) {
      m.cpu_us_per_call[g] = median(rs.map((r) => r.cpu_us_per_call[g]));
    }
    m.writes_per_call = {};
    for (const g of Object.keys(rs[0].writes_per_call)) {
      m.writes_per_call[g] = median(rs.map((r) => r.writes_per_call[g]));
    }
    m.errors = rs.reduce((n, r) => n + (r.errors ?? 0), 0);
    // How much of the machine the case kept busy at 256 in flight.
    m.cores_busy = (m.rps_256 * m.cpu_us_per_call.total) / 1e6;
    m.reps = rs.length;
    m.disturbed_reps_dropped = allReps.length - reps.length;
    out[p.name] = m;
  }
  return out;
}

function formatCaseResult(c) {
  const out = {};
  for (const [payload, m] of Object.entries(c)) {
    out[payload] = {
      p50_us: round(m.p50_us, 1),
      p99_us: round(m.p99_us, 1),
      rps_64: Math.round(m.rps_64),
      rps_256: Math.round(m.rps_256),
      cpu_us_per_call: Object.fromEntries(
        Object.entries(m.cpu_us_per_call).map(([k, v]) => [k, round(v, 1)]),
      ),
      writes_per_call: Object.fromEntries(
        Object.entries(m.writes_per_call).map(([k, v]) => [k, round(v, 3)]),
      ),
      cores_busy: round(m.cores_busy, 2),
      other_cpu_pct: round(m.other_cpu_pct, 1),
      steal_pct: round(m.steal_pct, 1),
      errors: m.errors,
      reps: m.reps,
      disturbed_reps_dropped: m.disturbed_reps_dropped,
    };
  }
  return out;
}

// --- extras -------------------------------------------------------------------

/**
 * What tracing costs a call when the application registered no tracer
 * provider: a local call asks whether one is registered twice (client and
 * handler; nothing else of tracing runs). Timed in this process, median of
 * five rounds, to set beside local's CPU per call.
 */
async function noTracerCost() {
  const { activeTracer } = await importDist('internal.js');
  const rounds = [];
  const iter = 1_000_000;
  let sink = 0;
  for (let r = 0; r < 6; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iter; i++) if (activeTracer() === undefined) sink++;
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - t0) / iter);
  }
  const ns = median(rounds);
  if (sink === 0) throw new Error('a tracer provider is registered in the bench process');
  return {
    ns_per_check: round(ns, 1),
    checks_per_local_call: 2,
    us_per_local_call: (2 * ns) / 1000,
  };
}

async function registryAtScale() {
  log(`registry: ${SETTINGS.registryInstances} instances in-process`);
  const child = spawnChild(
    'registry-bench.mjs',
    {},
    { label: 'registry', nodeArgs: ['--expose-gc'] },
  );
  try {
    await child.ready;
    const r = await child.request(
      'run',
      { instances: SETTINGS.registryInstances, services: 1000 },
      120_000,
    );
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 3)]));
  } finally {
    await child.stop();
  }
}

async function brokerAtScale() {
  log(`broker memory: feeding ${SETTINGS.registryInstances} registrations over NATS`);
  const started = [];
  try {
    const broker = spawnChild(
      'agent.mjs',
      {
        role: 'broker',
        site: 'a',
        nats: natsServers.a.url,
        // Room for the 100k instances fed here, which heartbeat rarely.
        limits: { maxInstances: 150_000, maxHeartbeatMs: 600_000 },
      },
      { label: 'broker-100k', nodeArgs: ['--expose-gc'] },
    );
    started.push(broker);
    await broker.ready;
    await sleep(300);
    const rss0 = procRssBytes(broker.pid);
    const heap0 = (await broker.request('memory', { gc: true })).heapUsed;
    const feeder = spawnChild('feeder.mjs', { nats: natsServers.a.url }, { label: 'feeder' });
    started.push(feeder);
    await feeder.ready;
    const fed = await feeder.request(
      'register',
      { count: SETTINGS.registryInstances, services: 1000, window: 1000 },
      180_000,
    );
    const size = await broker.request('size');
    const rssNoGc = procRssBytes(broker.pid);
    const mem = await broker.request('memory', { gc: true });
    const rss = procRssBytes(broker.pid);
    // Idle cost at this size: the lease sweeper walks every instance every 250 ms.
    const c0 = procCpuUs(broker.pid);
    await sleep(SETTINGS.idleCpuMs);
    const idleCpuPct = ((procCpuUs(broker.pid) - c0) / (SETTINGS.idleCpuMs * 1000)) * 100;
    const rtt = await feeder.request(
      'lookupRtt',
      { count: SETTINGS.lookupRtts, services: 1000 },
      120_000,
    );
    return {
      instances: size,
      register_ms: fed.ms,
      registrations_per_s: Math.round((fed.count / fed.ms) * 1000),
      rss_mb_before: round(rss0 / 2 ** 20, 1),
      rss_mb: round(rssNoGc / 2 ** 20, 1),
      rss_mb_after_gc: round(rss / 2 ** 20, 1),
      heap_used_mb_after_gc: round(mem.heapUsed / 2 ** 20, 1),
      heap_bytes_per_instance: Math.round((mem.heapUsed - heap0) / size),
      idle_cpu_pct: round(idleCpuPct, 1),
      lookup_rtt_p50_us: round(rtt.p50_us, 1),
      lookup_rtt_p99_us: round(rtt.p99_us, 1),
      lookup_reply_instances: rtt.instances_per_reply,
    };
  } finally {
    await stopAll(started);
  }
}

async function timeToCallable() {
  log('time to callable: server at C, client at A (chain A–B–C)');
  const started = [];
  try {
    await startInfra(CASE_DEFS['bridge-2'], started);
    const requester = spawnChild(
      'requester.mjs',
      { kind: 'switchboard', nats: natsServers.a.url, skipCheck: true },
      { label: 'ttc-requester' },
    );
    started.push(requester);
    await requester.ready;
    const trials = [];
    for (let i = 0; i < SETTINGS.ttcTrials; i++) {
      const service = `ttc${i}`;
      const polled = requester.request(
        'pollCallable',
        { service, intervalMs: 1, timeoutMs: 15_000 },
        20_000,
      );
      polled.catch(() => {});
      await sleep(50);
      const server = spawnChild(
        'responder.mjs',
        { kind: 'switchboard', service, nats: natsServers.c.url },
        { label: `ttc-server-${i}` },
      );
      const { registeredAt } = await server.ready;
      const { successAt } = await polled;
      trials.push(successAt - registeredAt);
      await server.stop();
    }
    return { trials_ms: trials, median_ms: median(trials) };
  } finally {
    await stopAll(started);
  }
}

async function killFailover() {
  log('SIGKILL: two instances at site A, one killed while a client calls');
  const trials = [];
  for (let t = 0; t < SETTINGS.killTrials; t++) {
    const started = [];
    try {
      await startInfra({ brokers: ['a'] }, started);
      const servers = [0, 1].map((i) => {
        const c = spawnChild(
          'responder.mjs',
          { kind: 'switchboard', nats: natsServers.a.url },
          { label: `kill-server-${i}` },
        );
        started.push(c);
        return c;
      });
      const infos = await Promise.all(servers.map((s) => s.ready));
      const requester = spawnChild(
        'requester.mjs',
        { kind: 'switchboard', nats: natsServers.a.url, tap: true },
        { label: 'kill-requester' },
      );
      started.push(requester);
      await requester.ready;
      const deadId = infos[0].instanceId;
      await requester.request('startContinuous', {
        concurrency: 8,
        callTimeoutMs: 1000,
        watch: [subjectsFor().instance('calc', deadId)],
      });
      await sleep(500);
      // Sub-millisecond wall-clock time, comparable across processes of this machine.
      const killedAt = performance.timeOrigin + performance.now();
      servers[0].kill('SIGKILL');
      // Lease 3 × 1 s heartbeat, swept every 250 ms: wait past it to see the registry drop it.
      await sleep(4200);
      const r = await requester.request('stopContinuous', {}, 10_000);
      const after = r.sent.filter((s) => s.at >= killedAt);
      const down = r.events.find((e) => e.kind === 'down' && e.id === deadId);
      const failuresAfter = r.failures.filter((f) => f.at + f.ms >= killedAt);
      const slowAfter = r.slow.filter((s) => s.at + s.ms >= killedAt);
      trials.push({
        calls_ok: r.ok,
        attempts_to_killed_after_kill: after.length,
        last_attempt_to_killed_ms: after.length
          ? round(Math.max(...after.map((s) => s.at)) - killedAt, 1)
          : 0,
        attempt_offsets_ms: after.map((s) => round(s.at - killedAt, 1)),
        registry_down_ms: down ? Math.round(down.at - killedAt) : null,
        failed_calls: failuresAfter.length,
        failure_codes: [...new Set(failuresAfter.map((f) => f.code))],
        slowest_call_after_kill_ms: Math.max(0, ...slowAfter.map((s) => s.ms)),
      });
    } finally {
      await stopAll(started);
    }
  }
  const pick = (k) => median(trials.map((x) => x[k]).filter((v) => v !== null));
  return {
    trials,
    last_attempt_to_killed_ms: pick('last_attempt_to_killed_ms'),
    attempts_to_killed_after_kill: pick('attempts_to_killed_after_kill'),
    registry_down_ms: pick('registry_down_ms'),
    failed_calls: pick('failed_calls'),
  };
}

// --- report -------------------------------------------------------------------

/** The Moleculer set-up with the most calls per second at 256 in flight, per payload. */
function bestMoleculer(cases) {
  const best = {};
  for (const p of PAYLOAD_LIST) {
    for (const [name, c] of Object.entries(cases)) {
      if (!isMoleculer(name)) continue;
      if (!best[p.name] || c[p.name].rps_256 > cases[best[p.name]][p.name].rps_256) {
        best[p.name] = name;
      }
    }
  }
  return best;
}

/** CPU per call per relay hop (µs); NaN for cases without relays. */
function relayCpuPerHop(name, m) {
  const hops = CASE_DEFS[name].relayHops;
  return hops ? m.cpu_us_per_call.relays / hops : Number.NaN;
}

/**
 * The hand-written relays with as many hops as `name` has: a longer chain
 * shares the machine with more processes, and its batches are smaller.
 */
function floorRelayOfShape(name) {
  const hops = CASE_DEFS[name].relayHops;
  if (!hops) return undefined;
  return Object.keys(CASE_DEFS).find((n) => CASE_DEFS[n].floorRelays?.length === hops);
}

/**
 * Every case against the best Moleculer set-up of the run (per payload) and
 * against `floor`: rps_256 over theirs, and p50 and CPU per call over floor's.
 */
function ratios(cases) {
  const best = bestMoleculer(cases);
  const out = {};
  for (const [name, c] of Object.entries(cases)) {
    out[name] = {};
    for (const p of PAYLOAD_LIST) {
      const a = c[p.name];
      const mol = best[p.name] && cases[best[p.name]][p.name];
      const floor = cases.floor?.[p.name];
      const shape = floorRelayOfShape(name);
      const floorRelay = shape && cases[shape]?.[p.name];
      out[name][p.name] = {
        rps_256_vs_best_moleculer: mol ? round(a.rps_256 / mol.rps_256, 2) : undefined,
        rps_256_vs_floor: floor ? round(a.rps_256 / floor.rps_256, 2) : undefined,
        p50_vs_floor: floor ? round(a.p50_us / floor.p50_us, 2) : undefined,
        cpu_vs_floor: floor
          ? round(a.cpu_us_per_call.total / floor.cpu_us_per_call.total, 2)
          : undefined,
        relay_cpu_per_hop_us: round(relayCpuPerHop(name, a), 1),
        relay_hop_vs_floor_relay: floorRelay
          ? round(relayCpuPerHop(name, a) / relayCpuPerHop(shape, floorRelay), 2)
          : undefined,
      };
    }
  }
  return { best_moleculer: best, cases: out };
}

/**
 * The issue's "Done means", on the object payloads, plus the extras' targets.
 * Each value is taken from the medians (`cases`); `rounds` (the repetitions
 * of each round, case by case) gives the same ratio round by round, to show
 * how far the machine moved it. `sideBySide` (`floor` and `local` run at
 * once, see {@link pairedLatencyOnce}) adds the p50 target taken that way,
 * its value the median of each round's ratio.
 */
function targets(cases, extras, rounds, sideBySide) {
  const t = [];
  const best = bestMoleculer(cases);
  /**
   * `value` reads cases through `get(name)`; a target whose cases did not
   * run (or whose repetition of a round was left out) is not checked.
   */
  /** `of`: where the value is read (the medians), or `null` for the median of its rounds' values. */
  const check = (label, limit, cmp, payload, value, perRoundOf = rounds, of = cases) => {
    const at = (source) => {
      try {
        return value((name) => source[name]?.[payload]);
      } catch (err) {
        // Reading a case that is not there; anything else is a mistake here.
        if (err instanceof TypeError) return Number.NaN;
        throw err;
      }
    };
    const meets = (v) => (cmp === '>=' ? v >= limit : v <= limit);
    const perRound = perRoundOf.map(at).filter(Number.isFinite);
    const v = of === null ? median(perRound) : at(of);
    if (!Number.isFinite(v)) return;
    const target = { target: label, value: round(v, 2), limit, met: meets(v) };
    if (perRound.length > 0) {
      target.rounds = perRound.map((x) => round(x, 2));
      target.met_in_rounds = perRound.filter(meets).length;
    }
    t.push(target);
  };
  for (const payload of ['tiny-obj', '1kib-obj']) {
    if (!cases.local?.[payload]) continue;
    const sfx = ` [${payload}]`;
    const over = (label, limit, cmp, value) => check(`${label}${sfx}`, limit, cmp, payload, value);
    if (best[payload]) {
      over(
        'local rps_256 / best moleculer',
        1.3,
        '>=',
        (g) => g('local').rps_256 / g(best[payload]).rps_256,
      );
    }
    over('local rps_256 / floor', 0.75, '>=', (g) => g('local').rps_256 / g('floor').rps_256);
    const p50Ratio = (g) => g('local').p50_us / g('floor').p50_us;
    over('local p50 / floor p50', 1.1, '<=', p50Ratio);
    if (sideBySide) {
      // Each round's own ratio: pairing within a round is what the measurement is for.
      const label = `local p50 / floor p50, side by side${sfx}`;
      check(label, 1.1, '<=', payload, p50Ratio, sideBySide.rounds, null);
    }
    over(
      'local cpu/call / floor',
      1.4,
      '<=',
      (g) => g('local').cpu_us_per_call.total / g('floor').cpu_us_per_call.total,
    );
    for (const [name, limit] of [
      ['bridge-1', 0.6],
      ['bridge-2', 0.4],
      ['local-forwarded', 0.6],
    ]) {
      over(`${name} rps_256 / local`, limit, '>=', (g) => g(name).rps_256 / g('local').rps_256);
    }
    if (extras.no_tracer) {
      over(
        'no-tracer checks, % of local cpu/call',
        5,
        '<=',
        (g) => (100 * extras.no_tracer.us_per_local_call) / g('local').cpu_us_per_call.total,
      );
    }
    for (const name of ['bridge-1', 'bridge-2']) {
      over(
        `${name} relay cpu/call/hop / floor-relay`,
        1.5,
        '<=',
        (g) => relayCpuPerHop(name, g(name)) / relayCpuPerHop('floor-relay', g('floor-relay')),
      );
    }
  }
  // The extras are measured once, not per round.
  const once = (label, value, limit, cmp) => check(label, limit, cmp, undefined, () => value, []);
  if (extras.registry)
    once('lookup among 100k instances (µs)', extras.registry.lookup_us_median, 20, '<=');
  if (extras.broker_memory)
    once('broker RSS at 100k instances (MB)', extras.broker_memory.rss_mb, 200, '<=');
  if (extras.time_to_callable)
    once('new server at C callable from A (ms)', extras.time_to_callable.median_ms, 500, '<=');
  return t;
}

/** A number for a table cell; `-` when the case did not measure it. */
const fixed = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function printTable(cases) {
  const cols = [
    ['case', 24, 'left'],
    ['payload', 8, 'left'],
    ['p50_us', 7],
    ['p99_us', 7],
    ['rps_64', 7],
    ['rps_256', 7],
    ['cpu/call', 8],
    ['req', 5],
    ['resp', 5],
    ['relays', 6],
    ['brk', 4],
    ['nats', 5],
    ['cores', 5],
    ['wr/call', 7],
    ['other%', 6],
  ];
  const lines = [];
  lines.push(cols.map(([h, w, a]) => cell(h, w, a)).join(' '));
  lines.push(cols.map(([, w]) => '-'.repeat(w)).join(' '));
  for (const [name, c] of Object.entries(cases)) {
    for (const p of PAYLOAD_LIST) {
      const m = c[p.name];
      const cpu = m.cpu_us_per_call;
      const row = [
        name,
        p.name,
        fixed(m.p50_us, 0),
        fixed(m.p99_us, 0),
        fixed(m.rps_64, 0),
        fixed(m.rps_256, 0),
        fixed(cpu.total),
        fixed(cpu.requester),
        fixed(cpu.responder),
        fixed(cpu.relays),
        fixed(cpu.brokers),
        fixed(cpu.nats),
        fixed(m.cores_busy, 2),
        fixed(m.writes_per_call.total, 2),
        fixed(m.other_cpu_pct),
      ];
      lines.push(row.map((v, i) => cell(v, cols[i][1], cols[i][2])).join(' '));
    }
  }
  return lines.join('\n');
}

/** A target's ratio round by round, when there were several: its range and how often it was met. */
function spread(t) {
  const r = t.rounds ?? [];
  if (r.length < 2) return '';
  return `  rounds ${fixed(Math.min(...r), 2)}–${fixed(Math.max(...r), 2)}, met in ${t.met_in_rounds} of ${r.length}`;
}

function printRatios(r) {
  const cols = [
    ['case', 24, 'left'],
    ['payload', 8, 'left'],
    ['rps/bestMol', 11],
    ['rps/floor', 9],
    ['p50/floor', 9],
    ['cpu/floor', 9],
    ['relay µs/hop', 12],
    ['hop/floor hop', 13],
  ];
  const x = (v) => (Number.isFinite(v) ? times(v) : '-');
  const lines = [cols.map(([h, w, a]) => cell(h, w, a)).join(' ')];
  lines.push(cols.map(([, w]) => '-'.repeat(w)).join(' '));
  for (const [name, byPayload] of Object.entries(r.cases)) {
    for (const [payload, v] of Object.entries(byPayload)) {
      const row = [
        name,
        payload,
        x(v.rps_256_vs_best_moleculer),
        x(v.rps_256_vs_floor),
        x(v.p50_vs_floor),
        x(v.cpu_vs_floor),
        fixed(v.relay_cpu_per_hop_us),
        x(v.relay_hop_vs_floor_relay),
      ];
      lines.push(row.map((c, i) => cell(c, cols[i][1], cols[i][2])).join(' '));
    }
  }
  return lines.join('\n');
}

// --- main -----------------------------------------------------------------------

/** The commit measured, and the files of src/ that differ from it (the build includes them). */
function sourceState() {
  try {
    const git = (...args) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return { commit, uncommitted_src: dirty };
  } catch {
    return { commit: 'unknown', uncommitted_src: [] };
  }
}

/** Runs `attempt`, and once more when it fails: a process that could not start in time on a loaded machine. */
async function twice(what, attempt) {
  try {
    return await attempt();
  } catch (err) {
    if (interrupted) throw err;
    log(`${what} failed (${err.message}); running it again`);
    return attempt();
  }
}

async function main() {
  const t0 = Date.now();
  const loadAtStart = os.loadavg();
  // One code state for the whole run, whoever rebuilds dist/ meanwhile.
  const source = opts.dist
    ? { commit: `build in ${opts.dist}`, uncommitted_src: [] }
    : sourceState();
  snapshotDist(opts.dist && resolve(opts.dist));
  const { startNatsServer, findNatsServerBinary } = await importDist('testing/index.js');
  ({ subjectsFor } = await importDist('internal.js'));
  const bin = findNatsServerBinary();
  const natsVersion = bin
    ? execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()
    : 'unknown';
  for (const site of ['a', 'b', 'c']) {
    natsServers[site] = await startNatsServer({ name: `bench-${site}`, backend: 'binary' });
  }
  log(
    `nats-servers: ${Object.entries(natsServers)
      .map(([s, n]) => `${s}=${n.url} (pid ${n.pid})`)
      .join(', ')}`,
  );
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });

  const reps = Object.fromEntries(CASE_NAMES.map((n) => [n, []]));
  const runRep = async (name, label) => {
    const started = Date.now();
    // Only rps_256 of the Moleculer set-ups is compared: they skip latency and rps_64.
    const measure = isMoleculer(name) ? { latency: false, rps64: false } : {};
    const r = await twice(`${name} ${label}`, () => runCaseOnce(name, CASE_DEFS[name], measure));
    reps[name].push(r);
    const summary = Object.entries(r)
      .map(
        ([p, m]) =>
          `${p} p50 ${fixed(m.p50_us, 0)} µs, rps_256 ${Math.round(m.rps_256)}, other ${m.other_cpu_pct.toFixed(0)}%`,
      )
      .join('; ');
    log(`${name} ${label}: ${summary} (${Date.now() - started} ms)`);
  };
  const sideBySide = PAIRED_CASES.every((n) => CASE_NAMES.includes(n));
  const paired = Object.fromEntries(PAIRED_CASES.map((n) => [n, []]));
  const runPaired = async (label) => {
    const started = Date.now();
    let r;
    try {
      r = await twice(`side by side ${label}`, pairedLatencyOnce);
    } catch (err) {
      // The cases measured so far are kept: this round has no side-by-side figures.
      if (interrupted) throw err;
      log(`side by side ${label} failed again (${err.message}); that round is left out`);
      for (const name of PAIRED_CASES) paired[name].push(undefined);
      return;
    }
    for (const name of PAIRED_CASES) paired[name].push(r[name]);
    const summary = PAYLOAD_LIST.map(
      (p) =>
        `${p.name} ${PAIRED_CASES.map((n) => `${n} p50 ${fixed(r[n][p.name].p50_us, 0)} µs`).join(', ')}`,
    ).join('; ');
    log(`side by side ${label}: ${summary} (${Date.now() - started} ms)`);
  };
  for (let rep = 0; rep < SETTINGS.reps; rep++) {
    const label = `rep ${rep + 1}/${SETTINGS.reps}`;
    for (const name of CASE_NAMES) await runRep(name, label);
    if (sideBySide) await runPaired(label);
  }
  // Other people's work on the machine spoils a repetition: redo a few of those.
  // One case at a time, in case order, so that no case takes the whole budget.
  let extraBudget = SETTINGS.reps > 1 ? 6 : 0;
  const missing = Object.fromEntries(CASE_NAMES.map((n) => [n, reps[n].filter(disturbed).length]));
  while (extraBudget > 0 && CASE_NAMES.some((n) => missing[n] > 0)) {
    for (const name of CASE_NAMES) {
      if (extraBudget <= 0 || missing[name] <= 0) continue;
      missing[name]--;
      extraBudget--;
      await runRep(name, 'extra rep (one was disturbed)');
    }
  }
  const cases = Object.fromEntries(CASE_NAMES.map((n) => [n, medianOf(reps[n])]));

  const extras = { no_tracer: await noTracerCost() };
  if (RUN_EXTRAS && !PROFILE_DIR) {
    extras.registry = await registryAtScale();
    extras.broker_memory = await brokerAtScale();
    extras.time_to_callable = await timeToCallable();
    extras.kill = await killFailover();
  }

  const ratioTable = ratios(cases);
  const pairedCases =
    sideBySide && paired[PAIRED_CASES[0]].some(Boolean)
      ? Object.fromEntries(PAIRED_CASES.map((n) => [n, pairedMedianOf(paired[n])]))
      : undefined;
  const pairedRounds = pairedCases && pairedRoundsOf(paired);
  const targetList = targets(
    cases,
    extras,
    roundsOf(reps),
    pairedRounds && { rounds: pairedRounds },
  );
  const cpus = os.cpus();
  const report = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    duration_s: 0,
    settings: SETTINGS,
    machine: {
      cpu_model: cpuModel() || cpus[0]?.model,
      cpus: cpus.length,
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      nats_server: natsVersion,
      loadavg_at_start: loadAtStart.map((x) => round(x, 2)),
    },
    source,
    moleculer_variants: MOLECULER_CASES.filter((n) => CASE_NAMES.includes(n)).map((n) => ({
      case: n,
      ...CASE_DEFS[n].moleculer,
    })),
    cases: Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, formatCaseResult(v)])),
    ratios: ratioTable,
    side_by_side_latency: pairedCases && {
      cases: PAIRED_CASES,
      calls_per_turn: PAIRED_BLOCK,
      medians: pairedCases,
      ratio_median_of_rounds: pairedRatios(pairedRounds),
      rounds: paired,
    },
    extras,
    targets: targetList,
  };

  console.log('');
  console.log(
    `Switchboard benchmark (${report.mode}, ${SETTINGS.reps} rep(s), median) — ${report.machine.cpus} × ${report.machine.cpu_model}, Node ${process.version}, ${natsVersion}`,
  );
  console.log(
    `source: commit ${source.commit}${source.uncommitted_src.length ? ` + uncommitted changes in ${source.uncommitted_src.join(', ')}` : ''}`,
  );
  console.log(
    'moleculer-<serializer>[-nobal]: Moleculer 0.14 with that serializer, default balancer (or disableBalancer);',
  );
  console.log(
    '  they measure rps_256 only; "best moleculer" is the set-up with the most rps_256 per payload;',
  );
  console.log(
    'cpu/call: µs of CPU per call (requester + responder + relays + brk: brokers off the call path + nats-servers), at 256 in flight;',
  );
  console.log('cores: rps_256 × cpu/call, i.e. how much of the machine the case kept busy;');
  console.log('wr/call: write system calls per call, all processes (batching of socket writes);');
  console.log(
    'other%: machine CPU used by processes outside the case during that window (noise check)',
  );
  console.log('');
  console.log(printTable(cases));
  console.log('');
  console.log(
    `ratios: rps_256 over the best Moleculer set-up's (${Object.entries(ratioTable.best_moleculer)
      .map(([p, n]) => `${p}: ${n}`)
      .join(', ')}) and over floor's; p50 and cpu/call over floor's (lower is better);`,
  );
  console.log(
    'relay µs/hop: CPU per call of the relays (bridges, forwarding broker) per hop; hop/floor hop: over that of the hand-written relays with as many hops (floor-relay, floor-relay-2)',
  );
  console.log(printRatios(ratioTable));
  if (pairedCases) {
    console.log('');
    console.log(
      `sequential latency side by side: ${PAIRED_CASES.join(' and ')} running at once, taking turns of ${PAIRED_BLOCK} calls (medians of rounds; the ratio is the median of each round's):`,
    );
    const ratio = pairedRatios(pairedRounds);
    for (const p of PAYLOAD_LIST) {
      const [a, b] = PAIRED_CASES.map((n) => pairedCases[n][p.name].p50_us);
      console.log(
        `  ${cell(p.name, 8, 'left')} ${PAIRED_CASES[0]} p50 ${fixed(a, 0)} µs, ${PAIRED_CASES[1]} p50 ${fixed(b, 0)} µs: ${times(ratio[p.name])}`,
      );
    }
  }
  if (extras.registry) {
    const r = extras.registry;
    const b = extras.broker_memory;
    const ttc = extras.time_to_callable;
    const k = extras.kill;
    console.log('');
    console.log(`registry, ${r.instances} instances / ${r.services} services (in-process):`);
    console.log(
      `  lookup median ${r.lookup_us_median} µs (p99 ${r.lookup_us_p99}, bulk mean ${r.lookup_us_mean_bulk}), cold ${r.lookup_cold_us_median} µs, with range ${r.lookup_range_us_median} µs; lease sweep ${r.expire_sweep_ms_median} ms; heap ${r.heap_mb} MB (${Math.round(r.heap_bytes_per_instance)} B/instance)`,
    );
    console.log(
      `broker process, ${b.instances} instances registered over NATS in ${b.register_ms} ms (${b.registrations_per_s}/s):`,
    );
    console.log(
      `  RSS ${b.rss_mb} MB (after GC ${b.rss_mb_after_gc} MB, at start ${b.rss_mb_before} MB), heap ${b.heap_used_mb_after_gc} MB (${b.heap_bytes_per_instance} B/instance), idle CPU ${b.idle_cpu_pct}%; lookup round trip p50 ${b.lookup_rtt_p50_us} µs (p99 ${b.lookup_rtt_p99_us}, ${b.lookup_reply_instances} instances per reply)`,
    );
    console.log(
      `time from a server registering at C to a first call from A (A–B–C): median ${ttc.median_ms} ms (trials ${ttc.trials_ms.join(', ')} ms)`,
    );
    console.log(
      `SIGKILL of one of two instances: last call attempt to it ${k.last_attempt_to_killed_ms} ms after the kill (${k.attempts_to_killed_after_kill} attempts), registry drops it after ${k.registry_down_ms} ms, failed calls ${k.failed_calls}`,
    );
  }
  console.log('');
  console.log(
    `no tracer registered: ${extras.no_tracer.ns_per_check} ns per check, ${extras.no_tracer.checks_per_local_call} checks per local call`,
  );
  console.log('targets (issues 16 and 13, object payloads):');
  for (const t of targetList) {
    console.log(
      `  ${t.met ? 'MET   ' : 'MISSED'} ${cell(t.target, 56, 'left')} ${cell(t.value, 7)}  (${t.limit.toString().padStart(4)} needed)${spread(t)}`,
    );
  }

  report.duration_s = round((Date.now() - t0) / 1000, 1);
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log('');
  console.log(`wrote ${out} (${report.duration_s} s)`);
}

try {
  await main();
} catch (err) {
  // After SIGINT the children are being killed under the run: not a failure to report.
  if (!interrupted) log(`failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
