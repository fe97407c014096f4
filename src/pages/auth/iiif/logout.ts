/**
 * IIIF Authorization Flow 2.0 logout service, also the site's "Sign out": revokes every IIIF
 * access token issued to the signed-in user, then sends the browser to ACCESS_LOGOUT_URL
 * (cloudflare: /cdn-cgi/access/logout, which Cloudflare's edge answers by ending the Access
 * session). Without one, a page says what was done.
 */
import type { APIRoute } from 'astro';
import { access } from '../../../lib/runtime.ts';
import { t } from '../../../lib/i18n/strings.ts';

export const prerender = false;

export const GET: APIRoute = async ({ locals }) => {
  const gate = access();
  if (locals.user) {
    // Revoked in this process at once; a store that cannot record it for the other processes is
    // logged (their tokens still expire within IIIF_AUTH_TOKEN_TTL).
    await gate.tokens.revoke(locals.user.id).catch((e: unknown) => console.error(`[auth] sign-out of ${locals.user!.id} not shared through the store: ${(e as Error).message}`));
  }
  const headers = { 'Cache-Control': 'no-store' };
  if (gate.logoutUrl) return new Response(null, { status: 303, headers: { ...headers, Location: gate.logoutUrl } });
  const lang = locals.lang;
  const html = `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${t(lang, 'loggedOutTitle')}</title><link rel="stylesheet" href="/styles.css"></head>
<body><main><h1>${t(lang, 'loggedOutTitle')}</h1><p data-testid="logged-out">${t(lang, 'loggedOutText')}</p><p><a href="/">←</a></p></main></body></html>`;
  return new Response(html, { status: 200, headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8' } });
};
