import fs from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { imageDimensions } from '../../src/lib/ingest/dims.ts';
import { indexCleanTree } from '../../src/lib/ingest/indexing.ts';
import { normalize } from '../../src/lib/ingest/normalize.ts';
import { lastRuns } from '../../src/lib/ingest/runs.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { HEADERS, REDIGITISED, SIZES, image, workbook, writeDelivery2024, writeDelivery2025 } from './fixtures/delivery.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-index-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const cli = (argv: string[], env: Record<string, string>) => runCli(tmp, argv, env);

describe('image sizes from file headers', () => {
  it('reads JPEG, PNG, TIFF (classic and tiled pyramid), WebP without decoding', async () => {
    const sharp = (await import('sharp')).default;
    const dir = path.join(tmp, 'dims');
    await mkdir(dir, { recursive: true });
    const cases: Array<[string, number, number, (s: import('sharp').Sharp) => import('sharp').Sharp]> = [
      ['a.jpg', 123, 45, (s) => s.jpeg()],
      ['b.png', 7, 300, (s) => s.png()],
      ['c.tif', 640, 480, (s) => s.tiff()],
      ['d.tif', 1500, 700, (s) => s.tiff({ tile: true, pyramid: true, tileWidth: 256, tileHeight: 256, compression: 'jpeg' })],
      ['e.webp', 99, 77, (s) => s.webp()],
      ['f.webp', 64, 33, (s) => s.webp({ lossless: true })],
    ];
    for (const [name, w, h, enc] of cases) {
      const file = path.join(dir, name);
      await enc(sharp({ create: { width: w, height: h, channels: 3, background: '#886644' } }).withMetadata()).toFile(file);
      expect(imageDimensions(file), name).toEqual({ width: w, height: h });
    }
    // an EXIF block before the frame header is skipped by its length
    const exif = path.join(dir, 'exif.jpg');
    await sharp({ create: { width: 31, height: 17, channels: 3, background: '#123456' } })
      .withExif({ IFD0: { ImageDescription: 'x'.repeat(20000) } })
      .jpeg()
      .toFile(exif);
    expect(imageDimensions(exif)).toEqual({ width: 31, height: 17 });
    await writeFile(path.join(dir, 'bad.jpg'), Buffer.from([0xff, 0xd8, 0xff]));
    await writeFile(path.join(dir, 'text.jpg'), 'not an image');
    expect(imageDimensions(path.join(dir, 'bad.jpg'))).toBeUndefined();
    expect(imageDimensions(path.join(dir, 'text.jpg'))).toBeUndefined();
    expect(imageDimensions(path.join(dir, 'absent.jpg'))).toBeUndefined();
  });
});

describe('index the clean tree', () => {
  let d2024: string;
  let d2025: string;
  let clean: string;
  let store: SqliteStore;

  beforeAll(async () => {
    d2024 = path.join(tmp, 'delivery-2024');
    d2025 = path.join(tmp, 'delivery-2025');
    await writeDelivery2024(d2024);
    await writeDelivery2025(d2025);
    clean = path.join(tmp, 'clean');
    await normalize({ deliveries: [d2024], cleanRoot: clean });
    store = new SqliteStore(path.join(tmp, 'index.sqlite'));
    await store.init();
  });
  afterAll(async () => {
    await store.close();
  });

  it('reads only the chosen bibliographies, with image files and sizes from the clean tree', async () => {
    const t0 = new Date('2025-01-01T00:00:00Z');
    const r = await indexCleanTree(store, { cleanRoot: clean, now: t0 });
    expect(r.errors).toEqual([]);
    expect(r).toMatchObject({ records: 8, inserted: 8, updated: 0, files: 4, dimensions: { read: 9, unreadable: 0, differing: 1 } });
    expect(r.batches.map((b) => [b.batch, b.files.map((f) => path.relative(clean, f))])).toEqual([
      ['R03', ['R03/bibliography/書誌データ_第3回_修正版.xlsx']],
      ['R03-2', ['R03-2/bibliography/書誌_３－２.xlsx']],
      ['R04', ['R04/bibliography/R4_書誌.xlsx']],
      ['R05', ['R05/bibliography/R05_書誌_sorted.xlsx']],
    ]);
    expect(r.warnings).toEqual([]);
    const ids = (await store.search({ pageSize: 100 })).hits.map((h) => [h.record.id, h.record.batch, h.record.title.ja]);
    expect(ids).toEqual([
      ['R03-0001', 'R03', '東京駅'],
      ['R03-0002', 'R03', '函館港'],
      ['R03-0003', 'R03', '絵葉書 横浜'],
      ['R03-0004', 'R03', 'ポジフィルム'],
      ['R032-0001', 'R03-2', '富士山 パノラマ'],
      ['R04-0001', 'R04', '大阪城'],
      ['R04-0002', 'R04', '神戸港'],
      ['R05-0001', 'R05', '長崎 眼鏡橋'],
    ]); // revised titles, no （修正前）/（ソート済）, nothing from the request form
    const images = (await store.listImages()).map((i) => [i.id, i.file]);
    expect(images).toEqual([
      ['R03-0001', 'R03/R03-0001.jpg'], // the sheet names the clean file; the delivered one was .JPG
      ['R03-0002', 'R03/R03-0002.jpg'],
      ['R03-0003_back', 'R03/R03-0003_back.jpg'],
      ['R03-0003_front', 'R03/R03-0003_front.jpg'],
      ['R03-0004_p001', 'R03/ポジ_01.jpg'],
      ['R032-0001', 'R03-2/R032-0001.tif'],
      ['R04-0001', 'R04/R04-0001.jpg'],
      ['R04-0002', 'R04/R04-0002.jpg'],
      ['R05-0001', 'R05/R05-0001.png'],
    ]);
    for (const [id, file] of images) {
      const [w, h] = SIZES[path.basename(file!)]!;
      expect(await store.getImage(id!), id).toMatchObject({ width: w, height: h });
    }
    const rec = await store.get('R03-0004');
    expect(rec).toMatchObject({ access: 'members', indexed_at: t0.toISOString(), updated_at: t0.toISOString(), s3_uploaded: false });
    expect(rec!.source).toEqual({ file: '書誌データ_第3回_修正版.xlsx', sheet: '書誌', row: 7 });
  });

  it('is idempotent: indexed_at kept, updated_at set on every run', async () => {
    const before = await store.search({ pageSize: 100 });
    const t1 = new Date('2025-02-01T00:00:00Z');
    const r = await indexCleanTree(store, { cleanRoot: clean, now: t1 });
    expect(r).toMatchObject({ records: 8, inserted: 0, updated: 8, errors: [] });
    const after = await store.search({ pageSize: 100 });
    expect(after.hits.map((h) => ({ ...h.record, updated_at: '' }))).toEqual(before.hits.map((h) => ({ ...h.record, updated_at: '' })));
    for (const h of after.hits) expect([h.record.indexed_at, h.record.updated_at]).toEqual(['2025-01-01T00:00:00.000Z', t1.toISOString()]);
  });

  it('picks up a later delivery: corrected records, re-digitised images, new batches', async () => {
    await normalize({ deliveries: [d2025], cleanRoot: clean });
    const r = await indexCleanTree(store, { cleanRoot: clean, now: new Date('2025-03-01T00:00:00Z') });
    expect(r.errors).toEqual([]);
    expect(r).toMatchObject({ records: 10, inserted: 2, updated: 8 });
    expect((await store.get('R03-0001'))!.title.ja).toBe('東京駅（再撮影）');
    expect(await store.getImage('R03-0001')).toMatchObject({ file: 'R03/R03-0001.jpg', width: REDIGITISED[0], height: REDIGITISED[1] });
    expect((await store.get('R03-0005'))!.indexed_at).toBe('2025-03-01T00:00:00.000Z');
    expect((await store.get('R03-0002'))!.indexed_at).toBe('2025-01-01T00:00:00.000Z');
    expect(await store.get('R06-0001')).toMatchObject({ batch: 'R06' });
  });

  it('lists images through the port, filtered by batch and upload state', async () => {
    expect((await store.listImages({ batch: ['R04', 'R06'] })).map((i) => i.id)).toEqual(['R04-0001', 'R04-0002', 'R06-0001']);
    await store.markUploaded([{ imageId: 'R04-0001', key: 'photos/R04-0001.jpg', size: 123, at: '2025-03-02T00:00:00.000Z' }]);
    expect(await store.listImages({ uploaded: true })).toEqual([
      { id: 'R04-0001', itemId: 'R04-0001', batch: 'R04', file: 'R04/R04-0001.jpg', s3Key: 'photos/R04-0001.jpg', s3Size: 123, uploadedAt: '2025-03-02T00:00:00.000Z' },
    ]);
    expect((await store.listImages({ uploaded: false, batch: ['R04'] })).map((i) => i.id)).toEqual(['R04-0002']);
    // re-indexing keeps the upload of an unchanged image
    await indexCleanTree(store, { cleanRoot: clean, batches: ['R04'] });
    expect((await store.listImages({ uploaded: true })).map((i) => i.id)).toEqual(['R04-0001']);
  });

  it('changes nothing in a dry run', async () => {
    const other = new SqliteStore(':memory:');
    await other.init();
    const r = await indexCleanTree(other, { cleanRoot: clean, dryRun: true });
    expect(r).toMatchObject({ records: 10, inserted: 0, updated: 0, dryRun: true, errors: [] });
    expect(await other.count()).toBe(0);
    await other.close();
  });
});

describe('index error rows', () => {
  it('reports every bad row as file:sheet:row, indexes every good row, exits 1', async () => {
    const data = path.join(tmp, 'bad-data');
    const d = path.join(tmp, 'bad-delivery');
    const b = path.join(d, '第７回');
    for (const n of ['G-1', 'G-2', 'G-3', 'G-4', 'B-2', 'B-5', 'B-6', 'B-7', 'B-9', 'P-1']) await image(path.join(b, `${n}.jpg`), 20, 10);
    await image(path.join(b, '封筒_G-1.jpg'), 10, 10);
    const main_ = path.join(b, '書誌_第7回.xlsx');
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('書誌');
    ws.addRow(['第7回 納品']);
    ws.addRow(HEADERS); // row 2
    ws.addRow(['G-1', '7', '良い行', 'Good', '東京', '公開', 'G-1.jpg', 20, 10]); // 3
    ws.addRow([null, '7', 'IDなし', null, null, '公開', 'B-2.jpg', null, null]); // 4: missing id
    ws.addRow(['G-1', '7', '重複', null, null, '公開', 'G-1.jpg', null, null]); // 5: duplicate id
    ws.addRow(['B-5', '7', '幅が文字', null, null, '公開', 'B-5.jpg', '広い', null]); // 6: wrong type
    ws.addRow(['B-6', '7', '公開区分が不明', null, null, '秘密', 'B-6.jpg', null, null]); // 7: unknown access word
    ws.addRow(['B-7', '春/夏', '回次が不正', null, null, '公開', 'B-7.jpg', null, null]); // 8: bad batch
    ws.addRow(['B-8', '7', '画像がない', null, null, '公開', 'B-8.jpg', null, null]); // 9: image not delivered
    ws.addRow(['B-9', '7', '結合セル', null, null, '公開', 'B-9.jpg', null, null]); // 10: merged with 11
    ws.addRow(['B-10', '7', null, null, null, '公開', 'B-10.jpg', null, null]); // 11
    ws.mergeCells('C10:C11');
    ws.addRow(['G-2', '7', '良い行2', null, null, '会員', 'G-2.jpg', null, null]); // 12
    ws.addRow(['B-12', '7', '参考画像', null, null, '公開', '封筒_G-1.jpg', null, null]); // 13: a dropped reference image
    ws.addRow(['G-3', '7', '良い行3', null, null, '公開', 'g-3.JPG', null, null]); // 14: case differs: found
    ws.addRow(['B-13', '7', '日付エラー', null, null, '公開', 'B-13.jpg', { error: '#REF!' }, null]); // 15: error cell
    wb.addWorksheet('凡例').addRow(['公開区分', '公開/会員/職員']); // explanatory sheet: fine
    await mkdir(b, { recursive: true });
    await wb.xlsx.writeFile(main_);
    // a second category whose workbook is corrupt, one with only an empty sheet, one repeating an id
    await writeFile(path.join(b, '絵葉書_書誌_第7回.xlsx'), 'this is not a zip archive');
    await workbook(path.join(b, '写真帖_書誌_第7回.xlsx'), { Sheet1: 'empty' });
    await workbook(path.join(b, '追加_書誌_第7回.xlsx'), {
      追加: [
        { id: 'G-4', images: 'G-4.jpg' },
        { id: 'G-2', images: 'P-1.jpg' },
      ],
    });

    const env = { DATA_DIR: data };
    expect((await cli(['normalize', d], env)).code).toBe(0);
    const r = await cli(['index'], env);
    expect(r.code).toBe(1);
    const f = main_;
    // in workbook order (categories by name), then sheet and row
    expect(r.err.split('\n')).toEqual([
      `${path.join(b, '写真帖_書誌_第7回.xlsx')}:Sheet1: sheet is empty`,
      `${f}:書誌:4: missing id (資料番号)`,
      `${f}:書誌:5: duplicate id G-1 (first at 書誌:3)`,
      `${f}:書誌:6: width (幅) "広い" is not a whole number of pixels`,
      `${f}:書誌:7: unknown access value (公開区分) "秘密"; use 公開, 会員 or 職員`,
      `${f}:書誌:8: batch (回次) "春/夏" is not a valid batch id`,
      `${f}:書誌:9: image file "B-8.jpg" is not in batch R07 of the clean tree`,
      `${f}:書誌:10: merged cells (C10); unmerge them and repeat the value in each row`,
      `${f}:書誌:11: merged cells (C11); unmerge them and repeat the value in each row`,
      `${f}:書誌:13: image file "封筒_G-1.jpg" is not in batch R07 of the clean tree: normalize dropped it as a reference-only image (envelope: "封筒" in the file name)`,
      `${f}:書誌:15: H15: cell holds the error value #REF!`,
      `${path.join(b, '絵葉書_書誌_第7回.xlsx')}: not a readable .xlsx workbook (not a zip archive)`,
      `${path.join(b, '追加_書誌_第7回.xlsx')}:追加:5: duplicate id G-2 in batch R07 (first at ${f}:書誌:12)`,
      // the images of the skipped rows are used by no record
      'note: 6 images in the clean tree no record uses: R07/B-2.jpg, R07/B-5.jpg, R07/B-6.jpg, R07/B-7.jpg, R07/B-9.jpg, R07/P-1.jpg',
    ]);
    expect(r.out).toBe(
      'indexed 4 records from 4 workbooks in 1 batch; 4 new, 0 updated; 4 image sizes read from the files; 11 rows skipped; 2 file or sheet errors; 6 images no record uses',
    );
    const store = new SqliteStore(path.join(data, 'archive.sqlite'));
    const ids = (await store.search({ pageSize: 100 })).hits.map((h) => h.record.id);
    expect(ids).toEqual(['G-1', 'G-2', 'G-3', 'G-4']);
    expect(await store.getImage('g-3')).toMatchObject({ itemId: 'G-3', file: 'R07/G-3.jpg', width: 20, height: 10 }); // id from the sheet's name, file from the tree
    await store.close();

    // status shows the run and its exit code
    const s = await cli(['status'], env);
    expect(s.out).toMatch(/^ {2}index {6}\S+ \(\d+ s ago\), [\d.]+ s, exit 1: indexed 4 records/m);
    expect(fs.existsSync(path.join(data, 'ingest-runs.jsonl'))).toBe(true);
    // ...and keeps the skipped rows for the admin page (file, sheet, row, message)
    const run = lastRuns(data).index.last!;
    expect(run.problems).toHaveLength(13);
    expect(run.problems![1]).toEqual({ file: f, sheet: '書誌', row: 4, message: 'missing id (資料番号)' });
  });

  it('says what to do when the clean tree is empty or a batch is unknown, exit 2', async () => {
    const env = { DATA_DIR: path.join(tmp, 'empty-data') };
    const r = await cli(['index'], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^archive index: the clean tree .* holds no normalized batch \(run archive normalize first\)/);
    const data = path.join(tmp, 'bad-data');
    const unknown = await cli(['index', '--batch', 'R99'], { DATA_DIR: data });
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no batch R99 in the clean tree/);
    const dry = await cli(['index', '--dry-run', '--batch', '第７回'], { DATA_DIR: data });
    expect(dry.out).toMatch(/^would index 4 records from 4 workbooks in 1 batch/);
  });
});
