import { defineConfig } from 'vitest/config';

// Integration tests start real nats-server processes; on a 2-core machine a few
// files at a time keeps them from starving each other's timers.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    allowOnly: false,
  },
});
