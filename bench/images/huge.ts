/**
 * The huge-image matrix (issue 13): peak RSS per request on sources without (or with) random access.
 *
 *   node bench/images/huge.ts [--scale 1] [--dir <tmp>] [--json]      (npm run bench:images:huge)
 *
 * Runs with the settings `npm start` applies (scripts/memory-settings.ts). Generates, at `scale` of
 * the real case: a 79508 x 3082 PNG and the same as a tiled pyramid TIFF, and a 65500-wide plain
 * JPEG. Each gets an empty derivative cache and, one after the other: info.json, full/max,
 * full/max rotated 90, max as png/webp/tif/gif, every size info.json lists, v2 full/full (its
 * redirect) and v2 full/max. Per request: status, time, peak RSS of the process during it (VmHWM
 * reset before each) and RSS after; at the end the RSS once idle. `--json` prints the rows as JSON
 * (tests/images/huge-matrix.test.ts runs it at reduced scale).
 */
import '../../scripts/memory-settings.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import sharp from 'sharp';
import { ImageServer } from '../../src/lib/images/server.ts';

const { values: opt } = parseArgs({ options: { scale: { type: 'string', default: '1' }, dir: { type: 'string' }, json: { type: 'boolean', default: false } } });
const scale = Number(opt.scale);
if (!(scale > 0 && scale <= 1)) throw new Error('--scale must be in (0, 1]');
const even = (n: number) => Math.max(2, 2 * Math.round((n * scale) / 2));
const W = even(79508);
const H = even(3082);
const JW = even(65500);
const JH = even(2540);
const dir = opt.dir ?? mkdtempSync(path.join(os.tmpdir(), 'bench-huge-'));
const log = (m: string) => process.stderr.write(`[bench:huge] ${m}\n`);

const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const resetPeak = () => writeFileSync('/proc/self/clear_refs', '5');

const halves = (w: number, h: number) =>
  sharp({ create: { width: w / 2, height: h, channels: 3, background: { r: 200, g: 30, b: 30 } } }).extend({ right: w / 2, background: { r: 20, g: 60, b: 200 } });

const sources: Array<{ id: string; file: string; what: string; make: () => Promise<unknown> }> = [
  { id: 'png', file: 'huge.png', what: `PNG ${W}×${H}`, make: () => halves(W, H).png({ compressionLevel: 1 }).toFile(path.join(dir, 'huge.png')) },
  {
    id: 'tiled',
    file: 'huge-tiled.tif',
    what: `tiled pyramid TIFF ${W}×${H}`,
    make: () => halves(W, H).tiff({ tile: true, pyramid: true, tileWidth: 512, tileHeight: 512, compression: 'deflate' }).toFile(path.join(dir, 'huge-tiled.tif')),
  },
  { id: 'jpeg', file: 'huge.jpg', what: `JPEG ${JW}×${JH}`, make: () => halves(JW, JH).jpeg({ quality: 85 }).toFile(path.join(dir, 'huge.jpg')) },
];

interface Row {
  source: string;
  request: string;
  status: number;
  ms: number;
  peakMb: number;
  afterMb: number;
}

const rows: Row[] = [];
// What the servers' memory caches hold on purpose (IIIF_MEMORY_CACHE_MB each), apart from what
// would be a leak: the servers are kept until the end, then released and collected.
const servers: ImageServer[] = [];
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
try {
  for (const s of sources) {
    log(`generating ${s.what}…`);
    await s.make();
  }
  const idle0 = rss();
  for (const s of sources) {
    const server = new ImageServer({
      root: dir,
      lookup: async (id) => (id === s.id ? { file: s.file } : null),
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 100_000_000,
      publicBaseUrl: 'http://h',
      cacheDir: path.join(dir, `cache-${s.id}`),
      log: (m, e) => log(`${m} ${e instanceof Error ? e.message : ''}`),
    });
    servers.push(server);
    const info = JSON.parse(String((await server.handle(`3/${s.id}/info.json`)).body)) as { sizes: Array<{ width: number; height: number }> };
    const requests = [
      `3/${s.id}/full/max/0/default.jpg`,
      `3/${s.id}/full/max/90/default.jpg`,
      `3/${s.id}/full/max/0/default.png`,
      `3/${s.id}/full/max/0/default.webp`,
      `3/${s.id}/full/max/0/default.tif`,
      `3/${s.id}/full/max/0/default.gif`,
      ...info.sizes.map((z) => `3/${s.id}/full/${z.width},${z.height}/0/default.jpg`),
      `3/${s.id}/0,0,512,512/512,512/0/default.jpg`,
      `2/${s.id}/full/full/0/default.jpg`,
      `2/${s.id}/full/max/0/default.jpg`,
    ];
    for (const p of requests) {
      resetPeak();
      const t0 = performance.now();
      const r = await server.handle(p);
      if (r.file) {
        await r.file.handle.stat();
        await r.file.handle.close();
      }
      rows.push({ source: s.what, request: p.slice(p.indexOf('/', 2) + 1), status: r.status, ms: performance.now() - t0, peakMb: hwm(), afterMb: rss() });
      log(`${s.id} ${p}: ${r.status}, peak ${rows.at(-1)!.peakMb.toFixed(0)} MB`);
    }
  }
  // Idle again: the allocator gives freed memory back.
  await new Promise((r) => setTimeout(r, 500));
  const idle1 = rss();
  const cachedMb = servers.reduce((n, sv) => n + sv.stats().memoryCacheBytes, 0) / 1024 / 1024;
  const serverCount = servers.length;
  // The servers released (their caches with them) and the heap collected: what is left is retained.
  servers.length = 0;
  gc();
  await new Promise((r) => setTimeout(r, 500));
  const idle2 = rss();
  if (opt.json) {
    console.log(JSON.stringify({ scale, idleBeforeMb: idle0, idleAfterMb: idle1, cachedMb, idleReleasedMb: idle2, rows }));
  } else {
    const head = ['Source', 'Request', 'Status', 'ms', 'Peak RSS MB', 'RSS after MB'];
    const body = rows.map((r) => [r.source, r.request, String(r.status), r.ms.toFixed(0), r.peakMb.toFixed(0), r.afterMb.toFixed(0)]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(`\nHuge-image matrix at scale ${scale} (goal: every request peaks < 400 MB RSS), MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '-'}, MALLOC_MMAP_THRESHOLD_=${process.env.MALLOC_MMAP_THRESHOLD_ ?? '-'}, Node ${process.versions.node}`);
    console.log(line(head));
    console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
    for (const b of body) console.log(line(b));
    const worst = Math.max(...rows.map((r) => r.peakMb));
    console.log(`\nhighest peak ${worst.toFixed(0)} MB (${worst < 400 ? 'met' : 'MISSED'}); idle RSS ${idle0.toFixed(0)} MB before, ${idle1.toFixed(0)} MB after with the ${serverCount} servers' memory caches holding ${cachedMb.toFixed(0)} MB of renders, ${idle2.toFixed(0)} MB once the servers are released`);
  }
} finally {
  if (!opt.dir) rmSync(dir, { recursive: true, force: true });
}
