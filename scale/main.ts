/**
 * `npm run scale`: many sites on one machine, in the topologies of issue 17
 * (hub and spokes, chain, grid, ring), measured phase by phase. Prints a
 * table and writes the figures as JSON. `npm run scale -- --help`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type LogLevel, lineLogger } from '../src/internal.js';
import { closeAllMeshes, NATS_MODES, type NatsMode } from './mesh.js';
import { formatReport } from './report.js';
import { PHASES, type RunFigures, runTopology } from './run.js';
import { buildTopology, TOPOLOGY_KINDS, type TopologyKind } from './topology.js';

const USAGE = `Usage: npm run scale -- [options]

Runs many sites on this machine (brokers, bridges and servers in this
process, or each site's broker and bridges in a process of their own;
NATS shared by every site through subject prefixes, or one
nats-server per site) and measures, per topology: convergence, the time a
new service takes to be callable at the farthest site and a stopped one to
be withdrawn everywhere, control messages per second per site at steady
state, registry and route-table sizes and memory, relay CPU per call per
hop, the mesh under churn, and link flaps (loops, stuck routes, time to
settle). Prints a table; writes JSON.

Options:
  --topology LIST     hub,chain,grid,ring                   [default: all four]
  --mode MODE         shared | per-site | both | auto: auto runs every
                      topology on a shared NATS and the hub also with a
                      nats-server per site                  [default: auto]
  --spokes N          spokes of the hub                     [default: 100]
  --services N        services per site (per spoke)         [default: 10]
  --chain N           sites of the chain                    [default: 20]
  --grid N            side of the grid                      [default: 5]
  --ring N            sites of the ring                     [default: 20]
  --phases LIST       ${PHASES.join(',')}      [default: all]
  --samples N         propagation samples                   [default: 100]
  --steady S          steady-state window, seconds          [default: 10]
  --relay-calls N     calls for the relay CPU figure        [default: 2000]
  --churn S           churn duration, seconds               [default: 20]
  --churn-rate R      share of services restarted per s     [default: 0.1]
  --flap S            flap storm at the hub and chain, s    [default: 20]
  --flap-mesh S       random flaps in ring and grid, s      [default: 60]
  --server-heartbeat MS, --bridge-heartbeat MS, --refresh MS
                      component timings                     [default: the library's]
  --lease-factor N    leases last N heartbeats at every broker (more
                      slack when this one process is starved) [default: 3]
  --probe-after-ms MS the brokers' probeAfterMs  [default: the library's]
  --processes         each site's broker, and the bridges whose local side
                      it is, in a node process of their own (servers and
                      clients stay in this one; no relay CPU figure)
  --quick             small sizes and short phases (about 2.5 minutes)
  --out FILE          JSON report       [default: test-output/scale.json]
  --log-level LEVEL   component logs on stderr: debug|info|warn|error [default: none]
  --help              this text
`;

const QUICK = {
  spokes: '20',
  services: '5',
  chain: '8',
  grid: '3',
  ring: '8',
  samples: '20',
  steady: '4',
  'relay-calls': '300',
  churn: '5',
  flap: '6',
  'flap-mesh': '10',
} as const;

function fail(message: string): never {
  process.stderr.write(`scale: ${message}\n(see npm run scale -- --help)\n`);
  process.exit(2);
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!(n > 0)) fail(`--${name} must be a positive number (got ${value})`);
  return n;
}

function nonNegative(name: string, value: string): number {
  const n = Number(value);
  if (!(n >= 0)) fail(`--${name} must be 0 or more (got ${value})`);
  return n;
}

function list<T extends string>(name: string, value: string, known: readonly T[]): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!known.includes(item as T))
      fail(`--${name}: unknown '${item}' (one of ${known.join(', ')})`);
  }
  return items as T[];
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (err) {
    fail((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const v = { ...DEFAULTS, ...(values.quick ? QUICK : {}), ...definedOnly(values) };
  const kinds = list('topology', v.topology, TOPOLOGY_KINDS);
  const phases = new Set(list('phases', v.phases, PHASES));
  const modeArg = v.mode;
  if (!['auto', 'both', ...NATS_MODES].includes(modeArg)) fail(`--mode: unknown '${modeArg}'`);
  const sizes: Record<TopologyKind, number> = {
    hub: positive('spokes', v.spokes),
    chain: positive('chain', v.chain),
    grid: positive('grid', v.grid),
    ring: positive('ring', v.ring),
  };
  const level = values['log-level'] as LogLevel | undefined;
  const logger = level
    ? lineLogger('scale', level, (line) => process.stderr.write(`${line}\n`))
    : undefined;
  const started = Date.now();
  const progress = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const runs: RunFigures[] = [];
  const report = () => ({
    when: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
      node: process.version,
    },
    options: { ...v, quick: values.quick ?? false },
    process: values.processes
      ? "each site's broker and the bridges whose local side it is run in a node process of their own; servers and clients share this one"
      : 'brokers, bridges, servers and clients share this one node process',
    runs,
  });
  const out = resolve(v.out);
  const writeReport = () => {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report(), null, 2)}\n`);
  };
  for (const kind of kinds) {
    const modes: NatsMode[] =
      modeArg === 'both' || (modeArg === 'auto' && kind === 'hub')
        ? ['shared', 'per-site']
        : modeArg === 'auto'
          ? ['shared']
          : [modeArg as NatsMode];
    for (const mode of modes) {
      const figures = await runTopology({
        topology: buildTopology(kind, sizes[kind]),
        mode,
        servicesPerSite: positive('services', v.services),
        phases,
        samples: positive('samples', v.samples),
        steadyS: positive('steady', v.steady),
        relayCalls: positive('relay-calls', v['relay-calls']),
        churnS: positive('churn', v.churn),
        churnRate: positive('churn-rate', v['churn-rate']),
        flapS: positive(
          kind === 'hub' || kind === 'chain' ? 'flap' : 'flap-mesh',
          kind === 'hub' || kind === 'chain' ? v.flap : v['flap-mesh'],
        ),
        processes: values.processes === true,
        timings: {
          serverHeartbeatMs: optional('server-heartbeat', values['server-heartbeat']),
          bridgeHeartbeatMs: optional('bridge-heartbeat', values['bridge-heartbeat']),
          refreshMs: optional('refresh', values.refresh),
          leaseFactor: optional('lease-factor', values['lease-factor']),
          probeAfterMs:
            values['probe-after-ms'] === undefined
              ? undefined
              : nonNegative('probe-after-ms', String(values['probe-after-ms'])),
        },
        progress,
        ...(logger ? { logger } : {}),
      }).catch((err: unknown) => {
        // One run failing leaves the others' figures.
        progress(`  FAILED: ${String(err)} ${(err as Error).stack ?? ''}`);
        return undefined;
      });
      if (figures) runs.push(figures);
      // Written after every run: an interrupted session keeps what it measured.
      writeReport();
    }
  }
  writeReport();
  process.stdout.write(formatReport(report()));
  process.stdout.write(`\nJSON: ${out}\n`);
}

const DEFAULTS = {
  topology: TOPOLOGY_KINDS.join(','),
  mode: 'auto',
  spokes: '100',
  services: '10',
  chain: '20',
  grid: '5',
  ring: '20',
  phases: PHASES.join(','),
  samples: '100',
  steady: '10',
  'relay-calls': '2000',
  churn: '20',
  'churn-rate': '0.1',
  flap: '20',
  'flap-mesh': '60',
  out: 'test-output/scale.json',
};

function parse(): { values: Record<string, string | boolean | undefined> } {
  const strings = [
    ...Object.keys(DEFAULTS),
    'server-heartbeat',
    'bridge-heartbeat',
    'refresh',
    'lease-factor',
    'probe-after-ms',
    'log-level',
  ];
  return parseArgs({
    options: {
      ...Object.fromEntries(strings.map((name) => [name, { type: 'string' as const }])),
      quick: { type: 'boolean' },
      processes: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
}

function optional(name: string, value: string | boolean | undefined): number | undefined {
  return value === undefined ? undefined : positive(name, String(value));
}

function definedOnly(values: Record<string, string | boolean | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') out[k] = v;
  return out;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`scale: ${signal}: stopping the sites\n`);
    const exit = () => process.exit(130);
    // Whatever happens, within a few seconds.
    setTimeout(exit, 5000).unref();
    void closeAllMeshes().finally(exit);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`scale: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
