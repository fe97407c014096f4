/**
 * CORS preflight answer for the Presentation API routes below `/api/iiif/` (manifests,
 * collections): a IIIF client asking with the `Accept: application/ld+json;profile="…"` header (not
 * CORS-safelisted: it contains a quote) or with conditional headers preflights first. The origin
 * policy itself (which origins get credentialed answers) is the access gate's: src/middleware.ts
 * applies `gate.corsFor()` on top of these headers.
 */
export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Accept, Accept-Language, If-None-Match, If-Modified-Since',
  'Access-Control-Max-Age': '86400',
};

export function preflightResponse(): Response {
  return new Response(null, { status: 204, headers: { ...PREFLIGHT_HEADERS, Allow: 'GET, HEAD, OPTIONS' } });
}
