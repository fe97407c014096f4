import { defineMiddleware } from 'astro:middleware';
import { negotiateLang } from './lib/i18n/strings.ts';
import { access, deniedImageServer, rawStore } from './lib/runtime.ts';
import { VOUCH_HEADER } from './lib/access/gate.ts';
import { runInAccessScope } from './lib/access/scope.ts';
import { deniedImageAnswer } from './lib/access/images.ts';
import { missingPage, staffOnlyPath } from './lib/access/admin-http.ts';
import { StoreUnavailableError } from './lib/search/store.ts';
import { storeUnavailableResponse } from './lib/search/unavailable.ts';
import { internalErrorResponse } from './lib/http.ts';

const LANG_COOKIE = 'lang';

/** Paths whose answers an allowed IIIF client origin may read with the user's credentials. */
const CREDENTIALED_CORS = /^\/(iiif|api\/iiif)\//;

/**
 * Runs in front of every route.
 *
 * 1. Who is asking (src/lib/access/gate.ts): scripts/start.ts has already run the gate on the raw
 *    request and hands the result over in a header only this process can write; without it (e.g.
 *    `astro dev`) the gate runs here. A refused request ends here, before any route runs.
 * 2. The user goes to `Astro.locals.user`; the route runs inside the user's access scope, so every
 *    store read it makes obeys the per-item rules (src/lib/access/scope.ts). An image below /iiif/
 *    that the user may not see is answered here exactly as a missing one.
 * 3. The UI language (an explicit ?lang= is remembered in a cookie for a year), and the security
 *    headers every response of a private archive needs.
 */
export const onRequest = defineMiddleware(async (context, next) => {
  const explicit = context.url.searchParams.get('lang');
  const lang = negotiateLang(explicit ?? context.cookies.get(LANG_COOKIE)?.value, context.request.headers.get('accept-language'));
  context.locals.lang = lang;

  const gate = access();
  const method = context.request.method.toUpperCase();
  let who = gate.readVouch(context.request.headers.get(VOUCH_HEADER));
  if (!who) {
    let remoteAddress: string | undefined;
    try {
      remoteAddress = context.clientAddress;
    } catch {
      remoteAddress = undefined;
    }
    const outcome = await gate.authenticate({
      method,
      url: context.url.pathname + context.url.search,
      headers: context.request.headers,
      remoteAddress,
    });
    if (!outcome.allow) return new Response(outcome.body || null, { status: outcome.status, headers: outcome.headers });
    who = outcome;
  }
  context.locals.user = who.user ?? undefined;
  context.locals.authFailure = who.reason;
  const levels = who.user?.levels ?? [];

  if (explicit === 'ja' || explicit === 'en') {
    context.cookies.set(LANG_COOKIE, explicit, { path: '/', maxAge: 365 * 24 * 3600, sameSite: 'lax', httpOnly: false });
  }

  // The route, inside the user's access scope; an image the user may not see ends here.
  const route = async (): Promise<Response> => {
    const path = context.url.pathname;
    // Grant and audit administration: anyone but staff gets the site's answer for a missing page
    // (which Astro renders through this middleware again, as the /404 route: let that through).
    if (staffOnlyPath(path) && context.routePattern !== '/404' && context.locals.user?.level !== 'staff') return missingPage();
    if (path.startsWith('/iiif/') && (method === 'GET' || method === 'HEAD')) {
      const denied = await deniedImageAnswer(path.slice('/iiif/'.length), levels, async (id) => (await rawStore()).getImage(id), await deniedImageServer(), {
        method,
        headers: context.request.headers,
      });
      if (denied) {
        const body = method === 'GET' && denied.body !== undefined ? (typeof denied.body === 'string' ? denied.body : new Uint8Array(denied.body)) : null;
        await denied.file?.handle.close().catch(() => {});
        return new Response(body, { status: denied.status, headers: denied.headers });
      }
    }
    return next();
  };
  let response: Response;
  try {
    response = await runInAccessScope({ levels }, route);
  } catch (e) {
    // The search store cannot be reached (Elasticsearch down, ...): 503, not a stack trace.
    if (e instanceof StoreUnavailableError) response = storeUnavailableResponse(e, context.url, { lang, method });
    else response = internalErrorResponse(e, context.url, { lang, method });
  }
  // The audit trail: first access per user, restricted item and day (src/lib/access/audit.ts).
  if (response.status === 200 && (method === 'GET' || method === 'HEAD')) gate.audit?.noteRequest(context.url.pathname, who.user);

  try {
    response.headers.set('X-Content-Type-Options', 'nosniff');
  } catch {
    // Headers of some responses (e.g. Response.redirect) are immutable: copy them.
    response = new Response(response.body, response);
    response.headers.set('X-Content-Type-Options', 'nosniff');
  }
  response.headers.set('Referrer-Policy', 'same-origin');
  if (!response.headers.has('X-Robots-Tag')) response.headers.set('X-Robots-Tag', 'noindex, nofollow');
  // No page of the archive may be framed by another site (clickjacking of the sign-in page); the
  // IIIF token service sets its own policy naming the one client origin allowed to frame it.
  if (!response.headers.has('Content-Security-Policy') && (response.headers.get('Content-Type') ?? '').startsWith('text/html')) {
    response.headers.set('Content-Security-Policy', "frame-ancestors 'self'");
  }
  // A IIIF client on an allowed origin (IIIF_AUTH_ORIGINS) may read manifests and images with the
  // user's credentials; '*' would make browsers drop such credentialed answers.
  const cors = CREDENTIALED_CORS.test(context.url.pathname) ? gate.corsFor(context.request.headers.get('origin')) : {};
  for (const [k, v] of Object.entries(cors)) {
    if (k === 'Vary') response.headers.append('Vary', v);
    else response.headers.set(k, v);
  }
  return response;
});
