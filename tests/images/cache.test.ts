/**
 * The derivative cache: safe keys, size limit with LRU eviction, pinning, single-flight, survival
 * across restarts; through the server: one render per key however many ask at once, hits without
 * rendering, invalidation when the source changes, HTTP caching headers unchanged, and the tiled
 * pyramid derivative of a plain JPEG built once on first touch and used by later tiles.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DiskCache, MemoryCache, cacheKey } from '../../src/lib/images/cache.ts';
import { ImageServer, type IiifResponse, type SourceFacts } from '../../src/lib/images/server.ts';
import type { ImagePlan } from '../../src/lib/images/request.ts';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-cache-test-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DiskCache', () => {
  test('keys are SHA-256 hex of their parts; anything else is refused as a file name', async () => {
    const k = cacheKey('render', 'a', 1);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey('ab', 'c')).not.toBe(cacheKey('a', 'bc'));
    const c = new DiskCache({ dir: path.join(tmp, 'keys'), maxBytes: 1e6 });
    await expect(c.put('../../etc/passwd', '', bytes(1))).rejects.toThrow(/invalid cache key/);
    await expect(c.put(k, '/../x', bytes(1))).rejects.toThrow(/invalid cache extension/);
    const e = await c.put(k, '.tif', bytes(10));
    expect(e.path).toBe(path.join(tmp, 'keys', k.slice(0, 2), `${k}.tif`));
  });

  test('size limit: least recently used entries go first, down to 90 %', async () => {
    const c = new DiskCache({ dir: path.join(tmp, 'lru'), maxBytes: 1000 });
    const keys = Array.from({ length: 5 }, (_, i) => cacheKey('lru', i));
    for (const k of keys.slice(0, 4)) await c.put(k, '', bytes(240));
    expect(c.bytes).toBe(960);
    await c.lookup(keys[0]!); // 0 is now the most recently used
    await c.put(keys[4]!, '', bytes(240)); // 1200 > 1000: evict 1 and 2 (to <= 900)
    await sleep(20);
    expect(await c.lookup(keys[1]!)).toBeNull();
    expect(await c.lookup(keys[2]!)).toBeNull();
    for (const k of [keys[0]!, keys[3]!, keys[4]!]) expect(await c.lookup(k)).not.toBeNull();
    expect(c.bytes).toBe(720);
    expect(existsSync(path.join(tmp, 'lru', keys[1]!.slice(0, 2), keys[1]!))).toBe(false);
  });

  test('pinned entries are not evicted; they go once unpinned', async () => {
    const c = new DiskCache({ dir: path.join(tmp, 'pin'), maxBytes: 500 });
    const a = cacheKey('pin', 'a');
    await c.put(a, '', bytes(300));
    const unpin = c.pin(a);
    await c.put(cacheKey('pin', 'b'), '', bytes(300));
    await sleep(20);
    expect(await c.lookup(a)).not.toBeNull(); // still there, though oldest
    unpin();
    await c.put(cacheKey('pin', 'c'), '', bytes(300));
    await sleep(20);
    expect(c.peek(a)).toBeNull();
  });

  test('single-flight: concurrent producers of one key run once', async () => {
    const c = new DiskCache({ dir: path.join(tmp, 'flight'), maxBytes: 1e6 });
    let runs = 0;
    const produce = async () => {
      runs++;
      await sleep(30);
      return 42;
    };
    const k = cacheKey('flight');
    const results = await Promise.all(Array.from({ length: 10 }, () => c.singleFlight(k, produce)));
    expect(results).toEqual(Array(10).fill(42));
    expect(runs).toBe(1);
    await c.singleFlight(k, produce);
    expect(runs).toBe(2); // a later call runs again
  });

  test('a restart re-indexes the directory (oldest first) and clears stale unfinished writes, not young ones', async () => {
    const dir = path.join(tmp, 'restart');
    const c1 = new DiskCache({ dir, maxBytes: 1e6 });
    const old = cacheKey('old');
    const recent = cacheKey('recent');
    const e1 = await c1.put(old, '', bytes(100));
    await c1.put(recent, '.tif', bytes(100));
    await utimes(e1.path, new Date(2000, 1, 1), new Date(2000, 1, 1));
    await writeFile(path.join(dir, 'tmp', 'half-written'), 'x');
    await utimes(path.join(dir, 'tmp', 'half-written'), new Date(2000, 1, 1), new Date(2000, 1, 1));
    // Being written by another process sharing the directory right now (cache-shared.test.ts).
    await writeFile(path.join(dir, 'tmp', 'in-progress'), 'x');
    await mkdir(path.join(dir, 'zz'), { recursive: true });
    await writeFile(path.join(dir, 'zz', 'not-a-key'), 'x');
    const c2 = new DiskCache({ dir, maxBytes: 150 }); // room for one: the old one goes
    await c2.ready();
    await sleep(20);
    expect(c2.peek(old)).toBeNull();
    expect(c2.peek(recent)).not.toBeNull();
    expect(await readdir(path.join(dir, 'tmp'))).toEqual(['in-progress']);
  });

  test('MemoryCache keeps small bodies within its byte limit', () => {
    const m = new MemoryCache(1000, 400);
    m.set('a', bytes(400));
    m.set('b', bytes(400));
    m.set('big', bytes(401)); // over the per-entry limit: not kept
    expect(m.get('big')).toBeUndefined();
    m.get('a');
    m.set('c', bytes(400)); // evicts b (least recently used)
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBeDefined();
    expect(m.bytes).toBe(800);
  });
});

describe('through the server', () => {
  let root: string;
  let renders: Array<{ file: string; canonical: string }>;
  const files: Record<string, string> = { photo: 'photo.jpg', png: 'small.png', swap: 'swap.png' };

  function makeServer(cacheDir: string, opts: Partial<ConstructorParameters<typeof ImageServer>[0]> = {}): ImageServer {
    const s = new ImageServer({
      root,
      lookup: async (id) => (files[id] ? { file: files[id]! } : null),
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 1e8,
      publicBaseUrl: 'http://h',
      cacheDir,
      sourceTtlMs: 0,
      log: () => {},
      ...opts,
    });
    const render = s.render.bind(s);
    s.render = async (file: string, facts: SourceFacts, plan: ImagePlan) => {
      renders.push({ file, canonical: plan.canonical });
      await sleep(5);
      return render(file, facts, plan);
    };
    return s;
  }

  const body = async (r: IiifResponse) => (r.file ? r.file.handle.readFile().finally(() => r.file!.handle.close()) : (r.body as Buffer));

  beforeAll(async () => {
    root = path.join(tmp, 'root');
    await mkdir(root, { recursive: true });
    // A 3000 x 2000 JPEG with a left/right split, to check where pixels come from.
    await sharp({ create: { width: 1500, height: 2000, channels: 3, background: { r: 220, g: 40, b: 40 } } })
      .extend({ right: 1500, background: { r: 40, g: 40, b: 220 } })
      .jpeg({ quality: 92 })
      .toFile(path.join(root, 'photo.jpg'));
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#0a0' } }).png().toFile(path.join(root, 'small.png'));
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#f00' } }).png().toFile(path.join(root, 'swap.png'));
  }, 60_000);

  test('concurrent identical requests: one render; later ones are cache hits with the same headers', async () => {
    renders = [];
    const s = makeServer(path.join(tmp, 'c1'));
    const p = '3/png/full/150,/0/default.jpg';
    const rs = await Promise.all(Array.from({ length: 8 }, () => s.handle(p)));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(renders).toHaveLength(1);
    const again = await s.handle(p);
    expect(renders).toHaveLength(1);
    for (const h of ['ETag', 'Last-Modified', 'Cache-Control', 'Link', 'Content-Type']) expect(again.headers[h], h).toBe(rs[0]!.headers[h]);
    expect(Buffer.compare(await body(again), await body(rs[0]!))).toBe(0);
    // Conditional requests still answer 304 without touching the cache or rendering.
    const nm = await s.handle(p, { headers: { 'If-None-Match': rs[0]!.headers.ETag! } });
    expect(nm.status).toBe(304);
    expect(nm.headers['Cache-Control']).toBe('private, max-age=86400');
    expect(nm.headers['Last-Modified']).toBe(rs[0]!.headers['Last-Modified']);
  });

  test('hits survive a restart (from disk, no render)', async () => {
    renders = [];
    const dir = path.join(tmp, 'c2');
    const p = '3/png/0,0,100,100/50,/0/default.png';
    const first = await makeServer(dir).handle(p);
    expect(renders).toHaveLength(1);
    const second = await makeServer(dir).handle(p);
    expect(second.status).toBe(200);
    expect(renders).toHaveLength(1);
    expect(Buffer.compare(await body(first), await body(second))).toBe(0);
  });

  test('a changed source gets new keys: re-rendered, new ETag', async () => {
    renders = [];
    const s = makeServer(path.join(tmp, 'c3'));
    const p = '3/swap/full/max/0/default.png';
    const a = await s.handle(p);
    const red = await sharp(await body(a)).raw().toBuffer();
    expect(red[0]).toBeGreaterThan(200);
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#00f' } }).png().toFile(path.join(root, 'swap.png'));
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(root, 'swap.png'), later, later);
    const b = await s.handle(p);
    const blue = await sharp(await body(b)).raw().toBuffer();
    expect(blue[2]).toBeGreaterThan(200);
    expect(b.headers.ETag).not.toBe(a.headers.ETag);
    expect(renders).toHaveLength(2);
  });

  test('a plain JPEG: the first tiles build one pyramid derivative, later tiles read it', async () => {
    renders = [];
    const dir = path.join(tmp, 'c4');
    const s = makeServer(dir, { cacheRenders: false });
    const tiles = ['0,0,512,512/512,/0/default.png', '2048,1024,512,512/512,/0/default.png', '512,512,512,512/512,/0/default.png', '2048,0,952,512/952,/0/default.png'];
    const first = await Promise.all(tiles.map((t) => s.handle(`3/photo/${t}`)));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(s.stats().pyramidBuildsMs).toHaveLength(1);
    // Every render read the derivative, a .tif in the cache, not the source.
    expect(renders.every((r) => r.file.startsWith(dir) && r.file.endsWith('.tif'))).toBe(true);
    const pyramid = renders[0]!.file;
    const meta = await sharp(pyramid).metadata();
    expect([meta.width, meta.height, meta.pages]).toEqual([3000, 2000, 4]);
    // The right pixels: red on the left half, blue on the right.
    const left = await sharp(await body(first[0]!)).raw().toBuffer();
    const right = await sharp(await body(first[1]!)).raw().toBuffer();
    expect(left[0]).toBeGreaterThan(200);
    expect(right[2]).toBeGreaterThan(200);
    // Later tiles: no new build.
    await s.handle('3/photo/1024,512,512,512/512,/0/default.jpg');
    expect(s.stats().pyramidBuildsMs).toHaveLength(1);
    // A new server on the same cache finds it.
    renders = [];
    const s2 = makeServer(dir, { cacheRenders: false });
    await s2.handle('3/photo/1024,1024,512,512/512,/0/default.png');
    expect(s2.stats().pyramidBuildsMs).toHaveLength(0);
    expect(renders[0]!.file).toBe(pyramid);
    // A JPEG tile that the derivative stores as such is sent without rendering at all.
    const stored = await s2.handle('3/photo/1024,1024,512,512/512,/0/default.jpg');
    expect(stored.status).toBe(200);
    expect(renders).toHaveLength(1);
  });

  test('a zoomed-out tile of a plain JPEG (decoded at 1/4 or 1/8) is rendered from the source, not behind a build', async () => {
    renders = [];
    const dir = path.join(tmp, 'c4b');
    const s = makeServer(dir, { cacheRenders: false });
    // The first view of a newly opened image: 2048 source px to a 512 px tile (1/4), 1/8, and the whole at 1/16.
    const quarter = await s.handle('3/photo/2048,0,952,2000/238,/0/default.png');
    const eighth = await s.handle('3/photo/0,0,2048,2000/256,/0/default.png');
    const sixteenth = await s.handle('3/photo/0,0,3000,2000/188,/0/default.png');
    expect([quarter.status, eighth.status, sixteenth.status]).toEqual([200, 200, 200]);
    expect(renders.map((r) => r.file)).toEqual([path.join(root, 'photo.jpg'), path.join(root, 'photo.jpg'), path.join(root, 'photo.jpg')]);
    // The right pixels: the right half of the photo is blue.
    const px = await sharp(await body(quarter)).raw().toBuffer({ resolveWithObject: true });
    expect([px.info.width, px.info.height]).toEqual([238, 500]);
    expect(px.data[2]).toBeGreaterThan(200);
    // A tile at 1/2 (every tile of such a view would decode a quarter of the image again) waits
    // for the pyramid and reads it.
    renders = [];
    const deeper = await s.handle('3/photo/1024,1024,1024,976/512,/0/default.png');
    expect(deeper.status).toBe(200);
    expect(renders[0]!.file.startsWith(dir) && renders[0]!.file.endsWith('.tif')).toBe(true);
    expect(s.stats().pyramidBuilds).toBe(1);
  });

  test('thumbnails of a plain JPEG do not build a pyramid; info.json starts one when idle', async () => {
    renders = [];
    const dir = path.join(tmp, 'c5');
    const s = makeServer(dir);
    const thumb = await s.handle('3/photo/full/!200,200/0/default.jpg');
    expect(thumb.status).toBe(200);
    expect(renders[0]!.file).toBe(path.join(root, 'photo.jpg'));
    expect(s.stats().pyramidBuildsMs).toHaveLength(0);
    expect((await s.handle('3/photo/info.json')).status).toBe(200);
    for (let i = 0; i < 100 && s.stats().pyramidBuildsMs.length === 0; i++) await sleep(50);
    expect(s.stats().pyramidBuildsMs).toHaveLength(1);
    const st = await stat(dir);
    expect(st.isDirectory()).toBe(true);
  });

  test('a repeated request is answered from memory without looking the source up, within the source TTL', async () => {
    renders = [];
    let lookups = 0;
    const s = new ImageServer({
      root,
      lookup: async (id) => {
        lookups++;
        return files[id] ? { file: files[id]! } : null;
      },
      maxWidth: 10000,
      maxHeight: 10000,
      maxArea: 1e8,
      publicBaseUrl: 'http://h',
      cacheDir: path.join(tmp, 'c7'),
      sourceTtlMs: 300,
      log: () => {},
    });
    const p = '3/png/0,0,200,200/100,/0/default.jpg';
    const first = await s.handle(p);
    expect(lookups).toBe(1);
    for (let i = 0; i < 5; i++) {
      const r = await s.handle(p);
      expect(r.status).toBe(200);
      expect(r.headers.ETag).toBe(first.headers.ETag);
      expect(Buffer.compare(r.body as Buffer, first.body as Buffer)).toBe(0);
    }
    expect(lookups).toBe(1);
    // Conditional and HEAD requests on the hot path.
    expect((await s.handle(p, { headers: { 'If-None-Match': first.headers.ETag! } })).status).toBe(304);
    const head = await s.handle(p, { method: 'HEAD' });
    expect([head.status, head.body]).toEqual([200, undefined]);
    expect(lookups).toBe(1);
    await sleep(350);
    await s.handle(p);
    expect(lookups).toBe(2); // past the TTL: the source is checked again
  });

  test('a tiny cache still serves everything (renders evicted right after use)', async () => {
    renders = [];
    const s = makeServer(path.join(tmp, 'c6'), { cacheMaxBytes: 1, memoryCacheBytes: 0 });
    for (const t of ['0,0,300,200/150,/0/default.png', 'full/max/0/default.png', 'full/max/0/default.png']) {
      const r = await s.handle(`3/png/${t}`);
      expect(r.status).toBe(200);
      expect((await body(r)).length).toBeGreaterThan(0);
    }
    expect(s.cache!.bytes).toBeLessThanOrEqual(1_000_000);
  });
});
