import type { APIRoute } from 'astro';
import { json } from '../lib/http.ts';
import { readiness } from '../lib/health.ts';
import { config } from '../lib/config.ts';
import { access, rawStore } from '../lib/runtime.ts';

/** Readiness: 200 when the store, the image source and (cloudflare mode) the signing keys answer; 503 naming the failing check otherwise. */
export const GET: APIRoute = async () => {
  const gate = access();
  // The unscoped store: readiness runs a real query, which a visitor's access scope would narrow.
  const r = await readiness(config(), rawStore, () => gate.signingKeys());
  return json(r, { status: r.ok ? 200 : 503, headers: { 'Cache-Control': 'no-store' } });
};
