// Prints the figures of the last fault-suite run (test-output/faults.json) as
// the Markdown table of docs/reliability.md: `node scripts/faults-table.mjs`.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-output/faults.json';
const runs = JSON.parse(readFileSync(file, 'utf8'));

/** The order of docs/reliability.md. */
const ORDER = [
  'partition-bc',
  'partition-ab',
  'tight-loop-ab',
  'bridge-kill-bc',
  'nats-kill-b',
  'broker-kill-b',
  'server-stop',
  'stalled-instance',
  'instance-kill',
  'cluster-node-kill',
];

const s = (ms) => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);

function failed(outcomes) {
  return Object.entries(outcomes)
    .filter(([key]) => key !== 'ok')
    .sort(([, a], [, b]) => b - a)
    .map(([key, n]) => `${n} ${key}`)
    .join(', ');
}

const names = [
  ...ORDER.filter((name) => name in runs),
  ...Object.keys(runs).filter((n) => !ORDER.includes(n)),
];
console.log(
  '| scenario | fault → first fast UNAVAILABLE | calls in flight then ended after | heal → >95 % | fault → >95 % | calls: ok / failed | hung | `no` that ran | non-idempotent twice | idempotent calls failed |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const name of names) {
  const { figures: f, moments: m } = runs[name];
  const healed = m.healAt === m.faultAt ? ' (no heal)' : '';
  console.log(
    `| ${name} | ${s(f.firstFastUnavailableMs)} | ${s(f.inFlightAtDetection?.lastEndedMs)} | ${s(f.recoveryMs)}${healed} | ${s(f.recoveryFromFaultMs)} | ${f.outcomes.ok ?? 0} / ${failed(f.outcomes) || '0'} | ${f.hung} | ${f.ranThoughNo} | ${f.nonIdempotentTwice} | ${f.lostIdempotent} |`,
  );
}
const commits = [...new Set(names.map((name) => runs[name].commit))].join(', ');
console.log(
  `\nRun at ${commits}, ${names
    .map((n) => runs[n].ranAt)
    .sort()[0]
    ?.slice(0, 10)}.`,
);
