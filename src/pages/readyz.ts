import type { APIRoute } from 'astro';
import { json } from '../lib/http.ts';
import { readiness } from '../lib/health.ts';
import { config } from '../lib/config.ts';
import { store } from '../lib/runtime.ts';

/** Readiness: 200 when the store and the image source answer, 503 with the failing check otherwise. */
export const GET: APIRoute = async () => {
  const r = await readiness(config(), store);
  return json(r, { status: r.ok ? 200 : 503, headers: { 'Cache-Control': 'no-store' } });
};
