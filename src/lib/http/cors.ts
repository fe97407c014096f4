/**
 * The CORS preflight answer of the IIIF routes, one for both APIs: the Image API below `/iiif/`
 * (src/lib/images/http.ts) and the Presentation API below `/api/iiif/` (manifests, collections).
 * A IIIF client asking with the `Accept: application/ld+json;profile="…"` header (not
 * CORS-safelisted: it contains a quote), with `Accept-Language` beyond the safelisted values, or
 * with conditional headers preflights first. The origin policy itself (which origins get
 * credentialed answers) is the access gate's: the front (src/lib/front/front.ts) and
 * src/middleware.ts apply `gate.corsFor()` on top of these headers.
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
