/**
 * One measured run: a topology in one NATS mode, built, converged, then put
 * through each phase in turn (propagation, steady state, relay CPU, churn,
 * flaps), its sizes read, and torn down measuring what each part held.
 */

import type { Logger } from '../src/internal.js';
import { type CheckResult, checkMesh, forgetCheckKeys } from './checks.js';
import { ControlMonitor } from './control-monitor.js';
import { type MeshTimings, type NatsMode, ScaleMesh, sleep } from './mesh.js';
import { type ChurnFigures, measureChurn } from './phases/churn.js';
import { type FlapFigures, measureFlaps } from './phases/flaps.js';
import {
  brokerRoutes,
  type MemoryFigures,
  measureMemory,
  measureSizes,
  type SizeFigures,
} from './phases/memory.js';
import { measurePropagation, type PropagationFigures } from './phases/propagation.js';
import { measureRelay, type RelayFigures } from './phases/relay.js';
import { measureSteady, type SteadyFigures } from './phases/steady.js';
import { CpuMeter, LagMeter, round, settledHeapBytes } from './stats.js';
import { diameter, type Topology } from './topology.js';

/** Phases a run can go through, in order. */
export const PHASES = ['propagation', 'steady', 'relay', 'churn', 'flaps', 'memory'] as const;
export type Phase = (typeof PHASES)[number];

export interface RunOptions {
  topology: Topology;
  mode: NatsMode;
  servicesPerSite: number;
  phases: ReadonlySet<Phase>;
  /** Propagation samples. */
  samples: number;
  steadyS: number;
  relayCalls: number;
  churnS: number;
  /** Share of the services restarted per second in the churn phase. */
  churnRate: number;
  flapS: number;
  timings: MeshTimings;
  /** Each site's broker and bridges in a process of their own (no relay CPU figure then). */
  processes?: boolean;
  /** Progress lines. */
  progress: (line: string) => void;
  logger?: Logger;
}

export interface RunFigures {
  topology: string;
  kind: string;
  mode: NatsMode;
  sites: number;
  links: number;
  services: number;
  maxHops: number;
  startup: {
    sitesMs: number;
    linkMs: number;
    convergeMs: number | null;
    check: CheckResult;
    /** Messages (and MiB) every component sent from linking to converged (or to giving up). */
    sent: { msgs: number; mib: number };
  };
  sizes?: SizeFigures;
  propagation?: PropagationFigures;
  steady?: SteadyFigures;
  relay?: RelayFigures;
  churn?: ChurnFigures;
  flaps?: FlapFigures;
  memory?: MemoryFigures;
  /** The routing check at the end (before teardown). */
  final?: CheckResult;
  /** Sites whose bridge halves advertise another number of routes than their broker holds, at the end. */
  advertisedVersusHeld?: string[];
}

const CONVERGE_TIMEOUT_MS = 120_000;

export async function runTopology(options: RunOptions): Promise<RunFigures> {
  const { topology, mode, phases, progress } = options;
  const maxHops = Math.max(8, diameter(topology));
  const t0 = performance.now();
  progress(`${topology.label} (${mode} NATS): starting sites and services`);
  const mesh = await ScaleMesh.start({
    topology,
    servicesPerSite: options.servicesPerSite,
    mode,
    maxHops,
    timings: options.timings,
    processes: options.processes ?? false,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const lag = new LagMeter();
  try {
    const sitesMs = performance.now() - t0;
    progress(`  linking ${topology.links.length} bridges`);
    const heapBefore = await settledHeapBytes();
    const t1 = performance.now();
    const sentBefore = sentInAll(mesh);
    await mesh.link();
    const linkMs = performance.now() - t1;
    const settled = await mesh.waitConverged(CONVERGE_TIMEOUT_MS);
    const sentAfter = sentInAll(mesh);
    // The heap gained by linking is the mesh's: not the keys its checks kept.
    forgetCheckKeys();
    const heapAfter = await settledHeapBytes();
    // In site processes the brokers and bridges are not in this heap.
    const linked =
      heapBefore === undefined || heapAfter === undefined || options.processes
        ? undefined
        : { before: heapBefore, after: heapAfter, routes: brokerRoutes(mesh) };
    const figures: RunFigures = {
      topology: topology.label,
      kind: topology.kind,
      mode,
      sites: topology.sites.length,
      links: topology.links.length,
      services: [...mesh.served.values()].flat().length,
      maxHops,
      startup: {
        sitesMs: round(sitesMs, 0),
        linkMs: round(linkMs, 0),
        convergeMs: settled.ok ? round(linkMs + settled.ms, 0) : null,
        check: settled.last,
        sent: {
          msgs: sentAfter.msgs - sentBefore.msgs,
          mib: round((sentAfter.bytes - sentBefore.bytes) / 2 ** 20),
        },
      },
    };
    progress(
      `  converged: ${settled.ok ? `${round((linkMs + settled.ms) / 1000)} s after linking` : `NO (${settled.last.examples.join('; ')})`}`,
    );
    figures.sizes = measureSizes(mesh);
    const watched = await mesh.watchedSites();
    const monitor = new ControlMonitor(watched);
    const cpu = new CpuMeter(mesh.natsServers.flatMap((n) => (n.pid === undefined ? [] : [n.pid])));
    if (phases.has('steady')) {
      progress(`  steady state (${options.steadyS} s)`);
      figures.steady = await measureSteady(mesh, monitor, cpu, lag, options.steadyS);
      monitor.stop();
    }
    if (phases.has('propagation')) {
      progress(`  propagation (${options.samples} samples)`);
      figures.propagation = await measurePropagation(mesh, watched, options.samples);
    }
    if (phases.has('relay') && options.processes) {
      progress('  relay CPU: not measured with site processes (the relays are in theirs)');
    } else if (phases.has('relay')) {
      progress(`  relay CPU (${options.relayCalls} calls)`);
      figures.relay = await measureRelay(mesh, cpu, options.relayCalls);
    }
    if (phases.has('churn')) {
      progress(`  churn (${options.churnS} s at ${options.churnRate * 100} %/s)`);
      figures.churn = await measureChurn(
        mesh,
        monitor,
        cpu,
        lag,
        options.churnS,
        options.churnRate,
      );
      monitor.stop();
    }
    if (phases.has('flaps')) {
      const pattern = topology.kind === 'hub' || topology.kind === 'chain' ? 'one-link' : 'random';
      progress(`  link flaps (${options.flapS} s, ${pattern})`);
      const maxDown = topology.kind === 'grid' ? 3 : 2;
      figures.flaps = await measureFlaps(mesh, monitor, options.flapS, pattern, maxDown);
      monitor.stop();
    }
    figures.final = checkMesh(mesh.snapshot());
    figures.advertisedVersusHeld = await agreedAdvertisements(mesh, AGREEMENT_WAIT_MS);
    if (phases.has('memory')) {
      progress('  memory');
      figures.memory = await measureMemory(mesh, linked);
    }
    return figures;
  } finally {
    lag.stop();
    await mesh.close();
  }
}

/** Messages and bytes sent so far by every component of every site. */
function sentInAll(mesh: ScaleMesh): { msgs: number; bytes: number } {
  let msgs = 0;
  let bytes = 0;
  for (const sent of mesh.sent().values()) {
    msgs += sent.msgs;
    bytes += sent.bytes;
  }
  return { msgs, bytes };
}

/** How long halves' advertised routes may differ from what brokers hold at the end (registrations in flight). */
const AGREEMENT_WAIT_MS = 10_000;

/**
 * Halves' advertised routes against what brokers hold, polled until they
 * agree or `timeoutMs` passes: a registration may still be on its way when
 * the routes have settled; a lasting difference is reported.
 */
async function agreedAdvertisements(mesh: ScaleMesh, timeoutMs: number): Promise<string[]> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const differences = mesh.advertisedVersusHeld();
    if (differences.length === 0 || performance.now() >= until) return differences;
    await sleep(100);
  }
}
