/**
 * `archive prune [--dry-run] [--s3]`: deletes withdrawn records for good.
 *
 * Withdrawn records are already out of the search store (withdrawals.ts); prune removes them from
 * the withdrawals ledger, which frees their image ids, and with `--s3` deletes the bucket objects of
 * their images that no record in the store uses (their orphaned images). Objects go first, the
 * ledger entries after, so an interrupted prune is simply run again. The clean tree and the raw
 * deliveries are never touched.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SearchStore } from '../search/store.ts';
import { objectKey } from '../storage/keys.ts';
import { readWithdrawn, writeWithdrawn, type WithdrawnRecord } from './withdrawals.ts';

export interface PruneOptions {
  dataDir: string;
  store: SearchStore;
  dryRun?: boolean;
  /** Delete orphaned objects from this bucket (absent: the bucket is not touched). */
  s3?: { client: S3Client; bucket: string; prefix: string };
}

export interface PruneReport {
  records: Array<Pick<WithdrawnRecord, 'id' | 'batch' | 'withdrawnAt'>>;
  /** Object keys of the pruned records' images that no stored image uses. */
  orphanKeys: string[];
  /** Keys deleted from the bucket (none without --s3 or in a dry run). */
  deleted: string[];
  /** Keys still used by a record in the store: kept. */
  keptShared: string[];
  failed: Array<{ key: string; error: string }>;
  dryRun: boolean;
}

export async function prune(opts: PruneOptions): Promise<PruneReport> {
  const ledger = readWithdrawn(opts.dataDir);
  const report: PruneReport = { records: [], orphanKeys: [], deleted: [], keptShared: [], failed: [], dryRun: !!opts.dryRun };
  if (ledger.size === 0) return report;
  const prefix = opts.s3?.prefix ?? '';
  const live = new Set<string>();
  for (const img of (await opts.store.listImages?.()) ?? []) live.add(objectKey(img, prefix));
  const keys = new Set<string>();
  for (const w of ledger.values()) {
    report.records.push({ id: w.id, batch: w.batch, withdrawnAt: w.withdrawnAt });
    for (const img of w.record.images ?? []) {
      const key = objectKey(img, prefix);
      if (live.has(key)) report.keptShared.push(key);
      else keys.add(key);
    }
  }
  report.orphanKeys = [...keys].sort();
  if (opts.dryRun) return report;
  if (opts.s3) {
    for (const key of report.orphanKeys) {
      try {
        await opts.s3.client.send(new DeleteObjectCommand({ Bucket: opts.s3.bucket, Key: key }));
        report.deleted.push(key);
      } catch (e) {
        report.failed.push({ key, error: (e as Error).message });
      }
    }
    if (report.failed.length) return report; // the ledger stays: run prune again
  }
  writeWithdrawn(opts.dataDir, new Map());
  return report;
}
