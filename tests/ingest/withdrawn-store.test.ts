/**
 * Withdrawn records in the store, on both backends (issue 12, item 5): the port's withdraw,
 * listWithdrawn, restoreWithdrawn and purgeWithdrawn.
 *   - SQLite (real): a withdrawn record is not served (get, access level, image), not searched,
 *     not counted (count, totals, facets, image listing), yet kept whole with its batch, date,
 *     timestamps and upload records; restored, it is exactly what it was (indexed_at, uploads);
 *     an older store without the table migrates itself; purged, it is gone.
 *   - Elasticsearch (the official client on @elastic/elasticsearch-mock, every request scripted):
 *     the document is copied whole to <alias>-withdrawn before it leaves the records index, put
 *     back before it leaves the withdrawn index, listed from there in id order, purged by id.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reindexFromStore } from '../../src/lib/search/es-admin.ts';
import { MAPPING_VERSION } from '../../src/lib/search/es-settings.ts';
import { docFromRecord, type StoredDoc } from '../../src/lib/search/es-docs.ts';
import { ManifestService } from '../../src/lib/iiif/service.ts';
import { WITHDRAWN_MAPPINGS } from '../../src/lib/search/es-withdrawn.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { prune } from '../../src/lib/ingest/prune.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { ItemInput, ItemRecord } from '../../src/lib/search/store.ts';
import { Harness, httpError, mappingOf, recorded } from '../search/es-harness.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'withdrawn-store-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const item = (id: string, title: string, images: string[]): ItemInput => ({
  id,
  batch: 'R01',
  type: '写真',
  title: { ja: title },
  access: 'open',
  images: images.map((img) => ({ id: img, file: `R01/${img}.jpg`, width: 30, height: 20 })),
});

describe('withdrawn records on SQLite', () => {
  it('are not served, searched or counted, are kept whole, come back as they were, and are purged', async () => {
    const store = new SqliteStore(path.join(tmp, 'a.sqlite'));
    await store.init();
    await store.upsert([item('R01-0001', '浅草寺', ['R01-0001']), item('R01-0002', '雷門', ['R01-0002a', 'R01-0002b'])], new Date('2025-01-01T00:00:00Z'));
    await store.markUploaded([
      { imageId: 'R01-0002a', key: 'photos/R01-0002a.jpg', size: 123, at: '2025-01-02T00:00:00.000Z' },
      { imageId: 'R01-0002b', key: 'photos/R01-0002b.jpg', size: 456, at: '2025-01-02T00:00:00.000Z' },
    ]);
    const before = (await store.get('R01-0002'))!;
    const imagesBefore = await store.listImages();

    expect(await store.withdraw([{ id: 'R01-0002', batch: 'R01', at: '2025-03-01T00:00:00.000Z' }, { id: 'R99-0000', batch: 'R99', at: '2025-03-01T00:00:00.000Z' }])).toBe(1);
    // Not served, not searched, not counted.
    expect(await store.get('R01-0002')).toBeNull();
    expect(await store.getAccessLevel('R01-0002')).toBeNull();
    expect(await store.getImage('R01-0002a')).toBeNull();
    expect((await store.search({ q: '雷門' })).total).toBe(0);
    const all = await store.search({});
    expect(all.total).toBe(1);
    expect(all.facets).toEqual({ batch: [{ value: 'R01', count: 1 }], type: [{ value: '写真', count: 1 }] });
    expect(await store.count()).toBe(1);
    expect((await store.listImages()).map((i) => i.id)).toEqual(['R01-0001']);
    // Kept whole, listed with batch and date; withdrawing again changes nothing.
    expect(await store.listWithdrawn()).toEqual([{ record: before, batch: 'R01', withdrawnAt: '2025-03-01T00:00:00.000Z' }]);
    expect(await store.withdraw([{ id: 'R01-0002', batch: 'R01', at: '2025-04-01T00:00:00.000Z' }])).toBe(0);
    expect((await store.listWithdrawn())[0]!.withdrawnAt).toBe('2025-03-01T00:00:00.000Z');

    // Restored exactly as it was: timestamps, uploads (sizes and times too), searchable again.
    expect(await store.restoreWithdrawn(['R01-0002', 'R01-0001'])).toBe(1);
    expect(await store.get('R01-0002')).toEqual(before);
    expect(await store.listImages()).toEqual(imagesBefore);
    expect((await store.search({ q: '雷門' })).total).toBe(1);
    expect(await store.listWithdrawn()).toEqual([]);
    // An upsert after the restore keeps indexed_at (what the index stage does next).
    await store.upsert([item('R01-0002', '雷門', ['R01-0002a', 'R01-0002b'])], new Date('2025-05-01T00:00:00Z'));
    expect((await store.get('R01-0002'))!.indexed_at).toBe(before.indexed_at);

    // Purged: gone for good; its image ids are free.
    await store.withdraw([{ id: 'R01-0002', batch: 'R01', at: '2025-06-01T00:00:00.000Z' }]);
    expect(await store.purgeWithdrawn(['R01-0002', 'R01-0001'])).toBe(1);
    expect(await store.listWithdrawn()).toEqual([]);
    expect(await store.restoreWithdrawn(['R01-0002'])).toBe(0);
    expect(await store.get('R01-0002')).toBeNull();
    await store.upsert([item('R02-0001', '別', ['R01-0002a'])]);
    expect((await store.getImage('R01-0002a'))!.itemId).toBe('R02-0001');
    await store.close();
  });

  it('a withdrawn record has no manifest (404 as if absent); restored, it has one again', async () => {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert([item('R01-0001', '浅草寺', ['R01-0001'])]);
    const manifests = new ManifestService({ store, sizeOf: async () => undefined, base: 'https://archive.test', cacheEntries: 0 });
    expect(await manifests.manifest('R01-0001')).not.toBeNull();
    await store.withdraw([{ id: 'R01-0001', batch: 'R01', at: '2025-03-01T00:00:00.000Z' }]);
    expect(await manifests.manifest('R01-0001')).toBeNull();
    await store.restoreWithdrawn(['R01-0001']);
    expect(JSON.parse((await manifests.manifest('R01-0001'))!.json).items).toHaveLength(1);
    await store.close();
  });

  it('an older store (no table of withdrawn records) lists none, and gets the table on its first withdrawal', async () => {
    const file = path.join(tmp, 'old.sqlite');
    const old = new SqliteStore(file);
    await old.init();
    await old.upsert([item('R01-0001', '浅草寺', ['R01-0001'])]);
    await old.close();
    const tables = () => {
      const db = new DatabaseSync(file);
      try {
        return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'withdrawn'`).all() as Array<{ name: string }>).map((r) => r.name);
      } finally {
        db.close();
      }
    };
    expect(tables()).toEqual([]);
    const store = new SqliteStore(file);
    await store.init();
    expect(await store.listWithdrawn()).toEqual([]);
    expect(await store.restoreWithdrawn(['R01-0001'])).toBe(0);
    expect(await store.purgeWithdrawn(['R01-0001'])).toBe(0);
    expect(tables()).toEqual([]); // reading changed nothing
    expect(await store.withdraw([{ id: 'R01-0001', batch: 'R01', at: '2025-03-01T00:00:00.000Z' }])).toBe(1);
    expect(tables()).toEqual(['withdrawn']);
    expect((await store.listWithdrawn()).map((w) => w.record.id)).toEqual(['R01-0001']);
    await store.close();
  });

  it('refuses an invalid mark before writing anything', async () => {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert([item('R01-0001', '浅草寺', ['R01-0001'])]);
    await expect(store.withdraw([{ id: 'R01-0001', batch: 'R01', at: '' }])).rejects.toThrow(/withdraw: invalid entry/);
    expect(await store.count()).toBe(1);
    await store.close();
  });
});

describe('withdrawn records on Elasticsearch', () => {
  let h: Harness;
  afterEach(() => {
    // Every test states all the requests it expects: none more, none fewer.
    expect(h.unexpected, 'requests nobody expected').toEqual([]);
    expect(h.pending(), 'requests that were not made').toEqual([]);
  });

  const record: ItemRecord = {
    ...item('R01-0002', '雷門', ['R01-0002']),
    indexed_at: '2025-01-01T00:00:00.000Z',
    updated_at: '2025-02-01T00:00:00.000Z',
    s3_uploaded: true,
  };
  record.images[0]!.s3Key = 'photos/R01-0002.jpg';
  const doc: StoredDoc = docFromRecord(record);
  const wdoc = { id: 'R01-0002', withdrawn_batch: 'R01', withdrawn_at: '2025-03-01T00:00:00.000Z', doc };
  const bulkOk = (op: string, ids: string[], index: string, result: string) => ({
    errors: false,
    took: 1,
    items: ids.map((id) => ({ [op]: { _index: index, _id: id, status: op === 'index' ? 201 : 200, result } })),
  });

  it('withdraw copies the whole document to <alias>-withdrawn (created with its mapping), then deletes it from the records index', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_mget', { docs: [{ _index: 'archive-v1', _id: 'R01-0002', found: true, _source: doc }, { _index: 'archive-v1', _id: 'R99-0000', found: false }] });
    h.on('HEAD', '/archive-withdrawn', httpError(404, ''));
    h.on('PUT', '/archive-withdrawn', { acknowledged: true, index: 'archive-withdrawn' });
    h.on('POST', '/archive-withdrawn/_bulk', bulkOk('index', ['R01-0002'], 'archive-withdrawn', 'created'));
    h.on('POST', '/archive/_bulk', bulkOk('delete', ['R01-0002'], 'archive-v1', 'deleted'));
    expect(
      await store.withdraw([
        { id: 'R01-0002', batch: 'R01', at: '2025-03-01T00:00:00.000Z' },
        { id: 'R99-0000', batch: 'R99', at: '2025-03-01T00:00:00.000Z' },
      ]),
    ).toBe(1);
    expect(h.to('POST', '/archive/_mget')[0]!.body).toEqual({ ids: ['R01-0002', 'R99-0000'] });
    expect(h.to('PUT', '/archive-withdrawn')[0]!.body).toEqual({ mappings: WITHDRAWN_MAPPINGS });
    const copy = h.to('POST', '/archive-withdrawn/_bulk')[0]!;
    expect(copy.body).toEqual([{ index: { _id: 'R01-0002' } }, wdoc]);
    expect(copy.querystring.refresh).toBe('wait_for');
    expect(h.to('POST', '/archive/_bulk')[0]!.body).toEqual([{ delete: { _id: 'R01-0002' } }]);
    // The copy was written before the record left the records index.
    expect(h.requests.map((r) => `${r.method} ${r.path}`).slice(-2)).toEqual(['POST /archive-withdrawn/_bulk', 'POST /archive/_bulk']);
  });

  it('listWithdrawn reads the withdrawn index in id order (none when it does not exist)', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive-withdrawn/_search', { hits: { total: { value: 1, relation: 'eq' }, hits: [{ _index: 'archive-withdrawn', _id: 'R01-0002', _source: wdoc }] } });
    expect(await store.listWithdrawn()).toEqual([{ record, batch: 'R01', withdrawnAt: '2025-03-01T00:00:00.000Z' }]);
    expect(h.to('POST', '/archive-withdrawn/_search')[0]!.body).toEqual({ size: 1000, sort: [{ id: 'asc' }], query: { match_all: {} } });
    h.on('POST', '/archive-withdrawn/_search', httpError(404, { error: { type: 'index_not_found_exception', reason: 'no such index [archive-withdrawn]' }, status: 404 }));
    expect(await store.listWithdrawn()).toEqual([]);
  });

  it('restoreWithdrawn puts the stored document back as it was, then removes it from the withdrawn index', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive-withdrawn/_mget', { docs: [{ _index: 'archive-withdrawn', _id: 'R01-0002', found: true, _source: wdoc }, { _index: 'archive-withdrawn', _id: 'R01-0001', found: false }] });
    h.on('POST', '/archive/_mget', { docs: [{ _index: 'archive-v1', _id: 'R01-0002', found: false }] });
    h.on('POST', '/archive/_bulk', bulkOk('index', ['R01-0002'], 'archive-v1', 'created'));
    h.on('POST', '/archive-withdrawn/_bulk', bulkOk('delete', ['R01-0002'], 'archive-withdrawn', 'deleted'));
    expect(await store.restoreWithdrawn(['R01-0002', 'R01-0001'])).toBe(1);
    expect(h.to('POST', '/archive/_bulk')[0]!.body).toEqual([{ index: { _id: 'R01-0002' } }, doc]);
    expect(h.to('POST', '/archive-withdrawn/_bulk')[0]!.body).toEqual([{ delete: { _id: 'R01-0002' } }]);
    expect(h.requests.map((r) => `${r.method} ${r.path}`).slice(-2)).toEqual(['POST /archive/_bulk', 'POST /archive-withdrawn/_bulk']);
  });

  it('purgeWithdrawn deletes by id from the withdrawn index and counts what was there', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('HEAD', '/archive-withdrawn', '');
    h.on('POST', '/archive-withdrawn/_bulk', {
      errors: true,
      took: 1,
      items: [
        { delete: { _index: 'archive-withdrawn', _id: 'R01-0002', status: 200, result: 'deleted' } },
        { delete: { _index: 'archive-withdrawn', _id: 'R01-0001', status: 404, result: 'not_found' } },
      ],
    });
    expect(await store.purgeWithdrawn(['R01-0002', 'R01-0001', 'R01-0002'])).toBe(1);
    expect(h.to('POST', '/archive-withdrawn/_bulk')[0]!.body).toEqual([{ delete: { _id: 'R01-0002' } }, { delete: { _id: 'R01-0001' } }]);
  });

  it('prune on Elasticsearch: a dry run only reads; then the orphaned object is deleted by key and the record purged', async () => {
    h = new Harness();
    const store = h.ready();
    const live = docFromRecord({ ...item('R01-0001', '浅草寺', ['R01-0001']), indexed_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z', s3_uploaded: false });
    const reads = () => {
      h.on('POST', '/archive-withdrawn/_search', { hits: { total: { value: 1, relation: 'eq' }, hits: [{ _index: 'archive-withdrawn', _id: 'R01-0002', _source: wdoc }] } });
      h.on('POST', '/archive/_search', { hits: { hits: [{ _index: 'archive-v1', _id: 'R01-0001', _source: live, sort: ['R01-0001'] }] } });
    };
    const sent: unknown[] = [];
    const client = { send: async (cmd: { input: unknown }) => void sent.push(cmd.input) } as unknown as S3Client;

    reads();
    const dry = await prune({ store, dryRun: true, s3: { client, bucket: 'b', prefix: 'photos/' } });
    expect(dry).toMatchObject({ records: [{ id: 'R01-0002', batch: 'R01', withdrawnAt: '2025-03-01T00:00:00.000Z' }], orphanKeys: ['photos/R01-0002.jpg'], deleted: [], purged: [] });
    expect(sent).toEqual([]);
    expect(h.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /archive/_mapping', 'POST /archive-withdrawn/_search', 'POST /archive/_search']);

    reads();
    h.on('HEAD', '/archive-withdrawn', '');
    h.on('POST', '/archive-withdrawn/_bulk', bulkOk('delete', ['R01-0002'], 'archive-withdrawn', 'deleted'));
    const done = await prune({ store, s3: { client, bucket: 'b', prefix: 'photos/' } });
    expect(done).toMatchObject({ orphanKeys: ['photos/R01-0002.jpg'], deleted: ['photos/R01-0002.jpg'], purged: ['R01-0002'], failed: [], kept: [] });
    expect(sent).toEqual([{ Bucket: 'b', Key: 'photos/R01-0002.jpg' }]);
    expect(h.to('POST', '/archive-withdrawn/_bulk')[0]!.body).toEqual([{ delete: { _id: 'R01-0002' } }]);
  });

  it('es reindex --from store copies the embedded store\'s withdrawn records to <alias>-withdrawn, not to the records', async () => {
    const src = new SqliteStore(':memory:');
    await src.init();
    await src.upsert([item('R01-0001', '浅草寺', ['R01-0001']), item('R01-0002', '雷門', ['R01-0002'])], new Date('2025-01-01T00:00:00Z'));
    await src.withdraw([{ id: 'R01-0002', batch: 'R01', at: '2025-03-01T00:00:00.000Z' }]);
    const [kept] = await src.listWithdrawn();
    h = new Harness();
    const STAMPED = `archive-v${MAPPING_VERSION}-20250601120000`;
    h.on('GET', '/archive/_mapping', mappingOf());
    h.on('HEAD', `/archive-v${MAPPING_VERSION}`, {});
    h.on('HEAD', `/${STAMPED}`, httpError(404, recorded('index-not-found.json')));
    h.on('PUT', `/${STAMPED}`, recorded('create-index.json'));
    h.on('POST', `/${STAMPED}/_bulk`, bulkOk('index', ['R01-0001'], STAMPED, 'created'));
    h.on('HEAD', '/archive-withdrawn', httpError(404, ''));
    h.on('PUT', '/archive-withdrawn', { acknowledged: true, index: 'archive-withdrawn' });
    h.on('POST', '/archive-withdrawn/_bulk', bulkOk('index', ['R01-0002'], 'archive-withdrawn', 'created'));
    h.on('GET', `/${STAMPED}/_refresh`, { _shards: { total: 1, successful: 1, failed: 0 } });
    h.on('GET', `/${STAMPED}/_count`, { count: 1 });
    h.on('POST', '/_aliases', { acknowledged: true });
    const err: string[] = [];
    expect(await reindexFromStore(h.client, 'archive', src, { out: () => {}, err: (l) => err.push(l) }, new Date('2025-06-01T12:00:00Z'))).toBe(0);
    const records = (h.to('POST', `/${STAMPED}/_bulk`)[0]!.body as Array<{ id?: string }>).filter((_, k) => k % 2 === 1);
    expect(records.map((d) => d.id)).toEqual(['R01-0001']);
    expect(h.to('POST', '/archive-withdrawn/_bulk')[0]!.body).toEqual([
      { index: { _id: 'R01-0002' } },
      { id: 'R01-0002', withdrawn_batch: 'R01', withdrawn_at: '2025-03-01T00:00:00.000Z', doc: docFromRecord(kept!.record) },
    ]);
    expect(err).toContain('  copied 1 withdrawn records from the sqlite store');
    await src.close();
  });
});
