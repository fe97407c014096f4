import { describe, expect, test } from 'vitest';
import { encodeContentState, encodeTargets } from '../../src/lib/iiif/content-state.ts';
import { resolveView } from '../../src/lib/iiif/view.ts';
import {
  canvasParts,
  itemViewPath,
  manifestItemId,
  parseItemView,
  parseShortView,
  parseXywh,
  shortViewPath,
} from '../../src/lib/iiif/view-link.ts';
import { t } from '../../src/lib/i18n/strings.ts';
import type { ItemRecord } from '../../src/lib/search/store.ts';

const base = 'https://archive.example.org';
const album = {
  id: 'R01-0001',
  batch: 'R01',
  title: { ja: 'アルバム' },
  images: [
    { id: 'R01-0001-01', file: 'R01/a.jpg' },
    { id: 'R01-0001-02', file: 'R01/b.jpg' },
  ],
} as unknown as ItemRecord;
const photo = { id: 'R02-0007', batch: 'R02', title: { ja: '写真' }, images: [{ id: 'R02-0007-01', file: 'R02/c.jpg' }] } as unknown as ItemRecord;
const get = async (id: string) => ({ [album.id]: album, [photo.id]: photo })[id] ?? null;
const manifestOf = (id: string) => `${base}/api/iiif/${id}/manifest.json`;
const canvasOf = (id: string, img: string) => `${base}/api/iiif/${id}/canvas/${img}`;

describe('short view links', () => {
  test('a readable /view link: items, canvases and regions, positional', () => {
    const path = shortViewPath(
      [
        { itemId: 'R01-0001', imageId: 'R01-0001-02', region: { x: 120.4, y: 80, w: 900, h: 600.6 } },
        { itemId: 'R02-0007' },
      ],
      'relative',
    );
    expect(path).toBe('/view?items=R01-0001,R02-0007&canvas=R01-0001-02,&xywh=120,80,900,601&xywh=&link=relative');
    const back = parseShortView(new URL(`${base}${path}`).searchParams);
    expect(back).toEqual([{ itemId: 'R01-0001', imageId: 'R01-0001-02', region: { x: 120, y: 80, w: 900, h: 601 } }, { itemId: 'R02-0007' }]);
  });

  test('without canvas or region the link is just the items', () => {
    expect(shortViewPath([{ itemId: 'A' }, { itemId: 'B' }])).toBe('/view?items=A,B');
  });

  test('item page links carry the image and region', () => {
    expect(itemViewPath({ itemId: 'R01-0001', imageId: 'R01-0001-02', region: { x: 1, y: 2, w: 3, h: 4 } })).toBe('/items/R01-0001?canvas=R01-0001-02&xywh=1,2,3,4');
    expect(itemViewPath({ itemId: 'R01-0001' })).toBe('/items/R01-0001');
    expect(parseItemView('R01-0001', new URLSearchParams('canvas=R01-0001-02&xywh=1,2,3,4'))).toEqual({ itemId: 'R01-0001', imageId: 'R01-0001-02', region: { x: 1, y: 2, w: 3, h: 4 } });
  });

  test.each([
    ['empty', ''],
    ['negative', '-1,0,10,10'],
    ['zero width', '0,0,0,10'],
    ['three numbers', '1,2,3'],
    ['words', 'a,b,c,d'],
    ['percent', 'percent:1,2,3,4'],
  ])('a bad xywh is ignored, never thrown: %s', (_name, value) => {
    expect(parseXywh(value)).toBeUndefined();
    expect(parseItemView('X', new URLSearchParams({ xywh: value, canvas: '../etc' }))).toEqual({ itemId: 'X' });
  });

  test('canvas and manifest URLs are read back only for this base', () => {
    expect(canvasParts(base, canvasOf('R01-0001', 'R01-0001-02'))).toEqual({ itemId: 'R01-0001', imageId: 'R01-0001-02' });
    expect(canvasParts(base, 'https://elsewhere.example.com/api/iiif/R01-0001/canvas/x')).toBeUndefined();
    expect(canvasParts(base, `${base}/api/iiif/R01-0001/canvas/%E0%A4%A`)).toBeUndefined();
    expect(manifestItemId(base, manifestOf('R01-0001'))).toBe('R01-0001');
    expect(manifestItemId(base, `${base}/api/iiif/%/manifest.json`)).toBeUndefined();
  });
});

describe('resolveView with the short form', () => {
  test('canvas and region per item; the same item may appear twice (two pages of an album)', async () => {
    const params = new URLSearchParams('items=R01-0001,R01-0001,R02-0007&canvas=R01-0001-01,R01-0001-02,&xywh=0,0,10,10&xywh=5,5,20,20&link=absolute');
    const view = await resolveView(params, base, get, ['R01-0001', 'R02-0007']);
    expect(view.windows).toEqual([
      { manifestId: manifestOf('R01-0001'), canvasId: canvasOf('R01-0001', 'R01-0001-01'), region: { x: 0, y: 0, w: 10, h: 10 }, images: 2 },
      { manifestId: manifestOf('R01-0001'), canvasId: canvasOf('R01-0001', 'R01-0001-02'), region: { x: 5, y: 5, w: 20, h: 20 }, images: 2 },
      { manifestId: manifestOf('R02-0007'), images: 1 },
    ]);
    expect(view.link).toBe('absolute');
  });

  test('an unknown image id falls back to the item; a region without a canvas is on the first image', async () => {
    const view = await resolveView(new URLSearchParams('items=R01-0001,R02-0007&canvas=nope,&xywh=1,1,1,1&xywh=2,2,2,2'), base, get, []);
    expect(view.windows).toEqual([
      { manifestId: manifestOf('R01-0001'), images: 2 },
      { manifestId: manifestOf('R02-0007'), canvasId: canvasOf('R02-0007', 'R02-0007-01'), region: { x: 2, y: 2, w: 2, h: 2 }, images: 1 },
    ]);
  });

  test('missing items are named; an unknown link mode is ignored', async () => {
    const view = await resolveView(new URLSearchParams('items=R09-0000,R02-0007&canvas=,R02-0007-01&link=sideways'), base, get, []);
    expect(view.missing).toEqual(['R09-0000']);
    expect(view.windows).toEqual([{ manifestId: manifestOf('R02-0007'), canvasId: canvasOf('R02-0007', 'R02-0007-01'), images: 1 }]);
    expect(view.link).toBeUndefined();
  });

  test('the Content State form and the short form open the same windows', async () => {
    const region = { x: 10, y: 20, w: 300, h: 200 };
    const long = await resolveView(
      new URLSearchParams({ 'iiif-content': encodeTargets([{ manifestId: manifestOf('R01-0001'), canvasId: canvasOf('R01-0001', 'R01-0001-02'), region }]) }),
      base,
      get,
      [],
    );
    const short = await resolveView(new URL(`${base}${shortViewPath([{ itemId: 'R01-0001', imageId: 'R01-0001-02', region }])}`).searchParams, base, get, ['R01-0001']);
    expect(short.windows).toEqual(long.windows);
  });
});

describe('content state errors are said in the reader’s language', () => {
  test.each([
    ['one character lost', encodeTargets([{ manifestId: manifestOf('R01-0001') }]).slice(0, -1), 'csDamaged'],
    ['not base64url', 'abc$def', 'csDamaged'],
    ['not JSON', encodeContentState('{not json'), 'csDamaged'],
    ['too long', 'A'.repeat(20_000), 'csTooLong'],
    ['names nothing', encodeContentState(JSON.stringify({ type: 'Annotation', target: { type: 'Range', id: 'x' } })), 'csNothing'],
  ] as const)('%s', async (_name, value, key) => {
    const view = await resolveView(new URLSearchParams({ 'iiif-content': value }), base, get, []);
    expect(view.errorKey).toBe(key);
    expect(t('ja', view.errorKey!)).toMatch(/[ぁ-んァ-ン一-龯]/);
    expect(t('en', view.errorKey!)).toMatch(/^[A-Z][^ぁ-んァ-ン一-龯]*\.$/);
  });
});
