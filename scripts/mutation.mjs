// Runs the mutation tests (stryker.config.mjs) one folder at a time, each
// with its own incremental report, and prints the score of each folder.
// Usage: node scripts/mutation.mjs [folder ...] [-- stryker options]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FOLDERS } from '../stryker.config.mjs';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const names = dash === -1 ? argv : argv.slice(0, dash);
const extra = dash === -1 ? [] : argv.slice(dash + 1);
for (const name of names) {
  if (!FOLDERS.includes(name)) {
    console.error(`unknown folder '${name}': one of ${FOLDERS.join(', ')}`);
    process.exit(2);
  }
}

const scores = [];
let failed = false;
for (const folder of names.length > 0 ? names : FOLDERS) {
  const started = Date.now();
  const run = spawnSync('npx', ['stryker', 'run', ...extra], {
    stdio: 'inherit',
    env: { ...process.env, SWITCHBOARD_MUTATE: folder },
  });
  if (run.status !== 0) {
    failed = true;
    scores.push(`src/${folder}: stryker exited with ${run.status}`);
    continue;
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  scores.push(`src/${folder}: ${score(folder)} (${minutes} min)`);
}
console.log(`\nmutation score per folder:\n  ${scores.join('\n  ')}`);
process.exit(failed ? 1 : 0);

/** The score of a folder's last report: killed and timed out over all valid mutants. */
function score(folder) {
  const report = JSON.parse(readFileSync(`reports/mutation/${folder}.json`, 'utf8'));
  const count = {};
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) count[m.status] = (count[m.status] ?? 0) + 1;
  }
  const detected = (count.Killed ?? 0) + (count.Timeout ?? 0);
  const undetected = (count.Survived ?? 0) + (count.NoCoverage ?? 0);
  const pct = ((100 * detected) / (detected + undetected)).toFixed(2);
  return `${pct} % (${detected} killed, ${count.Survived ?? 0} survived, ${count.NoCoverage ?? 0} not covered)`;
}
