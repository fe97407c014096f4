import { describe, expect, test } from 'vitest';
import {
  contentStateAnnotation,
  ContentStateError,
  decodeContentState,
  encodeContentState,
  encodeTargets,
  parseContentState,
} from '../../src/lib/iiif/content-state.ts';
import { itemIdFromManifest, resolveView } from '../../src/lib/iiif/view.ts';
import type { ItemRecord } from '../../src/lib/search/store.ts';

const base = 'https://archive.example.org';
const manifest = `${base}/api/iiif/R01-0001/manifest.json`;
const canvas = `${base}/api/iiif/R01-0001/canvas/R01-0001-01`;

describe('content state encoding', () => {
  test('encodeURIComponent then base64url without padding, as the spec describes', () => {
    const json = '{"a":"東京"}';
    const encoded = encodeContentState(json);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encoded).toBe(Buffer.from(encodeURIComponent(json)).toString('base64url'));
    expect(decodeContentState(encoded)).toEqual({ a: '東京' });
  });

  test('a region round-trips through the annotation', () => {
    const encoded = encodeTargets([{ manifestId: manifest, canvasId: canvas, region: { x: 100.4, y: 200, w: 300, h: 150.6 } }]);
    const anno = decodeContentState(encoded) as any;
    expect(anno).toEqual({
      '@context': 'http://iiif.io/api/presentation/3/context.json',
      type: 'Annotation',
      motivation: ['contentState'],
      target: { id: `${canvas}#xywh=100,200,300,151`, type: 'Canvas', partOf: [{ id: manifest, type: 'Manifest' }] },
    });
    expect(parseContentState(anno)).toEqual([{ manifestId: manifest, canvasId: canvas, region: { x: 100, y: 200, w: 300, h: 151 } }]);
  });

  test('several windows become a target list, in order', () => {
    const anno = contentStateAnnotation([
      { manifestId: manifest, canvasId: canvas, region: { x: 1, y: 2, w: 3, h: 4 } },
      { manifestId: `${base}/api/iiif/R01-0002/manifest.json` },
    ]) as any;
    expect(anno.target).toHaveLength(2);
    expect(parseContentState(anno).map((t) => t.manifestId)).toEqual([manifest, `${base}/api/iiif/R01-0002/manifest.json`]);
  });

  test('the other target forms of the spec are read: bare Canvas, SpecificResource with a FragmentSelector', () => {
    expect(parseContentState({ id: canvas, type: 'Canvas', partOf: [{ id: manifest, type: 'Manifest' }] })).toEqual([{ manifestId: manifest, canvasId: canvas }]);
    expect(
      parseContentState({
        type: 'Annotation',
        target: {
          type: 'SpecificResource',
          source: { id: canvas, type: 'Canvas', partOf: [{ id: manifest, type: 'Manifest' }] },
          selector: { type: 'FragmentSelector', value: 'xywh=10,20,30,40' },
        },
      }),
    ).toEqual([{ manifestId: manifest, canvasId: canvas, region: { x: 10, y: 20, w: 30, h: 40 } }]);
  });

  test.each([
    ['not base64', '***'],
    ['not JSON', Buffer.from(encodeURIComponent('hello')).toString('base64url')],
    ['too long', 'A'.repeat(20_000)],
  ])('bad input is a ContentStateError: %s', (_name, value) => {
    expect(() => decodeContentState(value)).toThrow(ContentStateError);
  });

  test('a collection window is a Collection target', () => {
    const coll = `${base}/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC`;
    const anno = contentStateAnnotation([{ manifestId: coll, collection: true }]) as any;
    expect(anno.target).toEqual({ id: coll, type: 'Collection' });
    expect(parseContentState(anno)).toEqual([{ manifestId: coll, collection: true }]);
  });

  test('a content state naming nothing showable is an error', () => {
    expect(() => parseContentState({ type: 'Annotation', target: { id: canvas, type: 'Canvas' } })).toThrow(ContentStateError);
    expect(() => parseContentState(42)).toThrow(ContentStateError);
  });
});

describe('resolveView', () => {
  const record = {
    id: 'R01-0001',
    batch: 'R01',
    title: { ja: 'x' },
    images: [{ id: 'R01-0001-01', file: 'R01/a.jpg' }],
  } as unknown as ItemRecord;
  const get = async (id: string) => (id === 'R01-0001' ? record : null);

  test('only our own manifests and their canvases are opened; the region is kept', async () => {
    const encoded = encodeTargets([
      { manifestId: manifest, canvasId: canvas, region: { x: 5, y: 6, w: 70, h: 80 } },
      { manifestId: 'https://elsewhere.example.com/manifest.json' },
      { manifestId: `${base}/api/iiif/R09-9999/manifest.json` },
    ]);
    const view = await resolveView(new URLSearchParams({ 'iiif-content': encoded }), base, get, []);
    expect(view.windows).toEqual([{ manifestId: manifest, canvasId: canvas, region: { x: 5, y: 6, w: 70, h: 80 }, images: 1 }]);
    expect(view.missing).toEqual(['https://elsewhere.example.com/manifest.json', 'R09-9999']);
  });

  test('an unknown canvas keeps the window but drops canvas and region', async () => {
    const encoded = encodeTargets([{ manifestId: manifest, canvasId: `${base}/api/iiif/R01-0001/canvas/nope`, region: { x: 1, y: 1, w: 1, h: 1 } }]);
    const view = await resolveView(new URLSearchParams({ 'iiif-content': encoded }), base, get, []);
    expect(view.windows).toEqual([{ manifestId: manifest, images: 1 }]);
  });

  test('a broken content state is reported, items= still work', async () => {
    const view = await resolveView(new URLSearchParams({ 'iiif-content': '!!' }), base, get, ['R01-0001', 'R02-0404']);
    expect(view.error).toMatch(/base64url/);
    expect(view.errorKey).toBe('csDamaged');
    expect(view.windows).toEqual([{ manifestId: manifest, images: 1 }]);
    expect(view.missing).toEqual(['R02-0404']);
  });

  test('collections: only this archive’s are opened', async () => {
    const own = `${base}/api/iiif/collection?q=x`;
    const encoded = encodeTargets([{ manifestId: own, collection: true }, { manifestId: 'https://elsewhere.example.com/api/iiif/collection', collection: true }]);
    const view = await resolveView(new URLSearchParams({ 'iiif-content': encoded }), base, get, []);
    expect(view.windows).toEqual([{ manifestId: own, collection: true }]);
    expect(view.missing).toEqual(['https://elsewhere.example.com/api/iiif/collection']);
    const direct = await resolveView(new URLSearchParams({ collection: `${base}/api/iiif/collection-evil` }), base, get, []);
    expect(direct.windows).toEqual([]);
    expect(direct.error).toMatch(/collections/);
    expect(direct.errorKey).toBe('onlyOwnCollections');
  });

  test('itemIdFromManifest only accepts this base', () => {
    expect(itemIdFromManifest(base, manifest)).toBe('R01-0001');
    expect(itemIdFromManifest(base, 'https://archive.example.org.evil/api/iiif/R01-0001/manifest.json')).toBeUndefined();
    expect(itemIdFromManifest(base, `${base}/api/iiif/../manifest.json`)).toBeUndefined();
  });
});
