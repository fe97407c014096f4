/**
 * `archive prune [--dry-run] [--s3]`: deletes withdrawn records for good.
 *
 * Withdrawn records are marked in the store (withdrawals.ts) and not served; prune deletes them
 * from the store (store.purgeWithdrawn), which frees their image ids, and with `--s3` first deletes
 * the bucket objects of their images that no record in the store uses (their orphaned images) —
 * by key, one DeleteObject per key: the keys come from the records, never from a LIST. A record
 * whose object could not be deleted stays withdrawn (and is named), so running prune again
 * finishes the work. `--dry-run` lists what would go and changes nothing. The clean tree and the
 * raw deliveries are never touched (normalize owns the clean tree).
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SearchStore, WithdrawnEntry } from '../search/store.ts';
import { objectKey } from '../storage/keys.ts';
import { ledgerEntries, migrateLedger } from './withdrawals.ts';

export interface PruneOptions {
  store: SearchStore;
  /** DATA_DIR: an old withdrawals ledger there is moved into the store first (read only in a dry run). */
  dataDir?: string;
  dryRun?: boolean;
  /** The S3 prefix of object keys (for images whose key was never recorded). */
  prefix?: string;
  /** Delete orphaned objects from this bucket (absent: the bucket is not touched). */
  s3?: { client: S3Client; bucket: string; prefix: string };
}

export interface PruneReport {
  records: Array<{ id: string; batch: string; withdrawnAt: string }>;
  /** Object keys of the withdrawn records' images that no stored image uses. */
  orphanKeys: string[];
  /** Keys deleted from the bucket (none without --s3 or in a dry run). */
  deleted: string[];
  /** Keys still used by a record in the store: kept. */
  keptShared: string[];
  /** Deletions that failed: the object's key, or the record when the store refused. */
  failed: Array<{ key?: string; id?: string; error: string }>;
  /** Records deleted from the store. */
  purged: string[];
  /** Records left withdrawn because an object of theirs could not be deleted. */
  kept: string[];
  dryRun: boolean;
}

export class PruneError extends Error {}

export async function prune(opts: PruneOptions): Promise<PruneReport> {
  const { store } = opts;
  if (!store.listWithdrawn || !store.purgeWithdrawn) throw new PruneError(`the ${store.backend} store does not keep withdrawn records`);
  if (opts.dataDir && !opts.dryRun) await migrateLedger(store, opts.dataDir);
  const entries = new Map<string, WithdrawnEntry>();
  for (const w of [...(opts.dataDir && opts.dryRun ? ledgerEntries(opts.dataDir) : []), ...(await store.listWithdrawn())]) entries.set(w.record.id, w);
  const report: PruneReport = { records: [], orphanKeys: [], deleted: [], keptShared: [], failed: [], purged: [], kept: [], dryRun: !!opts.dryRun };
  if (entries.size === 0) return report;

  const prefix = opts.s3?.prefix ?? opts.prefix ?? '';
  const live = new Set<string>();
  for (const img of (await store.listImages?.()) ?? []) live.add(objectKey(img, prefix));
  /** key → the withdrawn records whose images have it */
  const owners = new Map<string, string[]>();
  for (const w of [...entries.values()].sort((a, b) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0))) {
    report.records.push({ id: w.record.id, batch: w.batch, withdrawnAt: w.withdrawnAt });
    for (const img of w.record.images ?? []) {
      const key = objectKey(img, prefix);
      if (live.has(key)) {
        if (!report.keptShared.includes(key)) report.keptShared.push(key);
      } else owners.set(key, [...(owners.get(key) ?? []), w.record.id]);
    }
  }
  report.orphanKeys = [...owners.keys()].sort();
  report.keptShared.sort();
  if (opts.dryRun) return report;

  const blocked = new Set<string>();
  if (opts.s3) {
    for (const key of report.orphanKeys) {
      try {
        await opts.s3.client.send(new DeleteObjectCommand({ Bucket: opts.s3.bucket, Key: key }));
        report.deleted.push(key);
      } catch (e) {
        report.failed.push({ key, error: (e as Error).message });
        for (const id of owners.get(key) ?? []) blocked.add(id);
      }
    }
  }
  const ids = report.records.map((r) => r.id).filter((id) => !blocked.has(id));
  report.kept = [...blocked].sort();
  if (ids.length) {
    try {
      await store.purgeWithdrawn(ids);
      report.purged = ids;
    } catch (e) {
      report.failed.push({ id: ids.join(', '), error: (e as Error).message });
    }
  }
  return report;
}
