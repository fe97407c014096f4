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
