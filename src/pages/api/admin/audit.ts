/**
 * /api/admin/audit: the audit trail (grant changes, first daily access to restricted items), newest
 * first, as JSON or, with ?format=csv, as CSV for the holding institution. Filters: item, grant,
 * actor, type, since, limit. Staff only (src/lib/access/admin-http.ts).
 */
import type { APIRoute } from 'astro';
import { auditApi, missingPage } from '../../../lib/access/admin-http.ts';
import { config } from '../../../lib/config.ts';
import { jsonError } from '../../../lib/http/json.ts';
import { accessAudit, accessStore } from '../../../lib/runtime.ts';

export const prerender = false;

export const GET: APIRoute = async ({ request, url, locals }) => {
  if (locals.user?.level !== 'staff') return missingPage();
  const store = await accessStore();
  if (!store) return jsonError(503, 'this store keeps no audit trail');
  // What this process has queued is part of the answer.
  await accessAudit().flush().catch(() => {});
  return (await auditApi(request, url, { user: locals.user, store, ownOrigin: new URL(config().publicBaseUrl).origin })) ?? missingPage();
};
