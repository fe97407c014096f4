/**
 * The derivative race (issue 19 item 10): a tile is never served from a pyramid being written or
 * evicted. Concurrent first-touch requests on several plain JPEGs (each gets a pyramid derivative
 * built on first touch) with a derivative cache too small to hold them all, so that pyramids are
 * evicted while other requests want them; every tile must be a 200 of the right size.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DiskCache, cacheKey } from '../../src/lib/images/cache.ts';
import { ImageServer, type IiifResponse } from '../../src/lib/images/server.ts';

let tmp: string;
const IMAGES = ['a', 'b', 'c', 'd'];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-race-test-'));
  await mkdir(path.join(tmp, 'root'));
  for (const [i, id] of IMAGES.entries()) {
    // Noise, so that pyramids have a realistic size (a flat colour compresses to nothing).
    const w = 1800;
    const h = 1300;
    const raw = Buffer.alloc(w * h * 3);
    let x = 12345 + i;
    for (let j = 0; j < raw.length; j++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      raw[j] = (x >> 16) & 0xff;
    }
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80 }).toFile(path.join(tmp, 'root', `${id}.jpg`));
  }
}, 60_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const bodyLength = async (r: IiifResponse) => {
  if (r.file) {
    const b = await r.file.handle.readFile().finally(() => r.file!.handle.close());
    return b.length;
  }
  return r.body ? Buffer.byteLength(r.body) : 0;
};

describe('DiskCache: acquiring and removing entries in use', () => {
  test('acquire() looks up and pins in one step; remove() of a pinned entry waits for the last reader', async () => {
    const c = new DiskCache({ dir: path.join(tmp, 'acq'), maxBytes: 1e6 });
    const k = cacheKey('x');
    expect(await c.acquire(k)).toBeNull();
    const e = await c.put(k, '.tif', Buffer.alloc(100, 1));
    const held = (await c.acquire(k))!;
    expect(held.path).toBe(e.path);
    await c.remove(k);
    // Gone for new readers, still there for the one holding it.
    expect(await c.acquire(k)).toBeNull();
    expect(await c.lookup(k)).toBeNull();
    expect(existsSync(e.path)).toBe(true);
    held.release();
    await expect.poll(() => existsSync(e.path)).toBe(false);
    expect(c.bytes).toBe(0);
  });

  test('an entry acquired is never evicted, however small the cache', async () => {
    const c = new DiskCache({ dir: path.join(tmp, 'acq2'), maxBytes: 150 });
    const k1 = cacheKey('1');
    await c.put(k1, '', Buffer.alloc(100, 1));
    const held = (await c.acquire(k1))!;
    await c.put(cacheKey('2'), '', Buffer.alloc(100, 2));
    await c.put(cacheKey('3'), '', Buffer.alloc(100, 3));
    expect(existsSync(held.path)).toBe(true);
    held.release();
  });
});

describe('through the server: a pyramid removed between being found and being read', () => {
  test('the tile is still rendered (from the pyramid it found), never a 500 "Input file is missing"', async () => {
    /** Removes a pyramid right after it is looked up, as a concurrent eviction would. */
    class RacyCache extends DiskCache {
      removed = 0;
      override async lookup(key: string) {
        const e = await super.lookup(key);
        if (e && e.path.endsWith('.tif')) {
          this.removed++;
          await this.remove(key);
        }
        return e;
      }
    }
    const cache = new RacyCache({ dir: path.join(tmp, 'racy'), maxBytes: 1e9 });
    const logged: string[] = [];
    const server = new ImageServer({
      root: path.join(tmp, 'root'),
      lookup: async (id) => (IMAGES.includes(id) ? { file: `${id}.jpg` } : null),
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 1e8,
      publicBaseUrl: 'http://h',
      cache,
      memoryCacheBytes: 0,
      cacheRenders: false,
      sourceTtlMs: 0,
      log: (m, e) => logged.push(`${m} ${e instanceof Error ? e.message : (e ?? '')}`),
    });
    for (const t of ['0,0,512,512/512,512/0/default.jpg', '512,512,512,512/256,256/0/default.png', '1024,0,512,512/512,512/0/default.jpg']) {
      const r = await server.handle(`3/a/${t}`);
      expect(r.status, `${t}: ${String(r.body)}`).toBe(200);
      expect(await bodyLength(r)).toBeGreaterThan(0);
    }
    expect(cache.removed).toBeGreaterThan(0);
    expect(logged.filter((l) => /internal error|missing/i.test(l))).toEqual([]);
  }, 60_000);
});

describe('through the server: concurrent first touch with a tiny cache', () => {
  test('every tile of every image is a 200 of the right size while pyramids are built and evicted', async () => {
    const logged: string[] = [];
    const server = new ImageServer({
      root: path.join(tmp, 'root'),
      lookup: async (id) => (IMAGES.includes(id) ? { file: `${id}.jpg` } : null),
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 1e8,
      publicBaseUrl: 'http://h',
      cacheDir: path.join(tmp, 'tiny'),
      // Room for about one pyramid: building the next evicts the previous.
      cacheMaxBytes: 1_500_000,
      memoryCacheBytes: 0,
      sourceTtlMs: 0,
      log: (m, e) => logged.push(`${m} ${e instanceof Error ? e.message : (e ?? '')}`),
    });
    const tiles: Array<[string, number, number]> = [];
    for (let y = 0; y < 1300; y += 512) {
      for (let x = 0; x < 1800; x += 512) {
        const w = Math.min(512, 1800 - x);
        const h = Math.min(512, 1300 - y);
        tiles.push([`${x},${y},${w},${h}/${w},${h}/0/default.jpg`, w, h]);
      }
    }
    tiles.push(['0,0,1024,1024/512,512/0/default.jpg', 512, 512]);
    tiles.push(['1024,0,776,1024/388,512/0/default.jpg', 388, 512]);
    for (let round = 0; round < 3; round++) {
      const requests = IMAGES.flatMap((id) => tiles.map(([t, w, h]) => ({ path: `3/${id}/${t}`, w, h })));
      // Interleaved across images, all at once.
      requests.sort((p, q) => (p.path.length * 31 + round) % 7 - (q.path.length * 17 + round) % 5);
      const results = await Promise.all(
        requests.map(async (r) => {
          const res = await server.handle(r.path);
          const len = res.status === 200 ? await bodyLength(res) : 0;
          return { ...r, status: res.status, len, message: res.status === 200 ? '' : String(res.body) };
        }),
      );
      const failed = results.filter((r) => r.status !== 200 || r.len === 0);
      expect(failed.map((f) => `${f.path}: ${f.status} ${f.message}`), `round ${round}`).toEqual([]);
    }
    expect(logged.filter((l) => /internal error|missing/i.test(l))).toEqual([]);
    expect(server.cache!.bytes).toBeLessThanOrEqual(1_500_000 * 2);
  }, 120_000);
});
