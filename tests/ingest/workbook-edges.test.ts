/**
 * Workbooks as providers really send them (issue 12, items 2 and 4): hidden and veryHidden sheets
 * (set in the file) are skipped and listed; a formula cell without a stored result and an id whose
 * characters would be dropped are row errors naming file:sheet:row and the cell; good rows load.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli.ts';
import { formatRowError, readBibliography } from '../../src/lib/ingest/excel.ts';
import { normalize, type BatchMeta } from '../../src/lib/ingest/normalize.ts';
import { sheetStates } from '../../src/lib/ingest/sheets.ts';
import { ID_MAX_LENGTH } from '../../src/lib/domain.ts';
import { HEADERS } from './fixtures/delivery.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-workbook-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

type Cell = ExcelJS.CellValue;

async function write(file: string, sheets: Array<{ name: string; state?: 'visible' | 'hidden' | 'veryHidden'; rows: Cell[][] }>): Promise<string> {
  const wb = new ExcelJS.Workbook();
  for (const sh of sheets) {
    const ws = wb.addWorksheet(sh.name, { state: sh.state ?? 'visible' });
    ws.addRow(HEADERS);
    for (const r of sh.rows) ws.addRow(r);
  }
  const abs = path.join(tmp, file);
  await writeFile(abs, Buffer.from(await wb.xlsx.writeBuffer()));
  return abs;
}

// 資料番号, 回次, 題名, 題名（英）, 撮影地, 公開区分, 画像ファイル
const row = (id: Cell, title: Cell, access = '公開'): Cell[] => [id, 'R01', title, null, null, access, null];

describe('workbook edges', () => {
  it('skips hidden and veryHidden sheets (listed), so stale rows neither win duplicates nor get indexed', async () => {
    const file = await write('hidden_R01.xlsx', [
      { name: '旧データ', state: 'hidden', rows: [row('R01-0001', '古い題名'), row('R01-0099', '非公開の行', '職員')] },
      { name: '書誌', rows: [row('R01-0001', '新しい題名'), row('R01-0002', '二')] },
      { name: '作業用', state: 'veryHidden', rows: [row('R01-0003', '作業中')] },
    ]);
    const r = await readBibliography(file);
    expect(r.errors).toEqual([]);
    expect(r.records.map((x) => [x.id, x.title.ja])).toEqual([
      ['R01-0001', '新しい題名'],
      ['R01-0002', '二'],
    ]);
    expect(r.sheets).toEqual(['書誌']);
    expect(r.skippedSheets).toEqual([
      { sheet: '旧データ', state: 'hidden' },
      { sheet: '作業用', state: 'veryHidden' },
    ]);
  });

  it('lists the hidden and veryHidden sheets of a chosen workbook in meta.json (normalize) and in the summary (index)', async () => {
    const delivery = path.join(tmp, 'hidden-delivery');
    await mkdir(path.join(delivery, 'R01'), { recursive: true });
    await mkdir(path.join(delivery, 'R02'), { recursive: true });
    await write(path.join('hidden-delivery', 'R01', '書誌_R01.xlsx'), [
      { name: '旧データ & <メモ>', state: 'hidden', rows: [row('R01-0099', '非公開の行', '職員')] },
      { name: '書誌', rows: [row('R01-0001', '一')] },
      { name: '作業用', state: 'veryHidden', rows: [row('R01-0003', '作業中')] },
    ]);
    await write(path.join('hidden-delivery', 'R02', '書誌_R02.xlsx'), [{ name: '書誌', rows: [[ 'R02-0001', 'R02', '二', null, null, '公開', null ]] }]);
    expect(sheetStates(path.join(delivery, 'R01', '書誌_R01.xlsx'))).toEqual([
      { sheet: '旧データ & <メモ>', state: 'hidden' },
      { sheet: '書誌', state: 'visible' },
      { sheet: '作業用', state: 'veryHidden' },
    ]);
    expect(sheetStates(path.join(tmp, 'not-a-workbook.xlsx'))).toBeUndefined();
    const clean = path.join(tmp, 'hidden-clean');
    const rep = await normalize({ deliveries: [delivery], cleanRoot: clean });
    expect(rep.batches.map((b) => b.batch)).toEqual(['R01', 'R02']);
    const meta = (b: string) => JSON.parse(readFileSync(path.join(clean, b, 'meta.json'), 'utf8')) as BatchMeta;
    expect(meta('R01').spreadsheets.map((x) => x.skippedSheets)).toEqual([
      [
        { sheet: '旧データ & <メモ>', state: 'hidden' },
        { sheet: '作業用', state: 'veryHidden' },
      ],
    ]);
    expect(meta('R02').spreadsheets[0]).not.toHaveProperty('skippedSheets'); // none: the key is absent
    // And in the index summary.
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { env: { DATA_DIR: path.join(tmp, 'hidden-data'), IMAGE_ROOT: clean }, cwd: tmp, out: (l) => out.push(l), err: (l) => err.push(l) };
    expect(await main(['index'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/2 hidden sheets skipped/);
    expect(err.join('\n')).toContain(':作業用: veryHidden sheet; skipped (not read as data)');
  });

  it('a formula cell without a stored result is a row error naming the cell; with a result it is read', async () => {
    const file = await write('formula_R01.xlsx', [
      {
        name: '書誌',
        rows: [
          row('R01-0001', { formula: 'CONCAT("東京","駅")' } as Cell),
          row('R01-0002', { formula: 'CONCAT("大阪","駅")', result: '大阪駅' } as Cell),
          row({ formula: 'A2' } as Cell, '番号が式'),
        ],
      },
    ]);
    const r = await readBibliography(file);
    expect(r.records.map((x) => [x.id, x.title.ja])).toEqual([['R01-0002', '大阪駅']]);
    expect(r.errors.map(formatRowError)).toEqual([
      expect.stringMatching(new RegExp(`^${file}:書誌:2: C2: formula =CONCAT\\("東京","駅"\\) has no stored result`)),
      expect.stringMatching(new RegExp(`^${file}:書誌:4: A4: formula =A2 has no stored result`)),
    ]);
  });

  it('an id whose space or other character would be dropped is a row error, not a silently different id', async () => {
    const file = await write('ids_R01.xlsx', [
      { name: '書誌', rows: [row('R01 0018', '空白'), row('R01/0019', '斜線'), row('ＲＯ１－００２０'.replace('Ｏ', '0'), '全角'), row('  R01-0021 ', '前後の空白')] },
    ]);
    const r = await readBibliography(file);
    // Width folding and trimming are not dropping: those rows load.
    expect(r.records.map((x) => x.id)).toEqual(['R01-0020', 'R01-0021']);
    expect(r.errors.map(formatRowError)).toEqual([
      `${file}:書誌:2: A2: id "R01 0018" is not a valid id (it contains a space); ids are letters, digits, . _ - (at most ${ID_MAX_LENGTH} characters)`,
      `${file}:書誌:3: A3: id "R01/0019" is not a valid id (it contains "/"); ids are letters, digits, . _ - (at most ${ID_MAX_LENGTH} characters)`,
    ]);
  });
});
