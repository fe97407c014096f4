/**
 * The security headers of every response, in one place: the node:http front (IIIF answers, its own
 * 400/405s), Astro's middleware (pages and APIs) and the gate's refusals all take them from here.
 *
 * Policy (docs/access.md):
 * - nosniff, same-origin referrers, no indexing, on everything;
 * - HTML: a strict Content-Security-Policy — scripts, styles, images, fonts and connections from
 *   the archive's own origin only, plus `blob:`/`data:` images (Mirador and OpenSeadragon draw
 *   tiles through them); no plugins, no framing by other sites, forms post only to the archive;
 * - private content (ACCESS_MODE cloudflare/header): `Cache-Control: private, no-store` and
 *   `Vary: Origin, Cookie, Authorization`, so no browser cache ever holds private bytes that a
 *   request without the user's credentials (another origin's `fetch(…, {credentials: 'omit',
 *   cache: 'force-cache'})`) could be handed. Code bundles (`/_astro/`, `/vendor/`) are not private
 *   and keep their own caching.
 * - CORS: in the gated modes never `Access-Control-Allow-Origin: *`; an allowed IIIF client origin
 *   (IIIF_AUTH_ORIGINS) gets itself, with credentials and `Vary: Origin` (see AccessGate.corsFor).
 *   ACCESS_MODE=none keeps `*` on the IIIF and manifest APIs (open content, any viewer may read it).
 */

export type HeaderMap = Record<string, string>;

/**
 * The page policy's directives other than script-src and style-src. Astro renders every page's
 * policy from these (astro.config.mjs `security.csp`), adding script-src with the hashes of the
 * scripts it inlines; HTML that Astro did not render gets PAGE_CSP.
 */
export const CSP_DIRECTIVES = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-src 'self'",
  "frame-ancestors 'self'",
];

/** The CSP of HTML that Astro did not render (no inline scripts allowed at all). */
export const PAGE_CSP = [...CSP_DIRECTIVES, "script-src 'self'", "style-src 'self' 'unsafe-inline'"].join('; ');

/** Headers every response carries. */
export const BASE_SECURITY_HEADERS: Readonly<HeaderMap> = Object.freeze({
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Robots-Tag': 'noindex, nofollow',
});

/** Cache-Control of private content in the gated modes. */
export const PRIVATE_CACHE_CONTROL = 'private, no-store';
/** What a cached answer would have to match (defence in depth next to no-store). */
export const PRIVATE_VARY = ['Origin', 'Cookie', 'Authorization'];

/** Paths whose answers are code, not content: they keep their own caching. */
export function isPublicAsset(path: string): boolean {
  return path.startsWith('/_astro/') || path.startsWith('/vendor/') || path === '/favicon.svg' || path === '/favicon.ico' || path === '/styles.css';
}

/** Paths whose answers a IIIF client on another origin may read (manifests, collections, images). */
export function isIiifPath(path: string): boolean {
  return path.startsWith('/iiif/') || path.startsWith('/api/iiif/');
}

/**
 * Paths an allowed IIIF client origin (IIIF_AUTH_ORIGINS) may read cross-origin: the IIIF paths
 * and the IIIF Authorization Flow probe.
 */
export function isCorsPath(path: string): boolean {
  return isIiifPath(path) || path.startsWith('/auth/iiif/probe/');
}

/** Join a `Vary` value with more field names (no duplicates, case-insensitive). */
export function joinVary(current: string | null | undefined, more: readonly string[]): string {
  const names = (current ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const lower = new Set(names.map((n) => n.toLowerCase()));
  for (const m of more) {
    if (!lower.has(m.toLowerCase())) {
      names.push(m);
      lower.add(m.toLowerCase());
    }
  }
  return names.join(', ');
}

export interface ResponsePolicy {
  /** The canonical path of the request. */
  path: string;
  /** Whether the archive's content is private (ACCESS_MODE cloudflare or header). */
  gated: boolean;
  /** CORS headers the gate grants the request's Origin (empty for none). */
  cors: HeaderMap;
  /**
   * Whether HTML without a policy of its own gets PAGE_CSP (default true). False only under
   * `astro dev`, where Astro computes no script hashes and Vite injects inline scripts.
   */
  pageCsp?: boolean;
}

/**
 * Apply the policy to a response's headers, read and written through `get`/`set` so that it works
 * on a node:http header map and on a fetch `Headers` alike.
 */
export function applySecurityHeaders(get: (name: string) => string | null | undefined, set: (name: string, value: string) => void, p: ResponsePolicy): void {
  for (const [k, v] of Object.entries(BASE_SECURITY_HEADERS)) if (!get(k)) set(k, v);
  const type = get('Content-Type') ?? '';
  if (type.startsWith('text/html') && !get('Content-Security-Policy') && p.pageCsp !== false) set('Content-Security-Policy', PAGE_CSP);
  if (p.gated) {
    // No wildcard, whoever set it: the archive's own origin needs none.
    if (get('Access-Control-Allow-Origin') === '*') set('Access-Control-Allow-Origin', '');
    if (!isPublicAsset(p.path)) {
      set('Cache-Control', PRIVATE_CACHE_CONTROL);
      set('Vary', joinVary(get('Vary'), PRIVATE_VARY));
    }
  }
  for (const [k, v] of Object.entries(p.cors)) {
    if (k.toLowerCase() === 'vary') set('Vary', joinVary(get('Vary'), [v]));
    else set(k, v);
  }
}

/** The policy applied to a plain header record (node:http answers); returns a new record. */
export function secureHeaders(headers: HeaderMap, p: ResponsePolicy): HeaderMap {
  const out: HeaderMap = {};
  const keyOf = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) {
    out[k] = v;
    keyOf.set(k.toLowerCase(), k);
  }
  applySecurityHeaders(
    (name) => {
      const k = keyOf.get(name.toLowerCase());
      return k === undefined ? undefined : out[k];
    },
    (name, value) => {
      const k = keyOf.get(name.toLowerCase()) ?? name;
      keyOf.set(name.toLowerCase(), k);
      if (value === '') delete out[k];
      else out[k] = value;
    },
    p,
  );
  return out;
}

/** The policy applied to a fetch `Headers` (Astro responses), in place. */
export function secureFetchHeaders(headers: Headers, p: ResponsePolicy): void {
  applySecurityHeaders(
    (name) => headers.get(name),
    (name, value) => (value === '' ? headers.delete(name) : headers.set(name, value)),
    p,
  );
}
