import { describe, expect, test } from 'vitest';
import { buildCollection, collectionUrl, COLLECTION_PAGE_SIZE } from '../../src/lib/iiif/collection.ts';
import { citations } from '../../src/lib/cite/citation.ts';
import type { ItemRecord } from '../../src/lib/search/store.ts';
import { presentationErrors } from '../helpers/iiif-schema.ts';

const base = 'https://archive.example.org';

function rec(i: number): ItemRecord {
  const id = `R01-${String(i).padStart(4, '0')}`;
  return {
    id,
    batch: 'R01',
    title: { ja: `東京の写真 ${i}`, en: `Tokyo photograph ${i}` },
    images: [{ id: `${id}-01`, file: `R01/${id}-01.jpg` }],
    indexed_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    s3_uploaded: false,
  };
}

describe('IIIF collections of search results', () => {
  const req = { q: '東京', filters: { batch: ['R01'] } };

  test('a small result set lists its manifests, valid against the schema', () => {
    const doc = buildCollection({ base, req, total: 3, records: [rec(1), rec(2), rec(3)] }) as any;
    expect(presentationErrors(doc)).toEqual([]);
    expect(doc.id).toBe(`${base}/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC&batch=R01`);
    expect(doc.type).toBe('Collection');
    expect(doc.label.ja[0]).toBe('検索結果: 東京 · R01（3件）');
    expect(doc.items.map((i: any) => i.id)).toEqual([1, 2, 3].map((i) => `${base}/api/iiif/R01-000${i}/manifest.json`));
    expect(doc.items[0].thumbnail[0].service[0].type).toBe('ImageService3');
  });

  test('a large result set is split into page collections pointing back to the top', () => {
    const total = COLLECTION_PAGE_SIZE * 2 + 5;
    const top = buildCollection({ base, req, total, records: [] }) as any;
    expect(presentationErrors(top)).toEqual([]);
    expect(top.items).toHaveLength(3);
    expect(top.items[2]).toEqual({ id: collectionUrl(base, req, 3), type: 'Collection', label: { none: [`201–${total}`] } });
    const page = buildCollection({ base, req, total, records: [rec(201)], page: 3 }) as any;
    expect(presentationErrors(page)).toEqual([]);
    expect(page.id).toBe(`${base}/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC&batch=R01&page=3`);
    expect(page.partOf).toEqual([{ id: top.id, type: 'Collection' }]);
    expect(page.label.en[0]).toMatch(/3\/3$/);
  });

  test('page 1 is reachable: its link carries page=1, and the page document has that id (not the top)', () => {
    const total = COLLECTION_PAGE_SIZE + 1;
    const top = buildCollection({ base, req, total, records: [] }) as any;
    const first = top.items[0];
    expect(first.id).toBe(`${base}/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC&batch=R01&page=1`);
    expect(first.id).not.toBe(top.id);
    const page1 = buildCollection({ base, req, total, records: [rec(1)], page: 1 }) as any;
    expect(page1.id).toBe(first.id);
    expect(page1.partOf).toEqual([{ id: top.id, type: 'Collection' }]);
    expect(page1.items[0].type).toBe('Manifest');
    expect(presentationErrors(page1)).toEqual([]);
  });

  test('canonical URLs: fixed parameter order, empty parameters left out, sort kept', () => {
    expect(collectionUrl(base, {})).toBe(`${base}/api/iiif/collection`);
    expect(collectionUrl(base, { q: '' })).toBe(`${base}/api/iiif/collection`);
    expect(collectionUrl(base, { q: undefined, filters: { batch: ['R01'] } })).toBe(`${base}/api/iiif/collection?batch=R01`);
    expect(collectionUrl(base, {}, 2)).toBe(`${base}/api/iiif/collection?page=2`);
    expect(collectionUrl(base, { q: 'a b', filters: { type: ['photo'], batch: ['R02'] }, sort: 'id' }, 1)).toBe(
      `${base}/api/iiif/collection?q=a+b&batch=R02&type=photo&sort=id&page=1`,
    );
  });

  test('an empty result set is still a valid collection', () => {
    expect(presentationErrors(buildCollection({ base, req: {}, total: 0, records: [] }))).toEqual([]);
  });
});

describe('citations', () => {
  const record = {
    ...rec(7),
    creator: { ja: '中村清三郎', en: 'Seizaburo Nakamura' },
    date: '1914',
    collection: { ja: '寄贈写真資料', en: 'Donated photographs' },
  };
  const ctx = { permalink: `${base}/items/R01-0007`, accessed: new Date('2026-11-21T10:00:00Z'), archive: { ja: '非公開画像アーカイブ', en: 'Private Image Archive' } };

  test('Chicago style in English with the access date', () => {
    const c = citations(record, ctx).find((x) => x.lang === 'en')!;
    expect(c.text).toBe(
      'Seizaburo Nakamura. “Tokyo photograph 7.” 1914. Donated photographs, R01-0007. Private Image Archive. https://archive.example.org/items/R01-0007. Accessed November 21, 2026.',
    );
  });

  test('the Japanese form (SIST 02) with the access date as (参照 yyyy-mm-dd)', () => {
    const c = citations(record, ctx).find((x) => x.lang === 'ja')!;
    expect(c.text).toBe('中村清三郎. "東京の写真 7". 非公開画像アーカイブ. 1914. 寄贈写真資料, R01-0007. https://archive.example.org/items/R01-0007, (参照 2026-11-21).');
  });

  test('missing creator and date are left out, not printed empty', () => {
    const c = citations(rec(8), ctx);
    expect(c[0]!.text.startsWith('“Tokyo photograph 8.” R01-0008. Private')).toBe(true);
    expect(c[1]!.text.startsWith('"東京の写真 8". 非公開画像アーカイブ. R01-0008.')).toBe(true);
  });
});
