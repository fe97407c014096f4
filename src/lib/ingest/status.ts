/**
 * What `archive status` and the admin page show: records and images per batch, how many are in S3,
 * the records not (fully) uploaded — the `s3_uploaded:false` facet the seed uses for garbage
 * collection, incremental sync and health checks — batches normalized but not indexed, and the
 * last run of each stage. Read through the SearchStore port only (search facets + listImages).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { MAX_PAGE_SIZE, type SearchStore, type UnparsedDates } from '../search/store.ts';
import { cleanBatches } from './normalize.ts';
import { compareBatchIds, compileRules } from './rules.ts';
import { ledgerEntries } from './withdrawals.ts';
import { lastRuns, STAGES, unfinishedRuns, type RunRecord, type Stage, type UnfinishedRun } from './runs.ts';

export interface BatchStatus {
  batch: string;
  records: number;
  /** Records with s3_uploaded:false. */
  recordsNotUploaded: number;
  images: number;
  imagesUploaded: number;
}

export interface IngestStatus {
  backend: string;
  /** Store file or cluster. */
  location: string;
  records: number;
  images: number;
  imagesUploaded: number;
  batches: BatchStatus[];
  /** Records with s3_uploaded:false, by id: the first `limit`, and how many there are. */
  notUploaded: { total: number; ids: string[] };
  /** Normalized batches of the clean tree that hold no record yet (index not run, or failed). */
  notIndexed: string[];
  s3: { configured: boolean; bucket?: string; prefix: string; endpoint?: string; lastVerified?: VerifyRecord };
  runs: Record<Stage, { last?: RunRecord; lastOk?: RunRecord }>;
  /** Runs that started after their stage's last finished run and never finished (killed), or are running. */
  unfinished: Partial<Record<Stage, UnfinishedRun>>;
  /** Images of the clean tree (`<batch>/<name>`) that no record uses: the first `limit`, and how many. */
  orphans: { total: number; files: string[] };
  /** Records withdrawn by their provider (marked in the store, not served; kept until archive prune): the first `limit`. */
  withdrawn: { total: number; records: Array<{ id: string; batch: string; withdrawnAt: string }> };
  /** Set when the store cannot list images (counts of images are then 0). */
  note?: string;
  /**
   * Records whose date text gives no year range (src/lib/dates/range.ts): the first `limit`, and
   * how many. Still searchable by their text; left out by year filters and sorted last by date.
   */
  unparsedDates?: UnparsedDates;
}

/** The last `archive sync --verify` that ran to the end: when, and what it found. */
export interface VerifyRecord {
  at: string;
  bucket: string;
  prefix: string;
  /** Recorded uploads checked against the bucket. */
  checked: number;
  /** Of those, missing or of another size (uploaded again unless `failed`). */
  missing: number;
  failed: number;
}

const VERIFIED_FILE = 's3-verified.json';

export function writeVerified(dataDir: string, v: VerifyRecord): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, VERIFIED_FILE);
  fs.writeFileSync(`${file}.tmp-${process.pid}`, JSON.stringify(v, null, 2) + '\n');
  fs.renameSync(`${file}.tmp-${process.pid}`, file);
}

export function readVerified(dataDir: string): VerifyRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, VERIFIED_FILE), 'utf8')) as VerifyRecord;
  } catch {
    return undefined;
  }
}

export async function collectStatus(
  cfg: Pick<Config, 'dataDir' | 'store' | 'images' | 's3'>,
  store: SearchStore,
  opts: { limit?: number } = {},
): Promise<IngestStatus> {
  const limit = Math.max(0, opts.limit ?? 100);
  const rules = compileRules();
  const all = await store.search({ pageSize: 1 });
  const notUp = await store.search({ filters: { s3_uploaded: false }, pageSize: Math.min(MAX_PAGE_SIZE, Math.max(1, limit)), sort: 'id' });
  const ids = notUp.hits.map((h) => h.record.id);
  for (let page = 2; ids.length < Math.min(limit, notUp.total); page++) {
    const more = await store.search({ filters: { s3_uploaded: false }, pageSize: MAX_PAGE_SIZE, page, sort: 'id' });
    if (more.hits.length === 0) break;
    ids.push(...more.hits.map((h) => h.record.id));
  }
  const byBatch = new Map<string, BatchStatus>();
  const entry = (b: string) => {
    let e = byBatch.get(b);
    if (!e) byBatch.set(b, (e = { batch: b, records: 0, recordsNotUploaded: 0, images: 0, imagesUploaded: 0 }));
    return e;
  };
  for (const f of all.facets.batch) entry(f.value).records = f.count;
  for (const f of notUp.facets.batch) entry(f.value).recordsNotUploaded = f.count;
  let images = 0;
  let imagesUploaded = 0;
  let note: string | undefined;
  const usedFiles = new Set<string>();
  if (store.listImages) {
    for (const img of await store.listImages()) {
      usedFiles.add(img.file);
      const e = entry(img.batch);
      e.images++;
      images++;
      if (img.uploadedAt) {
        e.imagesUploaded++;
        imagesUploaded++;
      }
    }
  } else note = `the ${store.backend} store cannot list images; image counts are not available`;
  const batches = [...byBatch.values()].sort((a, b) => compareBatchIds(a.batch, b.batch, rules));
  const indexed = new Set(batches.filter((b) => b.records > 0).map((b) => b.batch));
  const notIndexed = cleanBatches(cfg.images.root, rules).filter((b) => !indexed.has(b));
  const status: IngestStatus = {
    backend: store.backend,
    location: cfg.store.backend === 'sqlite' ? cfg.store.sqlitePath : `${cfg.store.esUrl?.replace(/\/\/[^@/]*@/, '//') ?? ''} (${cfg.store.esIndex})`,
    records: all.total,
    images,
    imagesUploaded,
    batches,
    notUploaded: { total: notUp.total, ids: ids.slice(0, limit) },
    notIndexed,
    s3: { configured: !!cfg.s3.bucket, bucket: cfg.s3.bucket, prefix: cfg.s3.prefix, endpoint: cfg.s3.endpoint },
    // set below when a verification of this bucket and prefix is on record
    runs: lastRuns(cfg.dataDir),
    unfinished: unfinishedRuns(cfg.dataDir),
    withdrawn: { total: 0, records: [] },
    orphans: { total: 0, files: [] },
  };
  if (store.listImages) {
    const orphans: string[] = [];
    for (const b of cleanBatches(cfg.images.root, rules)) {
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(path.join(cfg.images.root, b), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isSymbolicLink() && !usedFiles.has(`${b}/${e.name}`)) orphans.push(`${b}/${e.name}`);
    }
    orphans.sort();
    status.orphans = { total: orphans.length, files: orphans.slice(0, limit) };
  }
  const verified = readVerified(cfg.dataDir);
  if (verified && verified.bucket === cfg.s3.bucket && verified.prefix === cfg.s3.prefix) status.s3.lastVerified = verified;
  // Withdrawn records are marked in the store; an old ledger not yet moved there is shown too.
  const withdrawn = new Map((await store.listWithdrawn?.())?.map((w) => [w.record.id, w]));
  let legacy: ReturnType<typeof ledgerEntries> = [];
  try {
    legacy = ledgerEntries(cfg.dataDir);
  } catch (e) {
    note = [note, `withdrawals ledger: ${(e as Error).message}`].filter(Boolean).join('; ');
  }
  for (const w of legacy) if (!withdrawn.has(w.record.id)) withdrawn.set(w.record.id, w);
  const list = [...withdrawn.values()].sort((a, b) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0));
  status.withdrawn = { total: list.length, records: list.slice(0, limit).map((w) => ({ id: w.record.id, batch: w.batch, withdrawnAt: w.withdrawnAt })) };
  if (note) status.note = note;
  if (store.listUnparsedDates) status.unparsedDates = await store.listUnparsedDates(limit);
  return status;
}

function ago(iso: string, now: Date): string {
  const s = Math.max(0, (now.getTime() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

/** The status as text, for the terminal. */
export function formatStatus(s: IngestStatus, now = new Date()): string[] {
  const lines: string[] = [];
  lines.push(`store: ${s.backend} ${s.location}`);
  lines.push(`records: ${s.records}   images: ${s.images}   in S3: ${s.imagesUploaded} images`);
  if (s.note) lines.push(`note: ${s.note}`);
  if (s.batches.length) {
    const head = ['batch', 'records', 'not in S3', 'images', 'images in S3'];
    const rows = s.batches.map((b) => [b.batch, b.records, b.recordsNotUploaded, b.images, b.imagesUploaded].map(String));
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
    lines.push('', fmt(head), ...rows.map(fmt));
  }
  if (s.notIndexed.length) lines.push('', `normalized but not indexed: ${s.notIndexed.join(', ')} (run archive index)`);
  lines.push('', `s3_uploaded:false — ${s.notUploaded.total} record${s.notUploaded.total === 1 ? '' : 's'}${s.s3.configured ? '' : ' (S3 is not configured: S3_BUCKET is empty)'}`);
  if (s.s3.configured) {
    const v = s.s3.lastVerified;
    lines.push(
      v
        ? `  bucket last verified ${v.at} (${ago(v.at, now)}): ${v.checked} recorded uploads checked, ${v.missing} missing${v.missing ? ` (${v.missing - v.failed} uploaded again)` : ''}`
        : '  bucket never verified (archive sync --verify compares the upload records with the bucket)',
    );
  }
  if (s.notUploaded.ids.length) {
    lines.push(`  ${s.notUploaded.ids.join(' ')}${s.notUploaded.total > s.notUploaded.ids.length ? ` … (${s.notUploaded.total - s.notUploaded.ids.length} more; --all lists them)` : ''}`);
  }
  if (s.orphans?.total) {
    lines.push('', `images no record uses — ${s.orphans.total} in the clean tree:`);
    lines.push(`  ${s.orphans.files.join(' ')}${s.orphans.total > s.orphans.files.length ? ` … (${s.orphans.total - s.orphans.files.length} more; --all lists them)` : ''}`);
  }
  if (s.withdrawn?.total) {
    lines.push('', `withdrawn — ${s.withdrawn.total} record${s.withdrawn.total === 1 ? '' : 's'} no longer in their batch's workbook (not served; archive prune deletes them):`);
    for (const w of s.withdrawn.records) lines.push(`  ${w.id}  batch ${w.batch}  withdrawn ${w.withdrawnAt}`);
    if (s.withdrawn.total > s.withdrawn.records.length) lines.push(`  … (${s.withdrawn.total - s.withdrawn.records.length} more; --all lists them)`);
  }
  if (s.unparsedDates?.total) {
    const u = s.unparsedDates;
    lines.push('', `dates without a year range — ${u.total} record${u.total === 1 ? '' : 's'} (searchable by text; not in year filters or the decade facet):`);
    for (const r of u.records) {
      const where = r.source ? `${r.source.file}${r.source.sheet ? `:${r.source.sheet}` : ''}${r.source.row !== undefined ? `:${r.source.row}` : ''}` : `batch ${r.batch}`;
      lines.push(`  ${where}  ${r.id}  ${JSON.stringify(r.date)}`);
    }
    if (u.total > u.records.length) lines.push(`  … (${u.total - u.records.length} more; --all lists them)`);
  }
  lines.push('', 'last runs:');
  for (const stage of STAGES) {
    const { last, lastOk } = s.runs[stage];
    const u = s.unfinished?.[stage];
    if (u) {
      lines.push(
        u.state === 'running'
          ? `  ${stage.padEnd(9)}  running since ${u.startedAt} (${ago(u.startedAt, now)}), process ${u.pid}`
          : `  ${stage.padEnd(9)}  INTERRUPTED: started ${u.startedAt} (${ago(u.startedAt, now)}), process ${u.pid} on ${u.host} never finished; run archive ${stage === 'demo' ? 'demo' : stage} again`,
      );
    }
    if (!last) {
      lines.push(`  ${stage.padEnd(9)}  never`);
      continue;
    }
    const when = `${last.finishedAt} (${ago(last.finishedAt, now)}), ${last.seconds.toFixed(1)} s, exit ${last.exitCode}`;
    lines.push(`  ${stage.padEnd(9)}  ${when}: ${last.summary}`);
    if (lastOk && lastOk !== last) lines.push(`  ${''.padEnd(9)}  last clean run ${lastOk.finishedAt} (${ago(lastOk.finishedAt, now)})`);
  }
  return lines;
}
