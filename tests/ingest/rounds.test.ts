/**
 * Image identity across rounds and corrections (issue 12, items 3 and 6), on generated deliveries
 * indexed into a real SQLite store:
 *   - the same generic file name (001.jpg) in two rounds for different records: both indexed, the
 *     first holder keeps the bare id, the newcomer gets a batch-qualified one, keys never collide;
 *   - existing ids do not change when a later delivery adds a colliding name, nor on re-runs;
 *   - a re-digitised photo delivered again for the same record keeps its id (and S3 key);
 *   - a correction row in a later round resolves an image delivered in an earlier round.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexCleanTree } from '../../src/lib/ingest/indexing.ts';
import { normalize } from '../../src/lib/ingest/normalize.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { objectKey } from '../../src/lib/storage/keys.ts';
import { image, workbook } from './fixtures/delivery.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-rounds-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function round1(root: string) {
  await image(path.join(root, 'R01', '001.jpg'), 40, 30, 100);
  await image(path.join(root, 'R01', '002.jpg'), 44, 30, 110);
  await workbook(path.join(root, 'R01', '書誌_R01.xlsx'), {
    書誌: [
      { id: 'R01-0011', batch: 'R01', title: '一', images: '001.jpg' },
      { id: 'R01-0012', batch: 'R01', title: '二', images: '002.jpg' },
    ],
  });
}
async function round2(root: string) {
  await image(path.join(root, 'R02', '001.jpg'), 50, 30, 140); // another photo, same generic name
  await workbook(path.join(root, 'R02', '書誌_R02.xlsx'), {
    書誌: [
      { id: 'R02-0011', batch: 'R02', title: '三', images: '001.jpg' },
      // a correction of an R01 record; its image came in R01
      { id: 'R01-0012', batch: 'R02', title: '二（訂正）', images: '002.jpg' },
    ],
  });
}

async function setUp(name: string, rounds: Array<(root: string) => Promise<void>>) {
  const root = path.join(tmp, name, 'delivery');
  for (const r of rounds) await r(root);
  const cleanRoot = path.join(tmp, name, 'clean');
  await normalize({ deliveries: [root], cleanRoot });
  const store = new SqliteStore(path.join(tmp, name, 'store.db'));
  await store.init();
  return { root, cleanRoot, store };
}

const imagesOf = async (store: SqliteStore) => (await store.listImages()).map((i) => [i.itemId, i.id, i.file]).sort();

describe('image identity across rounds', () => {
  it('indexes the same file name in two rounds for different records, with distinct ids and keys', async () => {
    const { cleanRoot, store } = await setUp('two-rounds', [round1, round2]);
    const rep = await indexCleanTree(store, { cleanRoot });
    expect(rep.errors).toEqual([]);
    expect(await imagesOf(store)).toEqual([
      ['R01-0011', '001', 'R01/001.jpg'],
      ['R01-0012', '002', 'R01/002.jpg'],
      ['R02-0011', 'R02_001', 'R02/001.jpg'],
    ]);
    // The correction row found its image in the earlier round, and says so.
    expect(rep.warnings.some((w) => /R01-0012: image file "002.jpg" is not in batch R02; taken from the earlier round R01/.test(w))).toBe(true);
    expect((await store.get('R01-0012'))!.title.ja).toBe('二（訂正）');
    // Keys are flat ASCII and distinct: nobody overwrites another record's image.
    const keys = (await store.listImages()).map((i) => objectKey(i, 'photos/'));
    expect(keys.sort()).toEqual(['photos/001.jpg', 'photos/002.jpg', 'photos/R02_001.jpg']);

    // Re-running changes no id.
    const before = await imagesOf(store);
    const again = await indexCleanTree(store, { cleanRoot });
    expect(again.errors).toEqual([]);
    expect(await imagesOf(store)).toEqual(before);
    await store.close();
  });

  it('keeps existing ids when a later delivery adds a colliding name (whoever came first keeps the bare id)', async () => {
    const { cleanRoot, store } = await setUp('r2-first', [round1, round2]);
    await indexCleanTree(store, { cleanRoot, batches: ['R02'] });
    const first = await imagesOf(store);
    expect(first.find((r) => r[0] === 'R02-0011')).toEqual(['R02-0011', '001', 'R02/001.jpg']);
    const rep = await indexCleanTree(store, { cleanRoot });
    expect(rep.errors).toEqual([]);
    const all = await imagesOf(store);
    expect(all.find((r) => r[0] === 'R02-0011')).toEqual(['R02-0011', '001', 'R02/001.jpg']);
    expect(all.find((r) => r[0] === 'R01-0011')).toEqual(['R01-0011', 'R01_001', 'R01/001.jpg']);
    await store.close();
  });

  it('a re-digitised photo delivered again for the same record keeps its id and key', async () => {
    const round3 = async (root: string) => {
      await image(path.join(root, 'R03', '001.jpg'), 60, 30, 160); // R02-0011's photo, re-digitised
      await workbook(path.join(root, 'R03', '書誌_R03.xlsx'), { 書誌: [{ id: 'R02-0011', batch: 'R03', title: '三', images: '001.jpg' }] });
    };
    const { cleanRoot, store } = await setUp('redigitised', [round1, round2]);
    await indexCleanTree(store, { cleanRoot });
    await round3(path.join(tmp, 'redigitised', 'delivery'));
    await normalize({ deliveries: [path.join(tmp, 'redigitised', 'delivery')], cleanRoot });
    const rep = await indexCleanTree(store, { cleanRoot });
    expect(rep.errors).toEqual([]);
    const img = (await store.listImages()).find((i) => i.itemId === 'R02-0011')!;
    expect([img.id, img.file, objectKey(img, 'photos/')]).toEqual(['R02_001', 'R03/001.jpg', 'photos/R02_001.jpg']);
    expect((await store.getImage('001'))!.itemId).toBe('R01-0011');
    await store.close();
  });
});
