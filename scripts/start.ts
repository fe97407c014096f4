/**
 * `npm start`: validate the configuration, build if needed, create and load the demo corpus when
 * the store is empty, then serve — one Node process, bound to loopback unless configured.
 */
import './malloc-arena.ts'; // first: may restart the process with MALLOC_ARENA_MAX=2 (small-VPS default)
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../src/lib/config.ts';
import { openStore, StoreUnavailableError } from '../src/lib/search/store.ts';
import { access } from '../src/lib/runtime.ts';
import { guard, userOf } from '../src/lib/access/node.ts';
import { ensureBuilt } from './build-stamp.ts';

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

// A store that cannot be reached (e.g. Elasticsearch down) does not stop the server: pages answer
// 503 with the reason and /readyz says what is wrong, until the store answers again.
const store = await openStore(cfg);
let count: number | undefined;
try {
  count = await store.count();
} catch (e) {
  if (!(e instanceof StoreUnavailableError)) throw e;
  console.error(`archive: ${e.message}; serving anyway (pages answer 503 until it is back)`);
} finally {
  await store.close();
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
// The access gate runs first, on the raw request, for every path — including the files the adapter
// serves before Astro's middleware would run (src/lib/access/node.ts, docs/access.md).
const gate = access();
console.log(await gate.warmUp());
// IIIF Image API requests take a fast path past Astro's request pipeline (tiles are most of the
// traffic): the same access gate and per-item rules (iiifAuthorizer), the same image server
// instance as the Astro route, which remains the fallback (src/lib/images/http.ts).
const { handleIiifRequest, writeIiifResponse, withHeaders } = await import('../src/lib/images/http.ts');
const { iiifAuthorizer } = await import('../src/lib/access/node.ts');
const { imageServer, deniedImageServer, rawStore } = await import('../src/lib/runtime.ts');
const iiifHeaders = (req: http.IncomingMessage) => ({
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Robots-Tag': 'noindex, nofollow',
  ...gate.corsFor(req.headers.origin),
});
// An image the user may not see is answered as a missing one — with the same headers (CORS for an
// allowed IIIF client origin included), so the two stay indistinguishable.
const authorize = iiifAuthorizer(gate, async (id) => (await rawStore()).getImage(id), deniedImageServer, (res, answer, withBody) =>
  writeIiifResponse(res, { ...answer, headers: withHeaders(answer.headers, iiifHeaders(res.req)) }, withBody),
);
const handler: http.RequestListener = (req, res) => {
  handleIiifRequest(req, res, { server: imageServer, authorize, headers: iiifHeaders }).then(
    (handled) => {
      if (!handled) guard(gate, req, res, astro);
    },
    (e: Error) => {
      console.error(JSON.stringify({ t: new Date().toISOString(), level: 'error', url: req.url, message: e.message, stack: e.stack }));
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error (logged)', status: 500 }));
    },
  );
};

/** One JSON line per request: time, method, URL, status, duration, bytes. */
function logged(req: http.IncomingMessage, res: http.ServerResponse) {
  const started = performance.now();
  res.on('finish', () => {
    const line = {
      t: new Date().toISOString(),
      method: req.method,
      url: (req.url ?? '').slice(0, 300),
      status: res.statusCode,
      ms: Math.round((performance.now() - started) * 10) / 10,
      bytes: Number(res.getHeader('content-length') ?? 0) || undefined,
      user: userOf(req)?.id,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
  });
  handler(req, res);
}

const server = http.createServer({ requestTimeout: 120_000, headersTimeout: 30_000 }, cfg.logRequests ? logged : handler);
server.keepAliveTimeout = 5_000;
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
  console.log(`${signal}: finishing in-flight requests…`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 10_000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
