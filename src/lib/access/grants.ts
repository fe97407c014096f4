/**
 * Stored access grants: time-limited raises of a user's level, kept in the archive's store (so
 * every web process sees them) and managed by staff on /admin/access, /api/admin/grants and
 * `archive grants`. The environment/file rules (rules.ts) stay as the bootstrap; a grant can only
 * add to them.
 *
 * A grant: `pattern` (an address, `*@domain`, or a Cloudflare service token id — the same syntax
 * and matching as ACCESS_RULES, except `*`, which is a decision for the rules file, not a grant),
 * `level` (`members` or `staff`), optional `from` / `until` (ISO 8601; `until` is exclusive),
 * `reason`, who granted it and when; `revoked_at` once revoked. Pure: validation, status and
 * level resolution. Storage is the AccessStore port (access-store.ts), caching is grant-book.ts.
 */
import { levelsUpTo, type AccessLevel } from '../domain.ts';
import { checkPattern, levelFor, matches, type AccessRules } from './rules.ts';

export type GrantLevel = 'members' | 'staff';
export const GRANT_LEVELS: readonly GrantLevel[] = ['members', 'staff'];

export interface Grant {
  id: string;
  pattern: string;
  level: GrantLevel;
  /** ISO 8601; absent: from the moment it was granted. */
  from?: string;
  /** ISO 8601, exclusive; absent: until revoked. */
  until?: string;
  reason: string;
  granted_by: string;
  granted_at: string;
  /** Last change (extend, new reason, revocation). */
  updated_at?: string;
  revoked_at?: string;
  revoked_by?: string;
}

export type GrantStatus = 'active' | 'future' | 'expired' | 'revoked';

/** A request that does not make a valid grant or change: the message says what to fix (HTTP 400). */
export class GrantInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrantInputError';
  }
}

export const MAX_REASON = 500;
const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** An ISO 8601 date or date-time, normalised to `toISOString()`; a date alone is midnight UTC. */
export function parseInstant(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ISO_RE.test(value.trim())) {
    throw new GrantInputError(`${field}: expected an ISO 8601 date or date-time such as 2026-12-31 or 2026-12-31T00:00:00Z, got ${JSON.stringify(value)}`);
  }
  const v = value.trim();
  const [y, m, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) throw new GrantInputError(`${field}: ${JSON.stringify(value)} is not a valid date`);
  const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v);
  if (!Number.isFinite(ms)) throw new GrantInputError(`${field}: ${JSON.stringify(value)} is not a valid date`);
  return new Date(ms).toISOString();
}

function optionalInstant(value: unknown, field: string): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : parseInstant(value, field);
}

function checkReason(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new GrantInputError('reason: say why the grant is given (e.g. the research request), at most 500 characters');
  const r = value.trim();
  if (r.length > MAX_REASON) throw new GrantInputError(`reason: at most ${MAX_REASON} characters (got ${r.length})`);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(r)) throw new GrantInputError('reason: control characters are not allowed');
  return r;
}

/** A grant's pattern: the rules' syntax (rules.ts) without `*`. */
export function checkGrantPattern(value: unknown): string {
  let p: string;
  try {
    p = checkPattern(value, 'pattern');
  } catch (e) {
    throw new GrantInputError((e as Error).message);
  }
  if (p === '*') throw new GrantInputError('pattern: "*" (every signed-in user) belongs in ACCESS_RULES, not in a grant');
  return p;
}

export interface NewGrant {
  pattern: string;
  level: GrantLevel;
  from?: string;
  until?: string;
  reason: string;
}

function fields(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new GrantInputError('expected a JSON object');
  const rec = body as Record<string, unknown>;
  const unknown = Object.keys(rec).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new GrantInputError(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (allowed: ${allowed.join(', ')})`);
  return rec;
}

/** Checks a new grant (POST body, CLI arguments, form). `now` decides whether `until` is past. */
export function parseNewGrant(body: unknown, now: Date): NewGrant {
  const rec = fields(body, ['pattern', 'level', 'from', 'until', 'reason']);
  const pattern = checkGrantPattern(rec.pattern);
  if (typeof rec.level !== 'string' || !(GRANT_LEVELS as readonly string[]).includes(rec.level)) {
    throw new GrantInputError(`level: unknown level ${JSON.stringify(rec.level)} (a grant gives "members" or "staff")`);
  }
  const from = optionalInstant(rec.from, 'from');
  const until = optionalInstant(rec.until, 'until');
  checkPeriod(from, until, now);
  return { pattern, level: rec.level as GrantLevel, ...(from ? { from } : {}), ...(until ? { until } : {}), reason: checkReason(rec.reason) };
}

function checkPeriod(from: string | undefined, until: string | undefined, now: Date): void {
  if (until !== undefined) {
    if (from !== undefined && Date.parse(until) <= Date.parse(from)) throw new GrantInputError(`until (${until}) must be after from (${from})`);
    if (Date.parse(until) <= now.getTime()) throw new GrantInputError(`until (${until}) is already past`);
  }
}

export interface GrantChange {
  /** A new end; null removes the end (until revoked). */
  until?: string | null;
  reason?: string;
}

/** Checks a change (PATCH body): `until` and/or `reason`. */
export function parseGrantChange(body: unknown, grant: Grant, now: Date): GrantChange {
  const rec = fields(body, ['until', 'reason']);
  if (!('until' in rec) && !('reason' in rec)) throw new GrantInputError('nothing to change: give "until" and/or "reason"');
  const change: GrantChange = {};
  if ('until' in rec) {
    change.until = rec.until === null ? null : parseInstant(rec.until, 'until');
    if (change.until) checkPeriod(grant.from, change.until, now);
  }
  if ('reason' in rec) change.reason = checkReason(rec.reason);
  return change;
}

export function grantStatus(g: Grant, now: Date | number): GrantStatus {
  const t = typeof now === 'number' ? now : now.getTime();
  if (g.revoked_at) return 'revoked';
  if (g.from && Date.parse(g.from) > t) return 'future';
  if (g.until && Date.parse(g.until) <= t) return 'expired';
  return 'active';
}

const RANK: Record<AccessLevel, number> = { open: 0, members: 1, staff: 2 };

export interface Resolved {
  level: AccessLevel;
  levels: AccessLevel[];
  /** The grant that raised the level above the rules (the highest, then the latest ending). */
  grant?: string;
}

/** The level of an identity under the rules plus the grants active at `now`. */
export function resolveLevel(identity: string, rules: AccessRules, grants: readonly Grant[], now: Date | number): Resolved {
  const id = identity.trim().toLowerCase();
  let level = levelFor(id, rules);
  let grant: Grant | undefined;
  for (const g of grants) {
    if (grantStatus(g, now) !== 'active' || !matches(g.pattern, id)) continue;
    const r = RANK[g.level];
    if (r < RANK[level]) continue;
    // At the level already reached: only to name the grant that lasts longest among equals.
    if (r === RANK[level] && (!grant || (g.until ?? '\uffff') <= (grant.until ?? '\uffff'))) continue;
    level = g.level;
    grant = g;
  }
  return { level, levels: levelsUpTo(level), ...(grant ? { grant: grant.id } : {}) };
}

/** Grants sorted for display: active, future, expired, revoked; newest first within each. */
export function sortGrants(grants: readonly Grant[], now: Date): Grant[] {
  const order: Record<GrantStatus, number> = { active: 0, future: 1, expired: 2, revoked: 3 };
  return [...grants].sort((a, b) => order[grantStatus(a, now)] - order[grantStatus(b, now)] || (a.granted_at < b.granted_at ? 1 : a.granted_at > b.granted_at ? -1 : 0));
}
