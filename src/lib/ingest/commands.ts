/**
 * The ingest stages as CLI commands (`archive normalize | index | sync | status`): argument
 * handling, progress bars, the summary printed at the end, exit codes and run records. src/cli.ts
 * lists them in its command table; the stages themselves live in normalize.ts, indexing.ts, sync.ts.
 *
 * Exit codes: 0 done; 1 done, but something was skipped or failed (each printed); 2 usage or
 * configuration error; 3 failure.
 */
import path from 'node:path';
import type { Config } from '../config.ts';
import type { SearchStore } from '../search/store.ts';
import { formatRowError } from './excel.ts';
import type { IndexReport } from './indexing.ts';
import { NormalizeError, normalizeProblems, type NormalizeReport } from './normalize.ts';
import { progressBar } from './progress.ts';
import { DEFAULT_RULES, RulesError, loadRules, mergeRules, type CompiledRules } from './rules.ts';
import { appendRun, MAX_PROBLEMS, startRun, type RunRecord, type Stage } from './runs.ts';
import type { SyncReport } from './sync.ts';

export interface StageIO {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Raw writer for progress bars (a TTY); absent: no progress output. */
  progress?: (text: string) => void;
  /** Installs SIGINT/SIGTERM handling; the signal it returns is aborted on the first one. */
  interrupt?: () => AbortSignal;
}

export interface StageContext {
  io: StageIO;
  config(): Config;
  store(): Promise<SearchStore>;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

/** Bad arguments: the CLI prints the message and the usage, exit 2. */
export class StageUsageError extends Error {}

export const EXIT = { ok: 0, skipped: 1, usage: 2, failure: 3 } as const;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function rulesFor(cfg: Config, values: Values): CompiledRules {
  const file = typeof values.rules === 'string' ? path.resolve(values.rules) : cfg.ingest.rulesFile;
  try {
    return loadRules(file);
  } catch (e) {
    if (e instanceof RulesError) throw new StageUsageError(`normalize rules: ${e.message}`);
    throw e;
  }
}

/** Writes the start line of a run (a killed run then shows in `status`); undefined when not writable. */
function begin(cfg: Config, stage: Stage, started: Date): string | undefined {
  try {
    return startRun(cfg.dataDir, stage, started);
  } catch {
    return undefined; // a read-only DATA_DIR must not stop the run
  }
}

function record(
  cfg: Config,
  stage: Stage,
  started: Date,
  exitCode: number,
  summary: string,
  counts: Record<string, number>,
  finished = new Date(),
  id?: string,
  problems?: RunRecord['problems'],
) {
  const run: RunRecord = {
    stage,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    seconds: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
    exitCode,
    summary,
    counts,
  };
  if (id) run.id = id;
  if (problems?.length) run.problems = problems.slice(0, MAX_PROBLEMS);
  try {
    appendRun(cfg.dataDir, run);
  } catch {
    // the run itself is done; a read-only DATA_DIR must not turn it into a failure
  }
}

function listOf(values: Values, name: string): string[] | undefined {
  const v = values[name];
  if (v === undefined || v === false) return undefined;
  const list = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

function positiveInt(values: Values, name: string, fallback: number, max: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(String(v)) || n < 1 || n > max) throw new StageUsageError(`--${name} must be a whole number from 1 to ${max}, got "${String(v)}"`);
  return n;
}

// ------------------------------------------------------------------------------------------------
// normalize

export function normalizeSummary(r: NormalizeReport): string {
  const images = r.batches.reduce((n, b) => n + b.images, 0);
  const t = r.totals;
  const problems = normalizeProblems(r).length;
  return [
    `${r.dryRun ? 'would normalize' : 'normalized'} ${plural(r.batches.length, 'batch', 'batches')} (${plural(images, 'image')}, ${plural(r.files, 'file')} looked at)`,
    `links: ${t.added} new, ${t.changed} changed, ${t.removed} removed, ${t.unchanged} unchanged`,
    ...(problems ? [plural(problems, 'problem')] : []),
  ].join('; ');
}

export function printNormalize(io: StageIO, r: NormalizeReport): number {
  for (const b of r.batches) {
    const sheets = b.spreadsheets.map((s) => `${path.basename(s.file)} (${s.role})`).join(', ') || 'no bibliography';
    io.out(
      `  ${b.batch.padEnd(8)} ${String(b.images).padStart(6)} images  ${sheets}` +
        `${b.dropped ? `; ${b.dropped} reference-only dropped` : ''}${b.ignored ? `; ${b.ignored} ignored` : ''}` +
        `  [+${b.links.added} ~${b.links.changed} -${b.links.removed}]${b.written || r.dryRun ? '' : ' (left unchanged)'}`,
    );
  }
  const problems = normalizeProblems(r);
  for (const p of problems) io.err(p);
  io.out(normalizeSummary(r));
  return problems.length ? EXIT.skipped : EXIT.ok;
}

export async function runNormalize(ctx: StageContext, args: string[], values: Values): Promise<number> {
  const cfg = ctx.config();
  if (values['print-rules']) {
    const file = typeof values.rules === 'string' ? path.resolve(values.rules) : cfg.ingest.rulesFile;
    rulesFor(cfg, values); // validates
    let effective = DEFAULT_RULES;
    if (file) {
      const { readFileSync } = await import('node:fs');
      effective = mergeRules(DEFAULT_RULES, JSON.parse(readFileSync(file, 'utf8')));
    }
    ctx.io.out(JSON.stringify(effective, null, 2));
    return EXIT.ok;
  }
  const rules = rulesFor(cfg, values);
  const deliveries = args.length ? args.map((a) => path.resolve(a)) : [cfg.ingest.deliveryDir];
  const dryRun = !!values['dry-run'];
  const started = new Date();
  const runId = dryRun ? undefined : begin(cfg, 'normalize', started);
  const bar = progressBar(ctx.io.progress, 'normalize');
  const { normalize } = await import('./normalize.ts');
  let report: NormalizeReport;
  try {
    report = await normalize({
      deliveries,
      cleanRoot: cfg.images.root,
      rules,
      dryRun,
      onProgress: (p) => bar.update(p.done, p.phase === 'write' ? p.total : 0),
    });
  } catch (e) {
    if (runId) record(cfg, 'normalize', started, e instanceof NormalizeError ? EXIT.usage : EXIT.failure, (e as Error).message, {}, undefined, runId);
    if (e instanceof NormalizeError) throw new StageUsageError(e.message);
    throw e;
  } finally {
    bar.end();
  }
  ctx.io.out(`clean tree: ${cfg.images.root}${dryRun ? ' (dry run: nothing written)' : ''}`);
  const code = printNormalize(ctx.io, report);
  if (!dryRun) {
    const imgs = report.batches.reduce((n, b) => n + b.images, 0);
    record(cfg, 'normalize', started, code, normalizeSummary(report), {
      batches: report.batches.length,
      images: imgs,
      files: report.files,
      ...report.totals,
      problems: normalizeProblems(report).length,
    }, undefined, runId);
  }
  return code;
}

// ------------------------------------------------------------------------------------------------
// index

export function indexSummary(r: IndexReport): string {
  const skipped = r.errors.filter((e) => e.row !== undefined).length;
  const fileErrors = r.errors.length - skipped;
  const parts = [
    `${r.dryRun ? 'would index' : 'indexed'} ${plural(r.records, 'record')} from ${plural(r.files, 'workbook')} in ${plural(r.batches.length, 'batch', 'batches')}`,
  ];
  if (!r.dryRun) parts.push(`${r.inserted} new, ${r.updated} updated`);
  if (r.superseded) parts.push(`${r.superseded} replaced by a later batch`);
  if (r.skippedSheets?.length) parts.push(`${plural(r.skippedSheets.length, 'hidden sheet')} skipped`);
  if (r.withdrawn?.length) parts.push(`${plural(r.withdrawn.length, 'record')} ${r.dryRun ? 'would be ' : ''}withdrawn (archive status lists them; archive prune deletes them)`);
  if (r.restored?.length) parts.push(`${plural(r.restored.length, 'withdrawn record')} delivered again`);
  if (r.dimensions.read) parts.push(`${plural(r.dimensions.read, 'image size')} read from the files${r.dimensions.differing ? ` (${r.dimensions.differing} differed from the bibliography)` : ''}`);
  if (skipped) parts.push(`${plural(skipped, 'row')} skipped`);
  if (fileErrors) parts.push(plural(fileErrors, 'file or sheet error'));
  if (r.orphans?.length) parts.push(`${plural(r.orphans.length, 'image')} no record uses`);
  return parts.join('; ');
}

export function printIndex(io: StageIO, r: IndexReport): number {
  for (const e of r.errors) io.err(formatRowError(e));
  for (const u of r.unknownHeaders) io.err(`warning: ${u.file}:${u.sheet}: column "${u.header}" is not mapped to any field; ignored`);
  for (const h of r.skippedSheets ?? []) io.err(`warning: ${h.file}:${h.sheet}: ${h.state} sheet; skipped (not read as data)`);
  for (const w of r.withdrawn ?? []) io.err(`withdrawn: ${w.id} (batch ${w.batch}): no longer in the batch's workbook`);
  if (r.orphans?.length) {
    io.err(`note: ${plural(r.orphans.length, 'image')} in the clean tree no record uses: ${r.orphans.slice(0, 20).join(', ')}${r.orphans.length > 20 ? ', …' : ''}`);
  }
  for (const b of r.withdrawalsPostponed ?? []) io.err(`warning: batch ${b}: a workbook or sheet could not be read, so no record of it is withdrawn this time`);
  for (const w of r.warnings.slice(0, 50)) io.err(`warning: ${w}`);
  if (r.warnings.length > 50) io.err(`warning: … and ${r.warnings.length - 50} more`);
  io.out(indexSummary(r));
  return r.errors.length ? EXIT.skipped : EXIT.ok;
}

export async function runIndex(ctx: StageContext, _args: string[], values: Values): Promise<number> {
  const cfg = ctx.config();
  const rules = rulesFor(cfg, values);
  const dryRun = !!values['dry-run'];
  const started = new Date();
  const { IndexError, indexCleanTree } = await import('./indexing.ts');
  const store = await ctx.store();
  const runId = dryRun ? undefined : begin(cfg, 'index', started);
  const bar = progressBar(ctx.io.progress, 'index');
  let report: IndexReport;
  try {
    report = await indexCleanTree(store, {
      cleanRoot: cfg.images.root,
      rules,
      batches: listOf(values, 'batch'),
      dryRun,
      dataDir: cfg.dataDir,
      onProgress: (p) => bar.update(p.done, p.total),
    });
  } catch (e) {
    if (runId) record(cfg, 'index', started, e instanceof IndexError ? EXIT.usage : EXIT.failure, (e as Error).message, {}, undefined, runId);
    if (e instanceof IndexError) throw new StageUsageError(e.message);
    throw e;
  } finally {
    bar.end();
  }
  const code = printIndex(ctx.io, report);
  if (!dryRun) {
    record(cfg, 'index', started, code, indexSummary(report), {
      records: report.records,
      inserted: report.inserted,
      updated: report.updated,
      skipped: report.errors.length,
      workbooks: report.files,
      withdrawn: report.withdrawn.length,
    }, undefined, runId, report.errors);
  }
  return code;
}

// ------------------------------------------------------------------------------------------------
// sync

export function syncSummary(r: SyncReport): string {
  const mb = (r.bytes / 1024 / 1024).toFixed(1);
  const parts = [
    `${r.dryRun ? 'would upload' : 'uploaded'} ${plural(r.uploaded, 'object')} (${mb} MB) in ${r.seconds.toFixed(1)} s` +
      (r.uploaded && r.seconds > 0 && !r.dryRun ? ` (${(r.uploaded / r.seconds).toFixed(0)}/s)` : ''),
    `${r.present} already in the bucket`,
    `${r.alreadyMarked} already recorded`,
  ];
  if (!r.dryRun) parts.push(`${r.marked} upload records written`);
  if (r.requests.retries) parts.push(plural(r.requests.retries, 'retry', 'retries'));
  if (r.verify) {
    parts.push(`verified ${r.verify.checked} recorded uploads: ${r.verify.confirmed} in the bucket, ${r.verify.missing.length} missing${r.verify.missing.length ? (r.dryRun ? ' (would upload again)' : ' (uploaded again)') : ''}`);
  }
  if (r.failed.length) parts.push(`${r.failed.length} failed`);
  if (r.stopped) parts.push(`stopped early${r.fatal ? ` (${r.fatal})` : ''}, ${r.notAttempted} not attempted`);
  return parts.join('; ');
}

export function printSync(io: StageIO, r: SyncReport): number {
  if (r.listing.note) io.err(`note: ${r.listing.note}`);
  for (const k of r.verify?.missing ?? []) io.err(`missing from the bucket: ${k} (its upload was recorded)${r.dryRun ? '' : '; uploaded again'}`);
  for (const f of r.failed) io.err(`failed: ${f.imageId} ${f.file} -> ${f.key}: ${f.error}${f.attempts > 1 ? ` (after ${f.attempts} attempts)` : ''}`);
  if (r.fatal) io.err(`sync stopped: ${r.fatal}`);
  io.out(syncSummary(r));
  if (r.fatal) return EXIT.failure;
  return r.failed.length || r.stopped ? EXIT.skipped : EXIT.ok;
}

export async function runSync(ctx: StageContext, _args: string[], values: Values): Promise<number> {
  const cfg = ctx.config();
  if (!cfg.s3.bucket) throw new StageUsageError('S3 is not configured: set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)');
  const concurrency = positiveInt(values, 'concurrency', cfg.ingest.syncConcurrency, 256);
  const flushEvery = positiveInt(values, 'flush-every', 256, 100_000);
  const attempts = positiveInt(values, 'attempts', 5, 20);
  const dryRun = !!values['dry-run'];
  const started = new Date();
  const { createS3Client } = await import('../storage/s3.ts');
  const { SyncError, syncToS3 } = await import('./sync.ts');
  const store = await ctx.store();
  const client = createS3Client(cfg.s3, { maxAttempts: 1, maxSockets: Math.max(50, concurrency * 2) });
  const runId = dryRun ? undefined : begin(cfg, 'sync', started);
  const bar = progressBar(ctx.io.progress, 'sync');
  let report: SyncReport;
  try {
    report = await syncToS3({
      store,
      client,
      bucket: cfg.s3.bucket,
      prefix: cfg.s3.prefix,
      cleanRoot: cfg.images.root,
      concurrency,
      attempts,
      flushEvery,
      batches: listOf(values, 'batch'),
      force: !!values.force,
      verify: !!values.verify,
      dryRun,
      signal: ctx.io.interrupt?.(),
      onProgress: (p) => bar.update(p.done, p.total, p.phase === 'upload' ? p.bytes : undefined),
    });
  } catch (e) {
    bar.end();
    if (e instanceof SyncError) {
      ctx.io.err(`archive sync: ${e.message}`);
      if (!dryRun) record(cfg, 'sync', started, EXIT.failure, e.message, {}, undefined, runId);
      return EXIT.failure;
    }
    if (runId) record(cfg, 'sync', started, EXIT.failure, (e as Error).message, {}, undefined, runId);
    throw e;
  } finally {
    bar.end();
    client.destroy();
  }
  const code = printSync(ctx.io, report);
  if (!dryRun && report.verify && !report.stopped) {
    const { writeVerified } = await import('./status.ts');
    try {
      writeVerified(cfg.dataDir, {
        at: new Date().toISOString(),
        bucket: cfg.s3.bucket,
        prefix: cfg.s3.prefix,
        checked: report.verify.checked,
        missing: report.verify.missing.length,
        failed: report.failed.length,
      });
    } catch {
      // a read-only DATA_DIR must not fail the run
    }
  }
  if (!dryRun) {
    record(cfg, 'sync', started, code, syncSummary(report), {
      images: report.images,
      uploaded: report.uploaded,
      bytes: report.bytes,
      present: report.present,
      alreadyMarked: report.alreadyMarked,
      marked: report.marked,
      failed: report.failed.length,
      retries: report.requests.retries,
    }, undefined, runId);
  }
  return code;
}

// ------------------------------------------------------------------------------------------------
// status

export async function runStatus(ctx: StageContext, _args: string[], values: Values): Promise<number> {
  const cfg = ctx.config();
  const store = await ctx.store();
  const { collectStatus, formatStatus } = await import('./status.ts');
  const status = await collectStatus(cfg, store, { limit: values.all ? Number.MAX_SAFE_INTEGER : 20 });
  if (values.json) ctx.io.out(JSON.stringify(status, null, 2));
  else for (const line of formatStatus(status)) ctx.io.out(line);
  return EXIT.ok;
}

// ------------------------------------------------------------------------------------------------
// prune

export async function runPrune(ctx: StageContext, _args: string[], values: Values): Promise<number> {
  const cfg = ctx.config();
  const dryRun = !!values['dry-run'];
  const withS3 = !!values.s3;
  if (withS3 && !cfg.s3.bucket) throw new StageUsageError('--s3: S3 is not configured: set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)');
  const store = await ctx.store();
  const { PruneError, prune } = await import('./prune.ts');
  let client: import('@aws-sdk/client-s3').S3Client | undefined;
  if (withS3) client = (await import('../storage/s3.ts')).createS3Client(cfg.s3);
  try {
    let r: import('./prune.ts').PruneReport;
    try {
      r = await prune({
        dataDir: cfg.dataDir,
        store,
        dryRun,
        prefix: cfg.s3.prefix,
        s3: client ? { client, bucket: cfg.s3.bucket!, prefix: cfg.s3.prefix } : undefined,
      });
    } catch (e) {
      if (e instanceof PruneError) throw new StageUsageError(e.message);
      throw e;
    }
    const purged = new Set(r.purged);
    for (const rec of r.records) {
      const verb = dryRun ? 'would prune' : purged.has(rec.id) ? 'pruned' : 'not pruned';
      ctx.io.out(`  ${verb}: ${rec.id} (batch ${rec.batch}, withdrawn ${rec.withdrawnAt})`);
    }
    for (const k of r.orphanKeys) {
      const what = withS3 ? (dryRun ? 'would delete' : r.deleted.includes(k) ? 'deleted' : 'not deleted') : dryRun ? 'orphaned (would be kept without --s3)' : 'orphaned (left in the bucket without --s3)';
      ctx.io.out(`  ${what}: ${k}`);
    }
    for (const f of r.failed) ctx.io.err(f.key ? `failed: delete ${f.key}: ${f.error}` : `failed: delete ${f.id} from the store: ${f.error}`);
    for (const id of r.kept) ctx.io.err(`kept: ${id} stays withdrawn (an object of its images could not be deleted); run archive prune --s3 again`);
    ctx.io.out(
      `${dryRun ? 'would prune' : 'pruned'} ${plural(dryRun ? r.records.length : r.purged.length, 'withdrawn record')}; ${plural(r.orphanKeys.length, 'orphaned object')}` +
        (withS3 ? `, ${r.deleted.length} deleted from the bucket` : ' (not deleted: add --s3)') +
        (r.keptShared.length ? `; ${r.keptShared.length} kept (still used)` : '') +
        (r.failed.length ? `; ${r.failed.length} failed` : ''),
    );
    return r.failed.length ? EXIT.skipped : EXIT.ok;
  } finally {
    client?.destroy();
  }
}

/** For the demo: record a stage run done outside the commands above. */
export { record as recordRun };
