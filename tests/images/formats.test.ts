/**
 * Source formats: JPEG, PNG, WebP, TIFF (striped, tiled, pyramid) are read; JPEG 2000 only if the
 * libvips in use has OpenJPEG — sharp's prebuilt one does not, and the server says so.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ImageServer, JP2_SUPPORTED } from '../../src/lib/images/server.ts';

let tmp: string;
let server: ImageServer;
const logged: string[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-formats-'));
  const img = () => sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 10, g: 200, b: 90 } } });
  await Promise.all([
    img().jpeg().toFile(path.join(tmp, 'a.jpg')),
    img().png().toFile(path.join(tmp, 'a.png')),
    img().webp().toFile(path.join(tmp, 'a.webp')),
    img().tiff().toFile(path.join(tmp, 'a.tif')),
    img().tiff({ tile: true, tileWidth: 256, tileHeight: 256 }).toFile(path.join(tmp, 't.tif')),
  ]);
  // A JPEG 2000 file header (signature box, then ftyp): enough to be recognised.
  await writeFile(path.join(tmp, 'a.jp2'), Buffer.concat([Buffer.from('0000000c6a5020200d0a870a00000014667479706a703220', 'hex'), Buffer.alloc(64)]));
  server = new ImageServer({
    root: tmp,
    maxWidth: 10000,
    maxHeight: 10000,
    maxArea: 1e8,
    publicBaseUrl: 'http://h',
    lookup: async (id) => ({ file: id.replace('_', '.') }),
    log: (m, err) => logged.push(`${m} ${err instanceof Error ? err.message : ''}`),
  });
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test.each(['a_jpg', 'a_png', 'a_webp', 'a_tif', 't_tif'])('%s is read', async (id) => {
  const r = await server.handle(`3/${id}/full/64,/0/default.png`);
  expect(r.status, String(r.body)).toBe(200);
  const raw = await sharp(r.body as Buffer).raw().toBuffer({ resolveWithObject: true });
  expect([raw.info.width, raw.info.height]).toEqual([64, 48]);
  expect(Math.abs(raw.data[1]! - 200)).toBeLessThanOrEqual(3);
});

test('JPEG 2000: supported only with OpenJPEG; otherwise a logged, explained server fault', async () => {
  const r = await server.handle('3/a_jp2/info.json');
  if (JP2_SUPPORTED) {
    expect(r.status).not.toBe(200); // the header above is not a whole image
    return;
  }
  expect(r.status).toBe(500);
  expect(String(r.body)).not.toContain(tmp);
  expect(logged.join('\n')).toMatch(/JPEG 2000, which the libvips bundled with sharp cannot decode/);
});

test('an EXIF-rotated JPEG is served upright, also from its pyramid derivative', async () => {
  // Stored 1600 x 1200 landscape, left half red, right half blue, with orientation 6 (turn 90°
  // clockwise to display): upright it is 1200 x 1600, red on top.
  const file = path.join(tmp, 'rot.jpg');
  await sharp({ create: { width: 800, height: 1200, channels: 3, background: { r: 220, g: 20, b: 20 } } })
    .extend({ right: 800, background: { r: 20, g: 20, b: 220 } })
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toFile(file);
  const s = new ImageServer({
    root: tmp,
    maxWidth: 10000,
    maxHeight: 10000,
    maxArea: 1e8,
    publicBaseUrl: 'http://h',
    lookup: async () => ({ file: 'rot.jpg' }),
    cacheDir: path.join(tmp, 'rot-cache'),
    log: () => {},
  });
  const info = JSON.parse(String((await s.handle('3/rot/info.json')).body));
  expect([info.width, info.height]).toEqual([1200, 1600]);
  const px = async (p: string) => {
    const r = await s.handle(p);
    expect(r.status, String(r.body)).toBe(200);
    return sharp(r.body as Buffer).raw().toBuffer({ resolveWithObject: true });
  };
  const thumb = await px('3/rot/full/120,/0/default.png'); // from the JPEG (no pyramid for thumbnails)
  expect([thumb.info.width, thumb.info.height]).toEqual([120, 160]);
  expect(thumb.data[0]).toBeGreaterThan(180); // top: red
  expect(thumb.data[(150 * 120 + 60) * 3 + 2]).toBeGreaterThan(180); // bottom: blue
  const top = await px('3/rot/0,0,512,512/512,/0/default.png'); // a tile: from the upright derivative
  const bottom = await px('3/rot/512,1024,512,512/512,/0/default.png');
  expect(s.stats().pyramidBuildsMs).toHaveLength(1);
  expect(top.data[0]).toBeGreaterThan(180);
  expect(bottom.data[2]).toBeGreaterThan(180);
});
