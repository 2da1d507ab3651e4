/**
 * CPU a relayed call costs per hop: the same calls made by a client at the
 * farthest site and by a client at the serving site, their CPU (this
 * process, and the NATS servers) less the idle rate, the difference divided
 * by the hops crossed.
 */
import type { ScaleMesh } from '../mesh.js';
import { type CpuMeter, type NodeAndNats, round } from '../stats.js';
import { adjacency, distancesFrom } from '../topology.js';
import { edgePairs } from './propagation.js';

export interface RelayFigures {
  from: string;
  to: string;
  hops: number;
  calls: number;
  /** CPU per call, local and remote, in µs (node, nats). */
  localUs: NodeAndNats;
  remoteUs: NodeAndNats;
  /** (remote − local) / hops, in µs. */
  perHopUs: NodeAndNats;
  /** Calls that failed (should be none). */
  failures: number;
}

interface Where {
  where(): string;
}

const CONCURRENCY = 8;
const IDLE_MS = 1500;

async function burn(
  mesh: ScaleMesh,
  site: string,
  service: string,
  calls: number,
  cpu: CpuMeter,
): Promise<{ node: number; nats: number; failures: number }> {
  const client = await mesh.client(site);
  const proxy = client.proxy<Where>(service, { timeoutMs: 5000 });
  await proxy.where(); // warm: lookup cached
  cpu.reset();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idle = cpu.read();
  cpu.reset();
  let failures = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < calls) {
        next++;
        await proxy.where().catch(() => failures++);
      }
    }),
  );
  const used = cpu.read();
  const node = used.ownMs - (idle.ownMs / idle.wallMs) * used.wallMs;
  const nats = used.othersMs - (idle.othersMs / idle.wallMs) * used.wallMs;
  return { node: (node * 1000) / calls, nats: (nats * 1000) / calls, failures };
}

export async function measureRelay(
  mesh: ScaleMesh,
  cpu: CpuMeter,
  calls: number,
): Promise<RelayFigures> {
  const hosting = new Set([...mesh.served.values()].flat().map((s) => s.site));
  const [origin, far] = edgePairs(mesh.topology, hosting)[0]!;
  const hops = distancesFrom(adjacency(mesh.topology), origin).get(far)!;
  const target = [...mesh.served.entries()].find(([, list]) =>
    list.some((s) => s.site === origin),
  )?.[0];
  if (target === undefined) throw new Error(`no service is served at ${origin}`);
  const local = await burn(mesh, origin, target, calls, cpu);
  const remote = await burn(mesh, far, target, calls, cpu);
  const us = (v: number) => round(v, 0);
  return {
    from: far,
    to: origin,
    hops,
    calls,
    localUs: { node: us(local.node), nats: us(local.nats) },
    remoteUs: { node: us(remote.node), nats: us(remote.nats) },
    perHopUs: {
      node: us((remote.node - local.node) / hops),
      nats: us((remote.nats - local.nats) / hops),
    },
    failures: local.failures + remote.failures,
  };
}
