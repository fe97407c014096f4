/**
 * The demo set-up: generate the raw demo delivery (delivery.ts) unless it is there, then run the
 * real ingest pipeline on it — what the `demo` command and a demo start-up run.
 */
import type { Config } from '../config.ts';
import type { SearchStore } from '../search/store.ts';
import { indexCleanTree, type IndexReport } from '../ingest/indexing.ts';
import { normalize, type NormalizeReport } from '../ingest/normalize.ts';
import { compileRules } from '../ingest/rules.ts';
import type { SyncReport } from '../ingest/sync.ts';
import { existingDemoCorpus, generateDemoCorpus, type DemoOptions } from './delivery.ts';

export interface DemoSetup {
  /** False when an existing delivery was reused. */
  generated: boolean;
  deliveryDir: string;
  normalize: NormalizeReport;
  index: IndexReport;
  /** Only when S3 is configured (S3_BUCKET). */
  sync?: SyncReport;
}

/**
 * Generate the raw demo delivery below `cfg.dataDir` unless it is already there, then run the
 * real pipeline on it: normalize into the clean tree (`cfg.images.root`), index into `store`, and
 * sync to S3 when a bucket is configured. What the `demo` command and a demo start-up run.
 */
export async function setUpDemo(
  cfg: Pick<Config, 'dataDir' | 'images' | 's3'>,
  store: SearchStore,
  opts: DemoOptions & { now?: Date; onStage?: (stage: 'normalize' | 'index' | 'sync') => void } = {},
): Promise<DemoSetup> {
  const { now, onStage, ...demo } = opts;
  const generated = !!opts.force || !(await existingDemoCorpus(cfg.dataDir));
  const deliveryDir = await generateDemoCorpus(cfg.dataDir, demo);
  const rules = compileRules();
  onStage?.('normalize');
  const normalized = await normalize({ deliveries: [deliveryDir], cleanRoot: cfg.images.root, rules });
  onStage?.('index');
  const index = await indexCleanTree(store, { cleanRoot: cfg.images.root, rules, now });
  const setup: DemoSetup = { generated, deliveryDir, normalize: normalized, index };
  if (cfg.s3.bucket) {
    onStage?.('sync');
    const { createS3Client } = await import('../storage/s3.ts');
    const { syncToS3 } = await import('../ingest/sync.ts');
    const client = createS3Client(cfg.s3, { maxAttempts: 1 });
    try {
      setup.sync = await syncToS3({ store, client, bucket: cfg.s3.bucket, prefix: cfg.s3.prefix, cleanRoot: cfg.images.root, attempts: 3 });
    } finally {
      client.destroy();
    }
  }
  return setup;
}
