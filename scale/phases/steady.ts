/**
 * Control traffic when nothing changes: what each site's NATS carries per
 * second (by kind: heartbeats, renewals, listings, lookups, events...),
 * what every component attached to it sends, and the CPU it all costs.
 */
import type { ControlMonitor, Tally } from '../control-monitor.js';
import { type ScaleMesh, sleep } from '../mesh.js';
import { type CpuMeter, type LagMeter, mean, type NodeAndNats, round } from '../stats.js';

/** Messages per second at a group of sites. */
export interface SiteRates {
  /** The hub's (hub-and-spoke only). */
  hub?: number;
  /** Mean over the other sites. */
  mean: number;
  /** Largest over the other sites. */
  max: number;
}

export interface SteadyFigures {
  windowS: number;
  /** Control messages per second per site (wildcard subscriptions on the site's subjects). */
  control: SiteRates;
  /** The same, without the servers' own heartbeats (what federation adds). */
  federation: SiteRates;
  /** Per kind, messages per second at the busiest non-hub site and at the hub. */
  byKind: { site: string; kinds: Record<string, number> }[];
  /** Everything the components of a site send (replies and listings included), msgs/s and KiB/s. */
  sent: SiteRates & { kibPerS: SiteRates };
  /** CPU while idle: this process and the NATS servers, in % of one core. */
  cpuPct: NodeAndNats;
  lag: { p99Ms: number; maxMs: number };
}

/** Kinds that local servers cause whatever the mesh (their own heartbeats). */
const LOCAL_KINDS = new Set(['heartbeat']);

function group(mesh: ScaleMesh, value: (site: string) => number): SiteRates {
  const hub = mesh.topology.kind === 'hub' ? 'hub' : undefined;
  const others = [...mesh.sites.keys()].filter((s) => s !== hub).map(value);
  const rates: SiteRates = { mean: round(mean(others)), max: round(Math.max(...others)) };
  if (hub) rates.hub = round(value(hub));
  return rates;
}

/** Control messages per second per site, of the kinds `keep` lets through. */
export function siteRates(
  mesh: ScaleMesh,
  rates: Map<string, Map<string, Tally>>,
  keep: (kind: string) => boolean = () => true,
): SiteRates {
  return group(mesh, (s) => total(rates.get(s), keep));
}

function total(kinds: Map<string, Tally> | undefined, keep: (kind: string) => boolean): number {
  let sum = 0;
  for (const [kind, t] of kinds ?? []) if (keep(kind)) sum += t.msgs;
  return sum;
}

export async function measureSteady(
  mesh: ScaleMesh,
  monitor: ControlMonitor,
  cpu: CpuMeter,
  lag: LagMeter,
  windowS: number,
): Promise<SteadyFigures> {
  const sentBefore = mesh.sent();
  await monitor.start();
  cpu.reset();
  lag.read();
  await sleep(windowS * 1000);
  const rates = monitor.rates();
  const used = cpu.read();
  const sentAfter = mesh.sent();
  const seconds = used.wallMs / 1000;
  const sentRate = (site: string, field: 'msgs' | 'bytes') =>
    (sentAfter.get(site)![field] - sentBefore.get(site)![field]) / seconds;
  const control = siteRates(mesh, rates);
  const federation = siteRates(mesh, rates, (k) => !LOCAL_KINDS.has(k));
  const hub = mesh.topology.kind === 'hub' ? 'hub' : undefined;
  let busiest = '';
  let busiestRate = -1;
  for (const site of mesh.sites.keys()) {
    if (site === hub) continue;
    const r = total(rates.get(site), () => true);
    if (r > busiestRate) {
      busiest = site;
      busiestRate = r;
    }
  }
  const byKind = [busiest, ...(hub ? [hub] : [])].map((site) => ({
    site,
    kinds: Object.fromEntries(
      [...(rates.get(site) ?? [])].map(([kind, t]) => [kind, round(t.msgs)]).sort(),
    ),
  }));
  return {
    windowS,
    control,
    federation,
    byKind,
    sent: {
      ...group(mesh, (s) => sentRate(s, 'msgs')),
      kibPerS: group(mesh, (s) => sentRate(s, 'bytes') / 1024),
    },
    cpuPct: {
      node: round((100 * used.ownMs) / used.wallMs),
      nats: round((100 * used.othersMs) / used.wallMs),
    },
    lag: lag.read(),
  };
}
