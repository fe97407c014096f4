import { mkdtemp, mkdir, rm, symlink, writeFile, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageServer, chooseLevel, etagMatches, type IiifResponse, type SourceFacts } from '../../src/lib/images/server.ts';
import { parseRequest, resolveImageRequest, type ImagePlan } from '../../src/lib/images/request.ts';

const VALIDATOR_ID = '67352ccc-d1b0-11e1-89ae-279075081939';
const VALIDATOR_PNG = fileURLToPath(new URL(`../fixtures/iiif/${VALIDATOR_ID}.png`, import.meta.url));
const BASE = 'http://127.0.0.1:4321';
const LIMITS = { maxWidth: 10000, maxHeight: 10000, maxArea: 100_000_000 };

let tmp: string;
let server: ImageServer;
const logged: string[] = [];
/** Colour of square (cx, cy) of the validator image: 10 x 10 squares of 100 px. */
let square: (cx: number, cy: number) => [number, number, number];

const FILES: Record<string, string> = {
  [VALIDATOR_ID]: `validator/${VALIDATOR_ID}.png`, // a symlink to tests/fixtures/iiif (outside the root)
  big: 'photos/big.jpg',
  pyr: 'photos/pyr.tif',
  wide: 'photos/wide.tif',
  t256: 'photos/t256.tif',
  alpha: 'photos/alpha.png',
  linked: 'links/secret.png', // a symlink to a file outside the root
  escape: 'escape/secret.png', // a directory symlink inside the root leading out of it
  dotdot: '../outside/secret.png',
  dotdot2: 'photos/../../outside/secret.png',
  absolute: '', // set in beforeAll
  missing: 'photos/missing.jpg',
  notimage: 'photos/notimage.jpg',
};

async function get(p: string, headers: Record<string, string> = {}, method = 'GET'): Promise<IiifResponse> {
  return server.handle(p, { method, headers: new Headers(headers) });
}

async function image(p: string, headers: Record<string, string> = {}) {
  const r = await get(p, headers);
  if (r.status !== 200 || !Buffer.isBuffer(r.body)) throw new Error(`${p}: ${r.status} ${String(r.body)}`);
  const meta = await sharp(r.body).metadata();
  const raw = await sharp(r.body).raw().toBuffer({ resolveWithObject: true });
  const px = (x: number, y: number) => {
    const i = (y * raw.info.width + x) * raw.info.channels;
    return Array.from(raw.data.subarray(i, i + raw.info.channels));
  };
  return { r, meta, px, width: raw.info.width, height: raw.info.height, channels: raw.info.channels };
}

function close(actual: number[], expected: number[], tolerance: number, what = ''): void {
  const ok = expected.every((v, i) => Math.abs(v - actual[i]!) <= tolerance);
  expect(ok, `${what}: got ${actual.join(',')} expected ${expected.join(',')} (±${tolerance})`).toBe(true);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-server-test-'));
  const root = path.join(tmp, 'root');
  const outside = path.join(tmp, 'outside');
  await Promise.all(['photos', 'validator', 'links'].map((d) => mkdir(path.join(root, d), { recursive: true })));
  await mkdir(outside, { recursive: true });
  FILES.absolute = path.join(outside, 'secret.png');

  const validator = sharp(VALIDATOR_PNG);
  const raw = await validator.clone().raw().toBuffer({ resolveWithObject: true });
  square = (cx, cy) => {
    const i = ((cy * 100 + 50) * raw.info.width + cx * 100 + 50) * raw.info.channels;
    return [raw.data[i]!, raw.data[i + 1]!, raw.data[i + 2]!];
  };
  // Larger images with the validator's squares (600 x 400 each), so colours can be checked everywhere.
  const big = () => sharp(VALIDATOR_PNG).resize(6000, 4000, { fit: 'fill', kernel: 'nearest' });
  await Promise.all([
    big().jpeg({ quality: 90 }).toFile(path.join(root, 'photos/big.jpg')),
    big().tiff({ tile: true, pyramid: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg' }).toFile(path.join(root, 'photos/pyr.tif')),
    sharp({ create: { width: 40000, height: 3000, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .tiff({ tile: true, pyramid: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg' })
      .toFile(path.join(root, 'photos/wide.tif')),
    sharp(VALIDATOR_PNG).tiff({ tile: true, tileWidth: 256, tileHeight: 256 }).toFile(path.join(root, 'photos/t256.tif')),
    sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toFile(path.join(root, 'photos/alpha.png')),
    sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 0, g: 200, b: 0 } } })
      .png()
      .toFile(path.join(outside, 'secret.png')),
  ]);
  await symlink(VALIDATOR_PNG, path.join(root, 'validator', `${VALIDATOR_ID}.png`));
  await symlink(path.join(outside, 'secret.png'), path.join(root, 'links/secret.png'));
  await symlink(outside, path.join(root, 'escape'));
  await writeFile(path.join(root, 'photos/notimage.jpg'), 'this is not an image\n');
  const when = new Date('2024-05-01T12:00:00Z');
  await utimes(path.join(root, 'photos/big.jpg'), when, when);

  server = new ImageServer({
    root,
    ...LIMITS,
    publicBaseUrl: `${BASE}/`,
    lookup: async (id) => (id in FILES ? { file: FILES[id]! } : null),
    log: (m, err) => logged.push(`${m} ${err instanceof Error ? err.message : ''}`),
  });
}, 120_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('info.json', () => {
  test('v3: document and headers', async () => {
    const r = await get(`3/big/info.json`, { Accept: 'application/ld+json' });
    expect(r.status).toBe(200);
    const doc = JSON.parse(String(r.body));
    expect(doc).toMatchObject({
      '@context': 'http://iiif.io/api/image/3/context.json',
      id: `${BASE}/iiif/3/big`,
      type: 'ImageService3',
      protocol: 'http://iiif.io/api/image',
      profile: 'level2',
      width: 6000,
      height: 4000,
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 100_000_000,
      tiles: [{ width: 512, scaleFactors: [1, 2, 4, 8, 16] }],
    });
    expect(doc.sizes).toContainEqual({ width: 750, height: 500 });
    expect(r.headers['Content-Type']).toBe('application/ld+json;profile="http://iiif.io/api/image/3/context.json"');
    expect(r.headers['Access-Control-Allow-Origin']).toBe('*');
    expect(r.headers.Link).toBe('<http://iiif.io/api/image/3/level2.json>;rel="profile"');
    expect(r.headers['Cache-Control']).toBe('private, max-age=86400');
    expect(r.headers.ETag).toMatch(/^"[\w-]+"$/);
    expect(r.headers['Last-Modified']).toBe('Wed, 01 May 2024 12:00:00 GMT');
    const plain = await get(`3/big/info.json`, { Accept: 'application/json' });
    expect(plain.headers['Content-Type']).toBe('application/json');
    expect(plain.headers.ETag).not.toBe(r.headers.ETag);
  });

  test('v2: document and headers', async () => {
    const r = await get(`2/pyr/info.json`);
    expect(r.status).toBe(200);
    const doc = JSON.parse(String(r.body));
    expect(doc).toMatchObject({
      '@context': 'http://iiif.io/api/image/2/context.json',
      '@id': `${BASE}/iiif/2/pyr`,
      protocol: 'http://iiif.io/api/image',
      width: 6000,
      height: 4000,
      tiles: [{ width: 512, scaleFactors: [1, 2, 4, 8, 16] }],
    });
    expect(doc.profile[0]).toBe('http://iiif.io/api/image/2/level2.json');
    expect(doc.profile[1]).toMatchObject({ formats: ['jpg', 'png', 'webp', 'tif', 'gif'], maxWidth: 10000 });
    expect(r.headers['Content-Type']).toBe('application/json');
    expect(r.headers.Link).toBe('<http://iiif.io/api/image/2/level2.json>;rel="profile"');
    const ld = await get(`2/pyr/info.json`, { Accept: 'application/ld+json' });
    expect(ld.headers['Content-Type']).toBe('application/ld+json;profile="http://iiif.io/api/image/2/context.json"');
  });

  test("a tiled TIFF announces its own tile size", async () => {
    const doc = JSON.parse(String((await get('3/t256/info.json')).body));
    expect(doc.tiles).toEqual([{ width: 256, scaleFactors: [1, 2, 4] }]);
  });

  test('the validator image', async () => {
    const doc = JSON.parse(String((await get(`3/${VALIDATOR_ID}/info.json`)).body));
    expect([doc.width, doc.height]).toEqual([1000, 1000]);
    expect(doc.id).toBe(`${BASE}/iiif/3/${VALIDATOR_ID}`);
  });

  test('the base URI redirects to info.json', async () => {
    for (const v of [2, 3]) {
      const r = await get(`${v}/big`);
      expect(r.status).toBe(303);
      expect(r.headers.Location).toBe(`${BASE}/iiif/${v}/big/info.json`);
    }
  });
});

describe('pyramid TIFF', () => {
  test('sharp exposes the levels as pages; all are found', async () => {
    const facts = await server.readFacts(path.join(tmp, 'root/photos/pyr.tif'));
    expect(facts.levels.map((l) => [l.page, l.width, l.height])).toEqual([
      [1, 3000, 2000],
      [2, 1500, 1000],
      [3, 750, 500],
      [4, 375, 250],
    ]);
    expect(facts.tileSize).toBe(512);
  });

  test('the smallest level that still has the output resolution is chosen', async () => {
    const facts = await server.readFacts(path.join(tmp, 'root/photos/pyr.tif'));
    const planOf = (p: string): ImagePlan => {
      const req = parseRequest(p);
      if (req.kind !== 'image') throw new Error(p);
      const r = resolveImageRequest(req, facts, LIMITS);
      if (r.kind !== 'image') throw new Error(p);
      return r.plan;
    };
    expect(chooseLevel(facts, planOf('3/pyr/0,0,512,512/512,512/0/default.jpg'))).toBeUndefined();
    expect(chooseLevel(facts, planOf('3/pyr/0,0,1024,1024/512,512/0/default.jpg'))?.page).toBe(1);
    expect(chooseLevel(facts, planOf('3/pyr/0,0,4096,2048/512,256/0/default.jpg'))?.page).toBe(3);
    // Distorting sizes need the resolution of the more demanding axis.
    expect(chooseLevel(facts, planOf('3/pyr/0,0,4096,2048/512,512/0/default.jpg'))?.page).toBe(2);
    expect(chooseLevel(facts, planOf('3/pyr/0,0,1024,1024/500,500/0/default.jpg'))?.page).toBe(1);
    expect(chooseLevel(facts, planOf('3/pyr/0,0,1024,1024/520,520/0/default.jpg'))).toBeUndefined();
    // Within 0.5 %: a level one pixel short (odd sizes halved) is still used.
    expect(chooseLevel(facts, planOf('3/pyr/0,0,1024,1024/514,514/0/default.jpg'))?.page).toBe(1);
    expect(chooseLevel(facts, planOf('3/pyr/full/375,250/0/default.jpg'))?.page).toBe(4);
    expect(chooseLevel(facts, planOf('3/pyr/full/200,/0/default.jpg'))?.page).toBe(4);
  });

  test('tiles have the exact requested size, at every scale factor and at the edges', async () => {
    const cases: Array<[string, number, number]> = [
      ['3/pyr/1024,1024,512,512/512,512/0/default.jpg', 512, 512],
      ['3/pyr/1024,1024,1024,1024/512,512/0/default.jpg', 512, 512],
      ['2/pyr/2048,0,2048,2048/256,/0/default.jpg', 256, 256],
      ['3/pyr/5632,3584,368,416/368,416/0/default.jpg', 368, 416],
      ['3/pyr/4096,2048,1904,1952/476,488/0/default.jpg', 476, 488],
      ['3/pyr/0,0,6000,4000/375,250/0/default.jpg', 375, 250],
    ];
    for (const [p, w, h] of cases) {
      const { meta } = await image(p);
      expect([meta.format, meta.width, meta.height], p).toEqual(['jpeg', w, h]);
    }
  });

  test('pixels come from the right place of the level', async () => {
    // Squares are 600 x 400 in the 6000 x 4000 pyramid: a tile at scale factor 4 covering squares.
    const { px } = await image('3/pyr/1200,1200,2400,2400/600,600/0/default.png');
    close(px(75, 50), square(2, 3), 20, 'square 2,3');
    close(px(525, 550), square(5, 8), 20, 'square 5,8');
  });

  test('a 40000 x 3000 pyramid: full/max is answered within the limits, from a reduced level', async () => {
    const facts = await server.readFacts(path.join(tmp, 'root/photos/wide.tif'));
    expect(facts.levels[0]).toMatchObject({ page: 1, width: 20000, height: 1500 });
    // Its time is measured by bench:images (P9), not asserted here.
    const { meta, px } = await image('3/wide/full/max/0/default.jpg');
    expect([meta.width, meta.height]).toEqual([10000, 750]);
    close(px(5000, 375), [10, 120, 200], 12, 'colour');
    const info = JSON.parse(String((await get('3/wide/info.json')).body));
    expect([info.width, info.height]).toEqual([40000, 3000]);
    expect(info.sizes.at(-1)).toEqual({ width: 10000, height: 750 });
    const v2 = await get('2/wide/full/full/0/default.jpg');
    expect(v2.status).toBe(303);
    expect(v2.headers.Location).toBe(`${BASE}/iiif/2/wide/full/max/0/default.jpg`);
    const v2max = await image('2/wide/full/max/0/default.jpg');
    expect([v2max.width, v2max.height]).toEqual([10000, 750]);
    expect(v2max.r.headers.Link).toContain(`<${BASE}/iiif/2/wide/full/10000,/0/default.jpg>;rel="canonical"`);
    expect((await get('3/wide/full/40000,/0/default.jpg')).status).toBe(400);
  });
});

describe('JPEG source', () => {
  test('a reduced region (shrink-on-load path) has the right size and content', async () => {
    const { meta, px } = await image('3/big/1200,1200,2400,2400/300,/0/default.png');
    expect([meta.width, meta.height]).toEqual([300, 300]);
    // Columns of 75 px (600 / 8), rows of 50 px (400 / 8), starting at square (2, 3).
    close(px(37, 25), square(2, 3), 20, 'square 2,3');
    close(px(262, 275), square(5, 8), 20, 'square 5,8');
  });

  test('full region reduced, and a region at full resolution', async () => {
    const a = await image('3/big/full/600,/0/default.png');
    expect([a.width, a.height]).toEqual([600, 400]);
    close(a.px(30, 20), square(0, 0), 20, 'square 0,0');
    close(a.px(570, 380), square(9, 9), 20, 'square 9,9');
    const b = await image('3/big/600,400,600,400/max/0/default.png');
    expect([b.width, b.height]).toEqual([600, 400]);
    close(b.px(300, 200), square(1, 1), 20, 'square 1,1');
  });
});

describe('the IIIF validator image', () => {
  test('regions by pixels and percent: colours of the squares', async () => {
    for (const [cx, cy] of [
      [0, 0],
      [3, 7],
      [9, 9],
      [5, 1],
    ] as const) {
      const { px, width, height } = await image(`3/${VALIDATOR_ID}/${cx * 100},${cy * 100},100,100/max/0/default.png`);
      expect([width, height]).toEqual([100, 100]);
      close(px(50, 50), square(cx, cy), 0, `square ${cx},${cy}`);
      close(px(2, 97), square(cx, cy), 0, `square ${cx},${cy} corner`);
    }
    const pct = await image(`2/${VALIDATOR_ID}/pct:20,30,10,10/full/0/default.png`);
    expect([pct.width, pct.height]).toEqual([100, 100]);
    close(pct.px(50, 50), square(2, 3), 0, 'pct square');
    expect(square(0, 0)).toEqual([0x3d, 0xaa, 0x7e]);
  });

  test('sizes scale the grid', async () => {
    const { px, width, height } = await image(`3/${VALIDATOR_ID}/full/100,100/0/default.png`);
    expect([width, height]).toEqual([100, 100]);
    close(px(5, 5), square(0, 0), 4, 'scaled 0,0');
    close(px(75, 45), square(7, 4), 4, 'scaled 7,4');
    const up = await image(`3/${VALIDATOR_ID}/0,0,100,100/^200,/0/default.png`);
    expect([up.width, up.height]).toEqual([200, 200]);
    expect((await get(`3/${VALIDATOR_ID}/0,0,100,100/200,/0/default.png`)).status).toBe(400);
  });

  test('rotation and mirroring', async () => {
    const region = `3/${VALIDATOR_ID}/0,0,200,100/max`;
    // Two squares side by side: A = (0,0) left, B = (1,0) right.
    const A = square(0, 0);
    const B = square(1, 0);
    const r90 = await image(`${region}/90/default.png`);
    expect([r90.width, r90.height]).toEqual([100, 200]);
    close(r90.px(50, 50), A, 0, '90: A on top');
    close(r90.px(50, 150), B, 0, '90: B below');
    const r180 = await image(`${region}/180/default.png`);
    expect([r180.width, r180.height]).toEqual([200, 100]);
    close(r180.px(50, 50), B, 0, '180: B left');
    const m0 = await image(`${region}/!0/default.png`);
    close(m0.px(50, 50), B, 0, '!0: B left');
    close(m0.px(150, 50), A, 0, '!0: A right');
    const m90 = await image(`${region}/!90/default.png`);
    expect([m90.width, m90.height]).toEqual([100, 200]);
    close(m90.px(50, 50), B, 0, '!90: mirrored first, so B on top');
    const r270 = await image(`${region}/270/default.jpg`);
    expect([r270.width, r270.height]).toEqual([100, 200]);
    close(r270.px(50, 50), B, 20, '270: B on top');
    const r45 = await image(`${region}/45/default.png`);
    expect([r45.width, r45.height]).toEqual([212, 212]);
    expect(r45.r.headers.Link).toContain('/0,0,200,100/max/45/default.png>');
    expect(r45.channels).toBe(4);
    expect(r45.px(0, 0)[3]).toBe(0); // transparent corner
    const j45 = await image(`${region}/45/default.jpg`);
    close(j45.px(1, 1), [255, 255, 255], 8, 'jpg corner is white');
  });

  test('gray and bitonal qualities', async () => {
    const gray = await image(`3/${VALIDATOR_ID}/full/200,/0/gray.jpg`);
    expect(gray.meta.channels).toBe(1);
    expect(gray.meta.space).toBe('b-w');
    const grayPng = await image(`2/${VALIDATOR_ID}/full/200,/0/gray.png`);
    expect(grayPng.meta.channels).toBe(1);
    const bitonal = await image(`3/${VALIDATOR_ID}/full/200,/0/bitonal.png`);
    expect(bitonal.meta.channels).toBe(1);
    const values = new Set<number>();
    for (let y = 0; y < 200; y += 7) for (let x = 0; x < 200; x += 7) values.add(bitonal.px(x, y)[0]!);
    expect([...values].every((v) => v === 0 || v === 255)).toBe(true);
    expect(values.size).toBe(2);
    const color = await image(`3/${VALIDATOR_ID}/0,0,100,100/max/0/color.png`);
    close(color.px(50, 50), square(0, 0), 0, 'color');
  });

  test('formats', async () => {
    const magic: Record<string, [string, string]> = {
      jpg: ['image/jpeg', 'jpeg'],
      png: ['image/png', 'png'],
      webp: ['image/webp', 'webp'],
      tif: ['image/tiff', 'tiff'],
      gif: ['image/gif', 'gif'],
    };
    for (const [fmt, [type, decoded]] of Object.entries(magic)) {
      const { r, meta } = await image(`3/${VALIDATOR_ID}/full/120,/0/default.${fmt}`);
      expect(r.headers['Content-Type']).toBe(type);
      expect([meta.format, meta.width, meta.height]).toEqual([decoded, 120, 120]);
    }
    expect((await get(`3/${VALIDATOR_ID}/full/120,/0/default.jp2`)).status).toBe(400);
  });

  test('image headers: canonical and profile links, CORS, private caching', async () => {
    const r = await get(`3/${VALIDATOR_ID}/pct:0,0,50,50/!300,200/0/default.jpg`);
    expect(r.status).toBe(200);
    expect(r.headers['Content-Type']).toBe('image/jpeg');
    expect(r.headers.Link).toBe(
      `<${BASE}/iiif/3/${VALIDATOR_ID}/0,0,500,500/200,200/0/default.jpg>;rel="canonical", <http://iiif.io/api/image/3/level2.json>;rel="profile"`,
    );
    expect(r.headers['Access-Control-Allow-Origin']).toBe('*');
    expect(r.headers['Cache-Control']).toBe('private, max-age=86400');
    expect(r.headers['Cache-Control']).not.toContain('public');
    expect(r.headers.ETag).toMatch(/^"[\w-]+"$/);
    expect(r.headers['Last-Modified']).toBeTruthy();
    // Equivalent requests share the canonical form and therefore the ETag.
    const same = await get(`3/${VALIDATOR_ID}/0,0,500,500/200,200/0/default.jpg`);
    expect(same.headers.ETag).toBe(r.headers.ETag);
  });
});

describe('conditional requests', () => {
  test('304 for a matching If-None-Match on images and info.json', async () => {
    for (const p of [`3/big/0,0,512,512/256,/0/default.jpg`, '3/big/info.json', '2/big/info.json']) {
      const first = await get(p);
      expect(first.status).toBe(200);
      const etag = first.headers.ETag!;
      const again = await get(p, { 'If-None-Match': etag });
      expect(again.status, p).toBe(304);
      expect(again.body).toBeUndefined();
      expect(again.headers.ETag).toBe(etag);
      expect(again.headers['Cache-Control']).toBe('private, max-age=86400');
      expect((await get(p, { 'If-None-Match': `"other", W/${etag}` })).status).toBe(304);
      expect((await get(p, { 'If-None-Match': '"other"' })).status).toBe(200);
    }
  });

  test('If-Modified-Since without If-None-Match', async () => {
    const p = '3/big/0,0,512,512/256,/0/default.jpg';
    expect((await get(p, { 'If-Modified-Since': 'Wed, 01 May 2024 12:00:00 GMT' })).status).toBe(304);
    expect((await get(p, { 'If-Modified-Since': 'Tue, 30 Apr 2024 12:00:00 GMT' })).status).toBe(200);
  });

  test('etagMatches', () => {
    expect(etagMatches('"a"', '"a"')).toBe(true);
    expect(etagMatches('W/"a"', '"a"')).toBe(true);
    expect(etagMatches('*', '"a"')).toBe(true);
    expect(etagMatches('"b", "c"', '"a"')).toBe(false);
    expect(etagMatches(null, '"a"')).toBe(false);
  });

  test('HEAD answers headers without rendering a body', async () => {
    const r = await get(`3/big/full/max/0/default.jpg`, {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.body).toBeUndefined();
    expect(r.headers['Content-Type']).toBe('image/jpeg');
  });
});

describe('sources', () => {
  test('a symlink inside the root to a file outside it is served', async () => {
    const { meta, px } = await image('3/linked/full/max/0/default.png');
    expect([meta.width, meta.height]).toEqual([40, 30]);
    close(px(10, 10), [0, 200, 0], 0, 'green');
  });

  test('file paths with .., absolute paths and directory links out of the root are refused', async () => {
    for (const id of ['dotdot', 'dotdot2', 'absolute', 'escape']) {
      for (const p of [`3/${id}/info.json`, `2/${id}/full/full/0/default.png`]) {
        const r = await get(p);
        expect(r.status, `${id}: ${String(r.body)}`).toBe(404);
        expect(String(r.body)).not.toContain(tmp);
      }
    }
    expect(logged.some((m) => m.includes('dotdot'))).toBe(true);
  });

  test('unknown ids and missing files are 404 with a message', async () => {
    const unknown = await get('3/nope/info.json');
    expect(unknown.status).toBe(404);
    expect(String(unknown.body)).toMatch(/No image with identifier "nope"/);
    expect((await get('3/missing/full/max/0/default.jpg')).status).toBe(404);
  });

  test('a file that is not an image: 422 without paths for the client, the file named in the log', async () => {
    const before = logged.length;
    const r = await get('3/notimage/info.json');
    expect(r.status).toBe(422);
    expect(String(r.body)).not.toContain(tmp);
    expect(logged.length).toBeGreaterThan(before);
  });

  test('sizeOf gives the pixel size for manifests', async () => {
    expect(await server.sizeOf('big')).toEqual({ width: 6000, height: 4000 });
    expect(await server.sizeOf('nope')).toBeUndefined();
  });

  test('an image with alpha becomes opaque white in JPEG', async () => {
    const { px, channels } = await image('3/alpha/full/max/0/default.jpg');
    expect(channels).toBe(3);
    close(px(150, 100), [255, 255, 255], 4, 'white');
  });
});

describe('libvips errors', () => {
  test('an error provoked by the request values becomes a 400, not a 500', async () => {
    const file = path.join(tmp, 'root/validator', `${VALIDATOR_ID}.png`);
    const facts = await server.readFacts(file);
    const req = parseRequest(`3/${VALIDATOR_ID}/full/max/0/default.jpg`);
    if (req.kind !== 'image') throw new Error('parse');
    const r = resolveImageRequest(req, facts, LIMITS);
    if (r.kind !== 'image') throw new Error('resolve');
    // A plan the validation would never produce: wider than JPEG allows.
    const err = await server.render(file, facts, { ...r.plan, width: 70000, height: 10 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'IiifError', status: 400 });
    expect((err as Error).message).toMatch(/too large for the JPEG format/);
  });
});

describe('hostile requests through the server', () => {
  test('answered with 400 or 404, never 500, never a file outside the root', async () => {
    const ids = ['..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5c..%5cetc', '%252e%252e', 'a%00b', '%E3%81%82', 'x'.repeat(200), '%zz'];
    const params = ['full/max/0/default.jpg', 'info.json', '../../../etc/passwd', 'full/max/0/default.exe', ''];
    const valid = ['big', 'pyr', VALIDATOR_ID];
    const bad = [
      'full/max/720/default.jpg',
      'full/pct:0/0/default.jpg',
      '6000,4000,10,10/max/0/default.jpg',
      'full/99999999,/0/default.jpg',
      'full/^99999999,/0/default.jpg',
      'full/full/0/default.jpg',
      'pct:0,0,0,0/max/0/default.jpg',
      'full/max/0/sepia.png',
      'full/max/0/default.jpeg',
      'full/!0,0/0/default.jpg',
      'full/0,0/0/default.jpg',
    ];
    const paths: string[] = [];
    for (const v of ['2', '3']) {
      for (const id of ids) for (const p of params) paths.push(`${v}/${id}/${p}`);
      for (const id of valid) for (const p of bad) paths.push(`${v}/${id}/${p}`);
    }
    for (const p of paths) {
      // HEAD: validated exactly like GET, without rendering the few valid ones.
      const r = await get(p, {}, 'HEAD');
      if (p.startsWith('2/') && p.includes('/full/full/0/')) {
        expect([200, 303], p).toContain(r.status);
        continue;
      }
      expect([400, 404], `${p} -> ${r.status} ${String(r.body)}`).toContain(r.status);
      expect(String(r.body)).not.toMatch(/root:x:|daemon:/);
      expect(String(r.body)).not.toContain(tmp);
    }
    expect(logged.filter((m) => m.startsWith('internal error'))).toHaveLength(0);
  });
});

describe('sources facts cache', () => {
  test('metadata is read once per file version', async () => {
    const facts = (server as unknown as { readFacts: (f: string) => Promise<SourceFacts> }).readFacts;
    let calls = 0;
    const spy = server as unknown as { readFacts: (f: string) => Promise<SourceFacts> };
    spy.readFacts = async (f: string) => {
      calls += 1;
      return facts.call(server, f);
    };
    try {
      await get('3/pyr/0,0,512,512/512,512/0/default.jpg');
      await get('3/pyr/512,0,512,512/512,512/0/default.jpg');
      await get('3/pyr/info.json');
      expect(calls).toBe(0); // read earlier in this file, still cached
    } finally {
      delete (spy as { readFacts?: unknown }).readFacts;
    }
  });
});
