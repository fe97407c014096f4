/**
 * RFC 9110 conditional GET/HEAD (§13.1.2 If-None-Match, §13.1.3 If-Modified-Since, §13.2.2
 * precedence), the one helper behind manifests, collections, item records and the image server:
 * generic HTTP, so it sits in the HTTP vocabulary that both the image server and the routes import.
 *
 * - If-None-Match is a list of entity tags or `*`, compared weakly (`W/"x"` matches `"x"`); `*`
 *   matches any current representation. When the header is present, If-Modified-Since is ignored.
 * - If-Modified-Since is an HTTP-date; an unparsable date is ignored. The representation is
 *   unmodified when its Last-Modified (whole seconds) is not later than that date.
 * - Only GET and HEAD are ever answered 304. The request's Cache-Control is not consulted:
 *   `no-cache` is addressed to caches on the way, and fetch() adds it to every request it is given
 *   conditional headers for (Fetch standard, HTTP-network-or-cache fetch), so honouring it here
 *   would answer every script's revalidation in full.
 *
 * The matching itself is the `fresh` package's; this module adapts the request's headers (Fetch
 * `Headers` or node records) and the validators to it.
 */
import fresh from 'fresh';

export type HeaderSource = Headers | Record<string, string | string[] | undefined> | undefined | null;

export interface Validators {
  /** Strong or weak entity tag, quoted: `"abc"` or `W/"abc"`. */
  etag?: string;
  /** Last modification, as an HTTP-date string or epoch milliseconds. */
  lastModified?: string | number;
}

/** One request header from a Fetch `Headers` or a node-style record (any case); lists joined. */
export function headerOf(headers: HeaderSource, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const rec = headers as Record<string, string | string[] | undefined>;
  let v = rec[name];
  if (v === undefined) {
    const hit = Object.keys(rec).find((k) => k.toLowerCase() === name);
    v = hit ? rec[hit] : undefined;
  }
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The representation's Last-Modified as an HTTP-date (whole seconds), from a date string or epoch ms. */
function httpDate(lastModified: string | number | undefined): string | undefined {
  if (lastModified === undefined) return undefined;
  const ms = typeof lastModified === 'number' ? lastModified : Date.parse(lastModified);
  return Number.isNaN(ms) ? undefined : new Date(ms).toUTCString();
}

/** If-None-Match against the current entity tag (weak comparison, lists, `*`). */
export function etagMatches(ifNoneMatch: string | null | undefined, etag: string | undefined): boolean {
  if (!ifNoneMatch || !etag) return false;
  return fresh({ 'if-none-match': ifNoneMatch }, { etag });
}

/** If-Modified-Since against the representation's Last-Modified. */
export function notModifiedSince(ifModifiedSince: string | null | undefined, lastModified: string | number | undefined): boolean {
  const lm = httpDate(lastModified);
  if (!ifModifiedSince || !lm || Number.isNaN(Date.parse(ifModifiedSince))) return false;
  return fresh({ 'if-modified-since': ifModifiedSince }, { 'last-modified': lm });
}

/**
 * Whether a request with these headers gets 304 Not Modified for a representation with `v`: the
 * `fresh` package (the matcher of Express and `send`) with the request's If-None-Match and
 * If-Modified-Since, never its Cache-Control (see above; `fresh` would answer `no-cache` in full).
 */
export function isNotModified(method: string | undefined, headers: HeaderSource, v: Validators): boolean {
  const m = (method ?? 'GET').toUpperCase();
  if (m !== 'GET' && m !== 'HEAD') return false;
  const inm = headerOf(headers, 'if-none-match');
  const ims = headerOf(headers, 'if-modified-since');
  if (inm !== null && !v.etag) return false;
  if (inm === null && (ims === null || Number.isNaN(Date.parse(ims)))) return false;
  const request: Record<string, string> = {};
  if (inm !== null) request['if-none-match'] = inm;
  if (ims !== null) request['if-modified-since'] = ims;
  const lm = httpDate(v.lastModified);
  return fresh(request, { ...(v.etag ? { etag: v.etag } : {}), ...(lm ? { 'last-modified': lm } : {}) });
}

/**
 * A JSON document with its validators: 304 (validators and caching headers, no body) when the
 * request's conditions say the client's copy is current, else 200 with the body (no body on HEAD).
 */
export function conditionalResponse(request: Request, body: string, headers: Record<string, string>): Response {
  const v = { etag: headers.ETag, lastModified: headers['Last-Modified'] };
  if (isNotModified(request.method, request.headers, v)) {
    const { 'Content-Type': _type, ...rest } = headers;
    return new Response(null, { status: 304, headers: rest });
  }
  return new Response(request.method.toUpperCase() === 'HEAD' ? null : body, { headers });
}

const seen = new Map<string, { etag: string; at: number }>();
const SEEN_MAX = 5000;

/**
 * Last-Modified for a generated document without a stored modification time (a search
 * collection): when this process first produced the current body (entity tag) at this URL. A
 * changed body gets a later time (at least a second after the previous one, so that an
 * If-Modified-Since taken from the old body never matches the new one); after a restart times
 * start again from now, which is only ever later.
 */
export function firstSeen(url: string, etag: string): number {
  const prev = seen.get(url);
  if (prev && prev.etag === etag) return prev.at;
  const now = Math.floor(Date.now() / 1000) * 1000;
  const at = prev ? Math.max(now, prev.at + 1000) : now;
  seen.delete(url);
  seen.set(url, { etag, at });
  if (seen.size > SEEN_MAX) seen.delete(seen.keys().next().value!);
  return at;
}
