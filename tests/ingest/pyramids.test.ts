/**
 * `archive pyramids` (issue 13): the optional stage that builds pyramid derivatives ahead of any
 * viewer. On a generated store: a plain JPEG gets its pyramid, a small JPEG needs none, an unreadable
 * and a missing file are named with file and reason (exit 1); a second run finds everything present
 * (idempotent); and a web process's image server started afterwards serves tiles from the prebuilt
 * pyramid without building one (first-touch building, the fallback, is what it does otherwise).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main, type CliIO } from '../../src/cli.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { DiskCache } from '../../src/lib/images/cache.ts';
import { ImageServer } from '../../src/lib/images/server.ts';
import { preparePyramids } from '../../src/lib/ingest/pyramids.ts';
import { openStore } from '../../src/lib/search/open.ts';

let dir: string;
const env = () => ({ DATA_DIR: path.join(dir, 'data') });

async function noiseJpeg(file: string, w: number, h: number, seed: number): Promise<void> {
  const raw = Buffer.alloc(w * h * 3);
  let x = seed;
  for (let j = 0; j < raw.length; j++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    raw[j] = (x >> 16) & 0xff;
  }
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80 }).toFile(file);
}

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { env: env(), cwd: dir, out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ingest-pyramids-'));
  const root = path.join(dir, 'data', 'images');
  await mkdir(path.join(root, 'R01'), { recursive: true });
  await noiseJpeg(path.join(root, 'R01', 'BIG.jpg'), 1800, 1300, 7);
  await noiseJpeg(path.join(root, 'R01', 'SMALL.jpg'), 300, 200, 8);
  await writeFile(path.join(root, 'R01', 'BROKEN.jpg'), 'not a JPEG at all\n');
  const store = await openStore(loadConfig(env(), dir));
  await store.init();
  await store.upsert([
    { id: 'R01-0001', batch: 'R01', title: { en: 'big' }, images: [{ id: 'BIG', file: 'R01/BIG.jpg' }] },
    { id: 'R01-0002', batch: 'R01', title: { en: 'small' }, images: [{ id: 'SMALL', file: 'R01/SMALL.jpg' }] },
    { id: 'R01-0003', batch: 'R01', title: { en: 'broken' }, images: [{ id: 'BROKEN', file: 'R01/BROKEN.jpg' }] },
    { id: 'R01-0004', batch: 'R01', title: { en: 'missing' }, images: [{ id: 'GONE', file: 'R01/GONE.jpg' }] },
  ]);
  await store.close();
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A web process's image server over the same DATA_DIR (a fresh instance: it reads the cache from disk). */
async function webServer() {
  const cfg = loadConfig(env(), dir);
  const store = await openStore(cfg);
  const server = new ImageServer({
    root: cfg.images.root,
    maxWidth: cfg.images.maxWidth,
    maxHeight: cfg.images.maxHeight,
    maxArea: cfg.images.maxArea,
    lookup: (id) => store.getImage(id),
    publicBaseUrl: 'http://127.0.0.1:1',
    cache: new DiskCache({ dir: path.join(cfg.images.cacheDir, 'iiif'), maxBytes: cfg.images.cacheMaxBytes }),
    log: () => {},
  });
  return { server, close: () => store.close() };
}

describe('archive pyramids', () => {
  test('usage errors exit 2', async () => {
    for (const bad of ['0', 'two', '65']) {
      const r = await run(['pyramids', '--concurrency', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.err).toMatch(/--concurrency must be a whole number from 1 to 64/);
    }
  });

  test('builds what is worth it, names each failure with its file, exit 1; a second run finds it present', async () => {
    const first = await run(['pyramids']);
    expect(first.out).toMatch(/^pyramids: 4 images; 1 built; 0 already present; 1 not needed; 2 failed; cache \d+ MB of 2048 MB$/);
    expect(first.code).toBe(1);
    const lines = first.err.split('\n');
    expect(lines.find((l) => l.startsWith('R01/BROKEN.jpg: image BROKEN: '))).toBeDefined();
    expect(lines.find((l) => l.startsWith('R01/GONE.jpg: image GONE: ') && /not available/.test(l))).toBeDefined();
    expect(first.err).not.toMatch(/BIG|SMALL/);

    const again = await run(['pyramids']);
    expect(again.out).toMatch(/^pyramids: 4 images; 0 built; 1 already present; 1 not needed; 2 failed;/);
    expect(again.code).toBe(1);
  }, 120_000);

  test('--batch limits the run; a batch without images is a warning, exit 0', async () => {
    const none = await run(['pyramids', '--batch', 'R99']);
    expect(none.code).toBe(0);
    expect(none.err).toBe('warning: no images in batch R99');
    expect(none.out).toMatch(/^pyramids: 0 images; 0 built;/);
  });

  test('a web process started afterwards serves tiles from the prebuilt pyramid: no build of its own', async () => {
    const { server, close } = await webServer();
    try {
      for (const tile of ['0,0,512,512/512,/0/default.jpg', '1024,512,512,512/512,/0/default.jpg', 'full/450,/0/default.jpg']) {
        const r = await server.handle(`3/BIG/${tile}`);
        expect(r.status, `${tile} ${r.status === 200 ? '' : String(r.body)}`).toBe(200);
        await r.file?.handle.close();
      }
      expect(server.stats().pyramidBuildsMs).toEqual([]);
      // The same tiles from a fresh cache: the first touch builds the pyramid (the fallback).
      const cfg = loadConfig(env(), dir);
      const cold = new ImageServer({
        root: cfg.images.root,
        maxWidth: cfg.images.maxWidth,
        maxHeight: cfg.images.maxHeight,
        maxArea: cfg.images.maxArea,
        lookup: async (id) => (id === 'BIG' ? { file: 'R01/BIG.jpg' } : null),
        publicBaseUrl: 'http://127.0.0.1:1',
        cacheDir: path.join(dir, 'cold-cache'),
        log: () => {},
      });
      const r = await cold.handle('3/BIG/0,0,512,512/512,/0/default.jpg');
      expect(r.status).toBe(200);
      await r.file?.handle.close();
      expect(cold.stats().pyramidBuildsMs).toHaveLength(1);
    } finally {
      await close();
    }
  }, 120_000);

  test('an interrupted run stops between images and says so; what was built stays', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    const report = await preparePyramids({
      images: ['a', 'b', 'c'].map((id) => ({ id, itemId: id, batch: 'R01', file: `R01/${id}.jpg` })),
      server: {
        preparePyramid: async (id: string) => {
          seen.push(id);
          if (id === 'a') ac.abort();
          return 'built' as const;
        },
      },
      signal: ac.signal,
    });
    expect(seen).toEqual(['a']);
    expect(report).toMatchObject({ total: 3, built: 1, stopped: true, failed: [] });
  });
});
