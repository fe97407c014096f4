/**
 * /api/admin/grants/{id}: GET one grant; PATCH changes `until` and/or `reason`; DELETE revokes.
 * Staff only, as /api/admin/grants (src/lib/access/admin-http.ts).
 */
import type { APIRoute } from 'astro';
import { grantsApi, missingPage } from '../../../../lib/access/admin-http.ts';
import { config } from '../../../../lib/config.ts';
import { jsonError } from '../../../../lib/http/json.ts';
import { grantAdmin } from '../../../../lib/runtime.ts';

export const prerender = false;

export const ALL: APIRoute = async ({ request, params, locals }) => {
  if (locals.user?.level !== 'staff') return missingPage();
  const admin = await grantAdmin();
  if (!admin) return jsonError(503, 'this store keeps no grants');
  return (await grantsApi(request, params.id ?? '', { user: locals.user, admin, ownOrigin: new URL(config().publicBaseUrl).origin })) ?? missingPage();
};
