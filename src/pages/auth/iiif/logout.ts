/**
 * IIIF Authorization Flow 2.0 logout service, also the site's "Sign out".
 *
 * - GET shows a confirmation page and changes nothing: a cross-site link, image or frame cannot
 *   sign anyone out. The IIIF logout service still works in a tab: the user presses the button.
 * - POST (same-origin only: `Origin`, else `Sec-Fetch-Site`, must name the archive itself) revokes
 *   every IIIF access token issued to the signed-in user, tells the browser to drop what it keeps
 *   of the archive (`Clear-Site-Data: "cache", "cookies"`), then sends it to ACCESS_LOGOUT_URL
 *   (cloudflare: /cdn-cgi/access/logout, which Cloudflare's edge answers by ending the Access
 *   session). Without one, a page says what was done.
 */
import type { APIRoute } from 'astro';
import { access } from '../../../lib/runtime.ts';
import { t } from '../../../lib/i18n/strings.ts';

export const prerender = false;

const NO_STORE = { 'Cache-Control': 'no-store' };

function page(lang: App.Locals['lang'], title: string, body: string, status = 200): Response {
  const html = `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="robots" content="noindex"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><link rel="stylesheet" href="/styles.css"></head>
<body><main><h1>${title}</h1>${body}<p><a href="/">←</a></p></main></body></html>`;
  return new Response(html, { status, headers: { ...NO_STORE, 'Content-Type': 'text/html; charset=utf-8' } });
}

export const GET: APIRoute = ({ locals }) => {
  const lang = locals.lang;
  return page(
    lang,
    t(lang, 'logoutConfirmTitle'),
    `<p>${t(lang, 'logoutConfirmText')}</p><form method="post" action="/auth/iiif/logout"><button type="submit" data-testid="logout-confirm">${t(lang, 'logoutConfirmButton')}</button></form>`,
  );
};

/** Whether a POST comes from the archive's own pages. */
function sameOrigin(request: Request, own: string): boolean {
  const origin = request.headers.get('origin');
  if (origin !== null) return origin === own;
  return request.headers.get('sec-fetch-site') === 'same-origin';
}

export const POST: APIRoute = async ({ locals, request }) => {
  const gate = access();
  const lang = locals.lang;
  if (!sameOrigin(request, new URL(gate.publicBaseUrl).origin)) {
    return new Response('Sign-out is accepted only from the archive’s own pages\n', { status: 403, headers: { ...NO_STORE, 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  if (locals.user) {
    // Revoked in this process at once; a store that cannot record it for the other processes is
    // logged (their tokens still expire within IIIF_AUTH_TOKEN_TTL).
    const id = locals.user.id;
    await gate.tokens.revoke(id).catch((e: unknown) => console.error(`[auth] sign-out of ${id} not shared through the store: ${(e as Error).message}`));
  }
  const headers = { ...NO_STORE, 'Clear-Site-Data': '"cache", "cookies"' };
  if (gate.logoutUrl) return new Response(null, { status: 303, headers: { ...headers, Location: gate.logoutUrl } });
  const res = page(lang, t(lang, 'loggedOutTitle'), `<p data-testid="logged-out">${t(lang, 'loggedOutText')}</p>`);
  res.headers.set('Clear-Site-Data', headers['Clear-Site-Data']);
  return res;
};
