/**
 * In-process registry at scale: registers `instances` instances over
 * `services` services in a `Registry` (dist), then times `lookup()`.
 * Run with --expose-gc for the heap numbers.
 */
import { importDist } from './lib/dist.mjs';
import { runChild } from './lib/ipc.mjs';
import { median, percentile } from './lib/stats.mjs';

const now = () => process.hrtime.bigint();

await runChild(async () => {
  const { Registry } = await importDist('internal.js');
  return {
    handlers: {
      run: (params) => run(Registry, params),
    },
  };
});

function heapUsed() {
  global.gc?.();
  return process.memoryUsage().heapUsed;
}

function run(Registry, { instances = 100_000, services = 1000, samples = 200_000 }) {
  const heap0 = heapUsed();
  const registry = new Registry({ site: 'a' });
  const t0 = now();
  for (let i = 0; i < instances; i++) {
    registry.register({
      id: `inst-${i.toString(36).padStart(6, '0')}-${(i * 2654435761) % 1e9}`,
      service: `svc-${i % services}`,
      version: `1.${i % 3}.0`,
      methods: ['add', 'echo'],
      metadata: {},
      heartbeatMs: 600_000,
    });
  }
  const registerUs = Number(now() - t0) / 1000;
  const heap1 = heapUsed();

  // First lookup of each service builds its view array (100 entries): "cold".
  const cold = [];
  for (let s = 0; s < services; s++) {
    const a = now();
    registry.lookup(`svc-${s}`);
    cold.push(Number(now() - a) / 1000);
  }
  const names = Array.from({ length: 4096 }, (_, i) => `svc-${(i * 7919) % services}`);
  // Warm: per-call times (each includes ~0.03 µs of hrtime overhead)...
  const warm = new Float64Array(samples);
  let sink = 0;
  for (let i = 0; i < samples; i++) {
    const name = names[i & 4095];
    const a = now();
    sink += registry.lookup(name).length;
    warm[i] = Number(now() - a) / 1000;
  }
  // ...and a bulk loop without per-call timers.
  const b0 = now();
  for (let i = 0; i < samples; i++) sink += registry.lookup(names[i & 4095]).length;
  const bulkUs = Number(now() - b0) / 1000 / samples;
  // With a version range: parses the range and filters the 100 instances each time.
  const ranged = new Float64Array(20_000);
  for (let i = 0; i < ranged.length; i++) {
    const name = names[i & 4095];
    const a = now();
    sink += registry.lookup(name, '^1.1.0').length;
    ranged[i] = Number(now() - a) / 1000;
  }
  // The broker sweeps leases every 250 ms: one sweep walks every instance.
  const sweeps = [];
  for (let i = 0; i < 20; i++) {
    const a = now();
    registry.expire();
    sweeps.push(Number(now() - a) / 1000);
  }
  if (sink === 0) throw new Error('lookups found nothing');
  return {
    instances: registry.size,
    services,
    register_us_per_instance: registerUs / instances,
    lookup_us_median: percentile(warm, 50),
    lookup_us_p99: percentile(warm, 99),
    lookup_us_mean_bulk: bulkUs,
    lookup_cold_us_median: median(cold),
    lookup_range_us_median: percentile(ranged, 50),
    expire_sweep_ms_median: median(sweeps) / 1000,
    heap_bytes_per_instance: (heap1 - heap0) / instances,
    heap_mb: (heap1 - heap0) / 2 ** 20,
  };
}
