/**
 * `archive demo`: write the demo delivery unless present, run the pipeline on it, print and record
 * each stage as the stage commands do (src/lib/ingest/commands.ts).
 */
import path from 'node:path';
import {
  EXIT,
  StageUsageError,
  indexSummary,
  normalizeSummary,
  printIndex,
  printNormalize,
  printSync,
  recordRun,
  syncSummary,
  type StageContext,
  type Values,
} from '../ingest/commands.ts';
import { progressBar } from '../ingest/progress.ts';
import { existingDemoCorpus } from './delivery.ts';
import { setUpDemo } from './setup.ts';

export async function runDemo(ctx: StageContext, _args: string[], values: Values): Promise<number> {
  const cfg = ctx.config();
  let scale: number | undefined;
  if (values.scale !== undefined) {
    scale = Number(values.scale);
    if (!(scale > 0 && scale <= 1)) throw new StageUsageError(`--scale must be a number in (0, 1], got "${String(values.scale)}"`);
  }
  const exists = !values.force && !!(await existingDemoCorpus(cfg.dataDir));
  const deliveryDir = path.join(cfg.dataDir, 'delivery');
  if (!exists) ctx.io.err(`generating the demo delivery in ${deliveryDir} …`);
  const started = new Date();
  let lastTick = Date.now();
  const bar = progressBar(ctx.io.progress, 'images');
  const at: Partial<Record<'normalize' | 'index' | 'sync', Date>> = {};
  const setup = await setUpDemo(cfg, await ctx.store(), {
    force: !!values.force,
    scale: scale ?? cfg.demoScale,
    onImage: (_file, done, total) => {
      if (ctx.io.progress) bar.update(done, total);
      else if (Date.now() - lastTick > 5000 || done === total) {
        lastTick = Date.now();
        ctx.io.err(`  images: ${done}/${total}`);
      }
    },
    onStage: (stage) => {
      at[stage] = new Date();
      bar.end();
      if (stage !== 'normalize') return;
      ctx.io.err(
        exists
          ? `demo delivery already present in ${deliveryDir}`
          : `demo delivery written in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s; running the pipeline on it`,
      );
    },
  });
  const end = new Date();
  ctx.io.out(`clean tree: ${cfg.images.root}`);
  const codes = [printNormalize(ctx.io, setup.normalize)];
  recordRun(cfg, 'normalize', at.normalize!, codes[0]!, normalizeSummary(setup.normalize), { batches: setup.normalize.batches.length, ...setup.normalize.totals }, at.index);
  codes.push(printIndex(ctx.io, setup.index));
  recordRun(
    cfg,
    'index',
    at.index!,
    codes[1]!,
    indexSummary(setup.index),
    { records: setup.index.records, inserted: setup.index.inserted, updated: setup.index.updated, skipped: setup.index.errors.length },
    at.sync ?? end,
  );
  if (setup.sync) {
    // The demo is served from the clean tree whatever S3 says: an incomplete upload is reported,
    // recorded as a sync run, and left to `archive sync`; it does not fail the demo (nor npm start).
    const syncCode = printSync(ctx.io, setup.sync);
    recordRun(cfg, 'sync', at.sync!, syncCode, syncSummary(setup.sync), { uploaded: setup.sync.uploaded, failed: setup.sync.failed.length }, end);
    if (syncCode !== EXIT.ok) ctx.io.err('warning: the demo images are not all in S3; run `archive sync` again once S3 answers');
  }
  const code = Math.max(...codes);
  recordRun(cfg, 'demo', started, code, `${setup.generated ? 'generated' : 'reused'} the demo delivery; ${indexSummary(setup.index)}`, { records: setup.index.records });
  return code;
}
