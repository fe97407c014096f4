/**
 * A stand-alone IIIF image server process: `ImageServer` behind the plain node:http adapter
 * (src/lib/images/http.ts), without the store or Astro. Used by the hostile-input test, the image
 * benchmark (bench/images/run.ts) and for running the IIIF validator locally.
 *
 *   node tests/helpers/image-server.ts --root DIR [--port 0] [--cache DIR] [--cache-mb 2048]
 *        [--no-render-cache] [--memory-cache-mb 64] [--no-passthrough] [--no-pyramids]
 *        [--renders N] [--queue 64] [--memory-mb 512] [--map id=relative/file ...]
 *        [--lookup-ms N] [--levels open,members]
 *
 * --lookup-ms: every identifier lookup (the store's getImage in the archive) takes N ms more, a
 * bounded delay standing for a store across the network; lookups are counted in `stats`.
 * --levels: every request carries these user levels and the server enforces access (records are
 * `open`), as behind the gate.
 *
 * Without --map, every file directly below --root is served under its name, and under its name
 * without extension when no other file shares it.
 * Prints `listening <url>` when ready. Extra ImageServer options come from the environment the
 * same way the app reads them (IIIF_MAX_WIDTH, ...), via loadConfig().
 */
import http from 'node:http';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/lib/config.ts';
import { isAccessLevel, type AccessLevel } from '../../src/lib/domain.ts';
import { handleIiifRequest } from '../../src/lib/images/http.ts';
import { ImageServer } from '../../src/lib/images/server.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    port: { type: 'string', default: '0' },
    cache: { type: 'string' },
    'cache-mb': { type: 'string', default: '2048' },
    'no-render-cache': { type: 'boolean', default: false },
    renders: { type: 'string' },
    queue: { type: 'string', default: '64' },
    'memory-mb': { type: 'string', default: '512' },
    'memory-cache-mb': { type: 'string', default: '64' },
    'no-passthrough': { type: 'boolean', default: false },
    'no-pyramids': { type: 'boolean', default: false },
    map: { type: 'string', multiple: true, default: [] },
    'lookup-ms': { type: 'string', default: '0' },
    levels: { type: 'string' },
  },
});
if (!values.root) {
  console.error('usage: node tests/helpers/image-server.ts --root DIR [--port N] [--cache DIR] [--map id=file ...]');
  process.exit(2);
}
const root = path.resolve(values.root);
const files = new Map<string, string>();
if (values.map.length === 0) {
  const names = readdirSync(root, { withFileTypes: true })
    .filter((f) => f.isFile() || f.isSymbolicLink())
    .map((f) => f.name)
    .sort();
  // The stem when only one file has it (noise.tif and noise.jpg: only by their full names).
  const stems = new Map<string, number>();
  for (const n of names) stems.set(n.replace(/\.[^.]+$/, ''), (stems.get(n.replace(/\.[^.]+$/, '')) ?? 0) + 1);
  for (const n of names) {
    files.set(n, n);
    const stem = n.replace(/\.[^.]+$/, '');
    if (stems.get(stem) === 1) files.set(stem, n);
  }
} else {
  for (const m of values.map) {
    const eq = m.indexOf('=');
    files.set(m.slice(0, eq), m.slice(eq + 1));
  }
}

const cfg = loadConfig({ ...process.env, DATA_DIR: path.dirname(root) });
let server: ImageServer;
const lookupMs = Math.min(1000, Math.max(0, Number(values['lookup-ms']) || 0));
const levels = values.levels ? (values.levels.split(',').filter(isAccessLevel) as AccessLevel[]) : undefined;
let lookups = 0;

const httpServer = http.createServer((req, res) => {
  void handleIiifRequest(req, res, { server, ...(levels ? { levels: () => levels } : {}) }).then((handled) => {
    if (!handled) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
    }
  });
});
httpServer.keepAliveTimeout = 5_000;
httpServer.listen(Number(values.port), '127.0.0.1', () => {
  const addr = httpServer.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : values.port}`;
  server = new ImageServer({
    root,
    maxWidth: cfg.images.maxWidth,
    maxHeight: cfg.images.maxHeight,
    maxArea: cfg.images.maxArea,
    publicBaseUrl: base,
    ...(values.cache ? { cacheDir: values.cache, cacheMaxBytes: Number(values['cache-mb']) * 2 ** 20 } : {}),
    cacheRenders: !values['no-render-cache'],
    memoryCacheBytes: values['no-render-cache'] ? 0 : Number(values['memory-cache-mb']) * 2 ** 20,
    passthrough: !values['no-passthrough'],
    pyramids: !values['no-pyramids'],
    queue: {
      concurrency: values.renders ? Number(values.renders) : os.availableParallelism(),
      maxWaiting: Number(values.queue),
      memoryBudget: Number(values['memory-mb']) * 2 ** 20,
    },
    lookup: async (id) => {
      lookups++;
      if (lookupMs > 0) await new Promise((r) => setTimeout(r, lookupMs));
      return files.has(id) ? { file: files.get(id)!, access: 'open' } : null;
    },
    enforceAccess: levels !== undefined,
  });
  console.log(`listening ${base}`);
});
// The benchmark asks for counters and the peak RSS here.
process.on('message', (m) => {
  if (m === 'stats') process.send?.({ stats: { ...server?.stats(), lookups }, memory: process.memoryUsage() });
});
const stop = () => {
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
