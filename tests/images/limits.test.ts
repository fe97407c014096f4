/**
 * Output sizes at the edges (issue 13): what info.json advertises is what the server delivers in
 * its default format, no output dimension gives a 500, and `!w,h` thumbnails of small images work.
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ImageServer, deliverableLimits } from '../../src/lib/images/server.ts';

let tmp: string;
let server: ImageServer;
const logged: string[] = [];
const FILES: Record<string, string> = { wide: 'wide.png', small: 'small.jpg' };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-limits-test-'));
  await mkdir(path.join(tmp, 'root'));
  // 70000 x 8: wider than any JPEG can be.
  await sharp({ create: { width: 70000, height: 8, channels: 3, background: '#808080' } }).png().toFile(path.join(tmp, 'root', FILES.wide!));
  await sharp({ create: { width: 200, height: 120, channels: 3, background: '#336699' } }).jpeg().toFile(path.join(tmp, 'root', FILES.small!));
  server = new ImageServer({
    root: path.join(tmp, 'root'),
    lookup: async (id) => (FILES[id] ? { file: FILES[id]! } : null),
    // Limits beyond what JPEG can write, as an operator might set them.
    maxWidth: 100_000,
    maxHeight: 100_000,
    maxArea: 10_000_000_000,
    publicBaseUrl: 'http://127.0.0.1:4321',
    log: (m) => logged.push(m),
  });
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('limits above the largest JPEG side are clamped to 65500 with a message', () => {
  expect(server.limits).toEqual({ maxWidth: 65500, maxHeight: 65500, maxArea: 10_000_000_000 });
  expect(logged.some((m) => /clamped to 65500/.test(m))).toBe(true);
  expect(deliverableLimits({ maxWidth: 10000, maxHeight: 10000, maxArea: 1e8 })).toEqual({ maxWidth: 10000, maxHeight: 10000, maxArea: 1e8 });
});

test('info.json advertises only what jpg delivers: maxWidth, every listed size and max are served', async () => {
  for (const v of [2, 3] as const) {
    const r = await server.handle(`${v}/wide/info.json`);
    expect(r.status).toBe(200);
    const info = JSON.parse(String(r.body));
    const maxWidth = v === 3 ? info.maxWidth : info.profile[1].maxWidth;
    expect(maxWidth).toBe(65500);
    for (const s of info.sizes as Array<{ width: number; height: number }>) {
      expect(s.width).toBeLessThanOrEqual(65500);
      const img = await server.handle(`${v}/wide/full/${s.width},${s.height}/0/default.jpg`);
      expect(img.status, `${v}: ${s.width},${s.height}`).toBe(200);
    }
  }
  const max = await server.handle('3/wide/full/max/0/default.jpg');
  expect(max.status).toBe(200);
  const body = max.body ?? (max.file ? await max.file.handle.readFile() : undefined);
  await max.file?.handle.close();
  const meta = await sharp(body as Buffer).metadata();
  expect(meta.width).toBe(65500);
});

test('no output dimension gives a 500: over the JPEG or WebP side it is a 400 naming the limit', async () => {
  for (const [p, limit] of [
    ['3/wide/full/65535,/0/default.jpg', '65500'],
    ['3/wide/full/65501,8/0/default.jpg', '65500'],
    ['3/wide/full/20000,/0/default.webp', '16383'],
    ['3/wide/full/max/0/default.webp', '16383'],
  ] as const) {
    const r = await server.handle(p);
    expect(r.status, p).toBe(400);
    expect(String(r.body), p).toContain(limit);
  }
});

test('!w,h larger than the image answers the image itself (the archive\'s own thumbnails)', async () => {
  for (const [p, w, h] of [
    ['3/small/full/!300,300/0/default.jpg', 200, 120],
    ['3/small/full/!200,200/0/default.jpg', 200, 120],
    ['2/small/full/!300,300/0/default.jpg', 200, 120],
    ['3/small/full/!100,100/0/default.jpg', 100, 60],
  ] as const) {
    const r = await server.handle(p);
    expect(r.status, p).toBe(200);
    const meta = await sharp(r.body as Buffer).metadata();
    expect([meta.width, meta.height], p).toEqual([w, h]);
  }
});
