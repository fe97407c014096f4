/**
 * The node:http front of the archive: every request, whether served by `npm start`, `astro dev` or
 * a test, takes this one road.
 *
 *   canonical URL (http/canonical.ts) -> 400 for a bad Host, request target or path encoding
 *   method check                      -> 405 with Allow for TRACE, CONNECT and unknown methods
 *   CORS preflight to /iiif/*, /api/iiif/* in the gated modes -> 204 (see `isPreflight`)
 *   access gate (access/node.ts)      -> 401/503 refusals, written here; identity handed over
 *   /iiif/*                           -> the IIIF adapter (images/http.ts); the image server decides
 *                                        per image with the user's levels
 *   everything else                   -> Astro's handler, which receives exactly the canonical URL
 *
 * Security headers come from http/headers.ts for every answer of the front (the Astro middleware
 * applies the same policy to routed responses), and one JSON line per request is logged when asked.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AccessGate } from '../access/gate.ts';
import { answeredImage, authenticateNode, userOf } from '../access/node.ts';
import { handleIiifRequest, iiifPath } from '../images/http.ts';
import type { ImageServer } from '../images/server.ts';
import { canonicalRequest } from '../http/canonical.ts';
import { BASE_SECURITY_HEADERS, PRIVATE_CACHE_CONTROL, PRIVATE_VARY, isIiifPath, isPublicAsset, secureHeaders, type HeaderMap } from '../http/headers.ts';
import { PREFLIGHT_HEADERS } from '../http/cors.ts';

/** Methods some route of the archive answers; anything else is 405 before any route runs. */
export const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const ALLOWED = new Set<string>(ALLOWED_METHODS);

export interface FrontOptions {
  gate: AccessGate;
  /**
   * Everything below /iiif/ (the image server; a function for lazy construction). It decides per
   * image with the user's levels, which the front hands it, and answers an image the user may not
   * see exactly like a missing one.
   */
  images: ImageServer | (() => Promise<ImageServer>);
  /** Astro's handler (or, under `astro dev`, Vite's `next`). */
  app: (req: IncomingMessage, res: ServerResponse) => void;
  /** One JSON line per request on stdout. */
  logRequests?: boolean;
  log?: (line: string) => void;
}

const CANONICAL = new WeakMap<IncomingMessage, URL>();

/** The canonical URL the front computed for `req` (undefined before the front ran). */
export function canonicalUrlOf(req: IncomingMessage): URL | undefined {
  return CANONICAL.get(req);
}

function plain(res: ServerResponse, status: number, message: string, headers: HeaderMap, head: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const body = `${message}\n`;
  res.writeHead(status, { ...BASE_SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
}

/**
 * A CORS preflight: OPTIONS with `Origin` and `Access-Control-Request-Method`. A browser never sends
 * credentials with it (Fetch standard, CORS-preflight fetch), so the gate cannot be asked; it is
 * answered before the gate with headers only, no body and nothing about the resource (the same
 * answer for any path below the IIIF prefixes, existing or not). The actual request that follows is
 * gated as usual. An OPTIONS without those two headers is not a preflight and meets the gate.
 */
export function isPreflight(method: string, headers: IncomingMessage['headers']): boolean {
  return method === 'OPTIONS' && typeof headers.origin === 'string' && typeof headers['access-control-request-method'] === 'string';
}

/**
 * The preflight answer's headers under the gate: the methods and request headers a IIIF client
 * uses, never `*` as the origin; an origin the gate lists (`corsFor`) gets itself with credentials.
 */
export function gatedPreflightHeaders(cors: HeaderMap): HeaderMap {
  const out: HeaderMap = { ...BASE_SECURITY_HEADERS, Allow: 'GET, HEAD, OPTIONS', 'Cache-Control': 'no-store', Vary: 'Origin' };
  for (const [k, v] of Object.entries(PREFLIGHT_HEADERS)) if (k !== 'Access-Control-Allow-Origin') out[k] = v;
  for (const [k, v] of Object.entries(cors)) if (k.toLowerCase() !== 'vary') out[k] = v;
  return out;
}

export function createFront(opts: FrontOptions): RequestListener {
  const { gate } = opts;
  const base = new URL(gate.publicBaseUrl);
  const gated = gate.mode !== 'none';
  const log = opts.log ?? ((line: string) => process.stdout.write(line + '\n'));

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const head = method === 'HEAD';
    const c = canonicalRequest(req, gate.publicBaseUrl);
    if (!c.ok) return plain(res, 400, `Bad request: ${c.message}`, {}, head);
    if (!ALLOWED.has(method)) return plain(res, 405, `Method ${method.slice(0, 20)} is not allowed`, { Allow: ALLOWED_METHODS.join(', ') }, head);

    // From here on the router sees exactly what the gate decides on.
    req.url = c.target;
    req.headers.host = base.host;
    CANONICAL.set(req, c.url);
    const path = c.url.pathname;

    if (gated && isIiifPath(path) && isPreflight(method, req.headers)) {
      const cors = gate.corsFor(req.headers.origin);
      res.writeHead(204, gatedPreflightHeaders(cors));
      res.end();
      return;
    }

    const outcome = await authenticateNode(gate, req, res);
    if (!outcome) return;

    const policy = { path, gated, cors: gate.corsFor(typeof req.headers.origin === 'string' ? req.headers.origin : undefined) };
    if (iiifPath(req.url) !== null) {
      const secure = (h: HeaderMap) => secureHeaders(h, policy);
      const levels = outcome.user?.levels ?? [];
      await handleIiifRequest(req, res, {
        server: opts.images,
        levels: () => levels,
        answered: (_req, p, status) => {
          if (answeredImage(status)) opts.gate.audit?.noteRequest(`/iiif/${p}`, outcome.user);
        },
        secure,
      });
      return;
    }
    // Defaults for what Astro answers without its middleware (built assets, public/ files); routed
    // responses get the full policy from the middleware, whose headers replace these.
    for (const [k, v] of Object.entries(BASE_SECURITY_HEADERS)) res.setHeader(k, v);
    if (gated && !isPublicAsset(path)) {
      res.setHeader('Cache-Control', PRIVATE_CACHE_CONTROL);
      res.setHeader('Vary', PRIVATE_VARY.join(', '));
    }
    opts.app(req, res);
  }

  return (req, res) => {
    const started = performance.now();
    if (opts.logRequests) {
      res.on('finish', () => {
        const url = canonicalUrlOf(req);
        log(
          JSON.stringify({
            t: new Date().toISOString(),
            method: (req.method ?? '').slice(0, 20),
            url: (url ? url.pathname + url.search : (req.url ?? '')).slice(0, 300),
            status: res.statusCode,
            ms: Math.round((performance.now() - started) * 10) / 10,
            bytes: Number(res.getHeader('content-length') ?? 0) || undefined,
            user: userOf(req)?.id,
          }),
        );
      });
    }
    serve(req, res).catch((e: Error) => {
      // A bug, not an input: logged once with its stack, the client gets a plain 500.
      process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level: 'error', url: canonicalUrlOf(req)?.pathname, message: e.message, stack: e.stack }) + '\n');
      if (!res.headersSent) plain(res, 500, 'Internal server error (logged)', {}, false);
      else res.destroy();
    });
  };
}
