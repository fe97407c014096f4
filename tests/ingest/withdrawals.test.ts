/**
 * Withdrawals and prune (issue 12, item 5), through the CLI on a generated delivery with the
 * SQLite store and a real S3 (s3rver behind the signing proxy):
 *   - a record dropped from a later revised workbook of the same batch is marked withdrawn in the
 *     store, whole: not served, not searched, not counted, listed by status with its batch and
 *     date; nothing is deleted;
 *   - re-running index changes nothing (the withdrawn records and the served records identical);
 *   - its image id stays reserved; delivered again, the record comes back with the same ids and
 *     its indexed_at;
 *   - prune --dry-run changes nothing; prune --s3 deletes the records and their objects; a
 *     deletion that fails leaves its record withdrawn and exits 1 naming it;
 *   - an old install's withdrawals ledger (withdrawn.json) is moved into the store once.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { createS3Client } from '../../src/lib/storage/s3.ts';
import { image, workbook } from './fixtures/delivery.ts';
import { ACCESS_KEY, REGION, SECRET_KEY, startS3, type S3Fixture } from './helpers/s3.ts';

let tmp: string;
let s3: S3Fixture;
let client: S3Client;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-withdraw-'));
  s3 = await startS3();
  client = createS3Client({ region: REGION, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, prefix: 'photos/', forcePathStyle: true, endpoint: s3.endpoint });
  await client.send(new CreateBucketCommand({ Bucket: 'withdraw' }));
});
afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

const cli = (argv: string[], env: Record<string, string>) => runCli(tmp, argv, env);

async function withStore<T>(env: Record<string, string>, fn: (s: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(path.join(env.DATA_DIR!, 'archive.sqlite'));
  await store.init();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
/** The withdrawn records as the store keeps them. */
const withdrawnIn = (env: Record<string, string>) => withStore(env, (s) => s.listWithdrawn());
/** The served records, without updated_at (set by every index run). */
const served = (env: Record<string, string>) =>
  withStore(env, async (s) => (await s.search({ pageSize: 100 })).hits.map(({ record: { updated_at: _u, ...r } }) => r));

const exists = async (key: string) =>
  client.send(new HeadObjectCommand({ Bucket: 'withdraw', Key: key })).then(
    () => true,
    () => false,
  );

describe('withdrawals and prune', () => {
  it('withdraws a record dropped from a later workbook, keeps it until prune, and prunes it with its objects', async () => {
    const env = {
      DATA_DIR: path.join(tmp, 'data'),
      IMAGE_ROOT: path.join(tmp, 'clean'),
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: 'withdraw',
      S3_REGION: REGION,
      S3_ACCESS_KEY_ID: ACCESS_KEY,
      S3_SECRET_ACCESS_KEY: SECRET_KEY,
    };
    const d1 = path.join(tmp, 'delivery-first', 'R01');
    for (const n of [1, 2, 3]) await image(path.join(d1, `R01-000${n}.jpg`), 30 + n, 20);
    const rows = [
      { id: 'R01-0001', title: '浅草寺', images: 'R01-0001.jpg' },
      { id: 'R01-0002', title: '雷門', images: 'R01-0002.jpg' },
      { id: 'R01-0003', title: '仲見世', images: 'R01-0003.jpg' },
    ];
    await workbook(path.join(d1, '書誌_R01.xlsx'), { 書誌: rows });
    expect((await cli(['normalize', path.join(tmp, 'delivery-first')], env)).code).toBe(0);
    expect((await cli(['index'], env)).code).toBe(0);
    expect((await cli(['sync'], env)).code).toBe(0);
    expect(await exists('photos/R01-0002.jpg')).toBe(true);

    // A later delivery of R01: the revised workbook no longer holds R01-0002.
    const d2 = path.join(tmp, 'delivery-second', 'R01_20250301');
    await workbook(path.join(d2, '書誌_R01_修正版.xlsx'), { 書誌: [rows[0]!, rows[2]!] });
    expect((await cli(['normalize', path.join(tmp, 'delivery-second')], env)).code).toBe(0);
    const dry = await cli(['index', '--dry-run'], env);
    expect(dry.err).toContain('withdrawn: R01-0002 (batch R01)');
    expect(await withdrawnIn(env)).toEqual([]);
    const idx = await cli(['index'], env);
    expect(idx.code).toBe(0);
    expect(idx.err).toContain("withdrawn: R01-0002 (batch R01): no longer in the batch's workbook");
    expect(idx.out).toMatch(/1 record withdrawn/);
    // Its image is now one no record uses: an orphan, reported by index and status.
    expect(idx.err).toContain('note: 1 image in the clean tree no record uses: R01/R01-0002.jpg');

    // Not served, not searched, not counted.
    const store = new SqliteStore(path.join(env.DATA_DIR, 'archive.sqlite'));
    await store.init();
    expect(await store.get('R01-0002')).toBeNull();
    expect(await store.getAccessLevel('R01-0002')).toBeNull();
    expect(await store.getImage('R01-0002')).toBeNull();
    expect((await store.search({ q: '雷門' })).total).toBe(0);
    expect(await store.count()).toBe(2);
    expect((await store.search({})).facets.batch).toEqual([{ value: 'R01', count: 2 }]);
    expect((await store.listImages()).map((i) => i.id)).toEqual(['R01-0001', 'R01-0003']);
    // Kept whole in the store, with its batch, date, timestamps and upload record; no ledger file.
    const [w] = await store.listWithdrawn();
    expect(w).toMatchObject({ batch: 'R01', record: { id: 'R01-0002', title: { ja: '雷門' }, s3_uploaded: true } });
    expect(w!.withdrawnAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(w!.record.images.map((i) => [i.id, i.s3Key])).toEqual([['R01-0002', 'photos/R01-0002.jpg']]);
    expect(fs.existsSync(path.join(env.DATA_DIR, 'withdrawn.json'))).toBe(false);
    await store.close();

    // Shown by status with its batch and date; nothing deleted from the bucket.
    const status = await cli(['status'], env);
    expect(status.out).toMatch(/withdrawn — 1 record/);
    expect(status.out).toMatch(/R01-0002 {2}batch R01 {2}withdrawn \d{4}-\d\d-\d\dT/);
    expect(status.out).toMatch(/records: 2 /);
    expect(status.out).toMatch(/images no record uses — 1 in the clean tree:\n {2}R01\/R01-0002.jpg/);
    expect(await exists('photos/R01-0002.jpg')).toBe(true);

    // Re-running index changes nothing.
    const before = await served(env);
    const withdrawn = await withdrawnIn(env);
    const again = await cli(['index'], env);
    expect(again.err).not.toContain('withdrawn:');
    expect(await withdrawnIn(env)).toEqual(withdrawn);
    expect(await served(env)).toEqual(before);

    // prune --dry-run: lists, changes nothing.
    const pd = await cli(['prune', '--dry-run', '--s3'], env);
    expect(pd.code).toBe(0);
    expect(pd.out).toContain('would prune: R01-0002 (batch R01, withdrawn ');
    expect(pd.out).toContain('would delete: photos/R01-0002.jpg');
    expect(await withdrawnIn(env)).toEqual(withdrawn);
    expect(await exists('photos/R01-0002.jpg')).toBe(true);

    // prune --s3: the record and its orphaned object go; the others stay.
    const p = await cli(['prune', '--s3'], env);
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/pruned 1 withdrawn record; 1 orphaned object, 1 deleted from the bucket/);
    expect(await exists('photos/R01-0002.jpg')).toBe(false);
    expect(await exists('photos/R01-0001.jpg')).toBe(true);
    expect(await withdrawnIn(env)).toEqual([]);
    expect(await served(env)).toEqual(before);
    expect((await cli(['status'], env)).out).not.toMatch(/withdrawn —/);
  });

  it('a withdrawn record delivered again comes back with the same image ids; its ids stay reserved meanwhile', async () => {
    const env = { DATA_DIR: path.join(tmp, 'data2'), IMAGE_ROOT: path.join(tmp, 'clean2') };
    const d1 = path.join(tmp, 'again-first', 'R01');
    await image(path.join(d1, '001.jpg'), 30, 20);
    await image(path.join(d1, '002.jpg'), 31, 20);
    await workbook(path.join(d1, '書誌_R01.xlsx'), {
      書誌: [
        { id: 'A-1', images: '001.jpg' },
        { id: 'A-2', images: '002.jpg' },
      ],
    });
    await cli(['normalize', path.join(tmp, 'again-first')], env);
    await cli(['index'], env);
    const first = (await withStore(env, (s) => s.get('A-2')))!;
    // R01 revised without A-2; R02 brings another 002.jpg for a new record.
    await workbook(path.join(tmp, 'again-second', 'R01_20250301', '書誌_R01_修正版.xlsx'), { 書誌: [{ id: 'A-1', images: '001.jpg' }] });
    await image(path.join(tmp, 'again-second', 'R02', '002.jpg'), 40, 20);
    await workbook(path.join(tmp, 'again-second', 'R02', '書誌_R02.xlsx'), { 書誌: [{ id: 'B-1', images: '002.jpg' }] });
    await cli(['normalize', path.join(tmp, 'again-second')], env);
    const idx = await cli(['index'], env);
    expect(idx.err).toContain('withdrawn: A-2 (batch R01)');
    const store = new SqliteStore(path.join(env.DATA_DIR, 'archive.sqlite'));
    await store.init();
    // The withdrawn record's image id 002 is not given to B-1.
    expect((await store.get('B-1'))!.images.map((i) => i.id)).toEqual(['R02_002']);
    await store.close();
    // Delivered again (a third revision holds A-2 again): back, same id, out of the ledger.
    await workbook(path.join(tmp, 'again-third', 'R01_20250401', '書誌_R01_修正版2.xlsx'), {
      書誌: [
        { id: 'A-1', images: '001.jpg' },
        { id: 'A-2', images: '002.jpg' },
      ],
    });
    await cli(['normalize', path.join(tmp, 'again-third')], env);
    const back = await cli(['index'], env);
    expect(back.code).toBe(0);
    expect(back.out).toMatch(/1 withdrawn record delivered again/);
    const store2 = new SqliteStore(path.join(env.DATA_DIR, 'archive.sqlite'));
    await store2.init();
    expect((await store2.get('A-2'))!.images.map((i) => [i.id, i.file])).toEqual([['002', 'R01/002.jpg']]);
    // Restored, not re-created: it keeps the indexed_at of its first indexing.
    expect((await store2.get('A-2'))!.indexed_at).toBe(first.indexed_at);
    expect(await store2.listWithdrawn()).toEqual([]);
    await store2.close();
    expect((await cli(['status'], env)).out).not.toMatch(/withdrawn —/);
  });

  it('prune exits 1 naming an object it could not delete, keeps that record withdrawn, and finishes when run again', async () => {
    const env = {
      DATA_DIR: path.join(tmp, 'data3'),
      IMAGE_ROOT: path.join(tmp, 'clean3'),
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: 'withdraw',
      S3_REGION: REGION,
      S3_ACCESS_KEY_ID: ACCESS_KEY,
      S3_SECRET_ACCESS_KEY: SECRET_KEY,
      S3_PREFIX: 'fail/',
    };
    const d1 = path.join(tmp, 'fail-first', 'R01');
    for (const n of [1, 2, 3]) await image(path.join(d1, `F-${n}.jpg`), 30 + n, 20);
    const rows = [1, 2, 3].map((n) => ({ id: `F-${n}`, images: `F-${n}.jpg` }));
    await workbook(path.join(d1, '書誌_R01.xlsx'), { 書誌: rows });
    await cli(['normalize', path.join(tmp, 'fail-first')], env);
    await cli(['index'], env);
    expect((await cli(['sync'], env)).code).toBe(0);
    await workbook(path.join(tmp, 'fail-second', 'R01_20250301', '書誌_R01_修正版.xlsx'), { 書誌: [rows[0]!] });
    await cli(['normalize', path.join(tmp, 'fail-second')], env);
    expect((await cli(['index'], env)).err).toContain('withdrawn: F-2 (batch R01)');
    expect((await withdrawnIn(env)).map((w) => w.record.id)).toEqual(['F-2', 'F-3']);

    s3.controls.fail = ({ method, key }) => (method === 'DELETE' && key === 'fail/F-3.jpg' ? 500 : undefined);
    try {
      const p = await cli(['prune', '--s3'], env);
      expect(p.code).toBe(1);
      expect(p.err).toMatch(/failed: delete fail\/F-3\.jpg: /);
      expect(p.err).toContain('kept: F-3 stays withdrawn');
      expect(p.out).toContain('pruned: F-2 (batch R01, withdrawn ');
      expect(p.out).toContain('not pruned: F-3 (batch R01, withdrawn ');
    } finally {
      s3.controls.fail = undefined;
    }
    expect(await exists('fail/F-2.jpg')).toBe(false);
    expect(await exists('fail/F-3.jpg')).toBe(true);
    expect((await withdrawnIn(env)).map((w) => w.record.id)).toEqual(['F-3']);
    const again = await cli(['prune', '--s3'], env);
    expect(again.code).toBe(0);
    expect(await exists('fail/F-3.jpg')).toBe(false);
    expect(await withdrawnIn(env)).toEqual([]);
    expect(await exists('fail/F-1.jpg')).toBe(true);
  });

  it("moves an old install's withdrawals ledger (withdrawn.json) into the store once, keeping batch, date and indexed_at", async () => {
    const env = { DATA_DIR: path.join(tmp, 'data4'), IMAGE_ROOT: path.join(tmp, 'clean4') };
    const d1 = path.join(tmp, 'ledger-first', 'R01');
    await image(path.join(d1, 'L-1.jpg'), 30, 20);
    await image(path.join(d1, 'L-2.jpg'), 31, 20);
    await workbook(path.join(d1, '書誌_R01.xlsx'), { 書誌: [{ id: 'L-1', images: 'L-1.jpg' }, { id: 'L-2', title: '雷門', images: 'L-2.jpg' }] });
    await cli(['normalize', path.join(tmp, 'ledger-first')], env);
    await cli(['index'], env);
    await workbook(path.join(tmp, 'ledger-second', 'R01_20250301', '書誌_R01_修正版.xlsx'), { 書誌: [{ id: 'L-1', images: 'L-1.jpg' }] });
    await cli(['normalize', path.join(tmp, 'ledger-second')], env);
    // What the earlier version's index left: L-2 out of the store, whole in the ledger.
    const record = (await withStore(env, async (s) => {
      const r = await s.get('L-2');
      await s.deleteRecords(['L-2']);
      return r;
    }))!;
    const ledger = path.join(env.DATA_DIR, 'withdrawn.json');
    const entry = { id: 'L-2', batch: 'R01', withdrawnAt: '2025-03-01T00:00:00.000Z', workbooks: ['書誌_R01_修正版.xlsx'], record };
    fs.writeFileSync(ledger, JSON.stringify([entry], null, 2) + '\n');

    // status and dry runs show it and change nothing.
    expect((await cli(['status'], env)).out).toMatch(/L-2 {2}batch R01 {2}withdrawn 2025-03-01T00:00:00.000Z/);
    expect((await cli(['prune', '--dry-run'], env)).out).toContain('would prune: L-2 (batch R01, withdrawn 2025-03-01T00:00:00.000Z)');
    expect((await cli(['index', '--dry-run'], env)).err).not.toContain('withdrawn: L-2');
    expect(fs.existsSync(ledger)).toBe(true);
    expect(await withdrawnIn(env)).toEqual([]);

    // The next index moves it into the store (not withdrawn again, not lost) and never reads it again.
    const idx = await cli(['index'], env);
    expect(idx.code).toBe(0);
    expect(idx.err).not.toContain('withdrawn:');
    expect(fs.existsSync(ledger)).toBe(false);
    expect(fs.existsSync(`${ledger}.migrated`)).toBe(true);
    const [w] = await withdrawnIn(env);
    expect(w).toMatchObject({ batch: 'R01', withdrawnAt: '2025-03-01T00:00:00.000Z', record: { id: 'L-2', title: { ja: '雷門' }, indexed_at: record.indexed_at } });
    expect(await withStore(env, (s) => s.get('L-2'))).toBeNull();
    expect((await cli(['status'], env)).out).toMatch(/withdrawn — 1 record/);
    expect((await cli(['prune'], env)).out).toContain('pruned 1 withdrawn record');
    expect(await withdrawnIn(env)).toEqual([]);
  });
});
