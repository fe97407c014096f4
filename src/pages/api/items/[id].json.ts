import type { APIRoute } from 'astro';
import { createHash } from 'node:crypto';
import { store } from '../../../lib/runtime.ts';
import { config } from '../../../lib/config.ts';
import { jsonError } from '../../../lib/http/json.ts';
import { publicRecord } from '../../../lib/iiif/record.ts';
import { conditionalResponse } from '../../../lib/http/conditional.ts';
import { ITEM_ID_RE } from '../../../lib/domain.ts';

/** An item's record as JSON (the manifest's `seeAlso`); same access rules as the item page. */
export const GET: APIRoute = async ({ params, request }) => {
  const id = params.id ?? '';
  if (!ITEM_ID_RE.test(id)) return jsonError(404, `no item "${id.slice(0, 140)}"`);
  const record = await (await store()).get(id);
  if (!record) return jsonError(404, `no item "${id}"`);
  const body = JSON.stringify(publicRecord(config().publicBaseUrl, record));
  return conditionalResponse(request, body, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'private, max-age=300',
    ETag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    'Last-Modified': new Date(record.updated_at).toUTCString(),
  });
};
