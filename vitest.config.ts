import { defineConfig } from 'vitest/config';

const E2E = ['tests/integration/**/*.test.ts', 'tests/browser/**/*.test.ts', 'tests/faults/**/*.e2e.test.ts'];
const SECURITY = ['tests/security/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 600_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/**/*.test.ts'], exclude: [...E2E, ...SECURITY] },
      },
      {
        // Against the real, built server with the demo corpus (started once in global setup).
        extends: true,
        // Browser flows: each waits on states (polls), and the test's timeout only guards against a
        // hang, so it is generous enough for a machine loaded by other work.
        test: { name: 'e2e', include: E2E, globalSetup: ['tests/helpers/global-setup.ts'], fileParallelism: false, testTimeout: 300_000 },
      },
      {
        // The access gate (tests/security): each file starts its own servers in the mode it tests
        // (cloudflare with a loopback JWKS, header, none on a public address), one file at a time.
        extends: true,
        test: { name: 'security', include: SECURITY, fileParallelism: false, testTimeout: 180_000 },
      },
    ],
  },
});
