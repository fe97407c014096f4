/**
 * Access is decided inside the image server, once per image (issue 14, item 2): the resolved
 * source carries its item's access level, the hot cache keeps it, the user's levels come with each
 * request. What that costs the store, counted on both backends:
 *  - Elasticsearch: the official client on @elastic/elasticsearch-mock's connection, with a
 *    transport that counts every request per method and path;
 *  - SQLite: a wrapper of the store port that counts every call per method.
 * A cold image costs at most one store request, a warm tile none — for a user who may see the
 * image and for one who may not (answered exactly like a missing image). A changed level (re-index)
 * takes effect once the resolved source's TTL has passed (the performance clock is faked: no waiting).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import Mock from '@elastic/elasticsearch-mock';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import type { AccessLevel, ItemInput } from '../../src/lib/domain.ts';
import { ImageServer, type IiifResponse } from '../../src/lib/images/server.ts';
import { EsStore } from '../../src/lib/search/elasticsearch.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { SearchStore } from '../../src/lib/search/store.ts';
import { mappingOf } from '../search/es-harness.ts';

let tmp: string;

const ITEMS: ItemInput[] = [
  { id: 'R01-0001', batch: 'R01', title: { en: 'Open' }, access: 'open', images: [{ id: 'R01-0001_01', file: 'photo.jpg' }] },
  { id: 'R01-0002', batch: 'R01', title: { en: 'Members' }, access: 'members', images: [{ id: 'R01-0002_01', file: 'photo.jpg' }] },
];

const TILE = '0,0,512,512/512,512/0/default.jpg';
const OTHER_TILE = '512,0,512,512/512,512/0/default.jpg';

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'access-count-'));
  await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#a85' } })
    .jpeg()
    .toFile(path.join(tmp, 'photo.jpg'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

afterEach(() => {
  vi.useRealTimers();
});

function serverOn(lookup: (id: string) => ReturnType<SearchStore['getImage']>, cacheDir: string, sourceTtlMs = 60_000): ImageServer {
  return new ImageServer({
    root: tmp,
    lookup,
    maxWidth: 4000,
    maxHeight: 4000,
    maxArea: 16e6,
    publicBaseUrl: 'http://archive.test',
    cacheDir: path.join(tmp, cacheDir),
    sourceTtlMs,
    enforceAccess: true,
    log: () => {},
  });
}

async function get(server: ImageServer, p: string, levels: readonly AccessLevel[]): Promise<IiifResponse> {
  const r = await server.handle(p, { method: 'GET', headers: {}, levels });
  await r.file?.handle.close();
  return r;
}

/** The refusal and the answer for a missing id are the same, but for the id in the body. */
function sameAsMissing(refused: IiifResponse, missing: IiifResponse, id: string, missingId: string): void {
  expect(refused.status).toBe(404);
  expect(refused.headers).toEqual(missing.headers);
  expect(String(refused.body).replace(id, 'ID')).toBe(String(missing.body).replace(missingId, 'ID'));
}

/**
 * The same walk on either backend; `requests()` is the number of store requests so far. Returns
 * the store requests of each step, for the report.
 */
async function walk(server: ImageServer, requests: () => number): Promise<Record<string, number>> {
  const cost: Record<string, number> = {};
  const step = async (name: string, p: string, levels: readonly AccessLevel[]): Promise<IiifResponse> => {
    const before = requests();
    const r = await get(server, p, levels);
    cost[name] = requests() - before;
    return r;
  };
  const open: AccessLevel[] = ['open'];
  const member: AccessLevel[] = ['open', 'members'];

  expect((await step('cold tile', `3/R01-0001_01/${TILE}`, open)).status).toBe(200);
  expect((await step('warm tile', `3/R01-0001_01/${TILE}`, open)).status).toBe(200);
  expect((await step('other tile, same image', `3/R01-0001_01/${OTHER_TILE}`, open)).status).toBe(200);
  expect((await step('info.json, same image', '3/R01-0001_01/info.json', open)).status).toBe(200);
  for (let i = 0; i < 20; i++) expect((await step(`warm tile #${i}`, `3/R01-0001_01/${TILE}`, open)).status).toBe(200);

  // A restricted image for an outsider: 404 like a missing id; one lookup cold, none warm.
  const refused = await step('restricted, cold, outsider', `3/R01-0002_01/${TILE}`, open);
  const missing = await step('missing id', `3/R01-9999_01/${TILE}`, open);
  sameAsMissing(refused, missing, 'R01-0002_01', 'R01-9999_01');
  const refusedAgain = await step('restricted, warm, outsider', `3/R01-0002_01/${TILE}`, open);
  sameAsMissing(refusedAgain, missing, 'R01-0002_01', 'R01-9999_01');
  // The member gets it without asking the store again; then it is warm for the member, still
  // refused to the outsider (the hot cache checks the level it stored).
  expect((await step('restricted, member', `3/R01-0002_01/${TILE}`, member)).status).toBe(200);
  expect((await step('restricted, member, warm', `3/R01-0002_01/${TILE}`, member)).status).toBe(200);
  sameAsMissing(await step('restricted, warm, outsider again', `3/R01-0002_01/${TILE}`, open), missing, 'R01-0002_01', 'R01-9999_01');
  return cost;
}

function expectCosts(cost: Record<string, number>): void {
  expect(cost['cold tile']).toBeLessThanOrEqual(1);
  for (const [name, n] of Object.entries(cost)) {
    if (name === 'cold tile' || name === 'missing id' || name === 'restricted, cold, outsider') continue;
    expect(n, name).toBe(0);
  }
  expect(cost['restricted, cold, outsider']).toBe(1);
  expect(cost['missing id']).toBe(1);
}

describe('store requests per image on SQLite (counted through a wrapper of the store port)', () => {
  let store: SqliteStore;
  const calls = new Map<string, number>();
  let port: SearchStore;

  beforeAll(async () => {
    store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert(ITEMS);
    // Every method of the port, counted.
    port = new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as SearchStore;
  });

  afterAll(async () => {
    await store.close();
  });

  const total = () => [...calls.values()].reduce((a, b) => a + b, 0);

  test('a cold image costs one getImage, a warm tile none (allowed or refused)', async () => {
    calls.clear();
    const cost = await walk(serverOn((id) => port.getImage(id), 'cache-sqlite'), total);
    expectCosts(cost);
    expect([...calls.keys()]).toEqual(['getImage']);
    expect(calls.get('getImage')).toBe(3); // three images resolved: open, restricted, missing
  });

  test('a re-indexed access level takes effect once the resolved source\'s TTL has passed', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const ttl = 2000;
    const server = serverOn((id) => port.getImage(id), 'cache-sqlite-ttl', ttl);
    const p = `3/R01-0001_01/${TILE}`;
    expect((await get(server, p, ['open'])).status).toBe(200);
    await store.upsert([{ ...ITEMS[0]!, access: 'staff' }]);
    try {
      // Within the TTL the decision made with the source stands (no store request per tile).
      vi.advanceTimersByTime(ttl / 2);
      calls.clear();
      expect((await get(server, p, ['open'])).status).toBe(200);
      expect(total()).toBe(0);
      // Past it, the next request looks the image up again and sees the new level.
      vi.advanceTimersByTime(ttl);
      const missing = await get(server, `3/R01-9999_01/${TILE}`, ['open']);
      calls.clear();
      sameAsMissing(await get(server, p, ['open']), missing, 'R01-0001_01', 'R01-9999_01');
      expect(calls.get('getImage')).toBe(1);
      expect((await get(server, p, ['open', 'members', 'staff'])).status).toBe(200);
      expect(calls.get('getImage')).toBe(1);
    } finally {
      await store.upsert([ITEMS[0]!]);
    }
  });
});

describe('store requests per image on Elasticsearch (counted in the official client\'s mock transport)', () => {
  const perPath = new Map<string, number>();
  let store: EsStore;

  beforeAll(() => {
    const mock = new Mock();
    const docs = new Map(ITEMS.map((item) => [item.id, { record: { ...item }, access: item.access ?? 'open' }]));
    mock.add({ method: ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'], path: '*' }, (params) => {
      const key = `${params.method} ${params.path}`;
      perPath.set(key, (perPath.get(key) ?? 0) + 1);
      if (params.method === 'GET' && params.path === '/archive/_mapping') return mappingOf() as never;
      if (params.path === '/archive/_count') return { count: docs.size } as never;
      if (params.path === '/archive/_search') {
        // getImage: a term query on image_ids.
        const body = (typeof params.body === 'string' ? JSON.parse(params.body) : params.body) as { query?: { term?: { image_ids?: string } } };
        const imageId = body.query?.term?.image_ids;
        const hits = [...docs.entries()]
          .filter(([, d]) => d.record.images.some((i) => i.id === imageId))
          .map(([id, d]) => ({ _index: 'archive-v1', _id: id, _score: 1, _source: d }));
        return { took: 1, timed_out: false, hits: { total: { value: hits.length, relation: 'eq' }, max_score: 1, hits } } as never;
      }
      return { error: `unexpected ${key}` } as never;
    });
    const client = new Client({ node: 'http://es.test:9200', Connection: mock.getConnection(), maxRetries: 0 });
    store = new EsStore({ client, alias: 'archive', where: 'http://es.test:9200', retry: { attempts: 1, baseMs: 1 }, sleep: async () => {} });
  });

  const total = () => [...perPath.values()].reduce((a, b) => a + b, 0);

  test('a cold image costs one search, a warm tile none (allowed or refused)', async () => {
    expect(await store.count()).toBe(2); // the store's own start (its mapping check), not an image's cost
    perPath.clear();
    const cost = await walk(serverOn((id) => store.getImage(id), 'cache-es'), total);
    expectCosts(cost);
    expect(Object.fromEntries(perPath)).toEqual({ 'POST /archive/_search': 3 });
  });
});
