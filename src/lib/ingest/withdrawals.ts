/**
 * Withdrawals: records a provider's later workbook of the same batch no longer contains.
 *
 * The index stage takes a withdrawn record out of the search store (`deleteRecords`, on either
 * backend), so it is no longer served, searched or counted, and keeps the whole record — images,
 * upload records and S3 keys included — in this ledger, `<DATA_DIR>/withdrawn.json`, with its batch
 * and the date. Nothing is lost: `archive status` lists withdrawn records, a record delivered again
 * is indexed again (and leaves the ledger), and its image ids stay reserved (no other record gets
 * them) until `archive prune` removes the entries — and, with `--s3`, the objects of their images
 * that no record in the store uses. Nothing is removed without that command.
 *
 * The ledger is one JSON file, sorted by id and written atomically (temporary file + rename), so it
 * is byte-identical when nothing changed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ItemRecord } from '../search/store.ts';

export const WITHDRAWN_FILE = 'withdrawn.json';

export interface WithdrawnRecord {
  id: string;
  /** The batch whose chosen workbook no longer holds the record. */
  batch: string;
  /** When the index stage withdrew it (ISO 8601). */
  withdrawnAt: string;
  /** The workbook(s) of the batch that were read then. */
  workbooks: string[];
  /** The record as it was in the store, images and upload records included. */
  record: ItemRecord;
}

export function withdrawnPath(dataDir: string): string {
  return path.join(dataDir, WITHDRAWN_FILE);
}

/** Every withdrawn record, by id. An absent ledger is empty; an unreadable one throws. */
export function readWithdrawn(dataDir: string): Map<string, WithdrawnRecord> {
  let text: string;
  try {
    text = fs.readFileSync(withdrawnPath(dataDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  const list = JSON.parse(text) as WithdrawnRecord[];
  return new Map(list.map((w) => [w.id, w]));
}

export function writeWithdrawn(dataDir: string, entries: Map<string, WithdrawnRecord>): void {
  const file = withdrawnPath(dataDir);
  const list = [...entries.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const text = JSON.stringify(list, null, 2) + '\n';
  let old: string | undefined;
  try {
    old = fs.readFileSync(file, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === text || (old === undefined && list.length === 0)) return;
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Image id → withdrawn record holding it (reserved until prune). */
export function reservedImageIds(entries: Map<string, WithdrawnRecord>): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of entries.values()) for (const img of w.record.images ?? []) out.set(img.id, w.id);
  return out;
}
