/**
 * The IIIF Image API on plain `node:http`: the one road of every request below `/iiif/`, for
 * `npm start`, `astro dev` and the tests alike (src/lib/front/front.ts calls it after the canonical
 * URL and the access gate; there is no Astro route for /iiif/). `handleIiifRequest(req, res)`
 * answers everything below `/iiif/` and returns true, and returns false (touching nothing) for any
 * other path. One parser of the path after `/iiif/` (`iiifPath`), one response writer
 * (`writeIiifResponse`), one CORS preflight.
 *
 * Per-image access is decided by the image server itself, once per image (`levels`: the user's
 * access levels, passed to `ImageServer.handle`); `authorize` (optional) may refuse a request before
 * that, answering it itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { AccessLevel } from '../domain.ts';
import { PREFLIGHT_HEADERS } from '../http/cors.ts';
import type { IiifResponse, ImageServer } from './server.ts';

export const IIIF_PREFIX = '/iiif/';

export interface IiifHttpOptions {
  /** The image server (a function for lazy construction); the caller composes it (src/lib/front/serve.ts). */
  server: ImageServer | (() => Promise<ImageServer>);
  /**
   * Access gate. Resolves true to let the request through; false when it has answered the request
   * itself (then `handleIiifRequest` writes nothing more and returns true).
   */
  authorize?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  /** The access levels of the user asking (the gate's outcome); the image server decides with them. */
  levels?: (req: IncomingMessage) => readonly AccessLevel[] | undefined;
  /** Called after an image server answer was written (e.g. the access audit, for 200 and 304). */
  answered?: (req: IncomingMessage, path: string, status: number) => void;
  /**
   * Headers added to every answer (what Astro's middleware adds to routed responses: nosniff,
   * credentialed CORS for allowed IIIF client origins, ...). They replace the image server's
   * headers of the same name, except `Vary`, whose values are joined.
   */
  headers?: (req: IncomingMessage) => Record<string, string>;
  /**
   * The security policy of the front (src/lib/http/headers.ts), applied last to every answer this
   * adapter writes (image server answers, preflight, 405): it may replace or remove headers.
   */
  secure?: (headers: Record<string, string>) => Record<string, string>;
}

/** `base` with `extra` applied (Vary values joined). */
export function withHeaders(base: Record<string, string>, extra: Record<string, string> | undefined): Record<string, string> {
  if (!extra) return base;
  const out = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    if (k.toLowerCase() === 'vary' && out.Vary) out.Vary = `${out.Vary}, ${v}`;
    else out[k] = v;
  }
  return out;
}

/** The raw (still percent-encoded) path after `/iiif/`, or null when the URL is not below it. */
export function iiifPath(url: string | undefined): string | null {
  if (!url || !url.startsWith(IIIF_PREFIX)) return null;
  const q = url.search(/[?#]/);
  return (q < 0 ? url : url.slice(0, q)).slice(IIIF_PREFIX.length);
}

/** Write an `IiifResponse` (body only for GET); a file body is streamed and its handle closed. */
export async function writeIiifResponse(res: ServerResponse, r: IiifResponse, withBody: boolean): Promise<void> {
  const headers: Record<string, string | number> = { ...r.headers };
  if (r.file) headers['Content-Length'] = r.file.size;
  else if (r.body !== undefined) headers['Content-Length'] = typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.byteLength;
  if (r.file) {
    const { handle } = r.file;
    if (!withBody || r.status === 304 || res.destroyed) {
      await handle.close().catch(() => {});
      if (!res.destroyed) {
        res.writeHead(r.status, headers);
        res.end();
      }
      return;
    }
    res.writeHead(r.status, headers);
    try {
      await pipeline(handle.createReadStream({ autoClose: true }), res);
    } catch {
      // The client went away (or the file vanished mid-way): the socket is already closed.
    } finally {
      await handle.close().catch(() => {});
    }
    return;
  }
  res.writeHead(r.status, headers);
  if (withBody && r.body !== undefined && r.status !== 304) res.end(r.body);
  else res.end();
}

/**
 * Answer `req` when its path is below `/iiif/` and return true; return false for any other path.
 * Never rejects: a failure after the headers were sent destroys the socket.
 */
export async function handleIiifRequest(req: IncomingMessage, res: ServerResponse, opts: IiifHttpOptions): Promise<boolean> {
  const path = iiifPath(req.url);
  if (path === null) return false;
  try {
    if (opts.authorize && !(await opts.authorize(req, res))) return true;
    const method = (req.method ?? 'GET').toUpperCase();
    const extra = opts.headers?.(req);
    const secure = opts.secure ?? ((h: Record<string, string>) => h);
    if (method === 'OPTIONS') {
      res.writeHead(204, secure(withHeaders(PREFLIGHT_HEADERS, extra)));
      res.end();
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, secure(withHeaders({ Allow: 'GET, HEAD, OPTIONS', 'Content-Type': 'text/plain; charset=utf-8', 'Access-Control-Allow-Origin': '*' }, extra)));
      res.end('Method not allowed\n');
      return true;
    }
    const server = typeof opts.server === 'function' ? await opts.server() : opts.server;
    const levels = opts.levels?.(req);
    const result = await server.handle(path, { method, headers: req.headers as Record<string, string | undefined>, ...(levels ? { levels } : {}) });
    if (res.destroyed) {
      await result.file?.handle.close().catch(() => {});
      return true;
    }
    if (extra) result.headers = withHeaders(result.headers, extra);
    if (opts.secure) result.headers = opts.secure(result.headers);
    await writeIiifResponse(res, result, method === 'GET');
    opts.answered?.(req, path, result.status);
  } catch (err) {
    if ((err as Error)?.name === 'StoreUnavailableError' && !res.headersSent) {
      // The access check could not look the image up (store down): 503, one line, no stack.
      const reason = (err as { reason?: string }).reason ?? (err as Error).message;
      console.error(JSON.stringify({ t: new Date().toISOString(), level: 'error', event: 'store_unavailable', path: (req.url ?? '').slice(0, 300), reason }));
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Retry-After': '30', ...opts.headers?.(req) });
      res.end(JSON.stringify({ error: 'search store unavailable', status: 503, retryAfter: 30 }));
      return true;
    }
    console.error('[iiif] http adapter failure', err);
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('Internal server error\n');
    } else {
      res.destroy();
    }
  }
  return true;
}
