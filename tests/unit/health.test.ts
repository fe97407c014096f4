import { describe, expect, test } from 'vitest';
import { closeSync, mkdtempSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import os from 'node:os';
import path from 'node:path';
import { readiness, recordIntegrity } from '../../src/lib/health.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { loadConfig } from '../../src/lib/config.ts';
import type { SearchStore } from '../../src/lib/search/store.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'health-'));
const cfg = loadConfig({ DATA_DIR: dir, IMAGE_ROOT: dir }, dir);
const store = (count: () => Promise<number>) => async () => ({ count }) as unknown as SearchStore;

describe('readiness', () => {
  test('ready when the store, the images and the signing keys answer', async () => {
    const r = await readiness(cfg, store(async () => 40), async () => '2 signing key(s) from https://team.cloudflareaccess.com/cdn-cgi/access/certs');
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => [c.name, c.ok, c.detail])).toEqual([
      ['access', true, '2 signing key(s) from https://team.cloudflareaccess.com/cdn-cgi/access/certs'],
      ['store', true, 'sqlite: 40 records'],
      ['images', true, `fs: ${dir} readable`],
      ['cache', true, `${path.join(cfg.images.cacheDir, 'iiif')} writable`],
    ]);
  });

  test('not ready, naming the check, when the keys cannot be had or the store fails', async () => {
    const r = await readiness(cfg, store(async () => { throw new Error('connection refused'); }), async () => { throw new Error('no signing keys from https://x'); });
    expect(r.ok).toBe(false);
    expect(r.checks.filter((c) => !c.ok).map((c) => [c.name, c.detail])).toEqual([
      ['access', 'no signing keys from https://x'],
      ['store', 'connection refused'],
    ]);
  });

  test('a hung dependency fails within its time limit', async () => {
    const r = await readiness(cfg, store(() => new Promise<number>(() => {})), async () => undefined);
    expect(r.checks.find((c) => c.name === 'store')).toMatchObject({ ok: false, detail: 'no answer within 3000 ms' });
  }, 10_000);
});

describe('readiness checks what serving needs (issue 18)', () => {
  test('a cache directory that cannot be written is named, with the reason', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'health-cache-'));
    // A file where the cache directory should be: mkdir fails whatever the user's rights.
    writeFileSync(path.join(d, 'cache'), 'not a directory');
    const c = loadConfig({ DATA_DIR: d, IMAGE_ROOT: d, CACHE_DIR: path.join(d, 'cache') }, d);
    const r = await readiness(c, store(async () => 1));
    expect(r.ok).toBe(false);
    const cache = r.checks.find((x) => x.name === 'cache')!;
    expect(cache.ok).toBe(false);
    expect(cache.detail).toMatch(/is not writable: /);
  });

  test('the store must answer a real query, not only a count', async () => {
    const broken = async () =>
      ({ count: async () => 40, search: async () => { throw new Error('database disk image is malformed'); } }) as unknown as SearchStore;
    const r = await readiness(cfg, broken);
    expect(r.checks.find((x) => x.name === 'store')).toMatchObject({ ok: false, detail: 'database disk image is malformed' });
  });

  test('an integrity problem found at start (PRAGMA quick_check) keeps the store check failing', async () => {
    recordIntegrity({ problems: ['*** in database main *** Page 31: btreeInitPage() returns error code 11'], at: new Date('2026-12-01T00:00:00Z') });
    try {
      const r = await readiness(cfg, store(async () => 40));
      expect(r.checks.find((x) => x.name === 'store')?.detail).toMatch(/integrity check of 2026-12-01T00:00:00.000Z found: .*Page 31/);
    } finally {
      recordIntegrity(undefined);
    }
  });

  test('quick_check finds a corrupted page of the embedded store', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'health-qc-'));
    const file = path.join(d, 'archive.sqlite');
    const s = new SqliteStore(file);
    await s.init();
    await s.upsert(
      Array.from({ length: 300 }, (_, i) => ({ id: `it${i}`, batch: 'R01', title: { ja: `東京 ${i} ${'長い説明 '.repeat(20)}` }, images: [{ id: `it${i}_p1`, file: `${i}.jpg` }] })),
    );
    expect(await s.quickCheck()).toEqual([]);
    await s.close();
    // Overwrite a page in the middle of the file with garbage (after checkpointing the WAL into it).
    const db = new DatabaseSync(file);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
    closeSync(fd);
    const again = new SqliteStore(file);
    const problems = await again.quickCheck();
    await again.close();
    expect(problems.length).toBeGreaterThan(0);
  });
});
