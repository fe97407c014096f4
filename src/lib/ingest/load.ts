/**
 * The load stage of the ingest pipeline: bibliography workbooks → the store.
 *
 * Files are read in the order given; a record id appearing in a later file replaces the earlier
 * record (a later delivery round corrects an earlier one). Records whose image ids are claimed by
 * another record (in this load, or already in the store) are rejected, because an image id must
 * name one image archive-wide. The survivors are upserted in batches.
 *
 * The `index` stage hooks in between reading and upserting (`prepare`: image files resolved in
 * the clean tree, sizes read from the files themselves) and gives per-file options (`LoadFile`).
 */
import type { ItemInput, SearchStore } from '../search/store.ts';
import type { ColumnMapping } from './columns.ts';
import { readBibliography, type ReadOptions, type RowError } from './excel.ts';

/** One workbook to load, with options of its own. */
export interface LoadFile {
  file: string;
  /** Batch of rows without a 回次 cell (default: from the file name, or LoadOptions.batch). */
  batch?: string;
  /** What error reports call the file (default: `file`). */
  displayName?: string;
  /** Folder below the image root that image names are relative to (default: each record's batch). */
  imageDir?: string;
  canonicalBatch?: ReadOptions['canonicalBatch'];
}

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
  /**
   * Called for every record read, before any conflict check or upsert; may change the record
   * (e.g. image files and sizes). A returned message rejects the record as a row error.
   */
  prepare?: (record: ItemInput, file: LoadFile) => string | undefined | Promise<string | undefined>;
  /** Read and check everything, write nothing (inserted/updated stay 0). */
  dryRun?: boolean;
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
  /** Hidden and veryHidden sheets, not read. */
  skippedSheets: Array<{ file: string; sheet: string; state: string }>;
}

export const DEFAULT_BATCH_SIZE = 500;

export async function loadBibliographies(
  store: SearchStore,
  files: ReadonlyArray<string | LoadFile>,
  opts: LoadOptions = {},
): Promise<LoadReport> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH_SIZE));
  const errors: RowError[] = [];
  const unknownHeaders: LoadReport['unknownHeaders'] = [];
  const skippedSheets: LoadReport['skippedSheets'] = [];
  const byId = new Map<string, ItemInput>();
  const fileOf = new Map<string, string>(); // record id → the file as given, for error reports
  const where = (r?: ItemInput) =>
    r?.source ? ` (${[fileOf.get(r.id) ?? r.source.file, r.source.sheet, r.source.row].join(':')})` : '';
  let superseded = 0;

  for (const entry of files) {
    const lf: LoadFile = typeof entry === 'string' ? { file: entry } : entry;
    const file = lf.displayName ?? lf.file;
    const r = await readBibliography(lf.file, {
      columns: opts.columns,
      batch: lf.batch ?? opts.batch,
      displayName: lf.displayName,
      imageDir: lf.imageDir,
      canonicalBatch: lf.canonicalBatch,
    });
    const fileErrors = [...r.errors];
    for (const u of r.unknownHeaders) unknownHeaders.push({ file, ...u });
    for (const h of r.skippedSheets) skippedSheets.push({ file, ...h });
    const records: ItemInput[] = [];
    for (const rec of r.records) {
      if (opts.prepare) {
        const problem = await opts.prepare(rec, lf);
        if (problem) {
          fileErrors.push({ file, sheet: rec.source?.sheet, row: rec.source?.row, message: problem });
          continue;
        }
      }
      records.push(rec);
    }
    // in sheet and row order (stable: file-level errors first)
    const sheetIndex = (e: RowError) => (e.sheet === undefined ? -1 : r.sheets.indexOf(e.sheet));
    fileErrors.sort((a, b) => sheetIndex(a) - sheetIndex(b) || (a.row ?? 0) - (b.row ?? 0));
    errors.push(...fileErrors);
    for (const rec of records) {
      if (byId.delete(rec.id)) superseded++;
      byId.set(rec.id, rec); // re-inserted: keeps the Map in the order of the winning rows
      fileOf.set(rec.id, file);
    }
    opts.onProgress?.({ kind: 'file', file, records: records.length, errors: fileErrors.length });
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
  for (let i = 0; !opts.dryRun && i < accepted.length; i += batchSize) {
    const chunk = accepted.slice(i, i + batchSize);
    const rep = await store.upsert(chunk, opts.now);
    inserted += rep.inserted;
    updated += rep.updated;
    opts.onProgress?.({ kind: 'upsert', done: i + chunk.length, total: accepted.length });
  }
  return { records: accepted.length, errors, inserted, updated, superseded, unknownHeaders, skippedSheets };
}
