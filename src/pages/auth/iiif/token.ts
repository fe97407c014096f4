/**
 * IIIF Authorization Flow 2.0 access token service: /auth/iiif/token?messageId=…&origin=…
 *
 * Opened by a IIIF client in a hidden iframe; answers 200 with a page that posts one message to
 * the parent window, addressed to `origin` only (postMessage never goes to '*'):
 *  - AuthAccessToken2 with a short-lived token bound to that origin, when the request carries a
 *    valid sign-in (the Access cookie, or the proxy's identity header) and the origin is allowed
 *    (the archive's own, or one listed in IIIF_AUTH_ORIGINS);
 *  - AuthAccessTokenError2 otherwise: invalidOrigin, missingAspect, invalidAspect, expiredAspect,
 *    unavailable or invalidRequest.
 * The page may be framed only by that origin (Content-Security-Policy frame-ancestors).
 */
import { randomBytes } from 'node:crypto';
import type { APIRoute } from 'astro';
import { access } from '../../../lib/runtime.ts';
import { parseOrigin, tokenError, tokenMessage, tokenPage, validMessageId, type TokenErrorProfile } from '../../../lib/access/iiif-auth.ts';

export const prerender = false;

const FAILURE_PROFILE: Record<string, TokenErrorProfile> = {
  missing: 'missingAspect',
  invalid: 'invalidAspect',
  expired: 'expiredAspect',
  unavailable: 'unavailable',
};

export const GET: APIRoute = async ({ url, locals }) => {
  const gate = access();
  const origin = parseOrigin(url.searchParams.get('origin'));
  const rawId = url.searchParams.get('messageId') ?? '';
  let message: Record<string, unknown> | undefined;
  if (origin) {
    if (!validMessageId(rawId)) message = tokenError(rawId.slice(0, 256), 'invalidRequest');
    else if (!gate.originAllowed(origin)) message = tokenError(rawId, 'invalidOrigin');
    else if (!locals.user) message = tokenError(rawId, FAILURE_PROFILE[locals.authFailure ?? 'missing'] ?? 'missingAspect');
    else {
      const token = await gate.tokens.issue({ id: locals.user.id, origin });
      message = tokenMessage(rawId, token, gate.tokens.ttlSeconds);
    }
  }
  const page = tokenPage(message, origin, randomBytes(16).toString('base64'));
  return new Response(page.html, { status: 200, headers: page.headers });
};
