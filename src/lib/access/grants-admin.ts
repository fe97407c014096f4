/**
 * Managing grants: add, change (extend, new reason), revoke — each written with its audit event
 * (who, what, before/after) — and listing them with their status. One implementation for the
 * JSON API (/api/admin/grants), the staff page (/admin/access) and the CLI (`archive grants`), so
 * all three validate alike (grants.ts). A change empties the process's grant cache (grant-book.ts):
 * it takes effect on the next request.
 */
import { randomUUID } from 'node:crypto';
import type { AccessStore, AuditEvent } from './access-store.ts';
import type { GrantBook } from './grant-book.ts';
import { GrantInputError, grantStatus, parseGrantChange, parseNewGrant, sortGrants, type Grant, type GrantStatus } from './grants.ts';

export type ListedGrant = Grant & { status: GrantStatus };

export interface GrantAdminOptions {
  store: AccessStore;
  book?: GrantBook;
  now?: () => Date;
  newId?: () => string;
}

export class GrantAdmin {
  readonly store: AccessStore;
  readonly #book: GrantBook | undefined;
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(opts: GrantAdminOptions) {
    this.store = opts.store;
    this.#book = opts.book;
    this.#now = opts.now ?? (() => new Date());
    this.#newId = opts.newId ?? (() => randomUUID());
  }

  async list(): Promise<ListedGrant[]> {
    const now = this.#now();
    return sortGrants(await this.store.listGrants(), now).map((g) => ({ ...g, status: grantStatus(g, now) }));
  }

  async get(id: string): Promise<ListedGrant | null> {
    const g = await this.store.getGrant(id);
    return g && { ...g, status: grantStatus(g, this.#now()) };
  }

  #event(type: AuditEvent['type'], actor: string, before: Grant | null, after: Grant, at: string): AuditEvent {
    return { id: `${type}/${at}/${this.#newId()}`, at, type, actor, grant_id: after.id, before, after };
  }

  async #save(grant: Grant, event: AuditEvent): Promise<ListedGrant> {
    await this.store.saveGrant(grant, event);
    this.#book?.invalidate();
    return { ...grant, status: grantStatus(grant, this.#now()) };
  }

  /** Adds a grant; throws GrantInputError on invalid input. */
  async add(body: unknown, actor: string): Promise<ListedGrant> {
    const now = this.#now();
    const input = parseNewGrant(body, now);
    const at = now.toISOString();
    const grant: Grant = { id: this.#newId(), ...input, granted_by: actor, granted_at: at };
    return this.#save(grant, this.#event('grant.add', actor, null, grant, at));
  }

  /** Changes `until` and/or `reason`; null when there is no such grant. */
  async change(id: string, body: unknown, actor: string): Promise<ListedGrant | null> {
    const before = await this.store.getGrant(id);
    if (!before) return null;
    if (before.revoked_at) throw new GrantInputError(`grant ${id} is revoked; add a new one`);
    const now = this.#now();
    const change = parseGrantChange(body, before, now);
    const at = now.toISOString();
    const after: Grant = { ...before, updated_at: at };
    if (change.until === null) delete after.until;
    else if (change.until !== undefined) after.until = change.until;
    if (change.reason !== undefined) after.reason = change.reason;
    return this.#save(after, this.#event('grant.change', actor, before, after, at));
  }

  /** Revokes; null when there is no such grant. Revoking a revoked grant changes nothing. */
  async revoke(id: string, actor: string): Promise<ListedGrant | null> {
    const before = await this.store.getGrant(id);
    if (!before) return null;
    if (before.revoked_at) return { ...before, status: 'revoked' };
    const at = this.#now().toISOString();
    const after: Grant = { ...before, updated_at: at, revoked_at: at, revoked_by: actor };
    return this.#save(after, this.#event('grant.revoke', actor, before, after, at));
  }
}

const CSV_COLUMNS = ['at', 'type', 'actor', 'item_id', 'kind', 'level', 'grant_id', 'pattern', 'grant_level', 'from', 'until', 'reason', 'revoked_at'] as const;

function csvCell(v: unknown): string {
  let s = v === undefined || v === null ? '' : String(v);
  // Spreadsheet formula injection: a cell starting with = + - @ (or a tab/CR) is text.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The audit trail as CSV (UTF-8 with BOM, so spreadsheet programs read Japanese correctly). */
export function auditCsv(events: readonly AuditEvent[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of events) {
    const g = e.after ?? e.before ?? undefined;
    const row: Record<(typeof CSV_COLUMNS)[number], unknown> = {
      at: e.at,
      type: e.type,
      actor: e.actor,
      item_id: e.item_id,
      kind: e.kind,
      level: e.level,
      grant_id: e.grant_id,
      pattern: g?.pattern,
      grant_level: g?.level,
      from: g?.from,
      until: g?.until,
      reason: g?.reason,
      revoked_at: g?.revoked_at,
    };
    lines.push(CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
