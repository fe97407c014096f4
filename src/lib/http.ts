/** Small helpers for JSON API responses. */
export function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  if (!headers.has('Content-Type')) headers.set('Content-Type', 'application/json; charset=utf-8');
  return new Response(JSON.stringify(body), { ...init, headers });
}

export function jsonError(status: number, message: string): Response {
  return json({ error: message, status }, { status, headers: { 'Cache-Control': 'no-store' } });
}
