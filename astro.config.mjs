// @ts-check
import { defineConfig } from 'astro/config';
import node from '@astrojs/node';
import preact from '@astrojs/preact';
import { archiveFront } from './src/lib/front/dev.ts';
import { CSP_DIRECTIVES } from './src/lib/http/headers.ts';

// Server output: every page is rendered per request (the archive is private, nothing is prerendered).
// Runtime settings (host, port, data directory, base URL, backends) come from the environment at
// start-up through src/lib/config.ts, never from build-time variables, so one build runs anywhere.
export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  // archiveFront: `astro dev` serves through the same node:http front as `npm start` (canonical
  // URL, access gate, the IIIF adapter; src/lib/front/).
  integrations: [preact(), archiveFront()],
  // csp: Astro hashes the scripts it inlines (island hydration) into each page's
  // Content-Security-Policy header; the other directives are the archive's page policy.
  security: {
    // Cross-site POSTs are refused by src/middleware.ts against PUBLIC_BASE_URL's origin: Astro's
    // own check compares with the http:// URL it sees behind a TLS-terminating proxy and would
    // refuse the archive's own https forms.
    checkOrigin: false,
    csp: {
      directives: CSP_DIRECTIVES,
      scriptDirective: { resources: ["'self'"] },
      styleDirective: { resources: ["'self'", "'unsafe-inline'"] },
    },
  },
  server: { host: '127.0.0.1' },
  vite: {
    ssr: { external: ['sharp', 'exceljs', '@elastic/elasticsearch', '@aws-sdk/client-s3'] },
  },
});
