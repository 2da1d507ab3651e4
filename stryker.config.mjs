// @ts-check
/**
 * Mutation testing of the core (docs/testing.md): `npm run mutation` runs
 * every folder below, one after another (scripts/mutation.mjs);
 * `npm run mutation -- core` one of them. Each folder keeps its own
 * incremental report, so a later run only tests the mutants whose code or
 * covering tests changed.
 */

/** The folders mutated, by the short name the runner takes. */
export const FOLDERS = ['protocol', 'broker', 'bridge', 'core', 'transport'];

// Set by scripts/mutation.mjs; unset, every folder at once into one report.
const folder = process.env.SWITCHBOARD_MUTATE;
const tag = folder ?? 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
const config = {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts', related: true },
  coverageAnalysis: 'perTest',
  mutate: (folder ? [folder] : FOLDERS).map((f) => `src/${f}/**/*.ts`),
  // A 2-core machine shared with other suites.
  concurrency: 2,
  incremental: true,
  incrementalFile: `reports/mutation/incremental-${tag}.json`,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true },
  htmlReporter: { fileName: `reports/mutation/${tag}.html` },
  jsonReporter: { fileName: `reports/mutation/${tag}.json` },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['dist', 'bench/results', 'reports', 'test-output', 'coverage', '.stryker-tmp'],
  thresholds: { high: 90, low: 85, break: null },
};

export default config;
