import { describe, expect, test } from 'vitest';
import { buildInfo, infoContentType, preferredSizes, scaleFactors, tileEdge } from '../../src/lib/images/info.ts';
import { parseTiffHeader, parseTileTags } from '../../src/lib/images/tiff.ts';

const LIMITS = { maxWidth: 10000, maxHeight: 10000, maxArea: 100_000_000 };

describe('info.json', () => {
  test('scale factors go up to the first at which the image fits in one tile', () => {
    expect(scaleFactors(6000, 4000, 512)).toEqual([1, 2, 4, 8, 16]);
    expect(scaleFactors(512, 512, 512)).toEqual([1]);
    expect(scaleFactors(513, 10, 512)).toEqual([1, 2]);
    expect(scaleFactors(40000, 3000, 512)).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
  });

  test('sizes are the halvings within the limits, down to one tile, smallest first', () => {
    expect(preferredSizes(6000, 4000, 512, LIMITS)).toEqual([
      { width: 375, height: 250 },
      { width: 750, height: 500 },
      { width: 1500, height: 1000 },
      { width: 3000, height: 2000 },
      { width: 6000, height: 4000 },
    ]);
    const wide = preferredSizes(40000, 3000, 512, LIMITS);
    expect(wide[wide.length - 1]).toEqual({ width: 10000, height: 750 });
    expect(wide[0]).toEqual({ width: 313, height: 24 });
    expect(preferredSizes(100, 100, 512, LIMITS)).toEqual([{ width: 100, height: 100 }]);
  });

  test('tiles never exceed the limits', () => {
    expect(tileEdge(512, LIMITS)).toBe(512);
    expect(tileEdge(512, { maxWidth: 300, maxHeight: 10000, maxArea: 1e9 })).toBe(300);
    expect(tileEdge(512, { maxWidth: 1000, maxHeight: 1000, maxArea: 10000 })).toBe(100);
  });

  test('v3 document', () => {
    const doc = buildInfo(3, { id: 'http://h/iiif/3/x', width: 6000, height: 4000, limits: LIMITS });
    expect(Object.keys(doc)[0]).toBe('@context');
    expect(doc).toMatchObject({
      '@context': 'http://iiif.io/api/image/3/context.json',
      id: 'http://h/iiif/3/x',
      type: 'ImageService3',
      protocol: 'http://iiif.io/api/image',
      profile: 'level2',
      width: 6000,
      height: 4000,
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 100_000_000,
      tiles: [{ width: 512, scaleFactors: [1, 2, 4, 8, 16] }],
      extraFormats: ['webp', 'tif', 'gif'],
      extraQualities: ['color', 'gray', 'bitonal'],
    });
    expect(doc.extraFeatures).toEqual(expect.arrayContaining(['mirroring', 'rotationArbitrary', 'sizeUpscaling', 'canonicalLinkHeader', 'profileLinkHeader']));
  });

  test('v2 document', () => {
    const doc = buildInfo(2, { id: 'http://h/iiif/2/x', width: 6000, height: 4000, limits: LIMITS, tileSize: 256 });
    expect(doc).toMatchObject({
      '@context': 'http://iiif.io/api/image/2/context.json',
      '@id': 'http://h/iiif/2/x',
      protocol: 'http://iiif.io/api/image',
      width: 6000,
      height: 4000,
      tiles: [{ width: 256, scaleFactors: [1, 2, 4, 8, 16, 32] }],
    });
    const profile = doc.profile as [string, Record<string, unknown>];
    expect(profile[0]).toBe('http://iiif.io/api/image/2/level2.json');
    expect(profile[1]).toMatchObject({
      formats: ['jpg', 'png', 'webp', 'tif', 'gif'],
      qualities: ['default', 'color', 'gray', 'bitonal'],
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 100_000_000,
    });
    expect(profile[1].supports).toEqual(expect.arrayContaining(['mirroring', 'rotationArbitrary', 'sizeAboveFull', 'regionSquare']));
  });

  test('content type negotiation', () => {
    expect(infoContentType(3, 'application/ld+json')).toBe('application/ld+json;profile="http://iiif.io/api/image/3/context.json"');
    expect(infoContentType(2, 'application/ld+json;profile="x", */*;q=0.1')).toBe('application/ld+json;profile="http://iiif.io/api/image/2/context.json"');
    expect(infoContentType(3, 'application/json')).toBe('application/json');
    expect(infoContentType(3, '*/*')).toBe('application/json');
    expect(infoContentType(2, null)).toBe('application/json');
    expect(infoContentType(3, null)).toBe('application/ld+json;profile="http://iiif.io/api/image/3/context.json"');
  });
});

describe('TIFF tile tags', () => {
  function classic(little: boolean, entries: Array<[number, number, number]>): { head: Uint8Array; ifd: Uint8Array } {
    const head = new Uint8Array(8);
    const hv = new DataView(head.buffer);
    head.set(little ? [0x49, 0x49] : [0x4d, 0x4d]);
    hv.setUint16(2, 42, little);
    hv.setUint32(4, 8, little);
    const ifd = new Uint8Array(2 + entries.length * 12);
    const v = new DataView(ifd.buffer);
    v.setUint16(0, entries.length, little);
    entries.forEach(([tag, type, value], i) => {
      v.setUint16(2 + i * 12, tag, little);
      v.setUint16(4 + i * 12, type, little);
      v.setUint32(6 + i * 12, 1, little);
      if (type === 3) v.setUint16(10 + i * 12, value, little);
      else v.setUint32(10 + i * 12, value, little);
    });
    return { head, ifd };
  }

  test('reads TileWidth/TileLength in both byte orders and types', () => {
    for (const little of [true, false]) {
      const { head, ifd } = classic(little, [
        [256, 4, 6000],
        [322, 3, 512],
        [323, 4, 256],
      ]);
      const h = parseTiffHeader(head);
      expect(h).toEqual({ little, big: false, ifdOffset: 8 });
      expect(parseTileTags(ifd, h!)).toEqual({ width: 512, height: 256 });
    }
  });

  test('striped TIFFs and non-TIFFs give null', () => {
    const { head, ifd } = classic(true, [[256, 4, 10]]);
    expect(parseTileTags(ifd, parseTiffHeader(head)!)).toBeNull();
    expect(parseTiffHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]))).toBeNull();
    expect(parseTiffHeader(new Uint8Array(3))).toBeNull();
  });
});
