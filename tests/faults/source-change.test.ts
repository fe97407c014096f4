/**
 * A source rewritten in place while it is rendered (issue 18): the half-read result is discarded
 * (never served, never cached) and the request is answered from the new file.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DiskCache } from '../../src/lib/images/cache.ts';
import { RenderQueue } from '../../src/lib/images/queue.ts';
import { ImageServer } from '../../src/lib/images/server.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fault-change-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const solid = (color: string) => sharp({ create: { width: 800, height: 600, channels: 3, background: color } }).jpeg({ quality: 95 }).toBuffer();

test('a file rewritten during the render: the torn result is discarded and the new image served', async () => {
  const root = path.join(tmp, 'images');
  await mkdir(root);
  const file = path.join(root, 'pic.jpg');
  await writeFile(file, await solid('#ff0000'));
  const blue = await solid('#0000ff');
  let rewrites = 0;
  // The first render starts on a half-written file (the delivery being copied over it), which is
  // complete by the time the render ends.
  class RewritingQueue extends RenderQueue {
    override async run<T>(cost: number, fn: () => Promise<T>): Promise<T> {
      if (rewrites === 0) {
        rewrites++;
        await writeFile(file, blue.subarray(0, Math.floor(blue.length / 2)));
        try {
          return await super.run(cost, fn);
        } finally {
          await writeFile(file, blue);
        }
      }
      return super.run(cost, fn);
    }
  }
  const logged: string[] = [];
  const server = new ImageServer({
    root,
    lookup: async (id) => (id === 'pic' ? { file: 'pic.jpg' } : null),
    cache: new DiskCache({ dir: path.join(tmp, 'cache'), maxBytes: 64 * 2 ** 20 }),
    maxWidth: 5000,
    maxHeight: 5000,
    maxArea: 25_000_000,
    publicBaseUrl: 'http://h',
    pyramids: false,
    queue: new RewritingQueue({ concurrency: 1, maxWaiting: 8, memoryBudget: 256 * 2 ** 20 }),
    log: (m, err) => logged.push(`${m} ${err instanceof Error ? err.message : ''}`),
  });
  const r = await server.handle('3/pic/full/200,/0/default.jpg');
  expect(r.status, String(r.body)).toBe(200);
  expect(rewrites).toBe(1);
  const { data } = await sharp(r.body as Buffer).raw().toBuffer({ resolveWithObject: true });
  // Every pixel is the new image's blue: nothing of a half-read file.
  const center = (data.length / 2) - ((data.length / 2) % 3);
  expect(data[center]!).toBeLessThan(40);
  expect(data[center + 2]!).toBeGreaterThan(200);
  expect(data[data.length - 3]!).toBeLessThan(40);
  expect(data[data.length - 1]!).toBeGreaterThan(200);
  expect(logged.some((l) => /internal error/.test(l))).toBe(false);
});
