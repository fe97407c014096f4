/**
 * Vitest global setup: one archive server with the demo corpus for the integration and browser
 * suites (the `e2e` project in vitest.config.ts), shared through `inject('baseUrl')`.
 */
import type { TestProject } from 'vitest/node';
import { startServer, type RunningServer } from './server.ts';

let server: RunningServer | undefined;

export async function setup(project: TestProject) {
  // A build and the demo corpus on a cold, loaded machine can take minutes: wait on the server's own
  // "ready" line, not on a short clock.
  server = await startServer({}, { timeoutMs: 900_000 });
  project.provide('baseUrl', server.baseUrl);
  project.provide('dataDir', server.dataDir);
}

export async function teardown() {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
    dataDir: string;
  }
}
