import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Servers spawned by e2e tests and PGlite instances are heavy; two cores on CI machines.
    maxWorkers: 2,
    env: { LOG_LEVEL: 'silent' },
  },
});
