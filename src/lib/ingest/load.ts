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
import { IMAGE_ID_RE, type ItemInput } from '../domain.ts';
import type { SearchStore } from '../search/store.ts';
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
  /** Image ids held outside the store (withdrawn records until pruned): image id → record id. */
  reservedImages?: Map<string, string>;
  /** A record's earlier version kept outside the store (a withdrawn record delivered again). */
  priorRecord?: (id: string) => ItemInput | undefined;
  /**
   * Ids of withdrawn records (store.listWithdrawn): one delivered again is restored
   * (store.restoreWithdrawn) right before its upsert, so it keeps its indexed_at and uploads.
   */
  withdrawn?: ReadonlySet<string>;
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
  /** Per file read: the ids its data rows name (good or bad rows), and whether a file- or sheet-level error hid some. */
  perFile?: Array<{ file: LoadFile; ids: string[]; incomplete: boolean }>;
  /** Hidden and veryHidden sheets, not read. */
  skippedSheets: Array<{ file: string; sheet: string; state: string }>;
  /** Withdrawn records delivered again and upserted (in a dry run: that would be). */
  restored?: string[];
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
  const filesRead: NonNullable<LoadReport['perFile']> = [];
  const byId = new Map<string, ItemInput>();
  const fileOf = new Map<string, string>(); // record id → the file as given, for error reports
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
    filesRead.push({ file: lf, ids: r.rowIds, incomplete: r.errors.some((e) => e.row === undefined) });
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

  // One owner per image id, for the life of the archive (see assignImageIds).
  const { accepted, rejected } = await assignImageIds(store, byId, opts.reservedImages, opts.priorRecord);
  for (const { rec, message } of rejected) {
    errors.push({ file: fileOf.get(rec.id) ?? rec.source?.file ?? '?', sheet: rec.source?.sheet, row: rec.source?.row, message });
  }

  let inserted = 0;
  let updated = 0;
  const restored = opts.withdrawn?.size ? accepted.filter((r) => opts.withdrawn!.has(r.id)).map((r) => r.id) : [];
  for (let i = 0; !opts.dryRun && i < accepted.length; i += batchSize) {
    const chunk = accepted.slice(i, i + batchSize);
    const back = opts.withdrawn?.size ? chunk.filter((r) => opts.withdrawn!.has(r.id)).map((r) => r.id) : [];
    if (back.length && store.restoreWithdrawn) await store.restoreWithdrawn(back);
    const rep = await store.upsert(chunk, opts.now);
    inserted += rep.inserted;
    updated += rep.updated;
    opts.onProgress?.({ kind: 'upsert', done: i + chunk.length, total: accepted.length });
  }
  return { records: accepted.length, errors, inserted, updated, superseded, unknownHeaders, skippedSheets, perFile: filesRead, ...(opts.withdrawn ? { restored } : {}) };
}

const baseName = (file: string) => file.slice(file.lastIndexOf('/') + 1);

/**
 * Image identity across rounds. An image id names one image for the life of the archive (IIIF
 * URLs and citations carry it), even when providers reuse generic file names (001.jpg in every
 * round). For each image of each record, in load order:
 *
 *   1. the id the record already holds for it in the store: the same id (exact), or an id of one of
 *      its stored images with the same file name (a re-digitised photo delivered again for the
 *      same record keeps its id, so its S3 object is replaced);
 *   2. else the bare id derived from the file name (`imageIdFor`), when no other record holds it;
 *   3. else the batch-qualified id `<batch>_<bare id>`, the batch being the round folder the file
 *      came in (R02_001 for R02/001.jpg), when free;
 *   4. else `<record id>_<bare id>`; when even that is taken the record is a row error.
 *
 * "Holds" means: claimed earlier in this load, or stored for another record that is not reloaded
 * here, or stored for a reloaded record that still lists that file. So an existing id never
 * changes when a later delivery adds a colliding name; the newcomer gets the qualified id. A
 * record taking over an image from another record of this load is upserted last, after the record
 * releasing it.
 */
export async function assignImageIds(
  store: SearchStore,
  byId: Map<string, ItemInput>,
  held: Map<string, string> = new Map(),
  priorRecord: (id: string) => ItemInput | undefined = () => undefined,
): Promise<{ accepted: ItemInput[]; rejected: Array<{ rec: ItemInput; message: string }> }> {
  const storedOwner = new Map<string, { itemId: string; file: string } | null>();
  const stored = async (imageId: string): Promise<{ itemId: string; file: string } | null> => {
    let o = storedOwner.get(imageId);
    if (o === undefined) {
      const e = await store.getImage(imageId);
      o = e ? { itemId: e.itemId, file: e.file } : null;
      storedOwner.set(imageId, o);
    }
    return o;
  };
  const ownerInStore = async (imageId: string) => (await stored(imageId))?.itemId ?? null;
  // Pass 1: ids that reloaded records already hold (by id, for the same record) are reserved.
  const reserved = new Map<string, string>();
  for (const rec of byId.values()) {
    for (const img of rec.images) if ((await ownerInStore(img.id)) === rec.id) reserved.set(img.id, rec.id);
  }
  const owner = new Map<string, string>();
  const accepted: ItemInput[] = [];
  const takeovers: ItemInput[] = [];
  const rejected: Array<{ rec: ItemInput; message: string }> = [];
  for (const rec of byId.values()) {
    let prior: Map<string, string> | undefined; // stored file name → image id, of this record
    const priorIds = async () => {
      if (!prior) {
        prior = new Map();
        const stored = (await store.get(rec.id)) ?? priorRecord(rec.id);
        for (const img of stored?.images ?? []) prior.set(baseName(img.file), img.id);
      }
      return prior;
    };
    const mine = new Set<string>();
    /** Why `id` cannot be this record's, or undefined when it is free (and whether it is a takeover). */
    const blocked = async (id: string, file?: string): Promise<string | undefined> => {
      if (mine.has(id)) return 'this record';
      const o = owner.get(id);
      if (o !== undefined && o !== rec.id) return o;
      const r = reserved.get(id);
      if (r !== undefined && r !== rec.id) return r;
      const h = held.get(id);
      if (h !== undefined && h !== rec.id) return `withdrawn record ${h} (until archive prune)`;
      const s = await stored(id);
      // Another record's stored image: taken over only when that record is reloaded here without
      // it and it is the same file (a correction moving an image), never for another round's file.
      if (s !== null && s.itemId !== rec.id && (!byId.has(s.itemId) || (file !== undefined && s.file !== file))) return `record ${s.itemId} in the store`;
      return undefined;
    };
    const ids: string[] = [];
    let conflict: string | undefined;
    let takesOver = false;
    for (const img of rec.images) {
      const bare = img.id;
      let chosen: string | undefined;
      if (reserved.get(bare) === rec.id && !mine.has(bare)) chosen = bare;
      else {
        const held = (await priorIds()).get(baseName(img.file));
        if (held !== undefined && !(await blocked(held))) chosen = held;
      }
      if (chosen === undefined) {
        const batch = img.file.includes('/') ? img.file.slice(0, img.file.indexOf('/')) : rec.batch;
        const candidates = [bare, `${batch}_${bare}`, `${rec.id}_${bare}`].filter((c) => IMAGE_ID_RE.test(c));
        for (const c of candidates) {
          if (!(await blocked(c, img.file))) {
            chosen = c;
            break;
          }
        }
        if (chosen === undefined) {
          conflict = `image id ${bare} (from "${baseName(img.file)}") is already used by ${await blocked(bare, img.file)}, and so are ${candidates.slice(1).join(', ')}`;
          break;
        }
      }
      mine.add(chosen);
      ids.push(chosen);
      const s = await ownerInStore(chosen);
      if (s !== null && s !== rec.id) takesOver = true;
    }
    if (conflict) {
      rejected.push({ rec, message: conflict });
      continue;
    }
    rec.images.forEach((img, i) => {
      img.id = ids[i]!;
      owner.set(img.id, rec.id);
    });
    (takesOver ? takeovers : accepted).push(rec);
  }
  accepted.push(...takeovers);
  return { accepted, rejected };
}
