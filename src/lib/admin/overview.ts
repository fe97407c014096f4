/**
 * What the admin page tells staff, in their language: each batch's state and the next command to
 * run, the last run of each stage with its figures, and honest upload figures (without S3 nothing
 * is "missing from S3": images are served from IMAGE_ROOT). Pure, from the status the CLI's
 * `archive status` also shows (src/lib/ingest/status.ts).
 */
import type { IngestStatus } from '../ingest/status.ts';
import type { RunRecord, Stage } from '../ingest/runs.ts';

type Lang = 'ja' | 'en';
type L = Record<Lang, string>;

export type BatchState = 'not-indexed' | 'not-synced' | 'done' | 'local';

export interface BatchRow {
  batch: string;
  records: number;
  images: number;
  /** Undefined when S3 is not configured: nothing is to be uploaded, so nothing is "missing". */
  imagesUploaded?: number;
  recordsNotUploaded?: number;
  state: BatchState;
  /** The command that moves the batch on, or undefined when nothing is left to do. */
  next?: string;
}

export const STATE_LABELS: Record<BatchState, L> = {
  'not-indexed': { ja: '正規化済み・未索引', en: 'Normalized, not indexed' },
  'not-synced': { ja: 'S3 へ未同期の画像あり', en: 'Images not yet in S3' },
  done: { ja: '完了', en: 'Done' },
  local: { ja: '完了（S3 なし: 画像はローカルから配信）', en: 'Done (no S3: images are served locally)' },
};

export const STAGE_LABELS: Record<Stage, L> = {
  normalize: { ja: '正規化', en: 'Normalize' },
  index: { ja: '索引', en: 'Index' },
  sync: { ja: 'S3 同期', en: 'S3 sync' },
  demo: { ja: 'デモ資料作成', en: 'Demo corpus' },
};

/** Labels of the figures run records carry (RunRecord.counts); unknown keys are shown as they are. */
export const COUNT_LABELS: Record<string, L> = {
  records: { ja: '資料', en: 'records' },
  inserted: { ja: '新規', en: 'new' },
  updated: { ja: '更新', en: 'updated' },
  skipped: { ja: 'スキップした行', en: 'rows skipped' },
  workbooks: { ja: 'ワークブック', en: 'workbooks' },
  files: { ja: 'ファイル', en: 'files' },
  batches: { ja: '納品回', en: 'batches' },
  images: { ja: '画像', en: 'images' },
  problems: { ja: '問題', en: 'problems' },
  uploaded: { ja: 'アップロード', en: 'uploaded' },
  failed: { ja: '失敗', en: 'failed' },
  bytes: { ja: 'バイト', en: 'bytes' },
  added: { ja: '追加', en: 'added' },
  changed: { ja: '変更', en: 'changed' },
  removed: { ja: '削除', en: 'removed' },
  unchanged: { ja: '変更なし', en: 'unchanged' },
  present: { ja: 'S3 に既存', en: 'already in S3' },
  alreadyMarked: { ja: '記録済み', en: 'already recorded' },
  marked: { ja: '記録', en: 'recorded' },
  retries: { ja: '再試行', en: 'retries' },
  withdrawn: { ja: '取り下げ', en: 'withdrawn' },
  orphans: { ja: '孤立', en: 'orphans' },
};

/** The npm script staff run for a stage (package.json scripts). */
export function command(stage: 'normalize' | 'index' | 'sync', batch?: string): string {
  return `npm run ${stage}${batch ? ` -- --batch ${batch}` : ''}`;
}

export function batchRows(status: Pick<IngestStatus, 'batches' | 'notIndexed' | 's3'>): BatchRow[] {
  const rows: BatchRow[] = status.batches.map((b) => {
    const row: BatchRow = { batch: b.batch, records: b.records, images: b.images, state: 'done' };
    if (b.records === 0) {
      row.state = 'not-indexed';
      row.next = command('index', b.batch);
    } else if (!status.s3.configured) {
      row.state = 'local';
    } else {
      row.imagesUploaded = b.imagesUploaded;
      row.recordsNotUploaded = b.recordsNotUploaded;
      if (b.imagesUploaded < b.images || b.recordsNotUploaded > 0) {
        row.state = 'not-synced';
        row.next = command('sync', b.batch);
      }
    }
    return row;
  });
  for (const batch of status.notIndexed) {
    if (!rows.some((r) => r.batch === batch)) rows.push({ batch, records: 0, images: 0, state: 'not-indexed', next: command('index', batch) });
  }
  return rows;
}

/** A run's figures in the page's language: "資料 40 · 新規 40 · 更新 0". */
export function runFigures(run: RunRecord, lang: Lang): string {
  const fmt = new Intl.NumberFormat(lang === 'ja' ? 'ja-JP' : 'en-GB');
  return Object.entries(run.counts ?? {})
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .map(([k, v]) => (lang === 'ja' ? `${COUNT_LABELS[k]?.ja ?? k} ${fmt.format(v)}` : `${fmt.format(v)} ${COUNT_LABELS[k]?.en ?? k}`))
    .join(' · ');
}

/** "2026年12月1日 19:45" / "1 Dec 2026, 19:45", minutes only, in the given time zone (with its name). */
export function localTime(iso: string, lang: Lang, timeZone?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', {
    year: 'numeric',
    month: lang === 'ja' ? 'long' : 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone,
    timeZoneName: 'short',
  }).format(d);
}
