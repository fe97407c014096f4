/**
 * The load stage of the ingest pipeline: bibliography workbooks → the store.
 *
 * Files are read in the order given; a record id appearing in a later file replaces the earlier
 * record (a later delivery round corrects an earlier one). Records whose image ids are claimed by
 * another record (in this load, or already in the store) are rejected, because an image id must
 * name one image archive-wide. The survivors are upserted in batches.
 *
 * The later `index` stage (image sizes read from the files themselves) will hook in here, between
 * reading and upserting.
 */
import type { ItemInput, SearchStore } from '../search/store.ts';
import type { ColumnMapping } from './columns.ts';
import { readBibliography, type RowError } from './excel.ts';

export interface LoadOptions {
  columns?: ColumnMapping;
  /** Default batch for every file (normally taken from each file's name). */
  batch?: string;
  /** Records per `store.upsert` call (default 500). */
  batchSize?: number;
  /** Timestamp handed to the store (default: now). */
  now?: Date;
  /** Called after each file is read and after each upserted batch. */
  onProgress?: (event: LoadProgress) => void;
}

export type LoadProgress =
  | { kind: 'file'; file: string; records: number; errors: number }
  | { kind: 'upsert'; done: number; total: number };

export interface LoadReport {
  /** Records that passed every check and were upserted. */
  records: number;
  /** Every skipped row or unreadable file, in file and row order. */
  errors: RowError[];
  inserted: number;
  updated: number;
  /** Records replaced by a later file's record with the same id (not errors). */
  superseded: number;
  /** Header cells that matched no field: ignored columns, worth a warning. */
  unknownHeaders: Array<{ file: string; sheet: string; header: string }>;
}

export const DEFAULT_BATCH_SIZE = 500;

export async function loadBibliographies(
  store: SearchStore,
  files: readonly string[],
  opts: LoadOptions = {},
): Promise<LoadReport> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH_SIZE));
  const errors: RowError[] = [];
  const unknownHeaders: LoadReport['unknownHeaders'] = [];
  const byId = new Map<string, ItemInput>();
  const fileOf = new Map<string, string>(); // record id → the file as given, for error reports
  const where = (r?: ItemInput) =>
    r?.source ? ` (${[fileOf.get(r.id) ?? r.source.file, r.source.sheet, r.source.row].join(':')})` : '';
  let superseded = 0;

  for (const file of files) {
    const r = await readBibliography(file, { columns: opts.columns, batch: opts.batch });
    errors.push(...r.errors);
    for (const u of r.unknownHeaders) unknownHeaders.push({ file, ...u });
    for (const rec of r.records) {
      if (byId.delete(rec.id)) superseded++;
      byId.set(rec.id, rec); // re-inserted: keeps the Map in the order of the winning rows
      fileOf.set(rec.id, file);
    }
    opts.onProgress?.({ kind: 'file', file, records: r.records.length, errors: r.errors.length });
  }

  // One owner per image id, across files and against what the store already holds. A stored
  // owner that is itself reloaded in this run is judged by the owner map alone: its new image
  // list is what will be stored.
  const owner = new Map<string, string>();
  const accepted: ItemInput[] = [];
  // Records taking over an image from another record of this load go last, so that the record
  // releasing it has been written (the store refuses an image that still has another owner).
  const takeovers: ItemInput[] = [];
  for (const rec of byId.values()) {
    let conflict: string | undefined;
    let takesOver = false;
    for (const img of rec.images) {
      const mine = owner.get(img.id);
      if (mine !== undefined && mine !== rec.id) {
        conflict = `image id ${img.id} is already used by ${mine}${where(byId.get(mine))}`;
        break;
      }
      const stored = await store.getImage(img.id);
      if (stored && stored.itemId !== rec.id && !byId.has(stored.itemId)) {
        conflict = `image id ${img.id} already belongs to record ${stored.itemId} in the store`;
        break;
      }
      if (stored && stored.itemId !== rec.id) takesOver = true;
    }
    if (conflict) {
      errors.push({ file: fileOf.get(rec.id) ?? rec.source?.file ?? '?', sheet: rec.source?.sheet, row: rec.source?.row, message: conflict });
      continue;
    }
    for (const img of rec.images) owner.set(img.id, rec.id);
    (takesOver ? takeovers : accepted).push(rec);
  }
  accepted.push(...takeovers);

  let inserted = 0;
  let updated = 0;
  for (let i = 0; i < accepted.length; i += batchSize) {
    const chunk = accepted.slice(i, i + batchSize);
    const rep = await store.upsert(chunk, opts.now);
    inserted += rep.inserted;
    updated += rep.updated;
    opts.onProgress?.({ kind: 'upsert', done: i + chunk.length, total: accepted.length });
  }
  return { records: accepted.length, errors, inserted, updated, superseded, unknownHeaders };
}
