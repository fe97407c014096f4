/**
 * The two-process case of bench:viewers (docs/scaling.md): two archive processes on one DATA_DIR
 * (one SQLite store), each with its own empty CACHE_DIR, sharing pyramids through a derivative
 * directory (DERIVATIVE_STORE=fs, emptied first), behind a round-robin proxy written here (one
 * request to A, the next to B, as a balancer in front of two processes on one VPS would). The
 * same viewers as the one-process case; RSS summed over both processes at each sample.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { procMem, resetPeak } from './rss.ts';

export interface RoundRobin {
  base: string;
  /** Requests sent to each target. */
  counts: number[];
  close: () => Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 sending each request to the next of `targets` in turn. */
export async function roundRobin(targets: string[]): Promise<RoundRobin> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const urls = targets.map((t) => new URL(t));
  const counts = targets.map(() => 0);
  let turn = 0;
  const server = http.createServer((req, res) => {
    const i = turn++ % urls.length;
    counts[i]!++;
    const target = urls[i]!;
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${e.message}`);
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

/** RSS of several processes, summed at each sample (MB). */
export class SummedRss {
  readonly samples: number[] = [];
  readonly #pids: number[];
  #timer: NodeJS.Timeout | undefined;

  constructor(pids: number[]) {
    this.#pids = pids;
  }

  sample(): number {
    let kb = 0;
    for (const pid of this.#pids) kb += procMem(pid)?.rssKb ?? 0;
    const mb = kb / 1024;
    this.samples.push(mb);
    return mb;
  }

  start(intervalMs = 250): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Forget the samples so far (the load starts) and reset each process's VmHWM. */
  rebase(): boolean {
    this.samples.length = 0;
    return this.#pids.map((p) => resetPeak(p)).every(Boolean);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  get maxMb(): number {
    return this.samples.reduce((m, x) => Math.max(m, x), 0);
  }

  /** Sum of each process's VmHWM: an upper bound of the summed peak. */
  hwmMb(): number {
    let kb = 0;
    for (const pid of this.#pids) kb += procMem(pid)?.hwmKb ?? 0;
    return kb / 1024;
  }
}
