/**
 * N simulated deep-zoom viewers panning like OpenSeadragon users, against one IIIF server.
 *
 * Each viewer opens an item (viewers are spread over the items), fetches what a viewer fetches
 * (`open(item)`: the manifest and the first canvas's info.json on the archive, info.json alone on a
 * bare image server), then repeats:
 *
 *   1. the view: zoom z (screen px per full-resolution px) and centre; the level is the coarsest
 *      scale factor of info.json `tiles[0].scaleFactors` with at least one level pixel per screen
 *      pixel (what OSD loads for a sharp picture), the tiles are those of that level intersecting
 *      the 1280 × 800 viewport, with OSD's URLs (osd.ts);
 *   2. fetch the tiles the viewer has not fetched yet (its tile cache: OSD keeps up to 200 tiles
 *      of the open image), at most 6 at once (the browser's connections per host);
 *   3. wait a think time (pan gestures; `thinkMs` ± 50 %), then a random-walk step: from the home
 *      view (the whole image fitted) zoom in ×2 around a random point, sometimes zoom out, and
 *      mostly pan by a third of the viewport in one of eight directions (clamped to the image);
 *      now and then (5 % of steps, or after 40) open another item.
 *
 * Every choice comes from a PRNG seeded by the viewer's number, so two servers with the same image
 * sizes and tile sizes receive the same sequence of views. Bounded by a deadline and a total
 * request count; loopback only.
 */
import http from 'node:http';
import { tileSourceOf, visibleTiles, type InfoJson, type TileSource } from './osd.ts';
import { prng } from '../prng.ts';

export const VIEWPORT = { width: 1280, height: 800 };
const PER_VIEWER = 6;
const TILE_CACHE = 200;

export interface Target {
  /** Label of the item (for the log). */
  item: string;
  /** What a viewer fetches to open it, in order; the last one must be the info.json. */
  open: string[];
}

export interface ViewersOptions {
  base: string;
  targets: Target[];
  viewers: number;
  seconds: number;
  maxRequests: number;
  thinkMs: number;
  seed?: number;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

export interface ViewersResult {
  seconds: number;
  requests: number;
  tiles: number;
  tileOk: number;
  statuses: Record<string, number>;
  /** Non-200 answers and failed requests (connection errors, timeouts). */
  errors: number;
  failures: number;
  /** Requests sent again after the server closed a reused keep-alive connection (as browsers do). */
  retries: number;
  tileLatencies: number[];
  /** The slowest tiles (path and ms), slowest first: where the tail of the tile time goes. */
  slowest: Array<{ url: string; ms: number }>;
  tileBytes: number;
  opens: number;
  views: number;
  /** Distinct tile URLs requested (across viewers). */
  distinctTiles: number;
}

export { prng };

interface Fetched {
  status: number;
  body: Buffer;
  ms: number;
}

export async function runViewers(opts: ViewersOptions): Promise<ViewersResult> {
  const u = new URL(opts.base);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') throw new Error('loopback only');
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const r: ViewersResult = {
    seconds: 0,
    requests: 0,
    tiles: 0,
    tileOk: 0,
    statuses: {},
    errors: 0,
    failures: 0,
    retries: 0,
    tileLatencies: [],
    slowest: [],
    tileBytes: 0,
    opens: 0,
    views: 0,
    distinctTiles: 0,
  };
  const distinct = new Set<string>();
  const live = () => performance.now() < deadline && r.requests < opts.maxRequests;

  const fail = (what: string) => {
    r.failures++;
    r.errors++;
    r.statuses[what] = (r.statuses[what] ?? 0) + 1;
  };
  const get = (agent: http.Agent, url: string, retry = true): Promise<Fetched> =>
    new Promise((resolve) => {
      if (retry) r.requests++;
      const t0 = performance.now();
      const target = new URL(url, opts.base);
      // Requests go to the server under test whatever host its documents name.
      const req = http.request({ host: u.hostname, port: u.port, path: target.pathname + target.search, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          r.statuses[status] = (r.statuses[status] ?? 0) + 1;
          if (status !== 200) r.errors++;
          resolve({ status, body: Buffer.concat(chunks), ms: performance.now() - t0 });
        });
        res.on('error', (e: NodeJS.ErrnoException) => {
          fail(`failed:${e.code ?? e.message}`);
          resolve({ status: 0, body: Buffer.alloc(0), ms: performance.now() - t0 });
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A keep-alive connection the server closed just as it was reused: browsers send the
        // request again on a new connection, once (so does this).
        if (retry && req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
          r.retries++;
          get(agent, url, false).then((f) => resolve({ ...f, ms: performance.now() - t0 }));
          return;
        }
        fail(`failed:${e.code ?? e.message}`);
        resolve({ status: 0, body: Buffer.alloc(0), ms: performance.now() - t0 });
      });
      req.end();
    });

  const viewer = async (n: number) => {
    const rand = prng((opts.seed ?? 1) * 7919 + n);
    const agent = new http.Agent({ keepAlive: true, maxSockets: PER_VIEWER });
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, Math.max(0, Math.min(ms, deadline - performance.now()))));
    let itemIndex = Math.floor((n * opts.targets.length) / opts.viewers) % opts.targets.length;
    try {
      while (live()) {
        // ---- open an item
        const target = opts.targets[itemIndex]!;
        let info: Fetched | undefined;
        for (const url of target.open) {
          if (!live()) return;
          info = await get(agent, url);
          if (info.status !== 200) break;
        }
        r.opens++;
        if (!info || info.status !== 200) {
          await sleep(1000);
          itemIndex = Math.floor(rand() * opts.targets.length);
          continue;
        }
        const ts: TileSource = tileSourceOf(JSON.parse(info.body.toString('utf8')) as InfoJson);
        const seen = new Map<string, true>(); // insertion-ordered: the oldest is dropped first
        const home = Math.min(VIEWPORT.width / ts.width, VIEWPORT.height / ts.height);
        let zoom = home;
        let cx = ts.width / 2;
        let cy = ts.height / 2;
        for (let step = 0; live(); step++) {
          // ---- the view and its tiles
          const vw = VIEWPORT.width / zoom;
          const vh = VIEWPORT.height / zoom;
          cx = vw >= ts.width ? ts.width / 2 : Math.min(Math.max(cx, vw / 2), ts.width - vw / 2);
          cy = vh >= ts.height ? ts.height / 2 : Math.min(Math.max(cy, vh / 2), ts.height - vh / 2);
          const sf = [...ts.scaleFactors].reverse().find((s) => s <= 1 / zoom + 1e-9) ?? ts.scaleFactors[0]!;
          const urls = visibleTiles(ts, sf, cx - vw / 2, cy - vh / 2, cx + vw / 2, cy + vh / 2).filter((t) => !seen.has(t));
          r.views++;
          let next = 0;
          const lane = async () => {
            while (next < urls.length && live()) {
              const url = urls[next++]!;
              distinct.add(url);
              r.tiles++;
              const res = await get(agent, url);
              if (res.status === 200) {
                r.tileOk++;
                r.tileBytes += res.body.length;
                r.tileLatencies.push(res.ms);
                if (r.slowest.length < 12 || res.ms > r.slowest[r.slowest.length - 1]!.ms) {
                  r.slowest.push({ url, ms: res.ms });
                  r.slowest.sort((a, b) => b.ms - a.ms);
                  r.slowest.length = Math.min(r.slowest.length, 12);
                }
                seen.set(url, true);
                if (seen.size > TILE_CACHE) seen.delete(seen.keys().next().value!);
              }
            }
          };
          await Promise.all(Array.from({ length: Math.min(PER_VIEWER, urls.length) }, lane));
          if (!live()) return;
          await sleep(opts.thinkMs * (0.5 + rand()));
          if (!live()) return;

          // ---- the next view (random walk)
          if (rand() < 0.05 || step >= 40) {
            itemIndex = (itemIndex + 1 + Math.floor(rand() * (opts.targets.length - 1))) % opts.targets.length;
            break;
          }
          const p = rand();
          if (p < 0.25 && zoom * 2 <= 1.0001) {
            // zoom in around a point of the current view
            cx += (rand() - 0.5) * vw * 0.5;
            cy += (rand() - 0.5) * vh * 0.5;
            zoom *= 2;
          } else if (p < 0.35 && zoom / 2 >= home * 0.999) {
            zoom /= 2;
          } else {
            const a = Math.floor(rand() * 8) * (Math.PI / 4);
            cx += Math.cos(a) * vw / 3;
            cy += Math.sin(a) * vh / 3;
          }
        }
      }
    } finally {
      agent.destroy();
    }
  };

  await Promise.all(Array.from({ length: opts.viewers }, (_, i) => viewer(i)));
  r.seconds = (performance.now() - started) / 1000;
  r.distinctTiles = distinct.size;
  return r;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
