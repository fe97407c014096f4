import type { APIRoute } from 'astro';
import { manifests } from '../../../../lib/runtime.ts';
import { jsonError } from '../../../../lib/http/json.ts';
import { PRESENTATION_CONTEXT } from '../../../../lib/iiif/manifest.ts';
import { ITEM_ID_RE } from '../../../../lib/domain.ts';
import { conditionalResponse } from '../../../../lib/http/conditional.ts';
import { preflightResponse } from '../../../../lib/http/cors.ts';

export const GET: APIRoute = async ({ params, request }) => {
  const id = params.id ?? '';
  if (!ITEM_ID_RE.test(id)) return jsonError(404, `no item "${id.slice(0, 140)}"`);
  const doc = await (await manifests()).manifest(id);
  if (!doc) return jsonError(404, `no item "${id}"`);
  const headers = {
    'Content-Type': `application/ld+json;profile="${PRESENTATION_CONTEXT}"`,
    'Access-Control-Allow-Origin': '*',
    // Private: per-user access rules mean a shared cache must never store a manifest.
    'Cache-Control': 'private, max-age=300, stale-while-revalidate=60',
    ETag: doc.etag,
    'Last-Modified': doc.lastModified,
  };
  // RFC 9110 conditional request: weak comparison, lists, *, If-Modified-Since.
  return conditionalResponse(request, doc.json, headers);
};

/** CORS preflight (the IIIF Accept profile header is not CORS-safelisted). */
export const OPTIONS: APIRoute = () => preflightResponse();
