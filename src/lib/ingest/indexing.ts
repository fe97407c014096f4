/**
 * The index stage: clean tree → search store.
 *
 * Reads, for every batch folder of the clean tree (those with a meta.json), the bibliographies
 * normalize chose (`meta.json` → `spreadsheets[].link`), in batch order, through the workbook
 * reader and the loader (load.ts): a record id appearing again in a later batch replaces the
 * earlier record. Before upserting, every image a record names is found in its batch folder of
 * the clean tree (exactly, else by its clean name — NFC, lower-case extension — else by a
 * case- and width-insensitive match) and its pixel size is read from the file header; the file is
 * the truth, the bibliography's 幅/高さ only a fallback for a file whose header cannot be read.
 * A record naming an image that is not there is a row error.
 *
 * Written against the SearchStore port only: `upsert` keeps indexed_at of existing records and
 * sets updated_at on every run, so re-running is idempotent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BATCH_ID_RE, type ItemInput } from '../domain.ts';
import { MAX_PAGE_SIZE, type SearchStore, type WithdrawnEntry } from '../search/store.ts';
import type { ColumnMapping } from './columns.ts';
import { imageDimensions } from './dims.ts';
import { loadBibliographies, type LoadFile, type LoadReport } from './load.ts';
import { cleanBatches, readBatchMeta, type BatchMeta } from './normalize.ts';
import { compileRules, foldKeyword, type CompiledRules } from './rules.ts';
import { ledgerEntries, migrateLedger, reservedImageIds } from './withdrawals.ts';

export interface IndexOptions {
  cleanRoot: string;
  rules?: CompiledRules;
  /** Only these batches (canonical ids). */
  batches?: string[];
  columns?: ColumnMapping;
  /** Read and check everything, write nothing. */
  dryRun?: boolean;
  /** Read image sizes from the files (default true). */
  readDimensions?: boolean;
  now?: Date;
  batchSize?: number;
  onProgress?: (p: { phase: 'read' | 'upsert'; done: number; total: number }) => void;
  /**
   * DATA_DIR. When given, records of a batch that its chosen workbooks no longer hold are marked
   * withdrawn in the store (see withdrawals.ts), and an old withdrawals ledger there is moved into
   * the store first; without it nothing is withdrawn.
   */
  dataDir?: string;
}

export interface IndexReport extends LoadReport {
  /** Batches read, with the workbooks of each (clean-tree links). */
  batches: Array<{ batch: string; files: string[] }>;
  /** Workbooks read. */
  files: number;
  dimensions: {
    /** Images whose size was read from the file. */
    read: number;
    /** Images whose header could not be read (the bibliography's size, if any, is kept). */
    unreadable: number;
    /** Images whose bibliography size differed from the file's (the file's was used). */
    differing: number;
  };
  /** Not errors: records whose 回次 names another batch than the folder they came in, etc. */
  warnings: string[];
  /** Records withdrawn by this run (in a dry run: that would be), with their batch. */
  withdrawn: Array<{ id: string; batch: string }>;
  /** Withdrawn records delivered again, back in the store. */
  restored: string[];
  /** Batches whose withdrawals were not decided because a workbook or sheet could not be read. */
  withdrawalsPostponed: string[];
  /** Images of the batches read (`<batch>/<name>` in the clean tree) that no record in the store uses. */
  orphans: string[];
  dryRun: boolean;
}

export class IndexError extends Error {}

interface BatchFiles {
  /** clean name → itself */
  exact: Set<string>;
  /** folded name → clean names */
  folded: Map<string, string[]>;
  /** folded basename → why it is not there (dropped / conflict) */
  missingWhy: Map<string, string>;
}

/** Case-, width- and separator-insensitive form of a file name. */
const foldName = (name: string) => foldKeyword(name);

function batchFiles(cleanRoot: string, batch: string, meta: BatchMeta): BatchFiles {
  const exact = new Set<string>();
  const folded = new Map<string, string[]>();
  for (const e of fs.readdirSync(path.join(cleanRoot, batch), { withFileTypes: true })) {
    if (!e.isSymbolicLink()) continue;
    exact.add(e.name);
    const f = foldName(e.name);
    folded.set(f, [...(folded.get(f) ?? []), e.name]);
  }
  const missingWhy = new Map<string, string>();
  for (const d of meta.dropped ?? []) {
    missingWhy.set(foldName(path.basename(d.path)), `normalize dropped it as a reference-only image (${d.rule}: "${d.keyword}" in the ${d.in})`);
  }
  return { exact, folded, missingWhy };
}

/** Run the index stage. Throws IndexError when there is nothing to index. */
export async function indexCleanTree(store: SearchStore, opts: IndexOptions): Promise<IndexReport> {
  const rules = opts.rules ?? compileRules();
  const cleanRoot = path.resolve(opts.cleanRoot);
  let batches = cleanBatches(cleanRoot, rules);
  if (opts.batches?.length) {
    const wanted = opts.batches.map((b) => rules.parseBatch(b)?.id ?? b);
    const missing = wanted.filter((b) => !batches.includes(b));
    if (missing.length) throw new IndexError(`no batch ${missing.join(', ')} in the clean tree ${cleanRoot} (run archive normalize first)`);
    batches = batches.filter((b) => wanted.includes(b));
  }
  if (batches.length === 0) throw new IndexError(`the clean tree ${cleanRoot} holds no normalized batch (run archive normalize first)`);

  const files: LoadFile[] = [];
  const listing = new Map<string, BatchFiles>();
  const reportBatches: IndexReport['batches'] = [];
  for (const batch of batches) {
    const meta = readBatchMeta(cleanRoot, batch);
    if (!meta) continue;
    listing.set(batch, batchFiles(cleanRoot, batch, meta));
    const links: string[] = [];
    for (const s of meta.spreadsheets ?? []) {
      const link = path.join(cleanRoot, batch, s.link);
      let target: string | undefined;
      try {
        target = fs.readlinkSync(link);
      } catch {
        target = undefined;
      }
      links.push(link);
      files.push({
        file: link,
        batch,
        imageDir: batch,
        displayName: target && path.isAbsolute(target) ? target : link,
        canonicalBatch: (raw) => rules.parseBatch(raw)?.id ?? (BATCH_ID_RE.test(raw.normalize('NFKC').trim()) ? raw.normalize('NFKC').trim() : undefined),
      });
    }
    reportBatches.push({ batch, files: links });
  }

  /** Listing of any batch of the clean tree (earlier rounds are looked in for corrections). */
  const listingOf = (b: string): BatchFiles | undefined => {
    let bf = listing.get(b);
    if (!bf) {
      const meta = readBatchMeta(cleanRoot, b);
      if (!meta) return undefined;
      bf = batchFiles(cleanRoot, b, meta);
      listing.set(b, bf);
    }
    return bf;
  };
  const allBatches = cleanBatches(cleanRoot, rules);
  /** The clean name of `rel` in a batch listing: exactly, by its clean name, or folded. */
  const findName = (bf: BatchFiles, rel: string): { name?: string; several?: string[] } => {
    if (bf.exact.has(rel)) return { name: rel };
    const base = path.posix.basename(rel);
    const clean = rules.cleanImageName(base);
    if (bf.exact.has(clean)) return { name: clean };
    const candidates = bf.folded.get(foldName(base)) ?? [];
    if (candidates.length === 1) return { name: candidates[0] };
    if (candidates.length > 1) return { several: candidates };
    return {};
  };
  /**
   * A correction row delivered in a later round may name an image that came in an earlier round
   * of the same record: the earlier rounds where the record was (in this run, or in the store),
   * latest first.
   */
  const earlierRound = async (rec: ItemInput, batch: string, rel: string): Promise<{ batch: string; name: string } | undefined> => {
    const before = allBatches.slice(0, Math.max(0, allBatches.indexOf(batch))).reverse();
    const stored = await store.get(rec.id);
    const storedBatches = new Set([stored?.batch, ...(stored?.images ?? []).map((i) => i.file.split('/')[0])]);
    for (const b of before) {
      if (!firstSeen.get(b)?.has(rec.id) && !storedBatches.has(b)) continue;
      const bf = listingOf(b);
      const found = bf && findName(bf, rel);
      if (found?.name) return { batch: b, name: found.name };
    }
    return undefined;
  };

  const dims = { read: 0, unreadable: 0, differing: 0 };
  /** batch → record id → where it was first read: an id twice in one batch is a row error. */
  const firstSeen = new Map<string, Map<string, string>>();
  const warnings: string[] = [];
  const readDims = opts.readDimensions !== false;
  let filesRead = 0;
  const prepare = async (rec: ItemInput, lf: LoadFile): Promise<string | undefined> => {
    const batch = lf.imageDir!;
    const bf = listing.get(batch)!;
    const problems: string[] = [];
    const seen = firstSeen.get(batch) ?? new Map<string, string>();
    firstSeen.set(batch, seen);
    const here = `${lf.displayName}:${rec.source?.sheet}:${rec.source?.row}`;
    const first = seen.get(rec.id);
    if (first && !first.startsWith(`${lf.displayName}:`)) return `duplicate id ${rec.id} in batch ${batch} (first at ${first})`;
    seen.set(rec.id, here);
    for (const img of rec.images) {
      const rel = img.file.slice(batch.length + 1);
      const found = findName(bf, rel);
      if (found.several) {
        problems.push(`image file "${rel}" matches several files of batch ${batch} (${found.several.join(', ')}); name it exactly`);
        continue;
      }
      let name = found.name;
      let from = batch;
      if (!name) {
        const earlier = await earlierRound(rec, batch, rel);
        if (earlier) {
          ({ name, batch: from } = earlier);
          warnings.push(`${here}: ${rec.id}: image file "${rel}" is not in batch ${batch}; taken from the earlier round ${from} (${from}/${name})`);
        }
      }
      if (!name) {
        const why = bf.missingWhy.get(foldName(path.posix.basename(rel)));
        problems.push(`image file "${rel}" is not in batch ${batch} of the clean tree${why ? `: ${why}` : ''}`);
        continue;
      }
      img.file = `${from}/${name}`;
      if (!readDims) continue;
      const d = imageDimensions(path.join(cleanRoot, from, name));
      if (!d) {
        dims.unreadable++;
        warnings.push(`${path.join(cleanRoot, from, name)}: image size unreadable from the file header${img.width && img.height ? '; using the bibliography\'s' : ''}`);
        continue;
      }
      dims.read++;
      if ((img.width !== undefined && img.width !== d.width) || (img.height !== undefined && img.height !== d.height)) dims.differing++;
      img.width = d.width;
      img.height = d.height;
    }
    if (problems.length) return problems.join('; ');
    if (rec.batch !== batch) warnings.push(`${lf.displayName}:${rec.source?.sheet}:${rec.source?.row}: 回次 says ${rec.batch}, the file was delivered in batch ${batch}; ${rec.batch} kept`);
    return undefined;
  };

  // Withdrawn records (an old ledger is moved into the store first; a dry run only reads it).
  if (opts.dataDir && !opts.dryRun) await migrateLedger(store, opts.dataDir);
  const withdrawn = new Map<string, WithdrawnEntry>();
  for (const w of [...(opts.dataDir && opts.dryRun ? ledgerEntries(opts.dataDir) : []), ...((await store.listWithdrawn?.()) ?? [])]) {
    withdrawn.set(w.record.id, w);
  }
  const rep = await loadBibliographies(store, files, {
    reservedImages: reservedImageIds(withdrawn.values()),
    priorRecord: (id) => withdrawn.get(id)?.record,
    withdrawn: new Set(withdrawn.keys()),
    columns: opts.columns,
    batchSize: opts.batchSize,
    now: opts.now,
    dryRun: opts.dryRun,
    prepare,
    onProgress: (e) => {
      if (e.kind === 'file') opts.onProgress?.({ phase: 'read', done: ++filesRead, total: files.length });
      else opts.onProgress?.({ phase: 'upsert', done: e.done, total: e.total });
    },
  });
  const w = await applyWithdrawals(store, opts, rep.perFile ?? [], reportBatches);
  // Orphans: images normalize linked that no record uses (after a dry run: as the store is now).
  const used = new Set(((await store.listImages?.()) ?? []).map((i) => i.file));
  const orphans: string[] = [];
  if (store.listImages) {
    for (const { batch } of reportBatches) {
      for (const name of [...(listing.get(batch)?.exact ?? [])].sort()) if (!used.has(`${batch}/${name}`)) orphans.push(`${batch}/${name}`);
    }
  }
  return { ...rep, restored: rep.restored ?? [], batches: reportBatches, files: files.length, dimensions: dims, warnings, dryRun: !!opts.dryRun, ...w, orphans };
}

/** Ids of the records the store holds for a batch. */
async function recordIdsOfBatch(store: SearchStore, batch: string): Promise<Set<string>> {
  const ids = new Set<string>();
  // Search pages (Elasticsearch answers at most 10,000 deep), completed by the images' owners.
  for (let page = 1; page * MAX_PAGE_SIZE <= 10_000; page++) {
    const res = await store.search({ filters: { batch: [batch] }, sort: 'id', pageSize: MAX_PAGE_SIZE, page });
    for (const h of res.hits) ids.add(h.record.id);
    if (res.hits.length < MAX_PAGE_SIZE || ids.size >= res.total) return ids;
  }
  for (const img of (await store.listImages?.({ batch: [batch] })) ?? []) ids.add(img.itemId);
  return ids;
}

/**
 * Withdrawals: a record the store holds (live) for a batch that was read in full (every workbook
 * and sheet readable) and that no row of this run names — in any batch — has been withdrawn by the
 * provider: it is marked withdrawn in the store (store.withdraw), which keeps it whole. Withdrawn
 * records named again were restored by the load (LoadReport.restored).
 */
async function applyWithdrawals(
  store: SearchStore,
  opts: IndexOptions,
  perFile: NonNullable<LoadReport['perFile']>,
  batches: IndexReport['batches'],
): Promise<Pick<IndexReport, 'withdrawn' | 'withdrawalsPostponed'>> {
  const out: Pick<IndexReport, 'withdrawn' | 'withdrawalsPostponed'> = { withdrawn: [], withdrawalsPostponed: [] };
  if (!opts.dataDir || !store.withdraw) return out;
  const named = new Set(perFile.flatMap((f) => f.ids));
  const at = (opts.now ?? new Date()).toISOString();
  for (const { batch, files } of batches) {
    const read = perFile.filter((f) => f.file.imageDir === batch);
    if (files.length === 0) continue;
    const missing = [...(await recordIdsOfBatch(store, batch))].filter((id) => !named.has(id)).sort();
    if (missing.length && read.some((f) => f.incomplete)) {
      out.withdrawalsPostponed.push(batch); // its rows may be in what could not be read
      continue;
    }
    for (const id of missing) out.withdrawn.push({ id, batch });
  }
  if (!opts.dryRun && out.withdrawn.length) await store.withdraw(out.withdrawn.map(({ id, batch }) => ({ id, batch, at })));
  return out;
}
