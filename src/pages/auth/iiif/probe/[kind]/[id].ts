/**
 * IIIF Authorization Flow 2.0 probe service: /auth/iiif/probe/image/{imageId} and
 * /auth/iiif/probe/manifest/{itemId}. The HTTP status is always 200; `status` in the body is what a
 * request for the resource itself would get:
 *  - 401: no valid access token (and no sign-in on this request) — the same for every identifier;
 *  - 404: the identifier does not exist, or the user may not see it (indistinguishable);
 *  - 200: the user may see it.
 * The access token comes as `Authorization: Bearer`; a token presented from another origin than
 * the one it was issued to, expired or revoked counts as none.
 */
import type { APIRoute } from 'astro';
import { access, rawStore } from '../../../../../lib/runtime.ts';
import { probeResult } from '../../../../../lib/access/iiif-auth.ts';
import { IMAGE_ID_RE, canSee, type AccessLevel } from '../../../../../lib/domain.ts';

export const prerender = false;

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization',
  'Access-Control-Max-Age': '600',
};

function answer(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...CORS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', Vary: 'Authorization, Cookie' },
  });
}

async function levelsOf(request: Request, locals: App.Locals): Promise<AccessLevel[] | undefined> {
  const gate = access();
  const authorization = request.headers.get('authorization');
  if (authorization) {
    const bearer = /^Bearer\s+([A-Za-z0-9._~+/=-]{1,4096})$/.exec(authorization.trim())?.[1];
    const check = await gate.tokens.check(bearer, request.headers.get('origin'));
    return check.ok ? (await gate.gradedUser(check.claims.id, undefined, gate.mode)).levels : undefined;
  }
  return locals.user?.levels;
}

export const GET: APIRoute = async ({ params, request, locals }) => {
  const kind = params.kind;
  if (kind !== 'image' && kind !== 'manifest') return answer({ error: 'no such probe service', status: 404 }, 404);
  const levels = await levelsOf(request, locals);
  if (!levels) return answer(probeResult(401));
  const id = params.id ?? '';
  let visible = false;
  if (IMAGE_ID_RE.test(id)) {
    const store = await rawStore();
    if (kind === 'image') {
      const entry = await store.getImage(id);
      visible = entry !== null && canSee(levels, entry.access);
    } else {
      // The indexed level alone (never the record): a restricted item answers as fast as a missing one.
      const level = store.getAccessLevel ? await store.getAccessLevel(id) : ((await store.get(id))?.access ?? null);
      visible = level !== null && canSee(levels, level);
    }
  }
  return answer(probeResult(visible ? 200 : 404));
};

export const OPTIONS: APIRoute = () => new Response(null, { status: 204, headers: CORS });
