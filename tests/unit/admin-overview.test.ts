/** The admin page's logic: per-batch state and next command, honest S3 figures, run figures, local times. */
import { describe, expect, test } from 'vitest';
import { batchRows, localTime, runFigures } from '../../src/lib/admin/overview.ts';
import type { RunRecord } from '../../src/lib/ingest/runs.ts';

const batches = [
  { batch: 'R01', records: 10, recordsNotUploaded: 0, images: 12, imagesUploaded: 12 },
  { batch: 'R02', records: 5, recordsNotUploaded: 2, images: 6, imagesUploaded: 3 },
];

describe('admin overview', () => {
  test('with S3: synced batches are done, others name the sync command; normalized-only batches the index command', () => {
    const rows = batchRows({ batches, notIndexed: ['R03'], s3: { configured: true, bucket: 'b', prefix: 'p/' } });
    expect(rows.map((r) => [r.batch, r.state, r.next])).toEqual([
      ['R01', 'done', undefined],
      ['R02', 'not-synced', 'npm run sync -- --batch R02'],
      ['R03', 'not-indexed', 'npm run index -- --batch R03'],
    ]);
    expect(rows[1]).toMatchObject({ imagesUploaded: 3, recordsNotUploaded: 2 });
  });

  test('without S3 nothing is "not uploaded": no upload figures, no sync command', () => {
    const rows = batchRows({ batches, notIndexed: [], s3: { configured: false, prefix: '' } });
    expect(rows.map((r) => [r.state, r.next, r.imagesUploaded, r.recordsNotUploaded])).toEqual([
      ['local', undefined, undefined, undefined],
      ['local', undefined, undefined, undefined],
    ]);
  });

  test('run figures in each language, unknown keys kept', () => {
    const run = { counts: { records: 40, inserted: 40, updated: 0, skipped: 2, killed: 1 } } as unknown as RunRecord;
    expect(runFigures(run, 'ja')).toBe('資料 40 · 新規 40 · 更新 0 · スキップした行 2 · killed 1');
    expect(runFigures(run, 'en')).toBe('40 records · 40 new · 0 updated · 2 rows skipped · 1 killed');
  });

  test('local times: minutes, no milliseconds, the zone named', () => {
    expect(localTime('2026-12-01T10:05:07.123Z', 'ja', 'Asia/Tokyo')).toBe('2026年12月1日 19:05 JST');
    expect(localTime('2026-12-01T10:05:07.123Z', 'en', 'UTC')).toBe('1 Dec 2026, 10:05 UTC');
    expect(localTime('not a time', 'en')).toBe('not a time');
  });
});
