import { defineConfig } from 'vitest/config';

// Integration tests start real nats-server processes; on a 2-core machine a few
// files at a time keeps them from starving each other's timers. The Docker
// tests (test/docker) run after them, one file at a time: each brings up
// containers (a whole mesh, at times), and they skip, saying what is missing,
// where no engine answers. The fault suite (test/faults) runs alone, then the
// scale project (test/scale), last.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    allowOnly: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          // Five processes under a stream of hostile frames: alone, so no
          // other test's timers starve meanwhile.
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          // Network namespaces, nats-servers and a dozen processes per
          // scenario, each timed: alone, one file at a time. Skips unless root.
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 3 },
        },
      },
      {
        extends: true,
        test: {
          // The scale harness in a reduced size: many sites in one process,
          // so alone, last.
          name: 'scale',
          include: ['test/scale/**/*.test.ts'],
          globalSetup: ['test/scale/build-harness.ts'],
          fileParallelism: false,
          testTimeout: 100_000,
          sequence: { groupOrder: 4 },
        },
      },
      {
        extends: true,
        test: {
          name: 'docker',
          include: ['test/docker/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
