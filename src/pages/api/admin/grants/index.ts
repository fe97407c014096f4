/**
 * /api/admin/grants: GET lists every grant with its status; POST adds one (201 with the grant and
 * its id). Staff only: anyone else gets the site's answer for a missing page. JSON bodies only;
 * requests from another site are refused (src/lib/access/admin-http.ts).
 */
import type { APIRoute } from 'astro';
import { grantsApi, missingPage } from '../../../../lib/access/admin-http.ts';
import { config } from '../../../../lib/config.ts';
import { jsonError } from '../../../../lib/http/json.ts';
import { grantAdmin } from '../../../../lib/runtime.ts';

export const prerender = false;

export const ALL: APIRoute = async ({ request, locals }) => {
  if (locals.user?.level !== 'staff') return missingPage();
  const admin = await grantAdmin();
  if (!admin) return jsonError(503, 'this store keeps no grants');
  return (await grantsApi(request, undefined, { user: locals.user, admin, ownOrigin: new URL(config().publicBaseUrl).origin })) ?? missingPage();
};
