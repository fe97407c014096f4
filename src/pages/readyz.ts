import type { APIRoute } from 'astro';
import { json } from '../lib/http/json.ts';
import { readiness } from '../lib/health.ts';
import { config } from '../lib/config.ts';
import { access, imageServer, rawStore } from '../lib/runtime.ts';

/**
 * Readiness: 200 when the store, the image source and (cloudflare mode) the signing keys answer;
 * 503 otherwise. The details (each check, counts, paths, key URLs) only for staff and for a direct
 * local check — a loopback peer with no proxy headers and no identity (AccessGate.seesHealthDetails);
 * anyone else the gate lets in learns only `{"status":"ok"}` or `{"status":"unavailable"}`.
 */
export const GET: APIRoute = async ({ locals, request, clientAddress }) => {
  const gate = access();
  // The unscoped store: readiness runs a real query, which a visitor's access scope would narrow.
  const r = await readiness(config(), rawStore, () => gate.signingKeys());
  const init = { status: r.ok ? 200 : 503, headers: { 'Cache-Control': 'no-store' } };
  let peer: string | undefined;
  try {
    peer = clientAddress;
  } catch {
    peer = undefined;
  }
  if (!gate.seesHealthDetails(locals.user, peer, request.headers)) return json({ status: r.ok ? 'ok' : 'unavailable' }, init);
  // Counters of this process's image server (docs/scaling.md: pyramids built here vs fetched shared).
  const images = await imageServer().then(
    (server) => {
      const { pyramidBuilds, pyramidsShared, cacheEntries, cacheBytes } = server.stats();
      return { pid: process.pid, pyramidBuilds, pyramidsShared, cacheEntries, cacheBytes };
    },
    () => undefined,
  );
  return json(images ? { ...r, images } : r, init);
};
