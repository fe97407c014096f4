import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBibliographies, type LoadProgress } from '../../src/lib/ingest/load.ts';
import type { ItemInput, UpsertReport } from '../../src/lib/search/store.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';

/** The real embedded store (in memory), recording the batches the loader hands it. */
class RecordingStore extends SqliteStore {
  calls: string[][] = [];
  constructor() {
    super(':memory:');
  }
  override async upsert(items: ItemInput[], now?: Date): Promise<UpsertReport> {
    this.calls.push(items.map((i) => i.id));
    return super.upsert(items, now);
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ingest-load-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sheet(name: string, rows: Array<[string, string, string?]>): Promise<string> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('書誌');
  ws.addRow(['資料番号', '題名', '画像ファイル']);
  for (const r of rows) ws.addRow(r);
  const file = path.join(dir, name);
  await wb.xlsx.writeFile(file);
  return file;
}

describe('loadBibliographies', () => {
  it('upserts in batches and reports progress', async () => {
    const rows = Array.from({ length: 7 }, (_, i): [string, string, string] => [`A-${i}`, `題${i}`, `A-${i}.jpg`]);
    const file = await sheet('R01.xlsx', rows);
    const store = new RecordingStore();
    const events: LoadProgress[] = [];
    const rep = await loadBibliographies(store, [file], { batchSize: 3, onProgress: (e) => events.push(e) });
    expect(rep).toEqual({ records: 7, errors: [], inserted: 7, updated: 0, superseded: 0, unknownHeaders: [], skippedSheets: [], perFile: expect.any(Array) });
    expect(store.calls.map((c) => c.length)).toEqual([3, 3, 1]);
    expect(events).toEqual([
      { kind: 'file', file, records: 7, errors: 0 },
      { kind: 'upsert', done: 3, total: 7 },
      { kind: 'upsert', done: 6, total: 7 },
      { kind: 'upsert', done: 7, total: 7 },
    ]);
    const again = await loadBibliographies(store, [file]);
    expect(again).toMatchObject({ inserted: 0, updated: 7 });
    expect(store.calls.at(-1)).toHaveLength(7); // default batch size 500
  });

  it('lets a later file replace a record and passes row errors through', async () => {
    const r1 = await sheet('R01-b.xlsx', [
      ['B-1', '旧題', 'B-1.jpg'],
      ['B-2', '二', 'B-2.jpg'],
    ]);
    const r2 = await sheet('R02-b.xlsx', [
      ['B-1', '新題', 'B-1.jpg'],
      ['', '番号なし', 'x.jpg'],
    ]);
    const missing = path.join(dir, 'R03-missing.xlsx');
    const store = new RecordingStore();
    const rep = await loadBibliographies(store, [r1, r2, missing]);
    expect(rep.records).toBe(2);
    expect(rep.superseded).toBe(1);
    expect(rep.errors).toEqual([
      { file: r2, sheet: '書誌', row: 3, message: 'missing id (資料番号)' },
      { file: missing, message: 'file not found' },
    ]);
    expect(await store.get('B-1')).toMatchObject({ title: { ja: '新題' }, batch: 'R02' });
  });

  it('gives a reused file name of another record a batch-qualified image id; the first holder keeps its id', async () => {
    const store = new RecordingStore();
    const first = await sheet('R01-c.xlsx', [['C-1', '一', 'IMG_1.jpg']]);
    await loadBibliographies(store, [first]);
    // a later round reuses the camera file name for a different record
    const second = await sheet('R02-c.xlsx', [
      ['C-2', '二', 'IMG_1.jpg'],
      ['C-3', '三', 'IMG_3.jpg'],
    ]);
    const third = await sheet('R03-c.xlsx', [['C-4', '四', 'IMG_3.jpg']]);
    const rep = await loadBibliographies(store, [second, third]);
    expect(rep).toMatchObject({ records: 3, errors: [] });
    const ids = await Promise.all(['C-1', 'C-2', 'C-3', 'C-4'].map(async (id) => (await store.get(id))?.images.map((i) => [i.id, i.file])));
    expect(ids).toEqual([[['IMG_1', 'R01/IMG_1.jpg']], [['R02_IMG_1', 'R02/IMG_1.jpg']], [['IMG_3', 'R02/IMG_3.jpg']], [['R03_IMG_3', 'R03/IMG_3.jpg']]]);
    // again: nothing changes
    await loadBibliographies(store, [first, second, third]);
    expect(await Promise.all(['C-1', 'C-2', 'C-3', 'C-4'].map(async (id) => (await store.get(id))?.images.map((i) => [i.id, i.file])))).toEqual(ids);
  });

  it('moves an image between records reloaded together, releasing it first', async () => {
    const store = new RecordingStore();
    await loadBibliographies(store, [await sheet('R01-d.xlsx', [['D-1', '一', 'D.jpg'], ['D-2', '二', '']])]);
    // corrected delivery: the picture belongs to D-2, and D-2 comes first in the sheet
    const fix = await sheet('R01-d2.xlsx', [['D-2', '二', 'D.jpg'], ['D-1', '一', '']]);
    const rep = await loadBibliographies(store, [fix], { batchSize: 1 });
    expect(rep).toMatchObject({ records: 2, errors: [], updated: 2 });
    expect(store.calls.slice(-2)).toEqual([['D-1'], ['D-2']]);
    expect((await store.getImage('D'))?.itemId).toBe('D-2');
  });
});
