/**
 * The mesh while a share of its services restart every second (a clean
 * stop, then a new instance of the same service at the same site): control
 * traffic, CPU, how calls across the mesh fare meanwhile, and how long the
 * routing state takes to settle once the restarts stop.
 */

import type { CheckResult } from '../checks.js';
import type { ControlMonitor } from '../control-monitor.js';
import { type ScaleMesh, type Served, sleep } from '../mesh.js';
import { type CpuMeter, type LagMeter, type NodeAndNats, round } from '../stats.js';
import { type SiteRates, siteRates } from './steady.js';

export interface ChurnFigures {
  seconds: number;
  /** Share of the services restarted per second. */
  ratePerS: number;
  restarts: number;
  /** Control messages per second per site during the churn. */
  control: SiteRates;
  cpuPct: NodeAndNats;
  lag: { p99Ms: number; maxMs: number };
  /** Calls made meanwhile from one site to services elsewhere, by outcome. */
  calls: Record<string, number>;
  /** Time from the last restart until the routing state converged, in ms (or null). */
  settleMs: number | null;
  /** The routing check once settled (or at the time limit). */
  after: CheckResult;
}

const TICK_MS = 100;
const SETTLE_TIMEOUT_MS = 30_000;

export async function measureChurn(
  mesh: ScaleMesh,
  monitor: ControlMonitor,
  cpu: CpuMeter,
  lag: LagMeter,
  seconds: number,
  ratePerS: number,
): Promise<ChurnFigures> {
  const base = [...mesh.served.values()].flat().filter((s) => !s.service.startsWith('probe'));
  const pool: Served[] = [...base];
  const restarting = new Set<Promise<void>>();
  let restarts = 0;
  let owed = 0;
  const caller = mesh.topology.sites.find((s) => s !== 'hub')!;
  const remote = base.filter((s) => s.site !== caller).map((s) => s.service);
  const client = await mesh.client(caller);
  const calls: Record<string, number> = {};
  let calling = true;
  const callers = Array.from({ length: 4 }, async () => {
    while (calling) {
      const service = remote[Math.floor(Math.random() * remote.length)]!;
      let outcome = 'OK';
      try {
        await client.proxy<{ where(): string }>(service, { timeoutMs: 2000 }).where();
      } catch (err) {
        outcome = (err as { code?: string }).code ?? 'ERROR';
      }
      calls[outcome] = (calls[outcome] ?? 0) + 1;
    }
  });
  await monitor.start();
  cpu.reset();
  lag.read();
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    owed += (ratePerS * base.length * TICK_MS) / 1000;
    for (; owed >= 1 && pool.length > 0; owed--) {
      const victim = pool.splice(Math.floor(Math.random() * pool.length), 1)[0]!;
      const done = (async () => {
        await mesh.unserve(victim);
        pool.push(await mesh.serve(victim.site, victim.service));
        restarts++;
      })().catch(() => {});
      restarting.add(done);
      void done.finally(() => restarting.delete(done));
    }
    await sleep(TICK_MS);
  }
  await Promise.all(restarting);
  const rates = monitor.rates();
  const used = cpu.read();
  const lagged = lag.read();
  const settled = await mesh.waitConverged(SETTLE_TIMEOUT_MS);
  calling = false;
  await Promise.all(callers);
  return {
    seconds,
    ratePerS,
    restarts,
    control: siteRates(mesh, rates),
    cpuPct: {
      node: round((100 * used.ownMs) / used.wallMs),
      nats: round((100 * used.othersMs) / used.wallMs),
    },
    lag: lagged,
    calls,
    settleMs: settled.ok ? round(settled.ms) : null,
    after: settled.last,
  };
}
