/**
 * Withdrawals: records a provider's later workbook of the same batch no longer contains.
 *
 * The index stage marks such a record withdrawn **in the store** (`store.withdraw`, on either
 * backend) with its batch and the date: the record stays whole — images, upload records and S3
 * keys included — but is no longer served, searched or counted. `archive status` lists withdrawn
 * records, a record delivered again is restored (keeping its indexed_at and uploads) and updated,
 * and its image ids stay reserved (no other record gets them) until `archive prune` deletes it —
 * and, with `--s3`, the objects of its images that no record uses. Nothing is removed without
 * that command.
 *
 * Earlier versions kept withdrawn records out of the store, in a ledger file
 * `<DATA_DIR>/withdrawn.json`. `migrateLedger` moves such a ledger into the store once (the first
 * index or prune that is not a dry run), then renames the file `withdrawn.json.migrated`, so
 * nothing is lost and it is never read again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ItemRecord, SearchStore, WithdrawnEntry } from '../search/store.ts';

export const WITHDRAWN_FILE = 'withdrawn.json';

/** An entry of the old ledger file. */
export interface LedgerEntry {
  id: string;
  batch: string;
  withdrawnAt: string;
  workbooks?: string[];
  record: ItemRecord;
}

export function withdrawnPath(dataDir: string): string {
  return path.join(dataDir, WITHDRAWN_FILE);
}

/** The old ledger's entries (none when there is no ledger). An unreadable ledger throws, naming the file. */
export function readLedger(dataDir: string): LedgerEntry[] {
  const file = withdrawnPath(dataDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message}); move it away to go on`);
  }
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of withdrawn records`);
  return (list as LedgerEntry[]).filter((w) => typeof w?.id === 'string' && w.record && typeof w.record === 'object');
}

/** The old ledger's entries as the store lists withdrawn records (for read-only views before migration). */
export function ledgerEntries(dataDir: string): WithdrawnEntry[] {
  return readLedger(dataDir).map((w) => ({ record: w.record, batch: w.batch, withdrawnAt: w.withdrawnAt }));
}

/**
 * Moves the old ledger into the store: each record is put back with its own indexed_at and marked
 * withdrawn with its batch and date (a record the store already holds, live or withdrawn, is left
 * as it is). Then the file is renamed `withdrawn.json.migrated`. Resolves to the number of records
 * moved; a store without withdrawals support leaves the ledger alone.
 */
export async function migrateLedger(store: SearchStore, dataDir: string): Promise<number> {
  if (!store.withdraw || !store.listWithdrawn) return 0;
  const file = withdrawnPath(dataDir);
  const entries = readLedger(dataDir);
  if (entries.length === 0) {
    if (fs.existsSync(file)) fs.renameSync(file, `${file}.migrated`);
    return 0;
  }
  const held = new Set((await store.listWithdrawn()).map((w) => w.record.id));
  let moved = 0;
  for (const w of entries) {
    if (held.has(w.id) || (await store.get(w.id))) continue;
    const { indexed_at, updated_at: _u, s3_uploaded: _s, ...input } = w.record;
    const when = Date.parse(indexed_at);
    await store.upsert([input], Number.isFinite(when) ? new Date(when) : new Date(w.withdrawnAt));
    await store.withdraw([{ id: w.id, batch: w.batch, at: w.withdrawnAt }]);
    moved++;
  }
  fs.renameSync(file, `${file}.migrated`);
  return moved;
}

/** Image id → withdrawn record holding it (reserved until prune). */
export function reservedImageIds(entries: Iterable<WithdrawnEntry>): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of entries) for (const img of w.record.images ?? []) out.set(img.id, w.record.id);
  return out;
}
