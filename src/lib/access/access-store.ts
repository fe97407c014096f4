/**
 * The `AccessStore` port: what the access layer keeps in the archive's store, shared by every web
 * process on it — stored grants, the audit trail, and IIIF access-token revocations (sign-outs).
 * Two adapters: access-sqlite.ts (tables in the embedded store's SQLite file) and
 * access-elasticsearch.ts (indices `<ES_INDEX>-grants`, `<ES_INDEX>-audit`,
 * `<ES_INDEX>-revocations` beside the records' alias). `accessStoreFor()` picks the one that
 * matches the search store.
 */
import type { Grant } from './grants.ts';

export type AuditType = 'grant.add' | 'grant.change' | 'grant.revoke' | 'access';
export type AccessKind = 'page' | 'manifest' | 'image';
export const ACCESS_KINDS: readonly AccessKind[] = ['page', 'manifest', 'image'];

/** One line of the append-only audit trail. */
export interface AuditEvent {
  /** Unique. For access events `access/<day>/<user>/<item>`, so the first access of a day wins (insert-or-ignore). */
  id: string;
  /** ISO 8601. */
  at: string;
  type: AuditType;
  /** Who: the staff member changing a grant, or the reader. */
  actor: string;
  grant_id?: string;
  /** access: the item consulted, how, and the level the reader had. */
  item_id?: string;
  kind?: AccessKind;
  level?: string;
  /** grant changes: the grant before and after. */
  before?: Grant | null;
  after?: Grant | null;
}

export interface AuditQuery {
  item?: string;
  grant?: string;
  actor?: string;
  type?: AuditType;
  /** ISO 8601, inclusive. */
  since?: string;
  /** Newest first; at most this many (default 1000, at most 10000). */
  limit?: number;
}

export const AUDIT_LIMIT = 1000;
export const AUDIT_MAX_LIMIT = 10_000;

export interface AccessStore {
  readonly backend: string;
  /** Creates tables/indices if missing. Idempotent. */
  init(): Promise<void>;
  /** Every grant, revoked and expired ones included. */
  listGrants(): Promise<Grant[]>;
  getGrant(id: string): Promise<Grant | null>;
  /** Inserts or replaces the grant by id, and appends its audit event (one transaction where the backend has them). */
  saveGrant(grant: Grant, event: AuditEvent): Promise<void>;
  /** Appends events; an event whose id is already stored is ignored. Returns how many were new. */
  appendAudit(events: AuditEvent[]): Promise<number>;
  listAudit(query?: AuditQuery): Promise<AuditEvent[]>;
  /** Deletes events older than `before` (the retention setting). Returns how many. */
  pruneAudit(before: string): Promise<number>;
  /** Voids the IIIF access tokens of `identity` issued up to `atMs` (epoch ms). */
  revokeTokens(identity: string, atMs: number): Promise<void>;
  /** The latest revocation of `identity` (epoch ms), if any. */
  tokensRevokedAt(identity: string): Promise<number | undefined>;
  /** Forgets revocations older than `beforeMs` (a token never outlives its lifetime). */
  pruneRevocations(beforeMs: number): Promise<void>;
}

/** The audit id of a reader's first access to an item on a day (UTC). */
export function accessEventId(user: string, item: string, at: Date): string {
  return `access/${at.toISOString().slice(0, 10)}/${user}/${item}`;
}

/** Clamps an audit query's limit. */
export function auditLimit(q: AuditQuery | undefined): number {
  const n = Math.floor(Number(q?.limit ?? AUDIT_LIMIT));
  return Number.isFinite(n) ? Math.min(AUDIT_MAX_LIMIT, Math.max(1, n)) : AUDIT_LIMIT;
}
