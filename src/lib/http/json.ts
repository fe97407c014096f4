/** Small helpers for JSON API responses, and the one answer to a bug (`internalErrorResponse`). */
export function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  if (!headers.has('Content-Type')) headers.set('Content-Type', 'application/json; charset=utf-8');
  return new Response(JSON.stringify(body), { ...init, headers });
}

export function jsonError(status: number, message: string): Response {
  return json({ error: message, status }, { status, headers: { 'Cache-Control': 'no-store' } });
}

/**
 * The answer to a bug: a logged 500 (one JSON line on stderr with the stack, for operators) and a
 * plain message for the client — never the stack, never a half-written page.
 */
export function internalErrorResponse(
  error: unknown,
  url: URL,
  opts: { lang?: string; method?: string; log?: (line: string) => void } = {},
): Response {
  const e = error instanceof Error ? error : new Error(String(error));
  (opts.log ?? ((line: string) => process.stderr.write(line + '\n')))(
    JSON.stringify({ t: new Date().toISOString(), level: 'error', method: opts.method, url: url.pathname + url.search, error: e.name, message: e.message, stack: e.stack }),
  );
  if (/^\/(api|iiif)(\/|$)/.test(url.pathname) || url.pathname.endsWith('.json')) {
    return jsonError(500, 'internal error (logged)');
  }
  const ja = opts.lang !== 'en';
  const title = ja ? 'エラーが発生しました' : 'Something went wrong';
  const body = ja ? 'サーバー内部のエラーです。記録されました。時間をおいて再度お試しください。' : 'An internal error occurred and has been logged. Please try again later.';
  return new Response(
    `<!doctype html><html lang="${ja ? 'ja' : 'en'}"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p><p><a href="/">${ja ? 'トップへ' : 'Home'}</a></p></body></html>`,
    { status: 500, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' } },
  );
}
