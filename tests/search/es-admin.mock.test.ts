/**
 * `archive es status|migrate|reindex` against @elastic/elasticsearch-mock: which indices are created,
 * what is copied, the atomic alias swap, and what happens when a step fails.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli.ts';
import { migrate, reindexFromStore, reindexFromTree, status, storeRecords, upgradeDoc } from '../../src/lib/search/es-admin.ts';
import { docFromRecord, docInput, type StoredDoc } from '../../src/lib/search/es-docs.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { SearchStore } from '../../src/lib/search/store.ts';
import { FIXTURE } from './fixture.ts';
import { indexBody } from '../../src/lib/search/es-settings.ts';
import { Harness, httpError, mappingOf, recorded } from './es-harness.ts';
import { T0, T1 } from './query-suite.ts';

let h: Harness;
afterEach(() => {
  const done = h;
  h = undefined as never;
  if (done) {
    expect(done.unexpected, 'requests nobody expected').toEqual([]);
    expect(done.pending(), 'expected requests that never came').toEqual([]);
  }
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

const NOW = new Date('2024-06-01T12:00:00Z');
const STAMPED = 'archive-v3-20240601120000';
const ACK = { acknowledged: true };
const notFound = httpError(404, recorded('index-not-found.json'));

/** A mapping response for an index on mapping version `v`. */
const mappingAt = (index: string, v: number) => mappingOf(index, v);

/** Two stored documents as an older index holds them (its own search fields, here stale ones). */
function oldDocs(): Array<Partial<StoredDoc>> {
  return ['R01-0001', 'R01-0002'].map((id) => {
    const rec = { ...structuredClone(FIXTURE.find((i) => i.id === id)!), indexed_at: T0.toISOString(), updated_at: T1.toISOString(), s3_uploaded: false };
    const doc = docFromRecord(rec);
    return { ...doc, search: { title: ['stale'] } as never, uploads: id === 'R01-0001' ? [{ image: 'R01-0001_01', file: 'R01/R01-0001/01.tif', key: 'photos/R01-0001_01.tif', size: 5, at: T1.toISOString() }] : [] };
  });
}

describe('es status', () => {
  it('shows where the alias points and how many records it holds', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', mappingOf());
    h.on('GET', '/archive-v3/_count', recorded('count.json'));
    const o = io();
    expect(await status(h.client, 'archive', o.io)).toBe(0);
    expect(o.out).toEqual(['alias archive -> archive-v3 (mapping version 3; this program: 3)', 'records: 30']);
  });
});

describe('es migrate', () => {
  it('creates <alias>-v3 behind the alias when nothing exists', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', notFound);
    h.on('PUT', '/archive-v3', recorded('create-index.json'));
    const o = io();
    expect(await migrate(h.client, 'archive', o.io, NOW)).toBe(0);
    expect(h.to('PUT', '/archive-v3')[0]!.body).toEqual({ ...indexBody(), aliases: { archive: { is_write_index: true } } });
    expect(o.out).toEqual(['created archive-v3 behind alias archive (mapping version 3)']);
  });

  it('does nothing when the alias is on this mapping version', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', mappingOf());
    const o = io();
    expect(await migrate(h.client, 'archive', o.io, NOW)).toBe(0);
    expect(o.out).toEqual(['alias archive -> archive-v3 (mapping version 3; this program: 3): up to date']);
  });

  it('copies an older index into <alias>-v3, re-deriving the search fields, then swaps the alias atomically', async () => {
    h = new Harness();
    const docs = oldDocs();
    h.on('GET', '/archive/_mapping', mappingAt('archive-v0', 0), mappingAt('archive-v0', 0));
    h.on('GET', '/archive-v0/_count', { count: 2 });
    h.on('HEAD', '/archive-v3', notFound);
    h.on('PUT', '/archive-v3', recorded('create-index.json'));
    h.on('POST', '/archive-v0/_search', { hits: { hits: docs.map((d) => ({ _id: d.id, _source: d, sort: [d.id] })) } });
    h.on('POST', '/archive-v3/_bulk', {
      errors: false,
      took: 5,
      items: docs.map((d) => ({ index: { _id: d.id, result: 'created', status: 201 } })),
    });
    h.on('GET', '/archive-v3/_refresh', { _shards: { total: 1, successful: 1, failed: 0 } });
    h.on('GET', '/archive-v3/_count', { count: 2 });
    h.on('POST', '/_aliases', ACK);
    const o = io();
    expect(await migrate(h.client, 'archive', o.io, NOW)).toBe(0);

    expect(h.to('PUT', '/archive-v3')[0]!.body).toEqual(indexBody()); // no alias yet
    expect(h.to('POST', '/archive-v0/_search')[0]!.body).toEqual({
      size: 1000,
      sort: [{ id: { order: 'asc' } }],
      _source: true,
      track_total_hits: false,
      query: { match_all: {} },
    });
    const bulk = h.to('POST', '/archive-v3/_bulk')[0]!;
    expect(bulk.querystring).toEqual({ refresh: 'true' });
    const lines = bulk.body as Array<Record<string, unknown>>;
    expect(lines[0]).toEqual({ index: { _id: 'R01-0001' } });
    const copied = lines[1] as unknown as StoredDoc;
    expect(copied.search).toEqual(docInput(FIXTURE[0]!).search); // not the stale fields
    expect(copied.indexed_at).toBe(T0.toISOString());
    expect(copied.updated_at).toBe(T1.toISOString());
    expect(copied.uploads).toEqual(docs[0]!.uploads);
    expect(h.to('POST', '/_aliases')[0]!.body).toEqual({
      actions: [{ remove: { index: 'archive-v0', alias: 'archive' } }, { add: { index: 'archive-v3', alias: 'archive', is_write_index: true } }],
    });
    expect(o.out).toEqual([
      'alias archive -> archive-v3 (2 records, mapping version 3); was archive-v0',
      "the previous index archive-v0 is kept; once satisfied, delete it: curl -X DELETE '<ES_URL>/archive-v0'",
    ]);
  });

  it('does not swap when the copy is short, and removes the unfinished index', async () => {
    h = new Harness();
    const docs = oldDocs();
    h.on('GET', '/archive/_mapping', mappingAt('archive-v0', 0), mappingAt('archive-v0', 0));
    h.on('GET', '/archive-v0/_count', { count: 3 });
    h.on('HEAD', '/archive-v3', notFound);
    h.on('PUT', '/archive-v3', recorded('create-index.json'));
    h.on('POST', '/archive-v0/_search', { hits: { hits: docs.map((d) => ({ _id: d.id, _source: d, sort: [d.id] })) } });
    h.on('POST', '/archive-v3/_bulk', { errors: false, took: 5, items: docs.map((d) => ({ index: { _id: d.id, result: 'created', status: 201 } })) });
    h.on('GET', '/archive-v3/_refresh', { _shards: { total: 1, successful: 1, failed: 0 } });
    h.on('GET', '/archive-v3/_count', { count: 2 });
    h.on('DELETE', '/archive-v3', ACK);
    const o = io();
    await expect(migrate(h.client, 'archive', o.io, NOW)).rejects.toThrow(
      'archive-v3 holds 2 records, 3 expected: alias not swapped (was the ingest pipeline running?)',
    );
    expect(h.to('POST', '/_aliases')).toEqual([]);
  });

  it('refuses an index newer than the program', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', mappingAt('archive-v7', 7));
    await expect(migrate(h.client, 'archive', io().io, NOW)).rejects.toThrow(/newer than this program's 3: upgrade the program/);
  });

  it('cannot carry over a document without its record', () => {
    expect(() => upgradeDoc({ id: 'x' })).toThrow('document x has no record or timestamps: cannot be carried over');
  });
});

describe('es reindex', () => {
  it('--from store: every record of the embedded store with its timestamps and upload state, then the swap', async () => {
    const src = new SqliteStore(':memory:');
    await src.init();
    await src.upsert(structuredClone(FIXTURE), T0);
    await src.upsert([structuredClone(FIXTURE[1]!)], T1);
    await src.markUploaded([
      { imageId: 'R01-0001_01', key: 'photos/R01-0001_01.tif', size: 1, at: T1.toISOString() },
      { imageId: 'R01-0001_02', key: 'photos/R01-0001_02.tif', size: 1, at: T1.toISOString() },
    ]);
    h = new Harness();
    h.on('GET', '/archive/_mapping', mappingOf());
    h.on('HEAD', '/archive-v3', {});
    h.on('HEAD', `/${STAMPED}`, notFound);
    h.on('PUT', `/${STAMPED}`, recorded('create-index.json'));
    h.on('POST', `/${STAMPED}/_bulk`, {
      errors: false,
      took: 40,
      items: FIXTURE.map((i) => ({ index: { _id: i.id, result: 'created', status: 201 } })),
    });
    h.on('GET', `/${STAMPED}/_refresh`, { _shards: { total: 1, successful: 1, failed: 0 } });
    h.on('GET', `/${STAMPED}/_count`, { count: 30 });
    h.on('POST', '/_aliases', ACK);
    const o = io();
    expect(await reindexFromStore(h.client, 'archive', src, o.io, NOW)).toBe(0);
    const lines = h.to('POST', `/${STAMPED}/_bulk`)[0]!.body as Array<Record<string, unknown>>;
    expect(lines).toHaveLength(60);
    const docs = lines.filter((_, i) => i % 2 === 1) as unknown as StoredDoc[];
    expect(docs.map((d) => d.id)).toEqual([...FIXTURE.map((i) => i.id)].sort());
    const r1 = docs.find((d) => d.id === 'R01-0001')!;
    expect(r1.s3_uploaded).toBe(true);
    // The per-image upload state comes from the store's listImages: key, size and time.
    expect(r1.uploads).toEqual([
      { image: 'R01-0001_01', file: 'R01/R01-0001/01.tif', key: 'photos/R01-0001_01.tif', size: 1, at: T1.toISOString() },
      { image: 'R01-0001_02', file: 'R01/R01-0001/02.tif', key: 'photos/R01-0001_02.tif', size: 1, at: T1.toISOString() },
    ]);
    const r2 = docs.find((d) => d.id === 'R01-0002')!;
    expect([r2.indexed_at, r2.updated_at, r2.s3_uploaded, r2.uploads]).toEqual([T0.toISOString(), T1.toISOString(), false, []]);
    expect(h.to('POST', '/_aliases')[0]!.body).toEqual({
      actions: [{ remove: { index: 'archive-v3', alias: 'archive' } }, { add: { index: STAMPED, alias: 'archive', is_write_index: true } }],
    });
    expect(o.out[0]).toBe(`alias archive -> ${STAMPED} (30 records, mapping version 3); was archive-v3`);
    await src.close();
  });

  it('--from tree: copies the current records, runs the loader into the new index, then swaps', async () => {
    h = new Harness();
    const docs = oldDocs();
    h.on('GET', '/archive/_mapping', mappingOf());
    h.on('HEAD', '/archive-v3', {});
    h.on('HEAD', `/${STAMPED}`, notFound);
    h.on('PUT', `/${STAMPED}`, recorded('create-index.json'));
    h.on('POST', '/archive-v3/_search', { hits: { hits: docs.map((d) => ({ _id: d.id, _source: d, sort: [d.id] })) } });
    h.on('POST', `/${STAMPED}/_bulk`, { errors: false, took: 5, items: docs.map((d) => ({ index: { _id: d.id, result: 'created', status: 201 } })) });
    h.on('GET', `/${STAMPED}/_refresh`, { _shards: { total: 1, successful: 1, failed: 0 } });
    h.on('GET', `/${STAMPED}/_count`, { count: 2 });
    h.on('POST', '/_aliases', ACK);
    const loaded: Array<{ target: string; files: string[]; requestsBefore: number }> = [];
    const load = async (store: SearchStore, files: string[]) => {
      loaded.push({ target: (store as unknown as { target: string }).target, files, requestsBefore: h.requests.length });
      return 1; // some rows skipped
    };
    const o = io();
    expect(await reindexFromTree(h.client, 'archive', ['a.xlsx', 'b.xlsx'], load, o.io, { now: NOW })).toBe(1);
    // The loader ran on the new index, after the copy (mapping, 2 HEADs, PUT, search, bulk).
    expect(loaded).toEqual([{ target: STAMPED, files: ['a.xlsx', 'b.xlsx'], requestsBefore: 6 }]);
  });

  it('--from tree --fresh: the loader alone; a failing loader leaves the alias alone', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', mappingOf());
    h.on('HEAD', '/archive-v3', {});
    h.on('HEAD', `/${STAMPED}`, notFound);
    h.on('PUT', `/${STAMPED}`, recorded('create-index.json'));
    h.on('DELETE', `/${STAMPED}`, ACK);
    const o = io();
    const failing = async () => {
      throw new Error('bibliography unreadable');
    };
    await expect(reindexFromTree(h.client, 'archive', ['a.xlsx'], failing, o.io, { fresh: true, now: NOW })).rejects.toThrow('bibliography unreadable');
    expect(o.err).toContain(`removing the unfinished index ${STAMPED}`);
  });

  it('never swaps an empty index in for one that holds records', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', mappingOf());
    h.on('HEAD', '/archive-v3', {});
    h.on('HEAD', `/${STAMPED}`, notFound);
    h.on('PUT', `/${STAMPED}`, recorded('create-index.json'));
    h.on('GET', `/${STAMPED}/_refresh`, { _shards: { total: 1, successful: 1, failed: 0 } });
    h.on('GET', `/${STAMPED}/_count`, { count: 0 });
    h.on('GET', '/archive-v3/_count', recorded('count.json'));
    h.on('DELETE', `/${STAMPED}`, ACK);
    const nothing = async () => 0; // e.g. an empty clean tree
    await expect(reindexFromTree(h.client, 'archive', [], nothing, io().io, { fresh: true, now: NOW })).rejects.toThrow(
      `${STAMPED} is empty while archive-v3 holds records: alias not swapped (nothing was loaded)`,
    );
    expect(h.to('POST', '/_aliases')).toEqual([]);
  });

  it('reads a store through the port, 100 records a page, in id order', async () => {
    const src = new SqliteStore(':memory:');
    await src.init();
    const many = Array.from({ length: 230 }, (_, i) => ({ ...structuredClone(FIXTURE[5]!), id: `X-${String(i).padStart(4, '0')}`, images: [] }));
    await src.upsert(many, T0);
    const pages: number[] = [];
    const ids: string[] = [];
    for await (const page of storeRecords(src)) {
      pages.push(page.length);
      ids.push(...page.map((r) => r.id));
    }
    expect(pages).toEqual([100, 100, 30]);
    expect(ids).toEqual(many.map((m) => m.id));
    await src.close();
  });
});

describe('the CLI entry', () => {
  async function run(argv: string[], env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const cli: CliIO = { env: { DATA_DIR: '/tmp/es-cli-test', ...env }, cwd: '/tmp', out: (l) => out.push(l), err: (l) => err.push(l) };
    const code = await main(argv, cli);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const ES = { ES_URL: 'http://127.0.0.1:1' };

  it('explains its usage and refuses mistakes with exit 2', async () => {
    expect((await run(['help', 'es'])).out).toMatch(/^usage: archive es status\|migrate\|reindex --from store\|tree\n\nElasticsearch at ES_URL/);
    expect(await run(['es'])).toMatchObject({ code: 2, err: expect.stringMatching(/^archive es: missing arguments/) });
    expect(await run(['es', 'status'])).toMatchObject({ code: 2, err: expect.stringMatching(/^archive es: ES_URL is not set/) });
    expect(await run(['es', 'frob'], ES)).toMatchObject({ code: 2, err: expect.stringMatching(/^archive es: unknown sub-command "frob"/) });
    expect(await run(['es', 'reindex'], ES)).toMatchObject({ code: 2, err: expect.stringMatching(/needs --from store or --from tree/) });
    expect(await run(['es', 'reindex', '--from', 'store', 'x.xlsx'], ES)).toMatchObject({ code: 2 });
    expect(await run(['es', 'migrate', 'now'], ES)).toMatchObject({ code: 2, err: expect.stringMatching(/es migrate takes no arguments/) });
    expect(await run(['es', 'status', '--fresh'], ES)).toMatchObject({ code: 2, err: expect.stringMatching(/es status takes no arguments/) });
  });

  it('says in one sentence that the cluster cannot be reached (exit 3, no stack trace)', async () => {
    const r = await run(['es', 'status'], { ES_URL: 'http://elastic:secret@127.0.0.1:1' });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/archive es status: the elasticsearch search store is unavailable: cannot connect to http:\/\/127\.0\.0\.1:1 \(/);
    expect(r.err).not.toContain('secret');
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
