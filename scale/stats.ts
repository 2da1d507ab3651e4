/** Small statistics and resource readings for the scale harness. */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The `p`-th percentile (0–100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Mean of `values`; NaN when empty. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Rounds to `digits` decimals (for the report). */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** CPU time (user + system) this process has used, in milliseconds. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** CPU time (user + system) of other processes by pid (from /proc), in milliseconds; 0 where unreadable. */
export function pidsCpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start after ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Not on Linux, or gone.
    }
  }
  return (ticks * 1000) / 100;
}

/** Resident memory of processes by pid (from /proc), in bytes; 0 where unreadable. */
export function pidsRssBytes(pids: readonly number[]): number {
  let pages = 0;
  for (const pid of pids) {
    try {
      pages += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    } catch {
      // Not on Linux, or gone.
    }
  }
  return pages * 4096;
}

/** A figure for this node process and for the NATS servers. */
export interface NodeAndNats {
  node: number;
  nats: number;
}

/** CPU of this process and of some others over a stretch of time. */
export class CpuMeter {
  readonly #pids: readonly number[];
  #start = { at: 0, own: 0, others: 0 };

  constructor(pids: readonly number[]) {
    this.#pids = pids;
    this.reset();
  }

  reset(): void {
    this.#start = { at: performance.now(), own: processCpuMs(), others: pidsCpuMs(this.#pids) };
  }

  /** CPU milliseconds used since the reset, and the wall time. */
  read(): { wallMs: number; ownMs: number; othersMs: number } {
    return {
      wallMs: performance.now() - this.#start.at,
      ownMs: processCpuMs() - this.#start.own,
      othersMs: pidsCpuMs(this.#pids) - this.#start.others,
    };
  }
}

/** Watches how late this process's timers run (the event loop's delay), in milliseconds. */
export class LagMeter {
  readonly #histogram = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.#histogram.enable();
  }

  /** p99 and max delay since the last read, then starts over. */
  read(): { p99Ms: number; maxMs: number } {
    const h = this.#histogram;
    const out = { p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
    h.reset();
    return out;
  }

  stop(): void {
    this.#histogram.disable();
  }
}

/**
 * Heap in use after a full collection (needs `--expose-gc`; undefined without
 * it), as `read` tells it: the process's by default, a worker's isolate with
 * `v8.getHeapStatistics`.
 */
export async function settledHeapBytes(
  read: () => number = () => process.memoryUsage().heapUsed,
): Promise<number | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return read();
}
