import { defineMiddleware } from 'astro:middleware';
import { negotiateLang } from './lib/i18n/strings.ts';
import { access } from './lib/runtime.ts';
import { VOUCH_HEADER } from './lib/access/gate.ts';
import { runInAccessScope } from './lib/access/scope.ts';
import { missingPage, staffOnlyPath } from './lib/access/admin-http.ts';
import { StoreUnavailableError } from './lib/search/store.ts';
import { storeUnavailableResponse } from './lib/search/unavailable.ts';
import { internalErrorResponse } from './lib/http/json.ts';
import { isCorsPath, secureFetchHeaders } from './lib/http/headers.ts';

const LANG_COOKIE = 'lang';

/**
 * Runs in front of every route.
 *
 * 1. Who is asking (src/lib/access/gate.ts): the node:http front (src/lib/front/front.ts, under
 *    `npm start` and `astro dev` alike) has already run the gate on the canonical request URL and
 *    hands the result over in a header only this process can write; without it (a handler run
 *    some other way) the gate runs here again, failing closed. A refused request ends here.
 * 2. The user goes to `Astro.locals.user`; the route runs inside the user's access scope, so every
 *    store read it makes obeys the per-item rules (src/lib/access/scope.ts). /iiif/ never reaches
 *    Astro: the front answers it.
 * 3. The UI language (an explicit ?lang= is remembered in a cookie for a year), and the security
 *    headers every response of a private archive needs (src/lib/http/headers.ts).
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
  // Cross-site request forgery: a state-changing request must come from the archive's own pages.
  // Checked against PUBLIC_BASE_URL's origin, which is what browsers send as Origin behind a
  // TLS-terminating proxy (Astro's own checkOrigin would compare with the plain-http URL it sees).
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') {
    const origin = context.request.headers.get('origin');
    const site = context.request.headers.get('sec-fetch-site');
    const own = new URL(gate.publicBaseUrl).origin;
    if (origin !== null ? origin !== own : site === 'cross-site' || site === 'same-site') {
      return new Response(`Cross-site ${method} requests are refused\n`, {
        status: 403,
        headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' },
      });
    }
  }
  context.locals.user = who.user ?? undefined;
  context.locals.authFailure = who.reason;
  const levels = who.user?.levels ?? [];

  if (explicit === 'ja' || explicit === 'en') {
    context.cookies.set(LANG_COOKIE, explicit, { path: '/', maxAge: 365 * 24 * 3600, sameSite: 'lax', httpOnly: false });
  }

  // The route, inside the user's access scope. Grant and audit administration: anyone but staff
  // gets the site's answer for a missing page (which Astro renders through this middleware again,
  // as the /404 route: let that through).
  const route = async (): Promise<Response> => {
    if (staffOnlyPath(context.url.pathname) && context.routePattern !== '/404' && context.locals.user?.level !== 'staff') return missingPage();
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

  // The security policy of every answer (src/lib/http/headers.ts): CSP on pages, no-store and
  // Vary for private content in the gated modes, credentialed CORS for an allowed IIIF client
  // origin on manifests, collections and the IIIF Auth probe (never '*' there).
  const policy = {
    path: context.url.pathname,
    gated: gate.mode !== 'none',
    cors: isCorsPath(context.url.pathname) ? gate.corsFor(context.request.headers.get('origin')) : {},
    pageCsp: !import.meta.env.DEV,
  };
  try {
    secureFetchHeaders(response.headers, policy);
  } catch {
    // Headers of some responses (e.g. Response.redirect) are immutable: copy them.
    response = new Response(response.body, response);
    secureFetchHeaders(response.headers, policy);
  }
  return response;
});
