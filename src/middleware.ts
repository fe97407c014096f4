import { defineMiddleware } from 'astro:middleware';
import { negotiateLang } from './lib/i18n/strings.ts';

const LANG_COOKIE = 'lang';

/**
 * Runs in front of every route. Chooses the UI language (an explicit ?lang= is remembered in a
 * cookie for a year) and adds the security headers every response of a private archive needs.
 */
export const onRequest = defineMiddleware(async (context, next) => {
  const explicit = context.url.searchParams.get('lang');
  const lang = negotiateLang(explicit ?? context.cookies.get(LANG_COOKIE)?.value, context.request.headers.get('accept-language'));
  context.locals.lang = lang;
  if (explicit === 'ja' || explicit === 'en') {
    context.cookies.set(LANG_COOKIE, explicit, { path: '/', maxAge: 365 * 24 * 3600, sameSite: 'lax', httpOnly: false });
  }
  let response = await next();
  try {
    response.headers.set('X-Content-Type-Options', 'nosniff');
  } catch {
    // Headers of some responses (e.g. Response.redirect) are immutable: copy them.
    response = new Response(response.body, response);
    response.headers.set('X-Content-Type-Options', 'nosniff');
  }
  response.headers.set('Referrer-Policy', 'same-origin');
  if (!response.headers.has('X-Robots-Tag')) response.headers.set('X-Robots-Tag', 'noindex, nofollow');
  return response;
});
