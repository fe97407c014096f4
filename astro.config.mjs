// @ts-check
import { defineConfig } from 'astro/config';
import node from '@astrojs/node';
import preact from '@astrojs/preact';

// Server output: every page is rendered per request (the archive is private, nothing is prerendered).
// Runtime settings (host, port, data directory, base URL, backends) come from the environment at
// start-up through src/lib/config.ts, never from build-time variables, so one build runs anywhere.
export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  integrations: [preact()],
  security: { checkOrigin: true },
  server: { host: '127.0.0.1' },
  vite: {
    ssr: { external: ['sharp', 'exceljs', '@elastic/elasticsearch', '@aws-sdk/client-s3'] },
  },
});
