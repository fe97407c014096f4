import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_COLUMNS,
  canonicalBatch,
  headerLookup,
  mergeColumns,
  normalizeHeader,
} from '../../src/lib/ingest/columns.ts';
import { batchFromFileName, formatRowError, imageIdFor, readBibliography } from '../../src/lib/ingest/excel.ts';
import { IMAGE_ID_RE } from '../../src/lib/domain.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ingest-excel-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Cell = ExcelJS.CellValue;
interface SheetSpec {
  name?: string;
  rows: Cell[][];
  merges?: string[];
}

/** Write a workbook of the given sheets; rows are written from row 1 exactly as given. */
async function xlsx(name: string, sheets: SheetSpec[]): Promise<string> {
  const wb = new ExcelJS.Workbook();
  sheets.forEach((s, i) => {
    const ws = wb.addWorksheet(s.name ?? `Sheet${i + 1}`);
    s.rows.forEach((r, j) => {
      if (r.length > 0) ws.getRow(j + 1).values = [undefined, ...r] as Cell[];
    });
    for (const m of s.merges ?? []) ws.mergeCells(m);
  });
  const file = path.join(dir, name);
  await wb.xlsx.writeFile(file);
  return file;
}

const HEADER = ['資料番号', '回次', '題名', '題名（英）', '撮影地', '画像ファイル', '幅', '高さ', '公開区分', 'キーワード'];

describe('columns', () => {
  it('normalises header spellings to one key', () => {
    const variants = ['題名（英）', '題名(英)', '題名 (英)', ' 題名　（ 英 ） ', '題名【英】', '題名[英]', '題名（英）:'];
    expect(new Set(variants.map(normalizeHeader))).toEqual(new Set(['題名(英)']));
    expect(normalizeHeader('ＩＤ')).toBe('id');
    expect(normalizeHeader('ｷｰﾜｰﾄﾞ')).toBe('キーワード');
  });

  it('maps every default spelling to exactly one field and rejects conflicting overrides', () => {
    const lookup = headerLookup(DEFAULT_COLUMNS);
    expect(lookup.get(normalizeHeader('タイトル(英)'))).toBe('title.en');
    expect(lookup.get(normalizeHeader('撮影者'))).toBe('creator.ja');
    expect(lookup.get(normalizeHeader('コレクション（英）'))).toBe('collection.en');
    expect(() => headerLookup(mergeColumns(DEFAULT_COLUMNS, { notes: ['題名'] }))).toThrow(/題名.*title\.ja.*notes/);
  });

  it('canonicalises batch ids', () => {
    expect(canonicalBatch('1')).toBe('R01');
    expect(canonicalBatch('第３回')).toBe('R03');
    expect(canonicalBatch('r7')).toBe('R07');
    expect(canonicalBatch('R12')).toBe('R12');
    expect(canonicalBatch('spring-2024')).toBe('spring-2024');
    expect(canonicalBatch('春/夏')).toBeUndefined();
    expect(batchFromFileName('/x/R01.xlsx')).toBe('R01');
    expect(batchFromFileName('書誌_r3_final.xlsx')).toBe('R03');
    expect(batchFromFileName('bibliography.xlsx')).toBeUndefined();
  });

  it('derives IIIF-safe image ids', () => {
    expect(imageIdFor('R01-0001.jpg', 'R01-0001', 1)).toBe('R01-0001');
    expect(imageIdFor('sub/IMG 0042 (2).JPG', 'X', 1)).toBe('IMG_0042_2_');
    expect(imageIdFor('浅草寺_01.jpg', 'R01-0003', 2)).toBe('R01-0003_p002');
    expect(imageIdFor('.hidden', 'R01-0003', 1)).toBe('hidden');
    expect(imageIdFor('___.jpg', 'R01-0009', 4)).toBe('R01-0009_p004');
    for (const id of ['R01-0001', 'IMG_0042_2_', 'R01-0003_p002']) expect(id).toMatch(IMAGE_ID_RE);
  });
});

describe('readBibliography', () => {
  it('skips a title row, reads the records and keeps their provenance', async () => {
    const file = await xlsx('R01.xlsx', [
      {
        name: '書誌',
        rows: [
          ['写真資料書誌データ 第1回納品'],
          [],
          HEADER,
          ['R01-0001', '1', '東京駅丸ノ内口', 'Tokyo Station', '東京・丸の内', 'R01-0001.jpg', 4000, 3000, '公開', '鉄道；建築、駅'],
          ['R01-0002', '', '大阪 道頓堀', 'Dotonbori, Osaka', '大阪', 'R01-0002.jpg', '５０００', '3,000px', '会員', ''],
        ],
        merges: ['A1:J1'],
      },
    ]);
    const r = await readBibliography(file);
    expect(r.errors).toEqual([]);
    expect(r.sheets).toEqual(['書誌']);
    expect(r.records).toEqual([
      {
        id: 'R01-0001',
        batch: 'R01',
        title: { ja: '東京駅丸ノ内口', en: 'Tokyo Station' },
        place: { ja: '東京・丸の内' },
        subjects: ['鉄道', '建築', '駅'],
        access: 'open',
        images: [{ id: 'R01-0001', file: 'R01/R01-0001.jpg', width: 4000, height: 3000 }],
        source: { file: 'R01.xlsx', sheet: '書誌', row: 4 },
      },
      {
        id: 'R01-0002',
        batch: 'R01', // empty 回次 cell: from the file name
        title: { ja: '大阪 道頓堀', en: 'Dotonbori, Osaka' },
        place: { ja: '大阪' },
        access: 'members',
        images: [{ id: 'R01-0002', file: 'R01/R01-0002.jpg', width: 5000, height: 3000 }],
        source: { file: 'R01.xlsx', sheet: '書誌', row: 5 },
      },
    ]);
  });

  it.each([
    ['full-width brackets', ['資料番号', '題名（英）', '撮影者（英）', '撮影地（英）']],
    ['half-width brackets', ['資料番号', '題名(英)', '撮影者(英)', '撮影地(英)']],
    ['spaces and ideographic spaces', ['資料 番号', '題名 （英）', '撮影者　(英)', ' 撮影地 ( 英 ) ']],
    ['alternative wordings', ['資料ID', 'タイトル（英語）', '作成者(英)', '撮影場所（英）']],
    ['lenticular brackets, full-width letters', ['ＩＤ', '題名【英】', '作成者［英］', '撮影地〔英〕']],
  ])('accepts header variants: %s', async (label, header) => {
    const file = await xlsx(`variants-${label.replace(/\W+/g, '_')}-R02.xlsx`, [
      { rows: [header, ['R02-0001', 'Harbour', 'Unknown', 'Yokohama']] },
    ]);
    const r = await readBibliography(file);
    expect(r.errors).toEqual([]);
    expect(r.records).toHaveLength(1);
    expect(r.records[0]).toMatchObject({
      id: 'R02-0001',
      batch: 'R02',
      title: { en: 'Harbour' },
      creator: { en: 'Unknown' },
      place: { en: 'Yokohama' },
    });
  });

  it('turns a multi-page image list into one ImageRef per page', async () => {
    const file = await xlsx('pages.xlsx', [
      {
        rows: [
          ['資料番号', '回次', '画像ファイル', '幅', '高さ'],
          ['A-1', 'R03', 'A-1_01.jpg；A-1_02.jpg;A-1_03.tif\nA-1_04.jpg', '4000;3000；2000\n1000', 3000],
          ['A-2', '第4回', '浅草寺 本堂.jpg; 浅草寺 境内.jpg', '', ''],
          ['A-3', '4', 'sub\\IMG 0042.JPG', '', ''],
        ],
      },
    ]);
    const r = await readBibliography(file);
    expect(r.errors).toEqual([]);
    const [a1, a2, a3] = r.records;
    expect(a1!.images).toEqual([
      { id: 'A-1_01', file: 'R03/A-1_01.jpg', label: { ja: '1枚目', en: 'Image 1' }, width: 4000, height: 3000 },
      { id: 'A-1_02', file: 'R03/A-1_02.jpg', label: { ja: '2枚目', en: 'Image 2' }, width: 3000, height: 3000 },
      { id: 'A-1_03', file: 'R03/A-1_03.tif', label: { ja: '3枚目', en: 'Image 3' }, width: 2000, height: 3000 },
      { id: 'A-1_04', file: 'R03/A-1_04.jpg', label: { ja: '4枚目', en: 'Image 4' }, width: 1000, height: 3000 },
    ]);
    expect(a2!.batch).toBe('R04');
    expect(a2!.images.map((i) => [i.id, i.file])).toEqual([
      ['A-2_p001', 'R04/浅草寺 本堂.jpg'],
      ['A-2_p002', 'R04/浅草寺 境内.jpg'],
    ]);
    expect(a3!.images).toEqual([{ id: 'IMG_0042', file: 'R04/sub/IMG 0042.JPG' }]);
  });

  it('maps Japanese and English access words', async () => {
    const words = ['公開', '会員', '職員', 'open', 'Members', 'ＳＴＡＦＦ', '非公開', ' 会員限定 ', '公開予定'];
    const file = await xlsx('access-R01.xlsx', [
      { rows: [['資料番号', '公開区分'], ...words.map((w, i) => [`X-${i}`, w])] },
    ]);
    const r = await readBibliography(file);
    expect(r.records.map((x) => [x.id, x.access])).toEqual([
      ['X-0', 'open'],
      ['X-1', 'members'],
      ['X-2', 'staff'],
      ['X-3', 'open'],
      ['X-4', 'members'],
      ['X-5', 'staff'],
      ['X-6', 'staff'],
      ['X-7', 'members'],
    ]);
    expect(r.errors).toEqual([
      { file, sheet: 'Sheet1', row: 10, message: expect.stringContaining('unknown access value (公開区分) "公開予定"') },
    ]);
  });

  it('reads rich text, hyperlink, formula and date cells', async () => {
    const file = await xlsx('kinds-R01.xlsx', [
      {
        rows: [
          ['資料番号', '題名', '画像ファイル', '撮影年', '幅'],
          [
            'K-1',
            { richText: [{ text: '横浜' }, { font: { bold: true }, text: 'ﾎﾃﾙ' }] },
            { text: 'K-1.jpg', hyperlink: 'file:///K-1.jpg' },
            new Date(Date.UTC(1927, 11, 1)),
            { formula: '2000*2', result: 4000 },
          ],
        ],
      },
    ]);
    const r = await readBibliography(file);
    expect(r.errors).toEqual([]);
    expect(r.records[0]).toMatchObject({
      id: 'K-1',
      title: { ja: '横浜ﾎﾃﾙ' },
      date: '1927-12-01',
      images: [{ id: 'K-1', file: 'R01/K-1.jpg', width: 4000 }],
    });
  });

  it('collects each bad row with its file, sheet and row, and keeps the good rows', async () => {
    const file = await xlsx('bad-R05.xlsx', [
      {
        name: '目録',
        rows: [
          ['第5回納品 書誌'], // 1: title row
          HEADER, // 2
          ['B-1', '', '良い行', '', '', 'B-1.jpg', 4000, 3000, '公開', ''], // 3 good
          ['', '', '番号のない行', '', '', 'x.jpg', '', '', '', ''], // 4 missing id
          ['B-1', '', '重複', '', '', 'B-1b.jpg', '', '', '', ''], // 5 duplicate id
          ['B-3', '', '幅が文字', '', '', 'B-3.jpg', '約4000', '', '', ''], // 6 wrong type
          ['B-4', '', '結合1', '', '東京', 'B-4.jpg', '', '', '', ''], // 7 merged E7:E8
          ['B-5', '', '結合2', '', '', 'B-5.jpg', '', '', '', ''], // 8
          ['B 6/7', '', '不正な番号', '', '', 'B-6.jpg', '', '', '', ''], // 9 id pattern
          [], // 10 blank: ignored silently
          ['B-8', '', '二枚目が重複', '', '', 'B-8.jpg;B-1.jpg', '', '', '', ''], // 11 image id taken
          ['B-9', '', '良い行 2', '', '', 'B-9.jpg', '', '', '', ''], // 12 good
        ],
        merges: ['A1:J1', 'E7:E8'],
      },
    ]);
    const r = await readBibliography(file);
    expect(r.records.map((x) => [x.id, x.source?.row])).toEqual([
      ['B-1', 3],
      ['B-9', 12],
    ]);
    const at = r.errors.map((e) => [e.file, e.sheet, e.row]);
    expect(at).toEqual([
      [file, '目録', 4],
      [file, '目録', 5],
      [file, '目録', 6],
      [file, '目録', 7],
      [file, '目録', 8],
      [file, '目録', 9],
      [file, '目録', 11],
    ]);
    const msg = r.errors.map((e) => e.message);
    expect(msg[0]).toMatch(/missing id/);
    expect(msg[1]).toMatch(/duplicate id B-1 \(first at 目録:3\)/);
    expect(msg[2]).toMatch(/width \(幅\) "約4000" is not a whole number/);
    expect(msg[3]).toMatch(/merged cells \(E7\)/);
    expect(msg[4]).toMatch(/merged cells \(E8\)/);
    expect(msg[5]).toMatch(/id "B 6\/7" is not a valid id/);
    expect(msg[6]).toMatch(/image id B-1 .* already used by B-1 \(目録:3\)/);
    expect(formatRowError(r.errors[0]!)).toBe(`${file}:目録:4: ${msg[0]}`);
  });

  it('reports a width list that does not match the image list', async () => {
    const file = await xlsx('count-R01.xlsx', [
      { rows: [['資料番号', '画像ファイル', '幅'], ['C-1', 'a.jpg;b.jpg;c.jpg', '100;200']] },
    ]);
    const r = await readBibliography(file);
    expect(r.records).toEqual([]);
    expect(r.errors).toEqual([{ file, sheet: 'Sheet1', row: 2, message: 'width lists 2 values for 3 image files' }]);
  });

  it('reports a row without a batch when the file name carries none', async () => {
    const file = await xlsx('bibliography.xlsx', [
      { rows: [['資料番号', '回次'], ['D-1', ''], ['D-2', '2'], ['D-3', '春/夏']] },
    ]);
    const r = await readBibliography(file);
    expect(r.records.map((x) => [x.id, x.batch])).toEqual([['D-2', 'R02']]);
    expect(r.errors.map((e) => [e.row, e.message])).toEqual([
      [2, 'missing batch (回次), and the file name carries none'],
      [4, 'batch (回次) "春/夏" is not a valid batch id'],
    ]);
    const forced = await readBibliography(file, { batch: 'R09' });
    expect(forced.records.map((x) => [x.id, x.batch])).toEqual([
      ['D-1', 'R09'],
      ['D-2', 'R02'],
    ]);
  });

  it('reports an empty sheet, naming the file and sheet', async () => {
    const file = await xlsx('empty-R01.xlsx', [{ name: '空', rows: [] }]);
    const r = await readBibliography(file);
    expect(r.records).toEqual([]);
    expect(r.errors).toEqual([{ file, sheet: '空', message: 'sheet is empty' }]);
  });

  it('reports a sheet without a header row', async () => {
    const file = await xlsx('noheader-R01.xlsx', [{ rows: [['題名', '撮影地'], ['東京', '浅草']] }]);
    const r = await readBibliography(file);
    expect(r.records).toEqual([]);
    expect(r.errors).toEqual([
      { file, sheet: 'Sheet1', message: 'no header row: no cell names the id column (資料番号)' },
    ]);
  });

  it('ignores explanatory sheets next to a data sheet', async () => {
    const file = await xlsx('legend-R01.xlsx', [
      { name: '凡例', rows: [['この書誌は…'], ['公開区分: 公開／会員／職員']] },
      { name: '書誌', rows: [['資料番号', '題名'], ['E-1', '港']] },
      { name: '空白', rows: [] },
    ]);
    const r = await readBibliography(file);
    expect(r.errors).toEqual([]);
    expect(r.sheets).toEqual(['書誌']);
    expect(r.records.map((x) => x.id)).toEqual(['E-1']);
  });

  it('reports a corrupt file (random bytes) without throwing', async () => {
    const file = path.join(dir, 'corrupt-R01.xlsx');
    let seed = 42;
    const bytes = Buffer.alloc(4096, 0).map(() => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    });
    await writeFile(file, bytes);
    const r = await readBibliography(file);
    expect(r.records).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file, message: expect.stringMatching(/^not a readable \.xlsx workbook/) });
    expect(r.errors[0]!.sheet).toBeUndefined();
    expect(formatRowError(r.errors[0]!)).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a readable`));
  });

  it('reports a missing file without throwing', async () => {
    const file = path.join(dir, 'nope.xlsx');
    expect((await readBibliography(file)).errors).toEqual([{ file, message: 'file not found' }]);
  });
});
