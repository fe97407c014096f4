/**
 * The small-VPS memory benchmark: is the whole archive process under 300 MB RSS while 20 viewers
 * pan? One command, one table.
 *
 *   node bench/viewers/run.ts [--viewers 20] [--seconds 60] [--scale 1] [--data <dir>]
 *                             [--think-ms 500] [--max-requests 100000] [--peer-tile 512]
 *                             [--peer-procs 2] [--warm-cache] [--prebuild] [--no-peer] [--no-two] [--work <dir>]
 *   (each flag also as an environment variable: BENCH_VIEWERS, BENCH_SECONDS, BENCH_SCALE, BENCH_DATA, …;
 *   IIIF_*, MALLOC_ARENA_MAX, NODE_OPTIONS, … in the environment reach the archive, as an operator's would)
 *
 *  1. Starts the archive as an operator does: `node scripts/start.ts` with HOST=127.0.0.1, a free
 *     PORT, DATA_DIR (`--data`, reused, or a temporary directory: the demo corpus is generated
 *     on the first start, ~45 s at scale 1), DEMO_SCALE, LOG_REQUESTS=false, and CACHE_DIR in the
 *     work directory, emptied first unless `--warm-cache`: plain JPEGs get their pyramid built on
 *     first touch during the run, as on a freshly deployed server.
 *  2. Drives N simulated OpenSeadragon viewers (viewers.ts; tile URLs from osd.ts, checked against
 *     the bundled OpenSeadragon by `node bench/viewers/osd-check.ts`) over the items: manifest, first
 *     canvas's info.json (Image API 3.0), then tiles of a 1280 × 800 viewport, 6 at once per viewer,
 *     zooming and panning in a seeded random walk, sometimes opening another item.
 *  3. Samples VmRSS of the server process every 250 ms from /proc/<pid>/status (summed with any
 *     descendant: there is none once the archive is ready — the demo corpus and the build run as
 *     children of start.ts *before* "Archive ready", and sampling starts after it), records the
 *     idle RSS before the load, resets VmHWM (clear_refs) and reads it at the end; also RssAnon /
 *     RssFile at the highest sample and the RSS at each tenth of the run.
 *  4. Peer: Debian's IIPImage (iipsrv FastCGI behind lighttpd, bench/images/peers.ts) serving the
 *     SAME source images (the first canvas of every item), converted to tiled pyramid TIFFs with
 *     `vips tiffsave --tile --pyramid --compression jpeg` (Q88 like our derivatives; kept in the work
 *     directory for the next run). The tile edge defaults to the one our info.json announces (512),
 *     so both servers get the same views as the same tile regions; `--peer-tile 256` gives IIPImage
 *     its customary 256 px tiles (then a view is four times as many, four times smaller, requests). IIPImage 1.1 speaks Image API
 *     2.1 only, so its viewers open `…/iipsrv.fcgi?IIIF=<id>.tif/info.json` and OSD's 2.x tile URLs.
 *     Memory is the sum over lighttpd and every iipsrv process.
 *  --prebuild: before the archive starts, `archive pyramids` builds every pyramid derivative into the
 *     (emptied) cache, as an operator who prepares pyramids offline does — the same footing as the
 *     peer's pre-converted TIFFs; the stage's time is printed apart. Without it (the default) the
 *     cache starts empty and pyramids are built on first touch during the run (cold).
 *  4b. Two processes (skip with --no-two; two.ts, docs/scaling.md): the archive twice on the same
 *     DATA_DIR, each with an empty CACHE_DIR, sharing pyramids through a derivative directory
 *     (DERIVATIVE_STORE=fs), behind a round-robin proxy; the same viewers; RSS summed over both.
 *  5. Prints one table. Exit status 0 whether or not the goal is met; 1 when the run itself failed.
 *     Every process it started is stopped, also on Ctrl-C.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs, promisify } from 'node:util';
import { ensurePackages, freePort, startIip, type Peer } from '../images/peers.ts';
import { RssSampler, type Sample } from './rss.ts';
import { percentile, runViewers, type Target, type ViewersResult } from './viewers.ts';
import { roundRobin, SummedRss } from './two.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const GOAL_MB = 250;
/** p95 tile time at most this many times the peer's (issue 13). */
const GOAL_P95_RATIO = 1.5;
const log = (m: string) => process.stderr.write(`[bench:viewers ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

// ---- options --------------------------------------------------------------------------------------
const { values: flags } = parseArgs({
  options: {
    viewers: { type: 'string' },
    seconds: { type: 'string' },
    scale: { type: 'string' },
    data: { type: 'string' },
    work: { type: 'string' },
    'think-ms': { type: 'string' },
    'max-requests': { type: 'string' },
    'peer-tile': { type: 'string' },
    'peer-procs': { type: 'string' },
    seed: { type: 'string' },
    'warm-cache': { type: 'boolean' },
    prebuild: { type: 'boolean' },
    'no-peer': { type: 'boolean' },
    'no-two': { type: 'boolean' },
  },
});
// Environment: BENCH_ + the flag's name (BENCH_VIEWERS, BENCH_SECONDS, BENCH_THINK_MS, …); the
// prefix keeps clear of the archive's own variables and of bash's SECONDS.
const envOf = (name: string) => process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
const opt = (name: keyof typeof flags, dflt: string): string => (flags[name] as string | undefined) ?? envOf(name) ?? dflt;
const num = (name: keyof typeof flags, dflt: number, min = 0): number => {
  const v = Number(opt(name, String(dflt)));
  if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number ≥ ${min}`);
  return v;
};
const bool = (name: keyof typeof flags) => flags[name] === true || /^(1|true|yes)$/i.test(envOf(name) ?? '');

const VIEWERS = Math.floor(num('viewers', 20, 1));
const SECONDS = num('seconds', 60, 1);
const SCALE = num('scale', 1, 0.01);
const THINK_MS = num('think-ms', 500);
const MAX_REQUESTS = Math.floor(num('max-requests', 100_000, 1));
const PEER_PROCS = Math.floor(num('peer-procs', 2, 1));
const SEED = Math.floor(num('seed', 1));
const WARM_CACHE = bool('warm-cache');
const PREBUILD = bool('prebuild');
const NO_PEER = bool('no-peer');
const NO_TWO = bool('no-two');
const DATA_GIVEN = opt('data', '');

// ---- processes we started, stopped whatever happens ---------------------------------------------
const cleanups: (() => Promise<void> | void)[] = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupted = true;
    log(`${sig}: stopping everything this benchmark started…`);
    void cleanup().then(() => process.exit(130));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM the process group of `child` (it was spawned detached), then SIGKILL after `graceMs`. */
async function stopGroup(child: ChildProcess, graceMs = 12_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  await Promise.race([exited, sleep(graceMs)]);
  try {
    process.kill(-pid, 'SIGKILL'); // anything left in its group (e.g. a demo generation child)
  } catch {
    /* the group is gone */
  }
}

/** Stop by pid the processes a sampler counted that outlived their parent (iipsrv workers). */
async function stopLeftovers(pids: Iterable<number>): Promise<void> {
  const left = [...pids].filter(alive);
  for (const pid of left) process.kill(pid, 'SIGTERM');
  const end = Date.now() + 5000;
  while (left.some(alive) && Date.now() < end) await sleep(100);
  for (const pid of left.filter(alive)) process.kill(pid, 'SIGKILL');
}

// ---- the archive -------------------------------------------------------------------------------------
interface Archive {
  base: string;
  child: ChildProcess;
  readyAfterMs: number;
  generated: boolean;
  stop: () => Promise<void>;
}

async function startArchive(dataDir: string, cacheDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Archive> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DEMO_SCALE: String(SCALE),
    LOG_REQUESTS: 'false',
    ASTRO_TELEMETRY_DISABLED: '1',
    CACHE_DIR: cacheDir,
    ...extraEnv,
  };
  const t0 = performance.now();
  // Its own process group: a stop also reaches the demo generation child, should we stop early.
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stop = () => stopGroup(child);
  cleanups.push(stop);
  let out = '';
  let generated = false;
  const relay = (d: Buffer) => {
    out += d;
    for (const line of d.toString().split('\n')) {
      if (!line.trim()) continue;
      if (/creating the demo corpus/.test(line)) generated = true;
      process.stderr.write(`  [archive] ${line}\n`);
    }
  };
  child.stdout!.on('data', relay);
  child.stderr!.on('data', relay);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the archive was not ready within 300 s`)), 300_000);
    const check = () => {
      if (out.includes('Archive ready at')) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the archive exited with ${code} before it was ready`));
    });
  });
  return { base, child, readyAfterMs: performance.now() - t0, generated, stop };
}

interface Item {
  id: string;
  manifest: string;
  imageId: string;
  service: string;
}

/** The items and the image service of each item's first canvas (as a viewer finds them). */
async function discoverItems(base: string): Promise<Item[]> {
  const json = async (url: string) => {
    const r = await fetch(new URL(url, base));
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json() as Promise<any>;
  };
  const items: Item[] = [];
  for (let page = 1; page <= 20; page++) {
    const s = await json(`/api/search.json?size=100&page=${page}`);
    for (const it of s.items as { id: string; manifest: string }[]) {
      const m = await json(new URL(it.manifest).pathname);
      const body = m.items?.[0]?.items?.[0]?.items?.[0]?.body;
      const service = (Array.isArray(body?.service) ? body.service[0] : body?.service)?.id as string | undefined;
      if (!service) continue;
      const sid = new URL(service).pathname;
      items.push({ id: it.id, manifest: new URL(it.manifest).pathname, imageId: decodeURIComponent(sid.split('/').pop()!), service: sid });
    }
    if (items.length >= s.total || s.items.length === 0) break;
  }
  return items;
}

/** The image files (below IMAGE_ROOT) of the given image ids, from the store. */
function imageFiles(dataDir: string, ids: string[]): Map<string, string> {
  const db = new DatabaseSync(path.join(dataDir, 'archive.sqlite'), { readOnly: true });
  try {
    const q = db.prepare('SELECT file FROM images WHERE id = ?');
    const out = new Map<string, string>();
    for (const id of ids) {
      const row = q.get(id) as { file: string } | undefined;
      if (!row) throw new Error(`image ${id} is not in the store`);
      out.set(id, path.join(dataDir, 'images', ...row.file.split('/')));
    }
    return out;
  } finally {
    db.close();
  }
}

/** Tiled pyramid TIFFs of the sources for IIPImage, made once and reused while the source is unchanged. */
async function convertForIip(files: Map<string, string>, dir: string, tile: number): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const run = promisify(execFile);
  const jobs = [...files].map(([id, src]) => async () => {
    const st = statSync(src);
    const stamp = `${src}:${st.size}:${st.mtimeMs}:tile${tile}:q88`;
    const out = path.join(dir, `${id}.tif`);
    const stampFile = `${out}.stamp`;
    if (existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return 0;
    const tmp = path.join(dir, `.${id}.tmp.tif`);
    await run('vips', ['tiffsave', src, tmp, '--tile', '--pyramid', '--compression', 'jpeg', '--Q', '88', '--tile-width', String(tile), '--tile-height', String(tile)], { timeout: 300_000 });
    renameSync(tmp, out);
    writeFileSync(stampFile, stamp);
    return 1;
  });
  let made = 0;
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, os.availableParallelism()) }, async () => {
    while (next < jobs.length) {
      const done = await jobs[next++]!();
      made += done;
    }
  });
  await Promise.all(lanes);
  return made;
}

/**
 * `--prebuild`: the demo corpus (when the store is still empty) and then `archive pyramids` into
 * the cache the archive will use; resolves to the stage's summary line and its seconds.
 */
async function prebuildPyramids(dataDir: string, cacheDir: string): Promise<{ summary: string; seconds: number }> {
  const env = { ...process.env, DATA_DIR: dataDir, DEMO_SCALE: String(SCALE), CACHE_DIR: cacheDir };
  const cli = (args: string[]) => promisify(execFile)(process.execPath, [path.join(ROOT, 'src', 'cli.ts'), ...args], { cwd: ROOT, env, timeout: 1_800_000, maxBuffer: 16 << 20 });
  if (!existsSync(path.join(dataDir, 'archive.sqlite'))) {
    log('creating the demo corpus for --prebuild (archive demo)…');
    await cli(['demo', '--scale', String(SCALE)]);
  }
  log('building every pyramid ahead (archive pyramids)…');
  const t0 = performance.now();
  const r = await cli(['pyramids']);
  return { summary: r.stdout.trim().split('\n').pop() ?? '', seconds: (performance.now() - t0) / 1000 };
}

// ---- measuring one server -------------------------------------------------------------------------
interface Measured {
  name: string;
  result: ViewersResult;
  idleMb: number;
  maxMb: number;
  hwmMb: number;
  procs: string;
  samples: number;
  idleSample: Sample;
  peakSample: Sample;
  /** RSS (MB) at each tenth of the run, for the shape of the curve. */
  profile: number[];
}

async function measure(name: string, base: string, rootPid: number, prepare: () => Promise<Target[]>): Promise<{ m: Measured; sampler: RssSampler }> {
  const sampler = new RssSampler(rootPid, true);
  // Idle: 2 s of samples of the fresh server before any request, then the peak counter starts.
  sampler.start(250);
  await sleep(2000);
  const idle = [...sampler.samples].sort((a, b) => a.mb - b.mb);
  const idleSample = idle[Math.floor(idle.length / 2)]!;
  const idleMb = idleSample.mb;
  const targets = await prepare();
  sampler.rebase();
  if (!sampler.resetPeaks()) log(`${name}: could not reset VmHWM (clear_refs); VmHWM includes the start-up`);
  log(`${name}: idle RSS ${idleMb.toFixed(0)} MB; ${VIEWERS} viewers for ${SECONDS} s`);
  const result = await runViewers({ base, targets, viewers: VIEWERS, seconds: SECONDS, maxRequests: MAX_REQUESTS, thinkMs: THINK_MS, seed: SEED });
  const hwmMb = sampler.hwmMb();
  sampler.stop();
  const counts = new Map<string, number>();
  for (const comm of sampler.seen.values()) counts.set(comm, (counts.get(comm) ?? 0) + 1);
  const procs = [...counts].map(([c, n]) => `${n} ${c}`).join(' + ');
  const maxProcs = sampler.samples.reduce((m, s) => Math.max(m, s.procs), 0);
  log(`${name}: ${result.requests} requests, ${result.tileOk} tiles in ${result.seconds.toFixed(1)} s; processes counted: ${procs} (at most ${maxProcs} at once)`);
  const ss = sampler.samples;
  const profile = Array.from({ length: 10 }, (_, i) => ss[Math.min(ss.length - 1, Math.round(((i + 1) * (ss.length - 1)) / 10))]!.mb);
  return { m: { name, result, idleMb, maxMb: sampler.maxMb, hwmMb, procs, samples: ss.length, idleSample, peakSample: sampler.peak!, profile }, sampler };
}

// ---- main ------------------------------------------------------------------------------------------
async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('the benchmark needs Linux (/proc, Debian packages)');
  const load0 = os.loadavg();
  if (!NO_PEER) ensurePackages(log);

  let tmpRoot: string | undefined;
  let dataDir: string;
  let workDir: string;
  if (DATA_GIVEN) {
    dataDir = path.resolve(DATA_GIVEN);
    const key = createHash('sha256').update(dataDir).digest('hex').slice(0, 10);
    workDir = path.resolve(opt('work', path.join(os.tmpdir(), `archive-bench-viewers-${key}`)));
  } else {
    tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'archive-bench-viewers-'));
    cleanups.push(() => rmSync(tmpRoot!, { recursive: true, force: true }));
    dataDir = path.join(tmpRoot, 'data');
    workDir = path.resolve(opt('work', path.join(tmpRoot, 'work')));
  }
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(workDir, { recursive: true });
  // Our derivative cache lives in the work directory: emptied before each run (cold: pyramids are
  // built on first touch, as on a fresh server), or kept from the previous run with --warm-cache.
  const cacheDir = path.join(workDir, 'ours-cache');
  if (!WARM_CACHE) rmSync(cacheDir, { recursive: true, force: true });
  const cachedBefore = existsSync(path.join(cacheDir, 'iiif')) ? countFiles(path.join(cacheDir, 'iiif'), '.tif') : 0;
  log(`data ${dataDir}${DATA_GIVEN ? '' : ' (temporary)'}, work ${workDir}, ${WARM_CACHE ? `derivative cache kept (${cachedBefore} pyramids)` : 'empty derivative cache'}`);

  let prebuilt: { summary: string; seconds: number } | undefined;
  if (PREBUILD) prebuilt = await prebuildPyramids(dataDir, cacheDir);
  const prebuiltTifs = prebuilt && existsSync(path.join(cacheDir, 'iiif')) ? countFiles(path.join(cacheDir, 'iiif'), '.tif') : 0;

  // ---- ours
  log(`starting the archive (node scripts/start.ts, DEMO_SCALE=${SCALE})…`);
  const archive = await startArchive(dataDir, cacheDir);
  log(`archive ready after ${(archive.readyAfterMs / 1000).toFixed(1)} s${archive.generated ? ' (demo corpus generated)' : ''}, pid ${archive.child.pid}`);
  let items: Item[] = [];
  const ours = await measure('ours', archive.base, archive.child.pid!, async () => {
    items = await discoverItems(archive.base);
    if (items.length === 0) throw new Error('no items with an image service');
    log(`${items.length} items (first canvases: ${items.slice(0, 3).map((i) => i.imageId).join(', ')}, …)`);
    return items.map((i) => ({ item: i.id, open: [i.manifest, `${i.service}/info.json`] }));
  });
  const cacheTifs = (existsSync(path.join(cacheDir, 'iiif')) ? countFiles(path.join(cacheDir, 'iiif'), '.tif') : 0) - cachedBefore - prebuiltTifs;
  const tileEdge = await fetch(`${archive.base}${items[0]!.service}/info.json`)
    .then((r) => r.json() as Promise<{ tiles: { width: number }[] }>)
    .then((j) => j.tiles[0]!.width);
  await archive.stop();
  await stopLeftovers(ours.sampler.seen.keys());

  // ---- ours, two processes behind a round-robin proxy
  const two = NO_TWO ? undefined : await measureTwo(dataDir, workDir, items);

  // ---- peer
  let peer: Measured | undefined;
  let peerTile = 0;
  let converted = 0;
  if (!NO_PEER) {
    peerTile = Math.floor(num('peer-tile', tileEdge, 16));
    const files = imageFiles(dataDir, items.map((i) => i.imageId));
    const imgDir = path.join(workDir, `iip-img-${peerTile}`);
    log(`converting ${files.size} source images to ${peerTile} px tiled pyramid TIFFs for IIPImage (kept in ${imgDir})…`);
    const t0 = performance.now();
    converted = await convertForIip(files, imgDir, peerTile);
    log(`${converted} converted, ${files.size - converted} reused, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const runDir = path.join(workDir, 'iip-run');
    rmSync(runDir, { recursive: true, force: true });
    const iip: Peer = await startIip(runDir, imgDir, { procs: PEER_PROCS, jpegQuality: 85 });
    let seen: Iterable<number> = [];
    cleanups.push(async () => {
      await iip.stop();
      await stopLeftovers(seen);
    });
    const iipTargets: Target[] = items.map((i) => ({ item: i.id, open: [`/fcgi-bin/iipsrv.fcgi?IIIF=${encodeURIComponent(i.imageId)}.tif/info.json`] }));
    const p = await measure('IIPImage', iip.base, iip.child.pid!, async () => iipTargets);
    seen = p.sampler.seen.keys();
    peer = p.m;
    await iip.stop();
    await stopLeftovers(seen);
  }
  const load1 = os.loadavg();

  // ---- the table
  const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const peakOf = (m: Measured) => Math.max(m.maxMb, m.hwmMb);
  const rows = [ours.m, ...(peer ? [peer] : [])].map((m) => {
    const r = m.result;
    const lat = [...r.tileLatencies].sort((a, b) => a - b);
    const ratio = m === ours.m && peer ? fmt(peakOf(ours.m) / peakOf(peer), 2) : '';
    const p95 = (x: Measured) => percentile([...x.result.tileLatencies].sort((a, b) => a - b), 0.95);
    const p95Ratio = m === ours.m && peer ? `${fmt(p95(ours.m) / p95(peer), 2)} (${p95(ours.m) / p95(peer) <= GOAL_P95_RATIO ? 'met' : 'MISSED'})` : '';
    return [
      m === ours.m ? `ours (1 node process${prebuilt ? ', pyramids prebuilt' : ', cold cache'})` : `IIPImage 1.1 + lighttpd (${m.procs})`,
      String(VIEWERS),
      fmt(r.seconds, 1),
      `${r.requests} (${r.tiles} tiles)`,
      fmt(r.tileOk / r.seconds, 1),
      `${fmt(percentile(lat, 0.5))} / ${fmt(percentile(lat, 0.95))}`,
      p95Ratio,
      r.errors ? `${r.errors} (${Object.entries(r.statuses).filter(([s]) => s !== '200').map(([s, n]) => `${s}×${n}`).join(', ')})` : '0',
      fmt(m.idleMb),
      `${fmt(m.maxMb)} / ${fmt(m.hwmMb)}`,
      ratio,
      `${peakOf(m) < GOAL_MB ? 'met' : 'MISSED'} (${fmt(peakOf(m))} MB)`,
    ];
  });
  if (two) {
    const r = two.result;
    const lat = [...r.tileLatencies].sort((a, b) => a - b);
    rows.push([
      'ours (2 node processes, round robin)',
      String(VIEWERS),
      fmt(r.seconds, 1),
      `${r.requests} (${r.tiles} tiles)`,
      fmt(r.tileOk / r.seconds, 1),
      `${fmt(percentile(lat, 0.5))} / ${fmt(percentile(lat, 0.95))}`,
      '',
      r.errors ? `${r.errors} (${Object.entries(r.statuses).filter(([s]) => s !== '200').map(([s, n]) => `${s}×${n}`).join(', ')})` : '0',
      `${fmt(two.idleMb)} (sum)`,
      `${fmt(two.maxMb)} / ${fmt(two.hwmMb)} (sum)`,
      peer ? fmt(Math.max(two.maxMb, two.hwmMb) / peakOf(peer), 2) : '',
      `n/a (2 processes)`,
    ]);
  }
  const head = ['Server', 'Viewers', 'Duration s', 'Requests', 'Tiles/s', 'p50 / p95 tile ms', `p95 ratio ours/peer (goal ≤ ${GOAL_P95_RATIO})`, 'Errors (non-200)', 'Idle RSS MB', 'Peak RSS MB (max sample / VmHWM)', 'Peak ratio ours/peer', `Goal: peak < ${GOAL_MB} MB`];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nSmall-VPS memory benchmark — ${VIEWERS} OSD viewers (1280×800, 6 connections each, think ${THINK_MS} ms ±50 %), ${SECONDS} s a server, ` +
      `DEMO_SCALE ${SCALE}, ${items.length} items; ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? '?'}), Node ${process.versions.node}; ` +
      `load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after (shared machine)`,
  );
  console.log(line(head));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of rows) console.log(line(r));
  console.log(
    `\nours: archive ready after ${fmt(archive.readyAfterMs / 1000, 1)} s${archive.generated ? ' (incl. demo corpus generation)' : ''}; ${ours.m.result.opens} item opens, ${ours.m.result.views} views, ${ours.m.result.distinctTiles} distinct tiles, ${fmt(ours.m.result.tileBytes / 2 ** 20)} MB of tiles, ${ours.m.result.retries} retried (closed keep-alive); ` +
      `${prebuilt ? `pyramids prebuilt by \`archive pyramids\` (${prebuiltTifs} in ${fmt(prebuilt.seconds, 1)} s, not counted in the run: ${prebuilt.summary})` : WARM_CACHE ? `derivative cache kept from the previous run (${cachedBefore} pyramids)` : 'empty derivative cache'}: ${cacheTifs} pyramid TIFFs built during the run; tiles ${tileEdge} px (Image API 3.0, size w,h as OSD 5 sends)` +
      `; processes counted: ${ours.m.procs}; ${ours.m.samples} RSS samples.`,
  );
  const overrides = Object.entries(process.env).filter(([k]) => /^(IIIF_|MALLOC_|UV_THREADPOOL_SIZE$|NODE_OPTIONS$|VIPS_)/.test(k));
  console.log(`ours: environment beyond the defaults: ${overrides.length ? overrides.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`);
  console.log(memoryLine(ours.m));
  const slow = (m: Measured) => m.result.slowest.map((t) => `${Math.round(t.ms)} ms ${t.url.replace(/^.*\/iiif\/3\//, '').replace(/^.*IIIF=/, '')}`).join('; ');
  console.log(`ours: slowest tiles: ${slow(ours.m)}`);
  if (peer) console.log(`peer: slowest tiles: ${slow(peer)}`);
  if (two) {
    const tps = (r: ViewersResult) => r.tileOk / r.seconds;
    console.log(
      `two processes: tiles/s ${fmt(tps(two.result), 1)} vs ${fmt(tps(ours.m.result), 1)} with one (ratio ${fmt(tps(two.result) / tps(ours.m.result), 2)}); ` +
        `summed peak RSS ${fmt(Math.max(two.maxMb, two.hwmMb))} MB vs ${fmt(peakOf(ours.m))} MB (ratio ${fmt(Math.max(two.maxMb, two.hwmMb) / peakOf(ours.m), 2)}); ` +
        `requests per process ${two.perProcess.join(' / ')}; pyramids built ${two.builds.join(' / ')}, fetched from the shared directory ${two.shared.join(' / ')} (A / B); ` +
        `each process has an empty CACHE_DIR; DERIVATIVE_STORE=fs in the work directory, emptied first.`,
    );
  }
  if (peer) {
    console.log(memoryLine(peer));
    console.log(
      `peer: IIPImage 1.1 (Debian) FastCGI ×${PEER_PROCS} behind lighttpd, no tile cache (MAX_IMAGE_CACHE_SIZE=0), JPEG Q85 out; ${peerTile} px tiled pyramid TIFFs (vips, JPEG Q88; ${converted} converted this run); ` +
        `Image API 2.1 (size w,); ${peer.result.opens} item opens, ${peer.result.views} views, ${peer.result.distinctTiles} distinct tiles, ${fmt(peer.result.tileBytes / 2 ** 20)} MB of tiles, ${peer.result.retries} retried (closed keep-alive); ` +
        `RSS summed over ${peer.procs}; VmHWM is the sum of each process's peak (an upper bound); ${peer.samples} RSS samples.`,
    );
  }
}

interface TwoMeasured {
  result: ViewersResult;
  idleMb: number;
  maxMb: number;
  hwmMb: number;
  perProcess: number[];
  builds: number[];
  shared: number[];
}

/** The two-process case (two.ts): same data, same viewers, round robin over two archives. */
async function measureTwo(dataDir: string, workDir: string, items: Item[]): Promise<TwoMeasured> {
  const shared = path.join(workDir, 'two-derivatives');
  const caches = [path.join(workDir, 'two-cache-a'), path.join(workDir, 'two-cache-b')];
  for (const d of [shared, ...caches]) rmSync(d, { recursive: true, force: true });
  log('two processes: starting A and B on the same DATA_DIR (DERIVATIVE_STORE=fs)…');
  const env = { DERIVATIVE_STORE: 'fs', DERIVATIVE_DIR: shared };
  const a = await startArchive(dataDir, caches[0]!, env);
  const b = await startArchive(dataDir, caches[1]!, { ...env, DEMO: 'false' });
  const proxy = await roundRobin([a.base, b.base]);
  cleanups.push(() => proxy.close());
  const rss = new SummedRss([a.child.pid!, b.child.pid!]);
  rss.start(250);
  await sleep(2000);
  const idle = [...rss.samples].sort((x, y) => x - y);
  const idleMb = idle[Math.floor(idle.length / 2)]!;
  if (!rss.rebase()) log('two processes: could not reset VmHWM (clear_refs)');
  log(`two processes: idle RSS ${idleMb.toFixed(0)} MB (sum); ${VIEWERS} viewers for ${SECONDS} s through ${proxy.base}`);
  const targets = items.map((i) => ({ item: i.id, open: [i.manifest, `${i.service}/info.json`] }));
  const result = await runViewers({ base: proxy.base, targets, viewers: VIEWERS, seconds: SECONDS, maxRequests: MAX_REQUESTS, thinkMs: THINK_MS, seed: SEED });
  const hwmMb = rss.hwmMb();
  rss.stop();
  const counters = async (base: string) => {
    const j = (await (await fetch(`${base}/readyz`)).json()) as { images?: { pyramidBuilds: number; pyramidsShared: number } };
    return j.images ?? { pyramidBuilds: NaN, pyramidsShared: NaN };
  };
  const [ca, cb] = [await counters(a.base), await counters(b.base)];
  const perProcess = [...proxy.counts];
  await proxy.close();
  await b.stop();
  await a.stop();
  return { result, idleMb, maxMb: rss.maxMb, hwmMb, perProcess, builds: [ca.pyramidBuilds, cb.pyramidBuilds], shared: [ca.pyramidsShared, cb.pyramidsShared] };
}

function memoryLine(m: Measured): string {
  const f = (s: Sample) => `${s.mb.toFixed(0)} (anon ${s.anonMb.toFixed(0)} + file ${s.fileMb.toFixed(0)})`;
  return `${m.name} RSS MB: idle ${f(m.idleSample)}, highest sample ${f(m.peakSample)} at ${(m.peakSample.t / 1000).toFixed(1)} s of the load; each tenth of the run: ${m.profile.map((x) => x.toFixed(0)).join(' ')}`;
}

function countFiles(dir: string, ext: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith(ext)) n++;
  return n;
}

try {
  await main();
} catch (err) {
  if (!interrupted) console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
