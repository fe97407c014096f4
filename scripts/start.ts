/**
 * `npm start`: validate the configuration, build if needed, create and load the demo corpus when
 * the store is empty, then serve — one Node process, bound to loopback unless configured.
 */
import './memory-settings.ts'; // first: may restart the process with the small-VPS memory settings (malloc, V8 heap)
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../src/lib/config.ts';
import { openStore } from '../src/lib/search/open.ts';
import { StoreUnavailableError } from '../src/lib/search/store.ts';
import { access } from '../src/lib/runtime.ts';
import { ensureBuilt } from './build-stamp.ts';
import { recordIntegrity } from '../src/lib/health.ts';
import { ResponseDeadlines } from '../src/lib/deadline.ts';

const root = path.resolve(import.meta.dirname, '..');

function fail(message: string, code = 2): never {
  console.error(`archive: ${message}`);
  process.exit(code);
}

let cfg: Config;
try {
  cfg = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) fail(`configuration error: ${e.message}`);
  throw e;
}

if (!ensureBuilt(root)) fail('the build failed (see above)', 1);

// A store that cannot be opened or reached (Elasticsearch down or misbehaving, SQLite locked,
// unreadable or corrupt) does not stop the server: pages answer 503 with the reason and /readyz
// says what is wrong, until the store answers again (nothing failed is kept: src/lib/runtime.ts).
// Start-up never exits for it (under systemd that would be a restart loop).
let count: number | undefined;
try {
  const store = await openStore(cfg);
  try {
    count = await store.count();
    // The embedded store's pages are all read once (PRAGMA quick_check): a corrupted page is named
    // in the log and in /readyz now, not found by visitors later.
    const checkable = store as { quickCheck?: () => Promise<string[]> };
    if (typeof checkable.quickCheck === 'function') {
      const t0 = performance.now();
      const problems = await checkable.quickCheck();
      recordIntegrity({ problems, at: new Date() });
      if (problems.length) console.error(`archive: the integrity check of ${cfg.store.sqlitePath} found problems: ${problems.slice(0, 5).join('; ')}`);
      else console.log(`Integrity check of the store: ok (${Math.round(performance.now() - t0)} ms)`);
    }
  } finally {
    await store.close().catch(() => {});
  }
} catch (e) {
  const why = e instanceof StoreUnavailableError ? e.message : `the search store cannot be used: ${(e as Error)?.message ?? String(e)}`;
  console.error(`archive: ${why.split('\n')[0]}; serving anyway (pages answer 503 until it is back)`);
}
if (count === 0 && cfg.demo) {
  console.log(`The store at ${cfg.store.sqlitePath} is empty: creating the demo corpus (DEMO=false to skip)…`);
  const r = spawnSync(process.execPath, [path.join(root, 'src', 'cli.ts'), 'demo'], { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) fail('creating the demo corpus failed (see above)', 1);
} else if (count === 0) {
  console.log('The store is empty. Load a delivery with the ingest CLI (see README) or start with DEMO=true.');
}

process.env.ASTRO_NODE_AUTOSTART = 'disabled';
process.env.ASTRO_NODE_LOGGING = 'disabled';
const entry = await import(pathToFileURL(path.join(root, 'dist', 'server', 'entry.mjs')).href);
const astro = entry.handler as http.RequestListener;
// Every request takes the one road of src/lib/front/front.ts: the canonical request URL, the access
// gate (also for the files the adapter serves before Astro's middleware would run), the IIIF Image
// API adapter for /iiif/, then Astro with exactly the canonical URL (docs/access.md).
const gate = access();
console.log(await gate.warmUp());
const { archiveListener } = await import('../src/lib/front/serve.ts');
const { ALLOWED_METHODS } = await import('../src/lib/front/front.ts');
const handler = archiveListener(astro);

// Every response has a deadline (src/lib/deadline.ts); the requests in flight are known at shutdown.
const deadlines = new ResponseDeadlines();
const server = http.createServer({ requestTimeout: 120_000, headersTimeout: 30_000 }, deadlines.wrap(handler));
// An idle keep-alive connection is closed by the client or proxy first, never by us: a proxy that
// reuses a connection the origin has just closed gets "other side closed" (a failed tile or page).
// cloudflared keeps idle origin connections 90 s, nginx's upstream keepalive 60 s, Node's fetch 4 s.
const KEEP_ALIVE_TIMEOUT_MS = 95_000;
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
// CONNECT never reaches a request listener: answer it here (405), instead of dropping the socket.
server.on('connect', (_req: http.IncomingMessage, socket: import('node:net').Socket) => {
  socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS.join(', ')}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
});
server.on('error', (e: NodeJS.ErrnoException) => {
  fail(e.code === 'EADDRINUSE' ? `port ${cfg.port} on ${cfg.host} is already in use (set PORT)` : `cannot listen: ${e.message}`, 1);
});
server.listen(cfg.port, cfg.host, () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  console.log(`Archive ready at http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}/ (public base URL ${cfg.publicBaseUrl})`);
});

let closing = false;
function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  console.log(`${signal}: finishing ${deadlines.inFlight().length} in-flight request(s)…`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    // Requests still running after 10 s are cut: say which, so nobody wonders about a lost answer.
    const cut = deadlines.inFlight();
    for (const r of cut) {
      console.error(JSON.stringify({ t: new Date().toISOString(), level: 'warn', event: 'shutdown_cut', method: r.method, url: r.url, ms: Math.round(performance.now() - r.started) }));
    }
    console.error(`${signal}: ${cut.length} request(s) cut after 10 s`);
    process.exit(0);
  }, 10_000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
