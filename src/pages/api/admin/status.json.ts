import type { APIRoute } from 'astro';
import { config } from '../../../lib/config.ts';
import { jsonError, json } from '../../../lib/http/json.ts';
import { collectStatus } from '../../../lib/ingest/status.ts';
import { rawStore } from '../../../lib/runtime.ts';

/**
 * Ingest status for staff, as JSON: records and images per batch, the s3_uploaded:false records
 * (the first 100, or all with ?all=1), batches normalized but not indexed, the last run of each
 * stage. The same data as `archive status --json`.
 */
export const GET: APIRoute = async ({ locals, url }) => {
  if (locals.user?.level !== 'staff') return jsonError(403, 'the ingest status is for staff only');
  const all = url.searchParams.get('all') === '1';
  const status = await collectStatus(config(), await rawStore(), { limit: all ? Number.MAX_SAFE_INTEGER : 100 });
  return json(status, { headers: { 'Cache-Control': 'no-store' } });
};
