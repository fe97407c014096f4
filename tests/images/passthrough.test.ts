/**
 * Stored JPEG tiles of tiled TIFFs sent as they are, when they are exactly the answer: the right
 * pixels (compared with a decode + encode of the same request), a valid stand-alone JPEG in the
 * colour space the TIFF declares (YCbCr, RGB, grey), and never when something would change the
 * pixels (edge tiles, resizing, rotation, mirroring, other qualities or formats, ICC profiles).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageServer, storedTile, type IiifResponse, type SourceFacts } from '../../src/lib/images/server.ts';
import { parseRequest, resolveImageRequest, type ImagePlan } from '../../src/lib/images/request.ts';
import { assembleJpeg, readTiffLayout } from '../../src/lib/images/tiff.ts';

let tmp: string;
let on: ImageServer;
let off: ImageServer;
let renders = 0;

const FILES: Record<string, string> = { ycc: 'ycc.tif', rgb: 'rgb.tif', grey: 'grey.tif', icc: 'icc.tif', strip: 'strip.tif' };

async function source(width: number, height: number) {
  // Smooth gradients with some texture: colours that differ everywhere.
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = ((x + y) * 7) % 256;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

function make(passthrough: boolean): ImageServer {
  const s = new ImageServer({
    root: tmp,
    lookup: async (id) => (FILES[id] ? { file: FILES[id]! } : null),
    maxWidth: 10000,
    maxHeight: 10000,
    maxArea: 1e8,
    publicBaseUrl: 'http://h',
    passthrough,
    memoryCacheBytes: 0,
    log: () => {},
  });
  if (passthrough) {
    const render = s.render.bind(s);
    s.render = async (file: string, facts: SourceFacts, plan: ImagePlan) => {
      renders++;
      return render(file, facts, plan);
    };
  }
  return s;
}

const body = (r: IiifResponse) => {
  expect(r.status, String(r.body)).toBe(200);
  return r.body as Buffer;
};

async function meanDiff(a: Buffer, b: Buffer): Promise<number> {
  const ra = await sharp(a).raw().toBuffer({ resolveWithObject: true });
  const rb = await sharp(b).raw().toBuffer({ resolveWithObject: true });
  expect([ra.info.width, ra.info.height]).toEqual([rb.info.width, rb.info.height]);
  let sum = 0;
  for (let i = 0; i < ra.data.length; i++) sum += Math.abs(ra.data[i]! - rb.data[i]!);
  return sum / ra.data.length;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-passthrough-'));
  const img = await source(2000, 1500);
  const tiled = { tile: true, pyramid: true, tileWidth: 256, tileHeight: 256, compression: 'jpeg' } as const;
  await Promise.all([
    img.clone().tiff({ ...tiled, quality: 85 }).toFile(path.join(tmp, 'ycc.tif')),
    img.clone().tiff({ ...tiled, quality: 95 }).toFile(path.join(tmp, 'rgb.tif')),
    img.clone().greyscale().toColourspace('b-w').tiff({ ...tiled, quality: 85 }).toFile(path.join(tmp, 'grey.tif')),
    img.clone().withIccProfile('p3').tiff({ ...tiled, quality: 85 }).toFile(path.join(tmp, 'icc.tif')),
    img.clone().tiff({ compression: 'jpeg', quality: 85 }).toFile(path.join(tmp, 'strip.tif')),
  ]);
  on = make(true);
  off = make(false);
}, 60_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('stored tiles', () => {
  test('the fixtures are what they claim (YCbCr, RGB from Q90 up, grey, ICC)', async () => {
    const ph = async (f: string) => (await readTiffLayout(path.join(tmp, f)))!.pages[0]!;
    expect((await ph('ycc.tif')).photometric).toBe(6);
    expect((await ph('rgb.tif')).photometric).toBe(2);
    expect((await ph('grey.tif')).photometric).toBe(1);
    expect((await ph('icc.tif')).icc).toBe(true);
    expect((await ph('strip.tif')).tileWidth).toBe(0);
  });

  test.each(['ycc', 'rgb', 'grey'])('%s: whole stored tiles are sent without rendering, with the right pixels', async (id) => {
    const tiles = [
      '0,0,256,256/256,/0/default.jpg', // full resolution
      '512,256,256,256/256,256/0/color.jpg',
      '512,512,512,512/256,/0/default.jpg', // level 1
      '0,0,1024,1024/256,/0/default.jpg', // level 2
    ];
    for (const t of tiles) {
      const before = renders;
      const a = body(await on.handle(`3/${id}/${t}`));
      expect(renders, `${id} ${t} was rendered`).toBe(before);
      const head = a.subarray(0, 12).toString('latin1');
      expect(head, t).toContain(id === 'rgb' ? 'Adobe' : 'JFIF');
      const meta = await sharp(a).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['jpeg', 256, 256, id === 'grey' ? 1 : 3]);
      // The stored pixels exactly: what libvips decodes from that page and region.
      const [region, size] = t.split('/') as [string, string];
      const [x, y, w] = region.split(',').map(Number) as [number, number, number];
      const level = Math.log2(w / Number(size.split(',')[0]));
      const truth = await sharp(path.join(tmp, FILES[id]!), { page: level })
        .extract({ left: x >> level, top: y >> level, width: 256, height: 256 })
        .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
        .toBuffer();
      expect(await meanDiff(a, truth), `${id} ${t} against the stored pixels`).toBeLessThan(1);
      // And close to a decode + encode of the same request (Q85 4:2:0 again: it loses more).
      const b = body(await off.handle(`3/${id}/${t}`));
      expect(await meanDiff(a, b), `${id} ${t} against a render`).toBeLessThan(12); // a colour-space mistake would be far off
    }
  });

  test('everything else is rendered', async () => {
    const rendered = [
      'ycc/1792,1280,208,220/208,/0/default.jpg', // edge tile (partial)
      'ycc/0,0,256,256/128,/0/default.jpg', // resized
      'ycc/0,0,256,256/256,/90/default.jpg', // rotated
      'ycc/0,0,256,256/256,/!0/default.jpg', // mirrored
      'ycc/0,0,256,256/256,/0/gray.jpg', // another quality
      'ycc/0,0,256,256/256,/0/default.png', // another format
      'ycc/128,0,256,256/256,/0/default.jpg', // not on the tile grid
      'icc/0,0,256,256/256,/0/default.jpg', // ICC profile: the renderer converts to sRGB
      'strip/0,0,256,256/256,/0/default.jpg', // not tiled
    ];
    for (const p of rendered) {
      const before = renders;
      expect((await on.handle(`3/${p}`)).status, p).toBe(200);
      expect(renders, p).toBe(before + 1);
    }
  });

  test('storedTile picks the tile the renderer would decode, at the right level', async () => {
    const facts = await on.readFacts(path.join(tmp, 'ycc.tif'));
    const plan = (p: string) => {
      const q = parseRequest(`3/ycc/${p}`);
      if (q.kind !== 'image') throw new Error(p);
      const r = resolveImageRequest(q, facts, on.limits);
      if (r.kind !== 'image') throw new Error(p);
      return r.plan;
    };
    expect(storedTile(facts, plan('0,0,256,256/256,/0/default.jpg'))).toMatchObject({ index: 0, page: { width: 2000 } });
    expect(storedTile(facts, plan('256,256,256,256/256,/0/default.jpg'))?.index).toBe(Math.ceil(2000 / 256) + 1);
    expect(storedTile(facts, plan('1024,512,512,512/256,/0/default.jpg'))).toMatchObject({ index: 4 + 2, page: { width: 1000 } });
    expect(storedTile(facts, plan('full/max/0/default.jpg'))).toBeNull();
  });

  test('assembleJpeg refuses what is not a JPEG stream', () => {
    expect(assembleJpeg(Buffer.from('nope'), undefined, 6)).toBeNull();
    expect(assembleJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), Buffer.from('not tables'), 6)).toBeNull();
  });
});
