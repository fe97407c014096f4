import { describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readiness } from '../../src/lib/health.ts';
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
