/**
 * Huge images: the 79508 x 3082 case. Limits are advertised and honoured as the specifications
 * say (v3 `max` within them, v2 `full` redirected to `max`, explicit sizes over them 400), output
 * encoders' own limits give 400, and a `max` request stays within a bounded amount of memory.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageServer, estimateRenderBytes, type IiifResponse } from '../../src/lib/images/server.ts';
import { parseRequest, resolveImageRequest } from '../../src/lib/images/request.ts';

const W = 79508;
const H = 3082;
const LIMITS = { maxWidth: 10000, maxHeight: 10000, maxArea: 100_000_000 };
const RED = [200, 30, 30];
const BLUE = [20, 60, 200];

let tmp: string;
let server: ImageServer;
/** Generous limits: everything up to the encoders' own. */
let wide: ImageServer;

async function get(s: ImageServer, p: string, method = 'GET'): Promise<IiifResponse> {
  return s.handle(p, { method });
}

/** The body, whether in memory or (large renders) an open file. */
async function bodyOf(r: IiifResponse): Promise<Buffer> {
  if (r.file) {
    try {
      return await r.file.handle.readFile();
    } finally {
      await r.file.handle.close();
    }
  }
  return r.body as Buffer;
}

/** Peak RSS since the last reset (Linux: /proc/self/status VmHWM, reset through clear_refs). */
function peakRssMb(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-huge-test-'));
  // Left half red, right half blue, tiled pyramid. (sharp refuses JPEG compression beyond
  // 65535 px wide, even in 512 px tiles, so deflate; the flat colours make it small and quick.)
  await sharp({ create: { width: W / 2, height: H, channels: 3, background: { r: RED[0]!, g: RED[1]!, b: RED[2]! } } })
    .extend({ right: W / 2, background: { r: BLUE[0]!, g: BLUE[1]!, b: BLUE[2]! } })
    .tiff({ tile: true, pyramid: true, tileWidth: 512, tileHeight: 512, compression: 'deflate' })
    .toFile(path.join(tmp, 'huge.tif'));
  const common = { root: tmp, publicBaseUrl: 'http://h', lookup: async (id: string) => (id === 'huge' ? { file: 'huge.tif' } : null), log: () => {} };
  server = new ImageServer({ ...common, ...LIMITS, cacheDir: path.join(tmp, 'cache') });
  wide = new ImageServer({ ...common, maxWidth: 100_000, maxHeight: 100_000, maxArea: 300_000_000 });
}, 120_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('limits are advertised', () => {
  test('v3 and v2 info.json carry maxWidth, maxHeight, maxArea; every listed size is within them', async () => {
    const v3 = JSON.parse(String((await get(server, '3/huge/info.json')).body));
    expect(v3).toMatchObject({ width: W, height: H, maxWidth: 10000, maxHeight: 10000, maxArea: 100_000_000 });
    const v2 = JSON.parse(String((await get(server, '2/huge/info.json')).body));
    expect(v2.profile[1]).toMatchObject({ maxWidth: 10000, maxHeight: 10000, maxArea: 100_000_000 });
    for (const doc of [v3, v2]) {
      for (const s of doc.sizes) expect(s.width <= 10000 && s.height <= 10000 && s.width * s.height <= 100_000_000).toBe(true);
      expect(doc.tiles[0].scaleFactors.at(-1)).toBe(256);
    }
  });
});

describe('requests over the limits', () => {
  test('v3 max is the largest size within the limits, with the right pixels', async () => {
    const r = await get(server, '3/huge/full/max/0/default.png');
    expect(r.status).toBe(200);
    // 10000 x 388 PNG: estimated over 8 MB, so encoded to a file in the cache and streamed.
    expect(r.file).toBeDefined();
    const img = sharp(await bodyOf(r));
    const raw = await img.raw().toBuffer({ resolveWithObject: true });
    expect([raw.info.width, raw.info.height]).toEqual([10000, 388]);
    const px = (x: number, y: number) => Array.from(raw.data.subarray((y * 10000 + x) * raw.info.channels, (y * 10000 + x) * raw.info.channels + 3));
    expect(px(100, 100)).toEqual(RED);
    expect(px(9900, 300)).toEqual(BLUE);
    expect(r.headers.Link).toContain('/full/max/0/default.png>;rel="canonical"');
  });

  test('v2 full over the limits redirects to max, whose canonical form is the width', async () => {
    const r = await get(server, '2/huge/full/full/0/default.jpg');
    expect(r.status).toBe(303);
    expect(r.headers.Location).toBe('http://h/iiif/2/huge/full/max/0/default.jpg');
    const m = await get(server, '2/huge/full/max/0/default.jpg', 'HEAD');
    expect(m.status).toBe(200);
    expect(m.headers.Link).toContain('/full/10000,/0/default.jpg>;rel="canonical"');
    // The same for a region that is itself over the limits.
    const region = await get(server, '2/huge/0,0,20000,3082/full/0/default.jpg');
    expect(region.status).toBe(303);
    expect(region.headers.Location).toBe('http://h/iiif/2/huge/0,0,20000,3082/max/0/default.jpg');
  });

  test('explicit sizes above the limits: 400 with a sentence', async () => {
    for (const p of [
      '3/huge/full/20000,/0/default.jpg',
      '3/huge/full/pct:50/0/default.jpg',
      '2/huge/full/pct:50/0/default.jpg',
      '3/huge/0,0,10000,10000/^10001,/0/default.jpg',
      '2/huge/full/10001,100/0/default.jpg',
      '3/huge/full/^99999999,99999999/0/default.jpg',
    ]) {
      const r = await get(server, p, 'HEAD');
      expect(r.status, p).toBe(400);
      expect(String(r.body)).toMatch(/exceeds the limits|larger than/);
    }
    // Within them: fine.
    expect((await get(server, '3/huge/full/10000,/0/default.jpg', 'HEAD')).status).toBe(200);
  });

  test('encoders: JPEG at most 65500 px a side (the limits are clamped to it), WebP 16383: 400, never 500', async () => {
    expect(wide.limits.maxWidth).toBe(65500);
    const cases: Array<[string, number, RegExp?]> = [
      ['3/huge/full/79508,/0/default.jpg', 400, /exceeds the limits/],
      ['3/huge/full/65501,/0/default.png', 400, /exceeds the limits/],
      ['3/huge/full/16384,/0/default.webp', 400, /cannot be written as webp/],
      ['3/huge/full/16383,/0/default.webp', 200],
      ['3/huge/full/65500,/0/default.jpg', 200],
      ['3/huge/full/max/0/default.jpg', 200],
      ['3/huge/full/max/0/default.gif', 200],
      ['3/huge/0,0,3082,3082/max/90/default.jpg', 200],
      // Rotated: the output's bounding box is what the encoder sees.
      ['3/huge/full/65500,/2/default.jpg', 400, /cannot be written as jpg/],
    ];
    for (const [p, status, message] of cases) {
      const r = await get(wide, p, 'HEAD');
      expect(r.status, `${p}: ${String(r.body)}`).toBe(status);
      if (message) expect(String(r.body)).toMatch(message);
    }
  });
});

describe('memory', () => {
  test('a max request is rendered with bounded memory', async () => {
    const canMeasure = resetPeakRss();
    const before = peakRssMb();
    // Its time is measured by bench:images (P9), not asserted here.
    const r = await get(server, '3/huge/full/max/0/default.jpg');
    expect(r.status).toBe(200);
    expect((await bodyOf(r)).length).toBeGreaterThan(1000);
    const after = peakRssMb();
    if (canMeasure && before !== null && after !== null) {
      // The renderer reads a few rows of tiles of the level it needs, never the whole image.
      expect(after - before).toBeLessThan(300);
    }
  });

  test('the working-memory estimate grows with rotation and with what is held in memory', () => {
    const facts = { width: W, height: H, levels: [{ width: 39754, height: 1541, page: 1 }, { width: 19877, height: 770, page: 2 }, { width: 9938, height: 385, page: 3 }] };
    const plan = (p: string) => {
      const q = parseRequest(p);
      if (q.kind !== 'image') throw new Error(p);
      const r = resolveImageRequest(q, { width: W, height: H }, LIMITS);
      if (r.kind !== 'image') throw new Error(p);
      return r.plan;
    };
    const tile = estimateRenderBytes(facts, plan('3/huge/0,0,512,512/512,512/0/default.jpg'), true);
    const max = estimateRenderBytes(facts, plan('3/huge/full/max/0/default.jpg'), true);
    const rotated = estimateRenderBytes(facts, plan('3/huge/full/max/90/default.jpg'), true);
    expect(tile).toBeLessThan(16 * 2 ** 20);
    expect(max).toBeGreaterThan(tile);
    expect(rotated).toBeGreaterThan(max);
    expect(max).toBeLessThan(200 * 2 ** 20);
  });

  test('a source over the decoder limit is refused, not decoded', async () => {
    const small = new ImageServer({
      root: tmp,
      ...LIMITS,
      publicBaseUrl: 'http://h',
      lookup: async () => ({ file: 'huge.tif' }),
      maxInputPixels: 100_000_000,
      log: () => {},
    });
    // Full resolution needs the 245 Mpx page: refused with a sentence, not a 500.
    const r = await get(small, '3/huge/0,0,512,512/512,512/0/default.jpg');
    expect(r.status).toBe(400);
    expect(String(r.body)).toMatch(/pixel/i);
    // A reduced level is small enough.
    expect((await get(small, '3/huge/full/1000,/0/default.jpg')).status).toBe(200);
  });
});
