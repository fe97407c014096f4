/**
 * The admin status API route (src/pages/api/admin/status.json.ts) and the status it shows, on a
 * store filled by the real pipeline. The route module is called directly (no server build).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main, type CliIO } from '../../src/cli.ts';
import { writeDelivery2024, writeDelivery2025 } from './fixtures/delivery.ts';

let tmp: string;
let data: string;

async function cli(argv: string[]) {
  const out: string[] = [];
  const io: CliIO = { env: { DATA_DIR: data }, cwd: tmp, out: (l) => out.push(l), err: () => {} };
  return { code: await main(argv, io), out: out.join('\n') };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-admin-'));
  data = path.join(tmp, 'data');
  await writeDelivery2024(path.join(tmp, 'd2024'));
  await writeDelivery2025(path.join(tmp, 'd2025'));
  expect((await cli(['normalize', path.join(tmp, 'd2024')])).code).toBe(0);
  expect((await cli(['index'])).code).toBe(0);
  // a later delivery normalized but not yet indexed
  expect((await cli(['normalize', path.join(tmp, 'd2025')])).code).toBe(0);
  // one upload recorded, as sync would
  const { SqliteStore } = await import('../../src/lib/search/sqlite.ts');
  const s = new SqliteStore(path.join(data, 'archive.sqlite'));
  await s.markUploaded([{ imageId: 'R04-0001', key: 'photos/R04-0001.jpg', size: 10, at: '2025-01-01T00:00:00.000Z' }]);
  await s.close();
  vi.stubEnv('DATA_DIR', data); // read by config() when the route first runs; restored in afterAll
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(tmp, { recursive: true, force: true });
});

type Route = typeof import('../../src/pages/api/admin/status.json.ts');

async function get(route: Route, level: string | undefined, query = '') {
  const url = new URL(`http://127.0.0.1/api/admin/status.json${query}`);
  const res = await (route.GET as unknown as (ctx: unknown) => Promise<Response>)({ url, locals: { lang: 'en', user: level ? { id: 'x', level } : undefined } });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe('admin status API', () => {
  it('answers staff with counts per batch, the s3_uploaded:false records, unindexed batches and last runs', async () => {
    const route: Route = await import('../../src/pages/api/admin/status.json.ts');
    const r = await get(route, 'staff');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toMatchObject({
      backend: 'sqlite',
      records: 8,
      images: 9,
      imagesUploaded: 1,
      batches: [
        { batch: 'R03', records: 4, recordsNotUploaded: 4, images: 5, imagesUploaded: 0 },
        { batch: 'R03-2', records: 1, recordsNotUploaded: 1, images: 1, imagesUploaded: 0 },
        { batch: 'R04', records: 2, recordsNotUploaded: 1, images: 2, imagesUploaded: 1 }, // R04-0001: its one image is uploaded
        { batch: 'R05', records: 1, recordsNotUploaded: 1, images: 1, imagesUploaded: 0 },
      ],
      notUploaded: { total: 7, ids: ['R03-0001', 'R03-0002', 'R03-0003', 'R03-0004', 'R032-0001', 'R04-0002', 'R05-0001'] },
      notIndexed: ['R06'],
      s3: { configured: false, prefix: 'photos/' },
    });
    expect(r.body.runs.normalize.last).toMatchObject({ stage: 'normalize', exitCode: 0, counts: { batches: 2 } });
    expect(r.body.runs.index.last).toMatchObject({ stage: 'index', exitCode: 0, counts: { records: 8, inserted: 8 } });
    expect(r.body.runs.sync).toEqual({});
  });

  it('refuses everyone but staff', async () => {
    const route: Route = await import('../../src/pages/api/admin/status.json.ts');
    for (const level of ['members', 'open', undefined]) {
      const r = await get(route, level);
      expect(r.status, String(level)).toBe(403);
      expect(r.body).toEqual({ error: 'the ingest status is for staff only', status: 403 });
    }
  });
});
