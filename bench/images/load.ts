/**
 * A small closed-loop HTTP load generator: `concurrency` keep-alive connections each take the next
 * path of the list and request it, until the list is exhausted, `maxRequests` were sent or
 * `maxSeconds` have passed. Bounded in count and time; loopback only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export interface LoadOptions {
  /** e.g. http://127.0.0.1:8080 (the paths are appended as they are). */
  base: string;
  paths: string[];
  concurrency: number;
  maxRequests?: number;
  maxSeconds?: number;
  /** Walk the list once (false) or cycle through it (true). */
  cycle?: boolean;
  headers?: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  statuses: Record<string, number>;
  bytes: number;
  p50: number;
  p99: number;
  errors: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const u = new URL(opts.base);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') throw new Error('loopback only');
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const max = Math.min(opts.maxRequests ?? Infinity, opts.cycle ? Infinity : opts.paths.length);
  const deadline = performance.now() + (opts.maxSeconds ?? 60) * 1000;
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let next = 0;
  let bytes = 0;
  let errors = 0;

  const one = (path: string) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request({ host: u.hostname, port: u.port, path, agent, headers: opts.headers }, (res) => {
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => {
          statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
          latencies.push(performance.now() - t0);
          resolve();
        });
        res.on('error', () => {
          errors++;
          resolve();
        });
      });
      req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });

  const started = performance.now();
  const worker = async () => {
    while (next < max && performance.now() < deadline) {
      const i = next++;
      await one(opts.paths[i % opts.paths.length]!);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  const requests = latencies.length;
  return { requests, seconds, perSecond: requests / seconds, statuses, bytes, p50: pct(0.5), p99: pct(0.99), errors };
}

/**
 * Random IIIF tile requests (`{region}/{size}/0/default.jpg`, the part after the identifier) over
 * the given scale factors of a `width` x `height` image, each tile at most once, shuffled with a
 * seeded generator so every server gets the same list.
 */
export function tileList(width: number, height: number, tile: number, scaleFactors: number[], count: number, seed = 1): string[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const all: string[] = [];
  for (const sf of scaleFactors) {
    const span = tile * sf;
    for (let y = 0; y < height; y += span) {
      for (let x = 0; x < width; x += span) {
        const w = Math.min(span, width - x);
        const h = Math.min(span, height - y);
        const ow = Math.ceil(w / sf);
        const oh = Math.ceil(h / sf);
        all.push(`${x},${y},${w},${h}/${ow},${oh}/0/default.jpg`);
      }
    }
  }
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count);
}

/**
 * The same closed loop with wrk (C, epoll), when installed: a Node load generator on a two-core
 * machine takes a core and caps what any server can show (about 3500 small responses a second
 * here), so the throughput figures use wrk. One wrk thread, `concurrency` connections, the path
 * list cycled in order, bounded by `seconds`.
 */
export function wrkAvailable(): boolean {
  return existsSync('/usr/bin/wrk');
}

const WRK_SCRIPT = `local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
`;

export function runWrk(opts: { base: string; paths: string[]; concurrency: number; seconds: number; workDir: string }): LoadResult {
  const u = new URL(opts.base);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') throw new Error('loopback only');
  mkdirSync(opts.workDir, { recursive: true });
  const script = path.join(opts.workDir, 'paths.lua');
  const list = path.join(opts.workDir, 'paths.txt');
  writeFileSync(script, WRK_SCRIPT);
  writeFileSync(list, `${opts.paths.join('\n')}\n`);
  const args = ['-t1', `-c${opts.concurrency}`, `-d${Math.max(1, Math.round(opts.seconds))}s`, '--timeout', '60s', '--latency', '-s', script, opts.base];
  const out = execFileSync('wrk', args, {
    env: { ...process.env, WRK_PATHS: list },
    timeout: (opts.seconds + 30) * 1000,
  }).toString();
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const requests = num(/(\d+) requests in/);
  const seconds = num(/requests in ([\d.]+)s/);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests,
    seconds,
    perSecond: num(/Requests\/sec:\s+([\d.]+)/),
    statuses: { '200': requests - non2xx, ...(non2xx ? { other: non2xx } : {}) },
    bytes: NaN,
    p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
    errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}
