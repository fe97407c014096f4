/**
 * The answer to a request that needed the search store while it cannot be reached: 503 with
 * Retry-After, HTML for pages, JSON for /api and /iiif, and one JSON log line on stderr saying what
 * is wrong. No stack trace, no internal detail in the response (the reason is in the log and in
 * /readyz, for operators).
 *
 * Used by the middleware, around `next()`:
 *
 *   try { response = await next(); }
 *   catch (e) {
 *     if (!(e instanceof StoreUnavailableError)) throw e;
 *     response = storeUnavailableResponse(e, context.url, { lang: context.locals.lang });
 *   }
 */
import { StoreUnavailableError } from './store.ts';

export const RETRY_AFTER_SECONDS = 30;

export interface UnavailableOptions {
  lang?: string;
  method?: string;
  /** Where the log line goes (default: stderr). */
  log?: (line: string) => void;
  now?: () => Date;
}

/** Requests answered with JSON: the APIs and the IIIF endpoints (whose clients are programs). */
export function wantsJson(url: URL): boolean {
  return /^\/(api|iiif)(\/|$)/.test(url.pathname) || url.pathname.endsWith('.json');
}

const TEXT = {
  ja: {
    title: '一時的に利用できません',
    body: '検索データベースに接続できません。しばらくしてから再度お試しください。',
    retry: '再読み込み',
  },
  en: {
    title: 'Temporarily unavailable',
    body: 'The archive cannot reach its search database right now. Please try again in a few minutes.',
    retry: 'Reload',
  },
} as const;

/** The one log line: time, event, backend, request, reason. */
export function unavailableLogLine(err: StoreUnavailableError, url: URL, method = 'GET', now = new Date()): string {
  return JSON.stringify({
    t: now.toISOString(),
    level: 'error',
    event: 'store_unavailable',
    backend: err.backend,
    method,
    path: url.pathname.slice(0, 300),
    reason: err.reason,
  });
}

export function storeUnavailableResponse(err: StoreUnavailableError, url: URL, opts: UnavailableOptions = {}): Response {
  (opts.log ?? ((line: string) => process.stderr.write(line + '\n')))(
    unavailableLogLine(err, url, opts.method, (opts.now ?? (() => new Date()))()),
  );
  const headers = { 'Cache-Control': 'no-store', 'Retry-After': String(RETRY_AFTER_SECONDS) };
  if (wantsJson(url)) {
    return new Response(JSON.stringify({ error: 'search store unavailable', status: 503, retryAfter: RETRY_AFTER_SECONDS }), {
      status: 503,
      headers: { ...headers, 'Content-Type': 'application/json; charset=utf-8' },
    });
  }
  const lang = opts.lang === 'en' ? 'en' : 'ja';
  const t = TEXT[lang];
  const html = `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>503 — ${t.title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.6;color:#222}h1{font-size:1.4rem}</style></head>
<body><main><h1>${t.title}</h1><p>${t.body}</p><p><a href="">${t.retry}</a></p></main></body>
</html>
`;
  return new Response(html, { status: 503, headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8' } });
}

/** Convenience for routes that want to answer themselves: the response for `e`, or null. */
export function unavailableResponseFor(e: unknown, url: URL, opts: UnavailableOptions = {}): Response | null {
  return e instanceof StoreUnavailableError ? storeUnavailableResponse(e, url, opts) : null;
}
