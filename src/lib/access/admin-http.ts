/**
 * The HTTP side of grant and audit administration, framework-free (the routes under
 * src/pages/api/admin/ and src/pages/admin/access.astro parse, call these, and answer):
 *
 *  - staff only: anyone else is told nothing — the route answers as for a missing page (`null`
 *    here; the route renders the site's 404);
 *  - the JSON API takes only `Content-Type: application/json` bodies (415 otherwise), at most 16 KB;
 *  - a request whose `Origin` (or `Sec-Fetch-Site: cross-site`) shows another site is refused (403):
 *    browsers send both with every cross-origin POST, PATCH and DELETE;
 *  - the staff page's forms carry a CSRF token (double submit: a random value in a SameSite=Strict,
 *    HttpOnly cookie and in the form), checked together with the origin.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { json, jsonError } from '../http/json.ts';
import { ACCESS_KINDS, auditLimit, type AccessKind, type AccessStore, type AuditQuery, type AuditType } from './access-store.ts';
import type { User } from './gate.ts';
import { auditCsv, type GrantAdmin } from './grants-admin.ts';
import { GrantInputError } from './grants.ts';

export const MAX_BODY = 16 * 1024;
export const CSRF_COOKIE = 'archive_csrf';
export const CSRF_FIELD = 'csrf';

/**
 * The site's answer for a missing page, for the request as made: an empty 404 carrying the header
 * by which Astro's app asks itself to render its error page (src/pages/404.astro) for the original
 * request — the mechanism Astro uses for routes that turn out not to exist. A `rewrite('/404')`
 * would render the same page for the URL /404, which a user could tell apart (the page's language
 * link names the URL). tests/security/grants.test.ts compares the two answers byte for byte.
 */
export function missingPage(): Response {
  return new Response(null, { status: 404, headers: { 'X-Astro-Error': '404' } });
}

/** Paths only staff may know exist (the middleware answers anyone else with the site's 404). */
export function staffOnlyPath(path: string): boolean {
  return /^\/(admin\/access|api\/admin\/grants|api\/admin\/audit)(\/|$|\.)/.test(path);
}

export function isStaff(user: User | null | undefined): user is User {
  return user?.level === 'staff';
}

/** 403 when the request comes from another site than `ownOrigin`; undefined when it may go on. */
export function foreignOrigin(request: Request, ownOrigin: string): Response | undefined {
  const origin = request.headers.get('origin');
  const site = request.headers.get('sec-fetch-site');
  if ((origin !== null && origin !== ownOrigin) || site === 'cross-site') {
    return jsonError(403, `requests from ${origin ?? 'another site'} are refused: use the archive's own pages or a script without an Origin header`);
  }
  return undefined;
}

async function readJson(request: Request): Promise<unknown> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'send the body as Content-Type: application/json');
  const length = Number(request.headers.get('content-length') ?? 0);
  if (length > MAX_BODY) throw new HttpError(413, `the body is larger than ${MAX_BODY} bytes`);
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY) throw new HttpError(413, `the body is larger than ${MAX_BODY} bytes`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the body is not valid JSON (${(e as Error).message})`);
  }
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const NO_STORE = { 'Cache-Control': 'no-store' };

/**
 * /api/admin/grants[/{id}]. `null`: not for this user (the route answers as for a missing page).
 */
export async function grantsApi(request: Request, id: string | undefined, ctx: { user: User | null | undefined; admin: GrantAdmin; ownOrigin: string }): Promise<Response | null> {
  if (!isStaff(ctx.user)) return null;
  const method = request.method.toUpperCase();
  const foreign = foreignOrigin(request, ctx.ownOrigin);
  if (foreign) return foreign;
  try {
    if (id === undefined) {
      if (method === 'GET' || method === 'HEAD') return json({ grants: await ctx.admin.list() }, { headers: NO_STORE });
      if (method === 'POST') {
        const grant = await ctx.admin.add(await readJson(request), ctx.user.id);
        return json(grant, { status: 201, headers: { ...NO_STORE, Location: `/api/admin/grants/${encodeURIComponent(grant.id)}` } });
      }
      return jsonError(405, 'use GET or POST');
    }
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return jsonError(404, 'no such grant');
    let grant;
    if (method === 'GET' || method === 'HEAD') grant = await ctx.admin.get(id);
    else if (method === 'PATCH') grant = await ctx.admin.change(id, await readJson(request), ctx.user.id);
    else if (method === 'DELETE') grant = await ctx.admin.revoke(id, ctx.user.id);
    else return jsonError(405, 'use GET, PATCH or DELETE');
    return grant ? json(grant, { headers: NO_STORE }) : jsonError(404, 'no such grant');
  } catch (e) {
    if (e instanceof GrantInputError) return jsonError(400, e.message);
    if (e instanceof HttpError) return jsonError(e.status, e.message);
    throw e;
  }
}

const AUDIT_TYPES: readonly AuditType[] = ['grant.add', 'grant.change', 'grant.revoke', 'access'];

/** The audit query of a URL's parameters (item, grant, actor, type, since, limit); throws GrantInputError. */
export function auditQuery(params: URLSearchParams): AuditQuery {
  const q: AuditQuery = {};
  for (const k of ['item', 'grant', 'actor'] as const) {
    const v = params.get(k);
    if (v !== null && v !== '') {
      if (v.length > 256) throw new GrantInputError(`${k}: at most 256 characters`);
      q[k] = k === 'actor' ? v.trim().toLowerCase() : v;
    }
  }
  const type = params.get('type');
  if (type) {
    if (!(AUDIT_TYPES as readonly string[]).includes(type)) throw new GrantInputError(`type: one of ${AUDIT_TYPES.join(', ')}`);
    q.type = type as AuditType;
  }
  const since = params.get('since');
  if (since) {
    const ms = Date.parse(since.length === 10 ? `${since}T00:00:00Z` : since);
    if (!Number.isFinite(ms)) throw new GrantInputError('since: an ISO 8601 date or date-time');
    q.since = new Date(ms).toISOString();
  }
  const limit = params.get('limit');
  if (limit) q.limit = auditLimit({ limit: Number(limit) });
  return q;
}

/** /api/admin/audit: JSON, or CSV with ?format=csv. `null`: not for this user. */
export async function auditApi(request: Request, url: URL, ctx: { user: User | null | undefined; store: AccessStore; ownOrigin: string }): Promise<Response | null> {
  if (!isStaff(ctx.user)) return null;
  const foreign = foreignOrigin(request, ctx.ownOrigin);
  if (foreign) return foreign;
  let q: AuditQuery;
  try {
    q = auditQuery(url.searchParams);
  } catch (e) {
    return jsonError(400, (e as Error).message);
  }
  const events = await ctx.store.listAudit(q);
  const format = url.searchParams.get('format') ?? 'json';
  if (format === 'csv') {
    return new Response(auditCsv(events), {
      headers: { ...NO_STORE, 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="audit-${new Date().toISOString().slice(0, 10)}.csv"` },
    });
  }
  if (format !== 'json') return jsonError(400, 'format: json or csv');
  return json({ events }, { headers: NO_STORE });
}

/** A fresh CSRF token (the page sets it as a cookie and puts it in its forms). */
export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Whether a form's token matches the cookie's (both present, equal, well formed). */
export function csrfMatches(cookie: string | undefined, field: unknown): boolean {
  if (!cookie || typeof field !== 'string' || !/^[A-Za-z0-9_-]{32}$/.test(cookie)) return false;
  const a = Buffer.from(cookie);
  const b = Buffer.from(field);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isAccessKind(v: unknown): v is AccessKind {
  return typeof v === 'string' && (ACCESS_KINDS as readonly string[]).includes(v);
}
