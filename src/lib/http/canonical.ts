/**
 * The one canonical URL of a request, computed once on the raw node:http request before anything
 * decides on it. The access gate decides on this URL, and Astro's handler receives exactly it
 * (`req.url` and `Host` are rewritten to it), so the gate and the router can never disagree about
 * which path was asked for.
 *
 * - Host: `host[:port]` and nothing else (a DNS name, an IPv4 address or a bracketed IPv6 literal;
 *   no path, `?`, `#`, `@`, userinfo or spaces), one header only. It is checked, not trusted: the
 *   canonical URL always carries PUBLIC_BASE_URL's authority, so the router never sees a
 *   client-chosen host.
 * - Request target: origin form (`/path?query`), or absolute form (`http://host/path`) naming
 *   this archive's host (PUBLIC_BASE_URL's authority; either scheme). Authority form
 *   (`host:443`, CONNECT) and asterisk form (`OPTIONS *`) are refused.
 * - Path: dot segments (also `%2e`, as WHATWG URL reads them) resolved, backslashes read as slashes (as WHATWG URL does),
 *   percent-encoding well-formed and UTF-8; a fragment is dropped.
 *
 * Anything else is a 400 with a message: a malformed request, never a fall-back to `/`.
 */

export const MAX_HOST_LENGTH = 255;
export const MAX_TARGET_LENGTH = 8192;

export type Canonical =
  | {
      ok: true;
      /** The canonical absolute URL (PUBLIC_BASE_URL's origin + normalised path + query). */
      url: URL;
      /** `pathname + search`: what the router receives as `req.url`. */
      target: string;
    }
  | { ok: false; status: 400; message: string };

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;

/** A Host header value that is exactly `host[:port]`: its lower-cased form, or undefined. */
export function validHost(value: string | undefined | null): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_HOST_LENGTH) return undefined;
  let host: string;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return undefined;
    host = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    port = rest ? rest.slice(1) : undefined;
    if (!IPV6_CHARS.test(host) || !host.includes(':')) return undefined;
    try {
      // The WHATWG parser is the judge of an IPv6 literal.
      new URL(`http://[${host}]/`);
    } catch {
      return undefined;
    }
  } else {
    const colon = value.indexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    port = colon < 0 ? undefined : value.slice(colon + 1);
    if (!IPV4.test(host) && !(DNS_NAME.test(host) && !/^\d+(\.\d+)*\.?$/.test(host))) return undefined;
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) return undefined;
  return value.toLowerCase();
}

/** The authority (`host[:port]`, default port omitted) of an http(s) URL, as `validHost` returns it. */
function authorityOf(u: URL): string {
  return u.host.toLowerCase();
}

function bad(message: string): Canonical {
  return { ok: false, status: 400, message };
}

/** How many header lines named `name` the raw header list holds. */
function countHeader(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) n++;
  return n;
}

export interface RawRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders?: readonly string[];
  httpVersion?: string;
}

/**
 * The canonical URL of `req` for an archive whose public base URL is `publicBaseUrl`, or the 400
 * to answer.
 */
export function canonicalRequest(req: RawRequest, publicBaseUrl: string): Canonical {
  const base = new URL(publicBaseUrl);
  const target = req.url ?? '';
  if (target.length === 0) return bad('empty request target');
  if (target.length > MAX_TARGET_LENGTH) return bad('request target too long');

  // Host: one header, host[:port]. HTTP/1.0 may omit it (then PUBLIC_BASE_URL is meant).
  const hostLines = req.rawHeaders ? countHeader(req.rawHeaders, 'host') : req.headers.host === undefined ? 0 : 1;
  if (hostLines > 1) return bad('more than one Host header');
  const rawHost = req.headers.host;
  if (Array.isArray(rawHost)) return bad('more than one Host header');
  if (rawHost === undefined || rawHost === '') {
    if (req.httpVersion !== '1.0' && req.httpVersion !== '0.9') return bad('missing Host header');
  } else if (!validHost(rawHost)) {
    return bad('invalid Host header: expected host[:port]');
  }

  let pathAndQuery: string;
  if (target.startsWith('/')) {
    pathAndQuery = target;
  } else if (/^https?:\/\//i.test(target)) {
    // Absolute form: only for this archive.
    let abs: URL;
    try {
      abs = new URL(target);
    } catch {
      return bad('malformed absolute request target');
    }
    if (abs.username || abs.password) return bad('userinfo in the request target');
    if (authorityOf(abs) !== authorityOf(base)) return bad('absolute request target names another host');
    const afterAuthority = target.replace(/^https?:\/\/[^/?#]*/i, '');
    pathAndQuery = afterAuthority.startsWith('/') ? afterAuthority : `/${afterAuthority}`;
  } else if (target === '*') {
    return bad('asterisk-form request target is not served');
  } else {
    return bad('authority-form or relative request target is not served');
  }

  // Fragment: never part of a request; drop it as a browser would never have sent it.
  const hash = pathAndQuery.indexOf('#');
  if (hash >= 0) pathAndQuery = pathAndQuery.slice(0, hash);
  const q = pathAndQuery.indexOf('?');
  const rawPath = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  // Well-formed percent-encoding of UTF-8 in the path.
  if (/%(?![0-9A-Fa-f]{2})/.test(rawPath)) return bad('malformed percent-encoding in the path');
  try {
    decodeURIComponent(rawPath);
  } catch {
    return bad('percent-encoding in the path is not UTF-8');
  }
  const rawQuery = q < 0 ? '' : pathAndQuery.slice(q);
  if (/%(?![0-9A-Fa-f]{2})/.test(rawQuery)) return bad('malformed percent-encoding in the query');

  let url: URL;
  try {
    // Prefixing the origin keeps `//x/y` a path (never a new authority) and resolves dot segments.
    url = new URL(`${base.origin}${rawPath}${rawQuery}`);
  } catch {
    return bad('malformed request target');
  }
  if (url.origin !== base.origin) return bad('malformed request target');
  return { ok: true, url, target: url.pathname + url.search };
}
