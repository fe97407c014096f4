/**
 * Every HTTP response has a deadline: a request whose answer has not started within `ms` is
 * answered 504 with Retry-After (one JSON log line, no stack), and whatever the handler writes
 * later is dropped. Dependencies have their own, shorter deadlines (S3, Elasticsearch, SQLite
 * locks, the render queue); this is the net under all of them, so no client ever hangs.
 *
 * And the requests in flight, so that shutdown can say which ones it had to cut.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const RESPONSE_DEADLINE_MS = 30_000;

export interface InFlight {
  method: string;
  url: string;
  started: number;
}

export class ResponseDeadlines {
  readonly #ms: number;
  readonly #log: (line: string) => void;
  readonly #inFlight = new Map<ServerResponse, InFlight>();

  constructor(opts: { ms?: number; log?: (line: string) => void } = {}) {
    this.#ms = opts.ms ?? RESPONSE_DEADLINE_MS;
    this.#log = opts.log ?? ((line) => process.stderr.write(line + '\n'));
  }

  /** Requests not finished yet (for the shutdown log). */
  inFlight(): InFlight[] {
    return [...this.#inFlight.values()];
  }

  /** Wrap a request listener. */
  wrap(handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const entry: InFlight = { method: req.method ?? 'GET', url: (req.url ?? '').slice(0, 300), started: performance.now() };
      this.#inFlight.set(res, entry);
      const timer = setTimeout(() => this.#expire(req, res, entry), this.#ms);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        this.#inFlight.delete(res);
      };
      res.once('finish', done);
      res.once('close', done);
      handler(req, res);
    };
  }

  #expire(req: IncomingMessage, res: ServerResponse, entry: InFlight): void {
    if (res.writableEnded || res.destroyed) return;
    this.#log(
      JSON.stringify({ t: new Date().toISOString(), level: 'error', event: 'response_deadline', method: entry.method, url: entry.url, ms: Math.round(performance.now() - entry.started), headersSent: res.headersSent }),
    );
    if (res.headersSent) {
      // A body that stopped flowing: the client sees the connection close.
      res.destroy();
      return;
    }
    const wantsJson = /^\/(api|iiif)(\/|$)/.test(entry.url) || entry.url.split('?')[0]!.endsWith('.json');
    const body = wantsJson
      ? JSON.stringify({ error: 'the answer took too long; try again', status: 504 })
      : 'The answer took too long. Please try again in a moment.\n';
    res.writeHead(504, {
      'Content-Type': wantsJson ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'Retry-After': '5',
      Connection: 'close',
    });
    res.end(body);
    // The handler may still answer later: drop that instead of throwing "headers already sent".
    res.writeHead = (() => res) as unknown as typeof res.writeHead;
    res.setHeader = (() => res) as unknown as typeof res.setHeader;
    res.write = (() => true) as unknown as typeof res.write;
    res.end = (() => res) as unknown as typeof res.end;
    void req;
  }
}
