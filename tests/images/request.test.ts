import { describe, expect, test } from 'vitest';
import {
  canonicalNumber,
  jpegShrinkOnLoad,
  maxSize,
  parseRequest,
  resolveImageRequest,
  rotatedSize,
  type Dimensions,
  type ImagePlan,
  type Limits,
  type ParsedRequest,
} from '../../src/lib/images/request.ts';

const LIMITS: Limits = { maxWidth: 10000, maxHeight: 10000, maxArea: 100_000_000 };
const IMG: Dimensions = { width: 6000, height: 4000 };

type Outcome = { status: number; plan?: ImagePlan; location?: string; message?: string; parsed: ParsedRequest };

/** Parse and, for an image request, resolve: the status the server would answer with. */
function outcome(path: string, dims: Dimensions = IMG, limits: Limits = LIMITS): Outcome {
  const parsed = parseRequest(path);
  if (parsed.kind === 'error') return { status: parsed.status, message: parsed.message, parsed };
  if (parsed.kind === 'redirect') return { status: parsed.status, location: parsed.location, parsed };
  if (parsed.kind === 'info') return { status: 200, parsed };
  const r = resolveImageRequest(parsed, dims, limits);
  if (r.kind === 'error') return { status: r.status, message: r.message, parsed };
  if (r.kind === 'redirect') return { status: r.status, location: r.location, parsed };
  return { status: 200, plan: r.plan, parsed };
}

function plan(path: string, dims: Dimensions = IMG, limits: Limits = LIMITS): ImagePlan {
  const o = outcome(path, dims, limits);
  if (!o.plan) throw new Error(`${path}: expected an image plan, got ${o.status} ${o.message ?? o.location ?? ''}`);
  return o.plan;
}

describe('parseRequest: structure and identifiers', () => {
  test('info.json for both versions', () => {
    expect(parseRequest('3/abc/info.json')).toEqual({ kind: 'info', version: 3, id: 'abc' });
    expect(parseRequest('2/abc/info.json')).toEqual({ kind: 'info', version: 2, id: 'abc' });
    expect(parseRequest('/3/abc/info.json')).toEqual({ kind: 'info', version: 3, id: 'abc' });
  });

  test('the base URI redirects (303) to info.json in v3 and v2', () => {
    for (const v of [2, 3]) {
      expect(parseRequest(`${v}/abc`)).toEqual({ kind: 'redirect', status: 303, location: `${v}/abc/info.json` });
      expect(parseRequest(`${v}/abc/`)).toEqual({ kind: 'redirect', status: 303, location: `${v}/abc/info.json` });
    }
  });

  test('an image request carries its decoded parameters', () => {
    expect(parseRequest('3/img-1.a_b/full/max/0/default.jpg')).toEqual({
      kind: 'image',
      version: 3,
      id: 'img-1.a_b',
      params: { region: 'full', size: 'max', rotation: '0', quality: 'default', format: 'jpg' },
    });
    // Percent-encoded parameters are decoded once (some clients encode ! and ^ and :).
    const p = parseRequest('3/abc/pct%3A10,10,50,50/%5E%21100,100/%2190/gray.png');
    expect(p).toMatchObject({ kind: 'image', params: { region: 'pct:10,10,50,50', size: '^!100,100', rotation: '!90' } });
  });

  test('identifiers are percent-decoded once', () => {
    expect(parseRequest('3/abc%2Ddef/info.json')).toEqual({ kind: 'info', version: 3, id: 'abc-def' });
    // %252e decodes to "%2e", which is not a valid identifier (and is not decoded again).
    expect(parseRequest('3/a%252e/info.json')).toMatchObject({ kind: 'error', status: 404 });
  });

  test('unknown versions and impossible identifiers are 404; malformed encoding is 400', () => {
    expect(parseRequest('4/abc/info.json')).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest('v3/abc/info.json')).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest('')).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest('3')).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest('3/')).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest('3/..%2Fetc/info.json')).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest('3/%E3%81%82/info.json')).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest(`3/${'a'.repeat(129)}/info.json`)).toMatchObject({ kind: 'error', status: 404 });
    expect(parseRequest(`3/${'a'.repeat(128)}/info.json`)).toMatchObject({ kind: 'info' });
    expect(parseRequest('3/%E0%A4%A/info.json')).toMatchObject({ kind: 'error', status: 400 });
    expect(parseRequest('3/abc/full/max/0/%zz.jpg')).toMatchObject({ kind: 'error', status: 400 });
  });

  test('wrong shapes are 400', () => {
    for (const p of ['3/abc/info.xml', '3/abc/full/max/0', '3/abc/full/max/default.jpg', '3/abc/info.json/']) {
      expect(parseRequest(p), p).toMatchObject({ kind: 'error', status: 400 });
    }
  });

  test('more segments than a request has: an identifier with an unescaped slash, 404', () => {
    // The IIIF validator's id_error_escapedslash: /a/b/full/max/0/default.jpg must be 404.
    for (const p of ['3/a/b/full/max/0/default.jpg', '2/a/b/info.json', '3/abc/full/max/0/default.jpg/x', '3/a/b/c/d/e/f/g']) {
      expect(parseRequest(p), p).toMatchObject({ kind: 'error', status: 404 });
    }
  });
});

describe('region', () => {
  test('full, x,y,w,h and pct', () => {
    expect(plan('3/a/full/max/0/default.jpg').region).toEqual({ x: 0, y: 0, w: 6000, h: 4000 });
    expect(plan('3/a/100,200,300,400/max/0/default.jpg').region).toEqual({ x: 100, y: 200, w: 300, h: 400 });
    expect(plan('3/a/pct:10,25,50,50/max/0/default.jpg').region).toEqual({ x: 600, y: 1000, w: 3000, h: 2000 });
    expect(plan('3/a/pct:0.5,0.5,1.5,1.5/max/0/default.jpg').region).toEqual({ x: 30, y: 20, w: 90, h: 60 });
  });

  test('square is centred on the longer side', () => {
    expect(plan('3/a/square/max/0/default.jpg').region).toEqual({ x: 1000, y: 0, w: 4000, h: 4000 });
    expect(plan('3/a/square/max/0/default.jpg', { width: 300, height: 1000 }).region).toEqual({ x: 0, y: 350, w: 300, h: 300 });
    const sq = plan('2/a/square/full/0/default.jpg', { width: 500, height: 500 });
    expect(sq.fullRegion).toBe(true);
    expect(sq.canonical).toBe('full/full/0/default.jpg');
  });

  test('regions beyond the edge are cropped; outside or empty ones are 400', () => {
    expect(plan('3/a/5900,3900,500,500/max/0/default.jpg').region).toEqual({ x: 5900, y: 3900, w: 100, h: 100 });
    expect(plan('3/a/pct:50,50,100,100/max/0/default.jpg').region).toEqual({ x: 3000, y: 2000, w: 3000, h: 2000 });
    for (const r of ['6000,0,10,10', '0,4000,10,10', '7000,0,10,10', '0,0,0,10', '0,0,10,0', 'pct:100,0,10,10', 'pct:0,0,0,10', 'pct:0,0,0.001,0.001']) {
      expect(outcome(`3/a/${r}/max/0/default.jpg`).status, r).toBe(400);
    }
  });

  test('malformed regions are 400', () => {
    for (const r of ['-1,0,10,10', '0,0,10', '1.5,0,10,10', 'pct:a,b,c,d', 'pct:-1,0,1,1', 'squares', 'Full', 'pct:0,0,50']) {
      expect(outcome(`3/a/${r}/max/0/default.jpg`).status, r).toBe(400);
    }
  });
});

describe('size, version 3', () => {
  const size = (s: string, region = 'full', dims = IMG, limits = LIMITS) => {
    const p = plan(`3/a/${region}/${s}/0/default.jpg`, dims, limits);
    return [p.width, p.height];
  };

  test('max, w, ,h, pct, w,h, !w,h', () => {
    expect(size('max')).toEqual([6000, 4000]);
    expect(size('600,')).toEqual([600, 400]);
    expect(size(',400')).toEqual([600, 400]);
    expect(size('pct:10')).toEqual([600, 400]);
    expect(size('pct:33.3')).toEqual([1998, 1332]);
    expect(size('300,300')).toEqual([300, 300]);
    expect(size('!600,600')).toEqual([600, 400]);
    expect(size('!900,300')).toEqual([450, 300]);
    expect(size('512,', '0,0,1024,1024')).toEqual([512, 512]);
  });

  test('!w,h larger than the region gives the region (3.0 §4.2: not larger than the region, w or h); ^!w,h upscales', () => {
    // The archive's own thumbnails (!300,300) of an image smaller than the box.
    expect(size('!400,400', '0,0,100,50')).toEqual([100, 50]);
    expect(size('!300,300', 'full', { width: 200, height: 120 })).toEqual([200, 120]);
    expect(plan('3/a/full/!300,300/0/default.jpg', { width: 200, height: 120 }).canonical).toBe('full/max/0/default.jpg');
    expect(size('!2000,3000', '0,0,1000,1000')).toEqual([1000, 1000]);
    // One side of the box smaller than the region: fitted to it.
    expect(size('!2000,500', '0,0,1000,1000')).toEqual([500, 500]);
    expect(size('!150,20', '0,0,100,50')).toEqual([40, 20]);
    expect(size('^!400,400', '0,0,100,50')).toEqual([400, 200]);
    expect(size('^!2000,3000', '0,0,1000,1000')).toEqual([2000, 2000]);
    expect(size('^!2000,500', '0,0,1000,1000')).toEqual([500, 500]);
    expect(size('^!50000,50000', '0,0,1000,1000')).toEqual([10000, 10000]);
    // Over the limits: reduced to them, never refused.
    expect(size('!50000,50000', 'full', { width: 40000, height: 3000 })).toEqual([10000, 750]);
  });

  test('upscaling needs ^', () => {
    for (const s of ['6001,', ',101', 'pct:100.1', '6001,100', '100,101', 'pct:200']) {
      const o = outcome(`3/a/0,0,6000,100/${s}/0/default.jpg`);
      expect(o.status, s).toBe(400);
      expect(o.message, s).toMatch(/\^/);
    }
    expect(size('^200,', '0,0,100,100')).toEqual([200, 200]);
    expect(size('^,300', '0,0,100,100')).toEqual([300, 300]);
    expect(size('^pct:150', '0,0,100,100')).toEqual([150, 150]);
    expect(size('^300,200', '0,0,100,100')).toEqual([300, 200]);
    expect(size('^max', '0,0,100,100', IMG, { maxWidth: 1000, maxHeight: 500, maxArea: 1e9 })).toEqual([500, 500]);
  });

  test('full is not a v3 size', () => {
    const o = outcome('3/a/full/full/0/default.jpg');
    expect(o.status).toBe(400);
    expect(o.message).toMatch(/max/);
  });

  test('max is the largest size within maxWidth, maxHeight and maxArea', () => {
    expect(size('max', 'full', IMG, { maxWidth: 3000, maxHeight: 3000, maxArea: 1e9 })).toEqual([3000, 2000]);
    expect(size('max', 'full', IMG, { maxWidth: 10000, maxHeight: 1000, maxArea: 1e9 })).toEqual([1500, 1000]);
    const [w, h] = size('max', 'full', IMG, { maxWidth: 10000, maxHeight: 10000, maxArea: 1_000_000 });
    expect(w! * h!).toBeLessThanOrEqual(1_000_000);
    expect(w! * h!).toBeGreaterThan(990_000);
    expect(Math.abs(w! / h! - 1.5)).toBeLessThan(0.01);
    const wide = plan('3/a/full/max/0/default.jpg', { width: 40000, height: 3000 });
    expect([wide.width, wide.height]).toEqual([10000, 750]);
    expect(wide.canonical).toBe('full/max/0/default.jpg');
  });

  test('explicit sizes over the limits are 400 with a message', () => {
    const small = { maxWidth: 1000, maxHeight: 1000, maxArea: 500_000 };
    for (const s of ['1001,', ',1001', '1000,1000', 'pct:50']) {
      const o = outcome(`3/a/full/${s}/0/default.jpg`, IMG, small);
      expect(o.status, s).toBe(400);
      expect(o.message, s).toMatch(/limit/);
    }
    // !w,h fits itself within the limits instead.
    expect(size('!5000,5000', 'full', IMG, small)).toEqual(size('max', 'full', IMG, small));
  });

  test('zero-pixel results are 400', () => {
    for (const s of ['0,', ',0', 'pct:0', '0,10', '!0,10', 'pct:0.0001', '1,']) {
      const o = outcome(`3/a/0,0,6000,1/${s}/0/default.jpg`);
      expect(o.status, s).toBe(400);
    }
  });

  test('canonical sizes', () => {
    expect(plan('3/a/full/6000,4000/0/default.jpg').canonical).toBe('full/max/0/default.jpg');
    expect(plan('3/a/full/600,/0/default.jpg').canonical).toBe('full/600,400/0/default.jpg');
    expect(plan('3/a/full/!600,600/0/default.jpg').canonical).toBe('full/600,400/0/default.jpg');
    expect(plan('3/a/0,0,100,100/^200,/0/default.jpg').canonical).toBe('0,0,100,100/^200,200/0/default.jpg');
    expect(plan('3/a/0,0,100,100/^max/0/default.jpg').canonical).toBe('0,0,100,100/^max/0/default.jpg');
    expect(plan('3/a/0,0,6000,4000/max/0/default.jpg').canonical).toBe('full/max/0/default.jpg');
  });
});

describe('size, version 2', () => {
  test('full, max, w, (above full allowed), ,h, pct, w,h, !w,h', () => {
    const p = (s: string, region = 'full') => plan(`2/a/${region}/${s}/0/default.jpg`);
    expect([p('full').width, p('full').height]).toEqual([6000, 4000]);
    expect([p('max').width, p('max').height]).toEqual([6000, 4000]);
    expect([p('300,', '0,0,100,100').width, p('300,', '0,0,100,100').height]).toEqual([300, 300]);
    expect([p(',300').width, p(',300').height]).toEqual([450, 300]);
    expect([p('pct:150', '0,0,100,100').width]).toEqual([150]);
    // !w,h as in 3.0: as large as possible but not larger than the region (no upscaling by a box).
    expect([p('!400,400', '0,0,100,50').width, p('!400,400', '0,0,100,50').height]).toEqual([100, 50]);
    expect([p('!40,40', '0,0,100,50').width, p('!40,40', '0,0,100,50').height]).toEqual([40, 20]);
  });

  test('the ^ prefix is v3 syntax and rejected in v2', () => {
    for (const s of ['^max', '^100,', '^pct:50', '^!10,10']) {
      const o = outcome(`2/a/full/${s}/0/default.jpg`);
      expect(o.status, s).toBe(400);
    }
  });

  test('full above the limits redirects to max; max is within them', () => {
    const dims = { width: 40000, height: 3000 };
    const o = outcome('2/big/full/full/0/default.jpg', dims);
    expect(o.status).toBe(303);
    expect(o.location).toBe('2/big/full/max/0/default.jpg');
    const o2 = outcome('2/big/0,0,20000,3000/full/!90/gray.png', dims);
    expect(o2.location).toBe('2/big/0,0,20000,3000/max/!90/gray.png');
    const m = plan('2/big/full/max/0/default.jpg', dims);
    expect([m.width, m.height]).toEqual([10000, 750]);
    expect(m.canonical).toBe('full/10000,/0/default.jpg');
  });

  test('canonical sizes: full, w, and w,h', () => {
    expect(plan('2/a/full/6000,4000/0/default.jpg').canonical).toBe('full/full/0/default.jpg');
    expect(plan('2/a/full/max/0/default.jpg').canonical).toBe('full/full/0/default.jpg');
    expect(plan('2/a/full/,400/0/default.jpg').canonical).toBe('full/600,/0/default.jpg');
    expect(plan('2/a/full/pct:10/0/default.jpg').canonical).toBe('full/600,/0/default.jpg');
    expect(plan('2/a/full/600,600/0/default.jpg').canonical).toBe('full/600,600/0/default.jpg');
    expect(plan('2/a/0,0,512,512/256,/0/color.png').canonical).toBe('0,0,512,512/256,/0/color.png');
  });

  test('explicit sizes over the limits are 400', () => {
    expect(outcome('2/a/full/10001,/0/default.jpg').status).toBe(400);
    expect(outcome('2/a/full/pct:200/0/default.jpg').status).toBe(400);
  });
});

describe('rotation, quality, format', () => {
  test('multiples of 90 swap sides; mirroring is a flag', () => {
    const p90 = plan('3/a/full/600,/90/default.jpg');
    expect([p90.outputWidth, p90.outputHeight, p90.rotation, p90.mirror]).toEqual([400, 600, 90, false]);
    const p180 = plan('3/a/full/600,/!180/default.jpg');
    expect([p180.outputWidth, p180.outputHeight, p180.rotation, p180.mirror]).toEqual([600, 400, 180, true]);
    const p270 = plan('2/a/full/600,/270/default.jpg');
    expect([p270.outputWidth, p270.outputHeight]).toEqual([400, 600]);
    expect(plan('3/a/full/600,/!0/default.jpg').canonical).toBe('full/600,400/!0/default.jpg');
  });

  test('arbitrary rotations give the bounding box', () => {
    const p = plan('3/a/0,0,1000,1000/max/22.5/default.png');
    expect([p.outputWidth, p.outputHeight]).toEqual([1307, 1307]);
    expect(p.canonical).toBe('0,0,1000,1000/max/22.5/default.png');
    expect(rotatedSize(100, 50, 45)).toEqual({ width: 106, height: 106 });
    expect(rotatedSize(300, 200, 10)).toEqual({ width: 330, height: 249 });
    expect(rotatedSize(517, 233, 77.7)).toEqual({ width: 338, height: 555 });
    expect(plan('3/a/full/max/045.50/default.png').canonical).toBe('full/max/45.5/default.png');
    expect(plan('3/a/full/max/360/default.png').rotation).toBe(0);
    expect(plan('3/a/full/max/360/default.png').canonical).toBe('full/max/0/default.png');
  });

  test('bad rotations are 400', () => {
    for (const r of ['361', '360.5', '-90', '45x', '!!90', '90!', '1e2', '', '.5', 'NaN', 'Infinity', '9'.repeat(400)]) {
      expect(outcome(`3/a/full/max/${r}/default.jpg`).status, r).toBe(400);
    }
  });

  test('qualities and formats', () => {
    for (const q of ['default', 'color', 'gray', 'bitonal']) expect(plan(`3/a/full/max/0/${q}.jpg`).quality).toBe(q);
    for (const f of ['jpg', 'png', 'webp', 'tif', 'gif']) expect(plan(`2/a/full/full/0/default.${f}`).format).toBe(f);
    for (const q of ['grey', 'Color', 'sepia', '', 'default.default']) {
      expect(outcome(`3/a/full/max/0/${q}.jpg`).status, q).toBe(400);
    }
    for (const f of ['jpeg', 'tiff', 'jp2', 'pdf', 'bmp', 'JPG', '', 'svg']) {
      const o = outcome(`3/a/full/max/0/default.${f}`);
      expect(o.status, f).toBe(400);
      expect(o.message).toMatch(/format/);
    }
    expect(outcome('3/a/full/max/0/default').status).toBe(400);
  });

  test('encoder limits: JPEG at most 65500 px a side (libjpeg), WebP 16383; 400 naming the limit', () => {
    const huge = { maxWidth: 1_000_000, maxHeight: 1_000_000, maxArea: 10_000_000_000 };
    const dims = { width: 70000, height: 100 };
    const o = outcome('3/a/full/max/0/default.jpg', dims, huge);
    expect(o.status).toBe(400);
    expect(o.message).toMatch(/65500/);
    expect(outcome('3/a/full/max/0/default.png', dims, huge).status).toBe(200);
    // Between 65501 and 65535: libjpeg's own limit, refused before rendering (it used to be a 500).
    for (const w of [65501, 65535]) {
      const r = outcome(`3/a/full/${w},/0/default.jpg`, dims, huge);
      expect(r.status, String(w)).toBe(400);
      expect(r.message).toMatch(/jpg.*65500/);
    }
    expect(outcome('3/a/full/65500,/0/default.jpg', dims, huge).status).toBe(200);
    expect(outcome('3/a/full/16384,/0/default.webp', dims, huge).message).toMatch(/16383/);
    expect(outcome('3/a/full/20000,/0/default.webp', dims, huge).status).toBe(400);
    expect(outcome('3/a/full/16000,/0/default.webp', dims, huge).status).toBe(200);
    // Rotation grows the box: 60000 x 100 at 45 degrees is about 42500 wide, fine for JPEG; 90 degrees keeps it.
    expect(outcome('3/a/0,0,60000,100/max/90/default.jpg', dims, huge).status).toBe(200);
  });
});

describe('helpers', () => {
  test('canonicalNumber', () => {
    expect(canonicalNumber('090')).toBe('90');
    expect(canonicalNumber('22.50')).toBe('22.5');
    expect(canonicalNumber('0.0')).toBe('0');
    expect(canonicalNumber('000.25')).toBe('0.25');
  });

  test('maxSize keeps the aspect ratio and the limits', () => {
    for (const [w, h] of [
      [6000, 4000],
      [40000, 3000],
      [3, 70000],
      [12345, 6789],
    ] as const) {
      for (const limits of [LIMITS, { maxWidth: 1000, maxHeight: 800, maxArea: 500_000 }, { maxWidth: 7, maxHeight: 7, maxArea: 49 }]) {
        const m = maxSize(w, h, limits, false);
        expect(m.width).toBeLessThanOrEqual(Math.min(w, limits.maxWidth));
        expect(m.height).toBeLessThanOrEqual(limits.maxHeight);
        expect(m.width * m.height).toBeLessThanOrEqual(limits.maxArea);
      }
    }
    expect(maxSize(100, 100, LIMITS, false)).toEqual({ width: 100, height: 100 });
    expect(maxSize(100, 100, LIMITS, true)).toEqual({ width: 10000, height: 10000 });
  });
});

describe('hostile paths', () => {
  const traversalIds = [
    '..',
    '.',
    '..%2f..%2fetc%2fpasswd',
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e',
    '%2E%2E%2Fetc',
    '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '%252e%252e%252fetc',
    '..%252f..%252f',
    '%c0%ae%c0%ae%2f',
    '..%5c..%5cwindows',
    '..\\..\\etc',
    '%5c%5cserver%5cshare',
    'abc%00.jpg',
    '%00',
    'abc%00',
    'a%2fb',
    'a%2Fb',
    '%2fetc%2fpasswd',
    '.hidden',
    '-rf',
    '_x',
    'a b',
    'a%20b',
    'a+b',
    'a;b',
    'a%3Bb',
    'a%3F',
    'a#b',
    '~root',
    '%7Eroot',
    '%E3%81%82%E3%81%84',
    'caf%C3%A9',
    '%EF%BC%A1',
    '%F0%9F%98%80',
    'x'.repeat(129),
    'x'.repeat(5000),
    '%',
    '%%',
    '%zz',
    '%E0%A4%A',
    '%C0',
    'a%',
    'a%2',
  ];
  const badParams = [
    'full/max/0/default.exe',
    'full/max/0/default.jpg%00',
    'full/max/0/default%00.jpg',
    'full/max/0/..%2fdefault.jpg',
    'full/max/0/../default.jpg',
    '../max/0/default.jpg',
    'full/../0/default.jpg',
    'full/max/../default.jpg',
    'full/max/0/sepia.jpg',
    'full/max/0/default.JPG',
    'full/max/0/default.jpeg',
    'full/max/0/default.jp2',
    'full/max/0/default.pdf',
    'full/max/0/default.svg',
    'full/max/0/default.',
    'full/max/0/.jpg',
    'full/max/-90/default.jpg',
    'full/max/361/default.jpg',
    'full/max/1e3/default.jpg',
    'full/max/0x10/default.jpg',
    'full/max/99999999999999999999999999999/default.jpg',
    'full/max/45x/default.jpg',
    'full/max/!/default.jpg',
    'full/pct:0/0/default.jpg',
    'full/pct:-5/0/default.jpg',
    'full/pct:/0/default.jpg',
    'full/pct:1e5/0/default.jpg',
    'full/0,/0/default.jpg',
    'full/,0/0/default.jpg',
    'full/0,0/0/default.jpg',
    'full/-1,/0/default.jpg',
    'full/99999999999999999999999,/0/default.jpg',
    'full/,99999999999999999999999/0/default.jpg',
    `full/${'9'.repeat(400)},/0/default.jpg`,
    'full/!0,0/0/default.jpg',
    'full/!,100/0/default.jpg',
    'full/^^max/0/default.jpg',
    'full/!^100,100/0/default.jpg',
    'full/ma/0/default.jpg',
    'full/100/0/default.jpg',
    'full/100,100,100/0/default.jpg',
    'full/1.5,/0/default.jpg',
    'pct:0,0,0,0/max/0/default.jpg',
    'pct:100,100,10,10/max/0/default.jpg',
    'pct:0,0,-1,1/max/0/default.jpg',
    '99999999999999999999,0,10,10/max/0/default.jpg',
    '0,99999999999999999999,10,10/max/0/default.jpg',
    `${'9'.repeat(400)},0,1,1/max/0/default.jpg`,
    '0,0,0,0/max/0/default.jpg',
    '-1,-1,10,10/max/0/default.jpg',
    '0,0,10/max/0/default.jpg',
    '0,0,10,10,10/max/0/default.jpg',
    'square2/max/0/default.jpg',
    '%00/max/0/default.jpg',
    'full%2fmax/0/default.jpg',
    'full/max%2f0/default.jpg',
    'full/max/0/default.jpg/extra',
    'full/max/0',
    'full',
    'info.json.bak',
    'info.json%00',
    'INFO.JSON',
  ];

  const paths: string[] = [];
  for (const v of ['2', '3']) {
    for (const id of traversalIds) {
      paths.push(`${v}/${id}/info.json`, `${v}/${id}/full/max/0/default.jpg`, `${v}/${id}`);
    }
    for (const p of badParams) paths.push(`${v}/good-id/${p}`);
  }
  for (const v of ['0', '1', '4', '33', '..', '%2e%2e', '%32', '', 'iiif', '3%00', '-3']) paths.push(`${v}/abc/info.json`);
  paths.push('x'.repeat(2000), '/'.repeat(50), '%2f%2f', '3//info.json', '3/%2F/info.json');

  test(`at least 100 generated paths (${paths.length})`, () => {
    expect(paths.length).toBeGreaterThanOrEqual(100);
  });

  test('are answered with 400, 404 or 501, never a throw and never a rendering plan', () => {
    const statuses = new Map<number, number>();
    for (const path of paths) {
      expect(() => outcome(path), path).not.toThrow();
      const o = outcome(path);
      // A bare base URI of a *valid-looking* id redirects; none of these ids is valid.
      expect([400, 404, 501], `${path} -> ${o.status} ${o.message ?? ''}`).toContain(o.status);
      expect(o.plan).toBeUndefined();
      if (o.message) expect(o.message.length).toBeLessThan(400);
      statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
    }
    expect(statuses.get(400)).toBeGreaterThan(50);
    expect(statuses.get(404)).toBeGreaterThan(50);
  });
});

describe('jpegShrinkOnLoad: the DCT scale a region of a plain JPEG is decoded at', () => {
  const JPEG = { format: 'jpeg', levels: [], orientation: 1 };
  const dims = { width: 5710, height: 3807 };
  const at = (p: string, facts: { format: string; levels: unknown[]; orientation: number } = JPEG) =>
    jpegShrinkOnLoad(facts as Parameters<typeof jpegShrinkOnLoad>[0], plan(p, dims));

  test("a viewer's zoom level 1/4, its edge tiles' rounded sizes included, is read at exactly 1/4", () => {
    expect(at('3/x/0,0,2048,2048/512,512/0/default.jpg')).toEqual({ decode: 4, sx: 0.25, sy: 0.25 });
    // 1614 x 1759 -> 404 x 440: 3.995 and 3.998 by the axes, still the 1/4 level.
    expect(at('3/x/4096,2048,1614,1759/404,440/0/default.jpg')).toEqual({ decode: 4, sx: 0.25, sy: 0.25 });
    expect(at('3/x/0,0,4096,3807/512,476/0/default.jpg')).toEqual({ decode: 8, sx: 0.125, sy: 0.125 });
    expect(at('3/x/1024,1024,1024,1024/512,512/0/default.jpg')).toEqual({ decode: 2, sx: 0.5, sy: 0.5 });
  });

  test('a distorted or arbitrary size keeps its two scales, decoded at the largest 1/k not beyond both', () => {
    expect(at('3/x/0,0,2000,2000/500,1000/0/default.jpg')).toEqual({ decode: 2, sx: 0.25, sy: 0.5 });
    expect(at('3/x/0,0,3000,3000/500,500/0/default.jpg')).toEqual({ decode: 4, sx: 1 / 6, sy: 1 / 6 });
  });

  test('no shrink-on-load: full resolution, full region, rotation, mirroring, EXIF turn, pyramids, other formats', () => {
    const none = { decode: 1, sx: 1, sy: 1 };
    expect(at('3/x/0,0,512,512/512,512/0/default.jpg')).toEqual(none);
    expect(at('3/x/0,0,1024,1024/700,700/0/default.jpg')).toEqual(none);
    expect(at('3/x/full/714,476/0/default.jpg')).toEqual(none);
    expect(at('3/x/0,0,2048,2048/512,512/90/default.jpg')).toEqual(none);
    expect(at('3/x/0,0,2048,2048/512,512/!0/default.jpg')).toEqual(none);
    expect(at('3/x/0,0,2048,2048/512,512/0/default.jpg', { ...JPEG, orientation: 6 })).toEqual(none);
    expect(at('3/x/0,0,2048,2048/512,512/0/default.jpg', { ...JPEG, levels: [{ width: 2855, height: 1904 }] })).toEqual(none);
    expect(at('3/x/0,0,2048,2048/512,512/0/default.jpg', { ...JPEG, format: 'png' })).toEqual(none);
  });
});
