import { defineConfig } from 'vitest/config';

const E2E = ['tests/integration/**/*.test.ts', 'tests/browser/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 180_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/**/*.test.ts'], exclude: E2E },
      },
      {
        // Against the real, built server with the demo corpus (started once in global setup).
        extends: true,
        test: { name: 'e2e', include: E2E, globalSetup: ['tests/helpers/global-setup.ts'], fileParallelism: false },
      },
    ],
  },
});
