import { describe, expect, test } from 'vitest';
import { buildManifest, canvasSize, FALLBACK_SIZE } from '../../src/lib/iiif/manifest.ts';
import type { ItemRecord } from '../../src/lib/search/store.ts';
import { presentationErrors } from '../helpers/iiif-schema.ts';

const base = 'https://archive.example.org';

function record(overrides: Partial<ItemRecord> = {}): ItemRecord {
  return {
    id: 'R01-0001',
    batch: 'R01',
    type: '写真',
    title: { ja: '東京駅丸の内口', en: 'Marunouchi entrance, Tokyo Station' },
    description: { ja: '駅前の広場と人力車。', en: 'The square with rickshaws.' },
    creator: { ja: '山田太郎', en: 'Taro Yamada' },
    date: '1915',
    place: { ja: '東京', en: 'Tokyo' },
    subjects: ['鉄道', '駅'],
    rights: 'http://rightsstatements.org/vocab/InC/1.0/',
    images: [
      { id: 'R01-0001-01', file: 'R01/R01-0001-01.jpg', width: 100, height: 50 },
      { id: 'R01-0001-02', file: 'R01/R01-0001-02.jpg' },
      { id: 'R01-0001-03', file: 'R01/R01-0001-03.jpg', width: 640, height: 480 },
    ],
    indexed_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-02T00:00:00.000Z',
    s3_uploaded: false,
    ...overrides,
  };
}

describe('buildManifest', () => {
  const sizes = new Map([
    ['R01-0001-01', { width: 6000, height: 4000 }],
    ['R01-0001-02', undefined],
  ]);
  const m = buildManifest({ record: record(), sizes, base }) as any;

  test('is valid against the official Presentation 3 schema', () => {
    expect(presentationErrors(m)).toEqual([]);
  });

  test('id is its own persistent URL and labels are language maps', () => {
    expect(m['@context']).toBe('http://iiif.io/api/presentation/3/context.json');
    expect(m.id).toBe(`${base}/api/iiif/R01-0001/manifest.json`);
    expect(m.type).toBe('Manifest');
    expect(m.label).toEqual({ ja: ['東京駅丸の内口'], en: ['Marunouchi entrance, Tokyo Station'] });
    expect(m.summary).toEqual({ ja: ['駅前の広場と人力車。'], en: ['The square with rickshaws.'] });
    expect(m.metadata[0]).toEqual({ label: { ja: ['資料番号'], en: ['Identifier'] }, value: { none: ['R01-0001'] } });
    expect(m.rights).toBe('http://rightsstatements.org/vocab/InC/1.0/');
    expect(m.homepage[0].id).toBe(`${base}/items/R01-0001`);
  });

  test('one canvas per page; size from the image, then the record, then the fallback', () => {
    expect(m.items).toHaveLength(3);
    expect([m.items[0].width, m.items[0].height]).toEqual([6000, 4000]);
    expect([m.items[1].width, m.items[1].height]).toEqual([FALLBACK_SIZE, FALLBACK_SIZE]);
    expect([m.items[2].width, m.items[2].height]).toEqual([640, 480]);
  });

  test('canvases paint the image with an ImageService3 reference', () => {
    const c = m.items[0];
    expect(c.id).toBe(`${base}/api/iiif/R01-0001/canvas/R01-0001-01`);
    const anno = c.items[0].items[0];
    expect(anno.motivation).toBe('painting');
    expect(anno.target).toBe(c.id);
    expect(anno.body.service[0]).toEqual({ id: `${base}/iiif/3/R01-0001-01`, type: 'ImageService3', profile: 'level2' });
    expect(anno.body.id).toBe(`${base}/iiif/3/R01-0001-01/full/max/0/default.jpg`);
  });

  test('partOf names the archive\'s collection and seeAlso the item\'s JSON record (schema-valid)', () => {
    expect(m.partOf).toEqual([{ id: `${base}/api/iiif/collection`, type: 'Collection' }]);
    expect(m.seeAlso).toHaveLength(1);
    expect(m.seeAlso[0]).toMatchObject({ id: `${base}/api/items/R01-0001.json`, type: 'Dataset', format: 'application/json' });
    expect(presentationErrors(m)).toEqual([]);
  });

  test('the painting body declares the size full/max delivers under the image server limits', () => {
    const panorama = new Map([['R01-0001-01', { width: 79508, height: 3082 }]]);
    const limits = { maxWidth: 10000, maxHeight: 10000, maxArea: 100_000_000 };
    const rec = record({ images: [{ id: 'R01-0001-01', file: 'R01/p.png' }] });
    const limited = buildManifest({ record: rec, sizes: panorama, base, limits }) as any;
    const canvas = limited.items[0];
    const body = canvas.items[0].items[0].body;
    expect([canvas.width, canvas.height]).toEqual([79508, 3082]);
    expect(body.id).toBe(`${base}/iiif/3/R01-0001-01/full/max/0/default.jpg`);
    expect([body.width, body.height]).toEqual([10000, 388]);
    expect(presentationErrors(limited)).toEqual([]);
    // Within the limits the body is the full image.
    const small = buildManifest({ record: record(), sizes, base, limits }) as any;
    expect([small.items[0].items[0].items[0].body.width, small.items[0].items[0].items[0].body.height]).toEqual([6000, 4000]);
  });

  test('a free-text rights statement goes to requiredStatement only', () => {
    const doc = buildManifest({ record: record({ rights: '複製禁止' }), sizes, base }) as any;
    expect(doc.rights).toBeUndefined();
    expect(doc.requiredStatement.value).toEqual({ none: ['複製禁止'] });
    expect(presentationErrors(doc)).toEqual([]);
  });

  test('a record with only one language and no images is still valid', () => {
    const doc = buildManifest({ record: record({ title: { ja: '無題' }, description: undefined, images: [] }), sizes, base }) as any;
    expect(doc.label).toEqual({ ja: ['無題'] });
    expect(doc.items).toEqual([]);
    expect(presentationErrors(doc)).toEqual([]);
  });

  test('canvasSize ignores zero or missing sizes', () => {
    expect(canvasSize({ width: 0, height: 10 }, { width: 30, height: 20 })).toEqual({ width: 30, height: 20 });
    expect(canvasSize(undefined, { width: 30 })).toEqual({ width: FALLBACK_SIZE, height: FALLBACK_SIZE });
  });
});
