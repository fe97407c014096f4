/**
 * The AccessStore (access-store.ts) on the embedded store's SQLite connection: three tables in the
 * same file, so every process on one DATA_DIR shares them (WAL and the busy timeout are set where
 * the connection is opened, src/lib/search/sqlite.ts).
 *
 *   access_grants       one row per grant (the grant as JSON, plus columns to sort and find by)
 *   access_audit        append-only; access events are keyed per user, item and day, so the
 *                       first access of the day is kept and later ones are ignored (INSERT OR IGNORE)
 *   token_revocations   identity -> the latest sign-out (epoch ms)
 */
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { auditLimit, type AccessStore, type AuditEvent, type AuditQuery } from './access-store.ts';
import type { Grant } from './grants.ts';

export class SqliteAccessStore implements AccessStore {
  readonly backend = 'sqlite';
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async init(): Promise<void> {
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS access_grants (
        id TEXT PRIMARY KEY,
        pattern TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        json TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS access_audit (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        grant_id TEXT,
        item_id TEXT,
        json TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS access_audit_at ON access_audit (at);
      CREATE INDEX IF NOT EXISTS access_audit_item ON access_audit (item_id, at);
      CREATE INDEX IF NOT EXISTS access_audit_grant ON access_audit (grant_id, at);
      CREATE TABLE IF NOT EXISTS token_revocations (identity TEXT PRIMARY KEY, at_ms INTEGER NOT NULL) WITHOUT ROWID;
    `);
  }

  async listGrants(): Promise<Grant[]> {
    return this.#db
      .prepare('SELECT json FROM access_grants ORDER BY granted_at DESC, id')
      .all()
      .map((r) => JSON.parse(r.json as string) as Grant);
  }

  async getGrant(id: string): Promise<Grant | null> {
    const row = this.#db.prepare('SELECT json FROM access_grants WHERE id = ?').get(id);
    return row ? (JSON.parse(row.json as string) as Grant) : null;
  }

  async saveGrant(grant: Grant, event: AuditEvent): Promise<void> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db
        .prepare('INSERT INTO access_grants (id, pattern, granted_at, json) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pattern = excluded.pattern, json = excluded.json')
        .run(grant.id, grant.pattern, grant.granted_at, JSON.stringify(grant));
      this.#insert([event]);
      this.#db.exec('COMMIT');
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  #insert(events: AuditEvent[]): number {
    const stmt = this.#db.prepare('INSERT OR IGNORE INTO access_audit (id, at, type, actor, grant_id, item_id, json) VALUES (?, ?, ?, ?, ?, ?, ?)');
    let n = 0;
    for (const e of events) n += Number(stmt.run(e.id, e.at, e.type, e.actor, e.grant_id ?? null, e.item_id ?? null, JSON.stringify(e)).changes);
    return n;
  }

  async appendAudit(events: AuditEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const n = this.#insert(events);
      this.#db.exec('COMMIT');
      return n;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  async listAudit(q: AuditQuery = {}): Promise<AuditEvent[]> {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (q.item !== undefined) (where.push('item_id = ?'), args.push(q.item));
    if (q.grant !== undefined) (where.push('grant_id = ?'), args.push(q.grant));
    if (q.actor !== undefined) (where.push('actor = ?'), args.push(q.actor));
    if (q.type !== undefined) (where.push('type = ?'), args.push(q.type));
    if (q.since !== undefined) (where.push('at >= ?'), args.push(q.since));
    const sql = `SELECT json FROM access_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id LIMIT ?`;
    return this.#db
      .prepare(sql)
      .all(...args, auditLimit(q))
      .map((r) => JSON.parse(r.json as string) as AuditEvent);
  }

  async pruneAudit(before: string): Promise<number> {
    return Number(this.#db.prepare('DELETE FROM access_audit WHERE at < ?').run(before).changes);
  }

  async revokeTokens(identity: string, atMs: number): Promise<void> {
    this.#db
      .prepare('INSERT INTO token_revocations (identity, at_ms) VALUES (?, ?) ON CONFLICT (identity) DO UPDATE SET at_ms = max(at_ms, excluded.at_ms)')
      .run(identity, Math.floor(atMs));
  }

  async tokensRevokedAt(identity: string): Promise<number | undefined> {
    const row = this.#db.prepare('SELECT at_ms FROM token_revocations WHERE identity = ?').get(identity);
    return row ? Number(row.at_ms) : undefined;
  }

  async pruneRevocations(beforeMs: number): Promise<void> {
    this.#db.prepare('DELETE FROM token_revocations WHERE at_ms < ?').run(Math.floor(beforeMs));
  }
}
