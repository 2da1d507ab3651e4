import { defineConfig } from 'vitest/config';

// The tests Stryker runs against each mutant (stryker.config.mjs,
// docs/testing.md): the unit tests only, so that a mutant costs milliseconds
// of test time. They drive the call core, forwarding, relays and a bridge
// half's registry watcher through the in-memory fakes of
// test/support/memory-site.ts; no nats-server is started. Files share one
// module graph (no isolation): each mutant's run then skips most of the
// start-up cost, and the unit tests pass that way too.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 20_000,
    allowOnly: false,
    isolate: false,
  },
});
