/**
 * `archive status` lists the records whose date gives no year range (issue 15.4): where they came
 * from (file:sheet:row), their id and the date text; they stay searchable by their text.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { ItemInput } from '../../src/lib/search/store.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'dates-status-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const cli = (argv: string[], env: Record<string, string>) => runCli(tmp, argv, env);

const rec = (id: string, date: string | undefined, row: number): ItemInput => ({
  id,
  batch: 'R01',
  title: { ja: `資料 ${id}` },
  ...(date !== undefined ? { date } : {}),
  images: [{ id: `${id}_01`, file: `R01/${id}.jpg` }],
  source: { file: 'R01/目録.xlsx', sheet: '目録', row },
});

describe('status: dates without a year range', () => {
  it('lists them with file:sheet:row, id and text; dated and undated records are not listed', async () => {
    const env = { DATA_DIR: path.join(tmp, 'data'), IMAGE_ROOT: path.join(tmp, 'clean'), DEMO: 'false' };
    const store = new SqliteStore(path.join(env.DATA_DIR, 'archive.sqlite'));
    await store.init();
    await store.upsert([rec('R01-0001', '昭和10年頃', 2), rec('R01-0002', '年不詳', 3), rec('R01-0003', undefined, 4), rec('R01-0004', '春', 5)]);
    await store.close();
    const r = await cli(['status'], env);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/dates without a year range — 2 records/);
    expect(r.out).toContain('  R01/目録.xlsx:目録:3  R01-0002  "年不詳"');
    expect(r.out).toContain('  R01/目録.xlsx:目録:5  R01-0004  "春"');
    expect(r.out).not.toMatch(/R01-0001 {2}"|R01-0003 {2}"/);
    const again = new SqliteStore(path.join(env.DATA_DIR, 'archive.sqlite'));
    await again.init();
    // Still found by their text (the title here; the date is kept as written in the record).
    expect((await again.search({ q: 'R01-0002' })).hits.map((h) => [h.record.id, h.record.date])).toEqual([['R01-0002', '年不詳']]);
    await again.close();
  });
});
