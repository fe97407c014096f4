/**
 * The image server benchmark: one command, one table.
 *
 *   node bench/images/run.ts [--dir /tmp/iiif-bench] [--requests 2000] [--seconds 15] [--rounds 3]
 *                            [--concurrency 8]
 *
 * Installs its peers (Debian: iipimage-server, lighttpd, nginx-light, libvips-tools) when missing,
 * generates its images once (fixtures.ts), and runs, over loopback only, with the same tile URL
 * lists and the same concurrency for every server, each load bounded in requests and seconds:
 *
 *  P1  uncached 512 px tiles/s from a 6000 x 4000 pyramid TIFF (random tiles over five scale
 *      factors): ours (render cache off) vs IIPImage (Debian, two FastCGI processes behind
 *      lighttpd, no tile cache, same JPEG quality); ours also without the stored-tile passthrough
 *      (every tile decoded and encoded), for transparency.
 *  P2  the same tiles from a 6000 x 4000 plain JPEG: first touch (one pass; includes building the
 *      pyramid derivative) and warm (render cache off: tiles from the derivative); and, for
 *      comparison, without a derivative (every tile from the JPEG).
 *  P3  cached tiles/s: ours after a first pass (memory cache; and disk cache with the memory
 *      cache and passthrough off) vs nginx serving the same bytes as static files.
 *  P9  `full/max/0/default.jpg` of a 79508 x 3082 pyramid TIFF: time and the server's peak RSS.
 *  A1  access costs nothing per warm tile: cached tiles/s (memory cache) with a store that costs
 *      1 ms per lookup and every request carrying the user's levels (access enforced), beside the
 *      same server without either, alternated over the rounds; and store lookups per warm tile.
 *      `--access-only` runs just this case (no peers to install).
 *
 * Servers run one at a time (the machine has few cores); P1 and P3 alternate ours and the peer
 * over several rounds and report medians, which keeps background noise from favouring either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureFixtures } from './fixtures.ts';
import { runLoad, runWrk, tileList, wrkAvailable, type LoadResult } from './load.ts';
import { ensurePackages, startIip, startNginx } from './peers.ts';

const { values: opt } = parseArgs({
  options: {
    dir: { type: 'string', default: path.join(os.tmpdir(), 'iiif-bench') },
    requests: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    'node-load': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    'access-only': { type: 'boolean', default: false },
  },
});
const DIR = path.resolve(opt.dir);
const N = Number(opt.requests);
const SECONDS = Number(opt.seconds);
const ROUNDS = Math.max(1, Number(opt.rounds));
const C = Number(opt.concurrency);
let USE_WRK = false;
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

interface Ours {
  base: string;
  child: ChildProcess;
  stats: () => Promise<{ stats: Record<string, unknown>; memory: NodeJS.MemoryUsage }>;
  stop: () => Promise<void>;
}

/** Our server in its own process (tests/helpers/image-server.ts). */
async function startOurs(imageDir: string, args: string[] = []): Promise<Ours> {
  const child = spawn(process.execPath, [path.join(ROOT, 'tests/helpers/image-server.ts'), '--root', imageDir, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env },
  });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('our server did not start')), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`our server exited (${code})`)));
  });
  const stats = () =>
    new Promise<{ stats: Record<string, unknown>; memory: NodeJS.MemoryUsage }>((resolve) => {
      child.once('message', (m) => resolve(m as { stats: Record<string, unknown>; memory: NodeJS.MemoryUsage }));
      child.send('stats');
    });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  return { base, child, stats, stop };
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function check(r: LoadResult, what: string): LoadResult {
  const bad = Object.entries(r.statuses).filter(([s]) => s !== '200');
  if (bad.length > 0 || r.errors > 0) log(`WARNING ${what}: statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}`);
  return r;
}

/**
 * Throughput over `paths` at concurrency C: a warm-up, then wrk for SECONDS (or, without wrk or
 * for a single pass, the Node generator bounded by count and time).
 */
async function measure(base: string, paths: string[], what: string, opts: { warm?: number; cycle?: boolean; max?: number } = {}): Promise<LoadResult> {
  if (opts.warm) await runLoad({ base, paths, concurrency: C, maxRequests: opts.warm, maxSeconds: SECONDS, cycle: true });
  if (USE_WRK && opts.cycle !== false) return check(runWrk({ base, paths, concurrency: C, seconds: SECONDS, workDir: path.join(DIR, 'run', 'wrk') }), what);
  return check(await runLoad({ base, paths, concurrency: C, maxRequests: opts.max ?? N, maxSeconds: SECONDS, cycle: opts.cycle ?? true }), what);
}

/**
 * A1: warm tiles/s from the memory cache, plain vs a 1 ms store with access enforced (alternated,
 * medians), and the store lookups each warm tile cost.
 */
async function accessCase(imageDir: string, paths: string[], args: string[], cacheDir: string): Promise<{ rows: string[][]; detail: string }> {
  const plain: number[] = [];
  const slow: number[] = [];
  let perTile = NaN;
  for (let round = 0; round < ROUNDS; round++) {
    log(`A1 round ${round + 1}: ours, memory cache, no store cost`);
    const a = await startOurs(imageDir, ['--cache', cacheDir, ...args]);
    plain.push((await measure(a.base, paths, 'A1 plain', { warm: paths.length * 2 })).perSecond);
    await a.stop();
    log(`A1 round ${round + 1}: ours, memory cache, 1 ms store, access enforced`);
    const b = await startOurs(imageDir, ['--cache', cacheDir, '--lookup-ms', '1', '--levels', 'open', ...args]);
    const before = Number((await b.stats()).stats.lookups ?? 0);
    await runLoad({ base: b.base, paths, concurrency: C, maxRequests: paths.length * 2, maxSeconds: SECONDS, cycle: true });
    const warmed = Number((await b.stats()).stats.lookups ?? 0);
    const r = await measure(b.base, paths, 'A1 1 ms store');
    const after = Number((await b.stats()).stats.lookups ?? 0);
    slow.push(r.perSecond);
    perTile = r.requests > 0 ? (after - warmed) / r.requests : NaN;
    log(`A1 round ${round + 1}: ${warmed - before} lookups while warming, ${after - warmed} during ${r.requests} warm requests`);
    await b.stop();
  }
  const P = median(plain);
  const S = median(slow);
  return {
    rows: [
      ['A1 cached tiles/s, 1 ms store per lookup, access enforced', fmt(S), `no store cost ${fmt(P)}`, fmt(S / P, 2), '≥ 0.9'],
      ['A1 store lookups per warm tile (last round)', fmt(perTile, 4), '(one per image per source TTL)', '', '≈ 0'],
    ],
    detail: `A1 plain ${plain.map((x) => fmt(x)).join('/')}, 1 ms store ${slow.map((x) => fmt(x)).join('/')}`,
  };
}

function printTable(rows: string[][], detail: string): void {
  const head = ['Case', 'Ours', 'Peer / detail', 'Ratio', 'Goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nIIIF image server benchmark — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.versions.node}, ` +
      `concurrency ${C}, load by ${USE_WRK ? `wrk, ${SECONDS} s a measurement` : 'the Node generator'}, ${ROUNDS} rounds (medians), load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
  console.log(line(head));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of rows) console.log(line(r));
  console.log(`\nrounds: ${detail}`);
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('the benchmark needs Linux (Debian packages, /proc)');
  if (!opt['access-only']) ensurePackages(log);
  USE_WRK = !opt['node-load'] && wrkAvailable();
  mkdirSync(DIR, { recursive: true });
  const fx = await ensureFixtures(path.join(DIR, 'img'), log);
  const tiles = tileList(6000, 4000, 512, [1, 2, 4, 8, 16], 1000);
  const NOISE = ['--map', 'noise=noise.tif'];
  const ours = (id: string) => tiles.map((t) => `/iiif/3/${id}/${t}`);
  const rows: string[][] = [];
  if (opt['access-only']) {
    const a1 = await accessCase(fx.dir, ours('noise'), NOISE, path.join(DIR, 'run', 'a1-cache'));
    printTable(a1.rows, a1.detail);
    return;
  }
  const work = (name: string) => {
    const d = path.join(DIR, 'run', name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    return d;
  };
  log(`${tiles.length} distinct tiles, concurrency ${C}, ${USE_WRK ? `wrk for ${SECONDS} s` : `up to ${N} requests or ${SECONDS} s`} a measurement, ${ROUNDS} rounds`);

  // ---- P1: uncached tiles from a pyramid TIFF, ours vs IIPImage -------------------------------
  const p1 = { ours: [] as number[], raw: [] as number[], iip: [] as number[], oursRss: 0 };
  const iipPaths = tiles.map((t) => `/fcgi-bin/iipsrv.fcgi?IIIF=noise.tif/${t}`);
  for (let round = 0; round < ROUNDS; round++) {
    log(`P1 round ${round + 1}: ours`);
    const a = await startOurs(fx.dir, ['--no-render-cache', ...NOISE]);
    p1.ours.push((await measure(a.base, ours('noise'), 'P1 ours', { warm: 200 })).perSecond);
    p1.oursRss = Math.max(p1.oursRss, peakRssMb(a.child.pid!));
    await a.stop();
    log(`P1 round ${round + 1}: ours without passthrough`);
    const b = await startOurs(fx.dir, ['--no-render-cache', '--no-passthrough', ...NOISE]);
    p1.raw.push((await measure(b.base, ours('noise'), 'P1 ours raw', { warm: 200 })).perSecond);
    await b.stop();
    log(`P1 round ${round + 1}: IIPImage`);
    const iip = await startIip(work('iip'), fx.dir, { procs: 2, jpegQuality: 85 });
    p1.iip.push((await measure(iip.base, iipPaths, 'P1 iip', { warm: 200 })).perSecond);
    await iip.stop();
  }
  const P1 = median(p1.ours);
  const IIP = median(p1.iip);
  rows.push(['P1 uncached 512 px tiles/s, 6000×4000 pyramid TIFF', fmt(P1), `IIPImage ${fmt(IIP)}`, fmt(P1 / IIP, 2), '≥ 1.0']);
  rows.push(['P1′ same, every tile decoded + encoded (no passthrough)', fmt(median(p1.raw)), `IIPImage ${fmt(IIP)}`, fmt(median(p1.raw) / IIP, 2), '(info)']);

  // ---- P2: plain JPEG, first touch and warm ---------------------------------------------------
  log('P2: plain JPEG, first touch (pyramid derivative built on the way)');
  const jpgDir = work('p2-img');
  symlinkSync(fx.noiseJpg, path.join(jpgDir, 'photo.jpg'));
  const c = await startOurs(jpgDir, ['--cache', work('p2-cache'), '--no-render-cache']);
  const first = await measure(c.base, ours('photo'), 'P2 first', { cycle: false, max: tiles.length });
  const builds = ((await c.stats()).stats.pyramidBuildsMs as number[]) ?? [];
  log('P2: warm');
  const warm: number[] = [];
  for (let round = 0; round < ROUNDS; round++) warm.push((await measure(c.base, ours('photo'), 'P2 warm')).perSecond);
  await c.stop();
  log('P2: without a derivative (every tile from the JPEG)');
  const d = await startOurs(jpgDir, ['--no-render-cache', '--no-pyramids']);
  const direct = await measure(d.base, ours('photo'), 'P2 direct', { warm: 16, max: Math.min(N, 400) });
  await d.stop();
  const W = median(warm);
  rows.push([
    'P2 6000×4000 plain JPEG, first touch (one pass, tiles/s)',
    fmt(first.perSecond),
    `build ${fmt(builds[0] ?? NaN)} ms`,
    fmt(first.perSecond / P1, 2),
    '(× P1)',
  ]);
  rows.push(['P2 same JPEG, warm (tiles from the derivative)', fmt(W), '', fmt(W / P1, 2), '≥ 0.5 × P1']);
  rows.push(['P2 same JPEG, no derivative (each tile from the JPEG)', fmt(direct.perSecond), '', fmt(direct.perSecond / P1, 2), '(info)']);

  // ---- P3: cached tiles, ours vs nginx static --------------------------------------------------
  log('P3: filling the caches and the nginx tree with the same bytes');
  const staticRoot = work('p3-static');
  const mem = await startOurs(fx.dir, ['--cache', work('p3-cache-mem'), ...NOISE]);
  await measure(mem.base, ours('noise'), 'P3 fill', { cycle: false, max: tiles.length });
  for (const p of ours('noise')) {
    const r = await fetch(mem.base + p);
    const file = path.join(staticRoot, p);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  }
  await mem.stop();
  const p3 = { mem: [] as number[], disk: [] as number[], nginx: [] as number[] };
  const diskCache = work('p3-cache-disk');
  for (let round = 0; round < ROUNDS; round++) {
    log(`P3 round ${round + 1}: ours, memory cache`);
    const m = await startOurs(fx.dir, ['--cache', path.join(DIR, 'run', 'p3-cache-mem'), ...NOISE]);
    p3.mem.push((await measure(m.base, ours('noise'), 'P3 mem', { warm: tiles.length * 2 })).perSecond);
    await m.stop();
    log(`P3 round ${round + 1}: ours, disk cache (memory cache and passthrough off)`);
    const k = await startOurs(fx.dir, ['--cache', diskCache, '--memory-cache-mb', '0', '--no-passthrough', ...NOISE]);
    p3.disk.push((await measure(k.base, ours('noise'), 'P3 disk', { warm: tiles.length * 2 })).perSecond);
    await k.stop();
    log(`P3 round ${round + 1}: nginx`);
    const ng = await startNginx(work('nginx'), staticRoot);
    p3.nginx.push((await measure(ng.base, ours('noise'), 'P3 nginx', { warm: tiles.length * 2 })).perSecond);
    await ng.stop();
  }
  const NG = median(p3.nginx);
  rows.push(['P3 cached tiles/s, memory cache', fmt(median(p3.mem)), `nginx ${fmt(NG)}`, fmt(median(p3.mem) / NG, 2), '≥ 0.8']);
  rows.push(['P3 cached tiles/s, disk cache', fmt(median(p3.disk)), `nginx ${fmt(NG)}`, fmt(median(p3.disk) / NG, 2), '≥ 0.8']);

  // ---- P9: max of 79508 x 3082 -------------------------------------------------------------------
  log('P9: full/max of 79508 x 3082');
  const hugeDir = work('p9-img');
  symlinkSync(fx.hugeTif, path.join(hugeDir, 'huge.tif'));
  const h = await startOurs(hugeDir, ['--cache', work('p9-cache'), '--no-render-cache']);
  await fetch(`${h.base}/iiif/3/huge/info.json`).then((r) => r.arrayBuffer());
  const idle = rssMb(h.child.pid!);
  resetPeak(h.child.pid!);
  const t0 = performance.now();
  const res = await fetch(`${h.base}/iiif/3/huge/full/max/0/default.jpg`);
  const jpg = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  const peak = peakRssMb(h.child.pid!);
  const size = res.status === 200 ? await import('sharp').then(({ default: sharp }) => sharp(jpg).metadata()) : undefined;
  await h.stop();
  rows.push([
    `P9 full/max of 79508×3082 → ${size ? `${size.width}×${size.height}` : res.status}`,
    `${fmt(ms)} ms`,
    `peak RSS ${fmt(peak)} MB (idle ${fmt(idle)})`,
    '',
    '< 500 MB',
  ]);

  // ---- A1: access costs nothing per warm tile ----------------------------------------------------
  const a1 = await accessCase(fx.dir, ours('noise'), NOISE, path.join(DIR, 'run', 'p3-cache-mem'));
  rows.push(...a1.rows);

  // ---- the table ---------------------------------------------------------------------------------
  printTable(
    rows,
    `P1 ours ${p1.ours.map((x) => fmt(x)).join('/')}, raw ${p1.raw.map((x) => fmt(x)).join('/')}, IIP ${p1.iip.map((x) => fmt(x)).join('/')}; ` +
      `P2 warm ${warm.map((x) => fmt(x)).join('/')}; P3 mem ${p3.mem.map((x) => fmt(x)).join('/')}, disk ${p3.disk.map((x) => fmt(x)).join('/')}, nginx ${p3.nginx.map((x) => fmt(x)).join('/')}; ` +
      `${a1.detail}; ours peak RSS during P1 ${fmt(p1.oursRss)} MB`,
  );
}

// The fixtures in {dir}/img are kept between runs; everything below {dir}/run is redone.
await main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
