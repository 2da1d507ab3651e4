/**
 * Summarises .cpuprofile files (from `node bench/run.mjs --profile DIR`):
 * self time by function and by source file, per profile.
 *   node bench/profile-summary.mjs DIR [--top N] [--match REGEX]
 * --match prints the share of busy time spent in source files whose URL
 * matches (e.g. `msgpack` to check that relays never decode bodies).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, match: { type: 'string' } },
});
const dir = positionals[0];
if (!dir) {
  console.error('usage: node bench/profile-summary.mjs DIR [--top N]');
  process.exit(2);
}
const top = Number(values.top);

function where(url) {
  if (!url) return '(native/vm)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (m) return `${m[1]}:${basename(m[2])}`;
  const d = /\/dist\/(.*)$/.exec(url);
  if (d) return `switchboard:${d[1]}`;
  const b = /\/bench\/(.*)$/.exec(url);
  if (b) return `bench:${b[1]}`;
  if (url.startsWith('node:')) return url;
  return basename(url);
}

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // timeDeltas[i] is the time before samples[i].
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map();
  const byFile = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const fn = `${cf.functionName || '(anonymous)'} ${where(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    const f = cf.url ? where(cf.url) : cf.functionName;
    byFile.set(f, (byFile.get(f) ?? 0) + us);
  }
  const idle = byFn.get('(idle) (native/vm)') ?? 0;
  const busy = total - idle;
  const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  console.log(
    `\n## ${file}: ${(busy / 1000).toFixed(0)} ms busy of ${(total / 1000).toFixed(0)} ms (percent of busy time)`,
  );
  if (values.match) {
    const re = new RegExp(values.match);
    let matched = 0;
    for (const [id, us] of self) if (re.test(byId.get(id).callFrame.url)) matched += us;
    console.log(
      `files matching /${values.match}/: ${pct(matched)} (${(matched / 1000).toFixed(1)} ms)`,
    );
  }
  console.log('by file:');
  for (const [f, us] of [...byFile]
    .filter(([f]) => f !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)) {
    console.log(`  ${pct(us)}  ${f}`);
  }
  console.log('by function (self time):');
  for (const [f, us] of [...byFn]
    .filter(([f]) => !f.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`  ${pct(us)}  ${f}`);
  }
}
