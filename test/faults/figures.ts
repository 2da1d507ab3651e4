/**
 * The figures of the fault scenarios, kept in test-output/faults.json (not
 * committed) for docs/reliability.md: one entry per scenario, replaced by
 * each run of it, with the commit and time it ran at. Scenario files run one
 * at a time (the `faults` project), so read-modify-write is safe.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Figures, Moments } from './analysis.js';

const FILE = 'test-output/faults.json';

/** One scenario's record. */
export interface ScenarioRecord {
  proves: string;
  notes: Record<string, unknown>;
  moments: Moments;
  figures: Figures;
  samples: Record<string, string[]>;
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Stores `record` under `name` in test-output/faults.json. */
export async function recordFigures(name: string, record: ScenarioRecord): Promise<void> {
  await mkdir('test-output', { recursive: true });
  const all = JSON.parse(await readFile(FILE, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  all[name] = { ranAt: new Date().toISOString(), commit: commit(), ...record };
  await writeFile(FILE, `${JSON.stringify(all, null, 2)}\n`);
}
