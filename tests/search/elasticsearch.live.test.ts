/**
 * The Elasticsearch backend against a real cluster: the shared query suite (the same expectations
 * the embedded store meets), plus what only a cluster can show — the analysis itself (`_analyze`
 * against bigrams()), the Painless scripts, keyword order, deep paging, per-document bulk
 * failures, an alias swap under a reader.
 *
 *   ES_URL=http://elastic:<password>@localhost:9200 npx vitest run tests/search/elasticsearch.live.test.ts
 *
 * (ES_API_KEY, ES_USERNAME/ES_PASSWORD, ES_CA_CERT work as for the server.) Every index it makes is
 * named archive-test-<random>-v1… and deleted afterwards. Without ES_URL the suite is skipped, and
 * says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { loadConfig } from '../../src/lib/config.ts';
import { BulkWriteError, EsStore, createEsClient, describeNode } from '../../src/lib/search/elasticsearch.ts';
import { migrate, reindexFromStore } from '../../src/lib/search/es-admin.ts';
import { ANALYZER, analysisSettings, versionedIndexName } from '../../src/lib/search/es-settings.ts';
import { SqliteStore, compareCodePoints } from '../../src/lib/search/sqlite.ts';
import type { ItemInput, SearchResponse } from '../../src/lib/search/store.ts';
import { highlightSpec, planSearch } from '../../src/lib/search/es-query.ts';
import { parseTagged } from '../../src/lib/search/highlight.ts';
import { HIGHLIGHT_CASES, HIGHLIGHT_RECORDS } from './highlight-cases.ts';
import { bigrams, parseQuery } from '../../src/lib/search/text.ts';
import { FIXTURE } from './fixture.ts';
import { T0, T1, ids, querySuite, ranked } from './query-suite.ts';

const ES_URL = process.env.ES_URL?.trim();

if (!ES_URL) {
  console.warn(
    '\n[elasticsearch live suite] SKIPPED: ES_URL is not set, so there is no cluster to run the shared query suite against.\n' +
      '  The mock suite (elasticsearch.mock.test.ts) ran instead. To run this one against a real cluster:\n' +
      '    ES_URL=http://elastic:<password>@localhost:9200 npx vitest run tests/search/elasticsearch.live.test.ts\n' +
      '  It creates and deletes its own indices (archive-test-*); see docs/elasticsearch.md.\n',
  );
}

/** Configuration as the server would read it (credentials, CA, timeout), with a longer timeout. */
function liveStoreConfig() {
  const cfg = loadConfig({ ...process.env, STORE_BACKEND: 'elasticsearch', ES_TIMEOUT_MS: process.env.ES_TIMEOUT_MS || '30000' });
  return cfg.store;
}

const run = Math.random().toString(36).slice(2, 8);
let serial = 0;
const created = new Set<string>();
let admin: Client;

/** A fresh alias (and its index, created on first use) for one store. */
function freshAlias(): string {
  const alias = `archive-test-${run}-${++serial}`;
  created.add(versionedIndexName(alias));
  return alias;
}

function liveStore(alias = freshAlias(), opts: Partial<ConstructorParameters<typeof EsStore>[0]> = {}): EsStore {
  const cfg = liveStoreConfig();
  return new EsStore({ client: createEsClient(cfg), alias, where: describeNode(cfg.esUrl!), timeoutMs: cfg.esTimeoutMs, ...opts });
}

beforeAll(() => {
  if (ES_URL) admin = createEsClient(liveStoreConfig());
});
afterAll(async () => {
  if (!admin) return;
  for (const index of created) await admin.indices.delete({ index }, { ignore: [404] });
  await admin.close();
});

// Registered either way, so that the report lists every parity test as skipped without ES_URL.
describe.skipIf(!ES_URL)('live', () => {
  querySuite('elasticsearch', async () => {
    const store = liveStore();
    await store.init();
    return store;
  });
});

describe.skipIf(!ES_URL)('elasticsearch on a real cluster', () => {
  let store: EsStore;
  beforeAll(async () => {
    store = liveStore();
    await store.init();
  });
  afterAll(async () => {
    await store?.close();
  });

  /** The tokens of the index's analyzer, as Elasticsearch cuts them. */
  async function analyze(text: string | string[], field?: string) {
    const res = await admin.indices.analyze({ index: store.target, ...(field ? { field } : { analyzer: ANALYZER }), text });
    return (res.tokens ?? []).map((t) => ({ token: t.token, position: t.position }));
  }

  it('keeps the analysis settings as sent (the mapping rules from WIDTH_MAPPINGS, the bigram tokenizer)', async () => {
    const res = (await admin.indices.getSettings({ index: versionedIndexName(store.alias) })) as Record<
      string,
      { settings: { index: { analysis: Record<string, unknown> } } }
    >;
    const analysis = Object.values(res)[0]!.settings.index.analysis;
    const sent = analysisSettings();
    const asStrings = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === 'number' ? String(x) : x)));
    expect(analysis.char_filter).toEqual(asStrings(sent.char_filter));
    expect(analysis.tokenizer).toEqual(asStrings(sent.tokenizer));
    expect(analysis.analyzer).toEqual(asStrings(sent.analyzer));
  });

  it('cuts exactly the bigrams of bigrams(), at consecutive positions, for the fixture and width/case variants', async () => {
    const texts = [
      ...FIXTURE.flatMap((i) => [i.id, i.title.ja, i.title.en, i.description?.ja, i.description?.en, i.place?.ja, i.notes, ...(i.subjects ?? [])]),
      'ｶﾞｽﾀﾝｸ ﾊﾟﾝ ｳﾞｧｲｵﾘﾝ ｰ ｱﾞ ﾞﾞ',
      'ＡＢＣ１２３ ａｂｃ Ｔｏｋｙｏ',
      '東京\u3000大阪',
      '東京・大阪、京都',
      '𠮷野家 𠮷田',
      'ǅx Éclair straße ÀÉ',
      '〆切 々 ヶ月',
      'Привет мир ٣٤ १२',
      'a 1 東',
    ].filter((t): t is string => typeof t === 'string' && t !== '');
    for (const text of texts) {
      const tokens = await analyze(text);
      expect(tokens.map((t) => t.token), text).toEqual(bigrams(text));
      expect(tokens.map((t) => t.position), text).toEqual(tokens.map((_, i) => i));
    }
  });

  it('differs from bigrams() exactly where docs/elasticsearch.md says: Java lower-cases per code point', async () => {
    // JavaScript: "İ".toLowerCase() is "i" + U+0307 (not a letter, so the run breaks); Java: "i".
    expect((await analyze('İstanbul')).map((t) => t.token)).toEqual(['is', 'st', 'ta', 'an', 'nb', 'bu', 'ul']);
    expect(bigrams('İstanbul')).toEqual(['st', 'ta', 'an', 'nb', 'bu', 'ul']);
    // JavaScript turns a word-final capital sigma into ς; Java always into σ.
    expect((await analyze('ΣΑΣ')).map((t) => t.token)).toEqual(['σα', 'ασ']);
    expect(bigrams('ΣΑΣ')).toEqual(['σα', 'ας']);
  });

  it('keeps a gap between the values of a field, so that no phrase spans two values', async () => {
    const tokens = await analyze(['東京', '大阪'], 'search.subjects');
    expect(tokens.map((t) => t.token)).toEqual(['東京', '大阪']);
    expect(tokens[1]!.position - tokens[0]!.position).toBeGreaterThan(1);
  });

  it('orders ids like the embedded store (keyword order = UTF-8 bytes = code points)', async () => {
    const s = liveStore();
    const sqlite = new SqliteStore(':memory:');
    await sqlite.init();
    const names = ['b', 'B', 'a-1', 'a_1', 'a.1', 'A', 'é', 'ｱ', 'ア', '𠮷', '\uffef', '東京', 'z', '0', '~'];
    const items: ItemInput[] = names.map((id) => ({ id, batch: 'R01', title: { ja: `題名${id}` }, images: [] }));
    await s.upsert(items, T0);
    await sqlite.upsert(items, T0);
    const expected = [...names].sort(compareCodePoints);
    expect(ids(await s.search({ pageSize: 100 }))).toEqual(expected);
    expect(ids(await sqlite.search({ pageSize: 100 }))).toEqual(expected);
    expect(ranked(await s.search({ q: '題名', pageSize: 100 }))).toEqual(ranked(await sqlite.search({ q: '題名', pageSize: 100 })));
    await s.close();
    await sqlite.close();
  });

  it('pages past index.max_result_window with search_after, like the embedded store pages with OFFSET', async () => {
    const s = liveStore(freshAlias(), { refresh: false });
    const n = 10_250;
    const items: ItemInput[] = Array.from({ length: n }, (_, i) => ({
      id: `D-${String(i).padStart(5, '0')}`,
      batch: i % 2 ? 'R01' : 'R02',
      title: { ja: i % 3 ? '深い頁' : '深い頁の写真' },
      images: [],
    }));
    for (let i = 0; i < n; i += 2000) await s.upsert(items.slice(i, i + 2000), T0);
    await s.refreshIndex();
    const browse = await s.search({ page: 102, pageSize: 100 });
    expect(browse.total).toBe(n);
    expect(ids(browse)).toEqual(items.slice(10_100, 10_200).map((i) => i.id));
    const ranked2 = await s.search({ q: '深い', page: 101, pageSize: 100 });
    const all = items.map((i) => i.id); // every record scores 10 (title): order is by id
    expect(ranked(ranked2)).toEqual(all.slice(10_000, 10_100).map((id) => [id, 10]));
    expect(ranked2.facets.batch).toEqual([
      { value: 'R01', count: 5125 },
      { value: 'R02', count: 5125 },
    ]);
    await s.close();
  }, 120_000);

  it('reports a record Elasticsearch refuses, by id, and writes the others', async () => {
    const s = liveStore();
    const good = structuredClone(FIXTURE[0]!);
    const bad = { ...structuredClone(FIXTURE[1]!), batch: 'x'.repeat(40_000) }; // an immense keyword term
    const err = await s.upsert([good, bad], T0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulkWriteError);
    expect((err as BulkWriteError).failures.map((f) => [f.id, f.status])).toEqual([['R01-0002', 400]]);
    expect(await s.get('R01-0001')).not.toBeNull();
    expect(await s.get('R01-0002')).toBeNull();
    await s.close();
  });

  it('rebuilds from the embedded store and swaps the alias under a reader', async () => {
    const alias = freshAlias();
    const reader = liveStore(alias);
    await reader.upsert([structuredClone(FIXTURE[0]!)], T0);
    expect(await reader.count()).toBe(1);
    const sqlite = new SqliteStore(':memory:');
    await sqlite.init();
    await sqlite.upsert(structuredClone(FIXTURE), T0);
    await sqlite.upsert([structuredClone(FIXTURE[2]!)], T1);
    const lines: string[] = [];
    const log = { out: (l: string) => lines.push(l), err: () => {} };
    const now = new Date();
    created.add(versionedIndexName(alias, 1, now));
    expect(await reindexFromStore(admin, alias, sqlite, log, now)).toBe(0);
    expect(await reader.count()).toBe(30);
    expect(ranked(await reader.search({ q: '東京' }))).toEqual(ranked(await sqlite.search({ q: '東京' })));
    expect(await reader.get('R01-0003')).toEqual(await sqlite.get('R01-0003'));
    expect(await migrate(admin, alias, log)).toBe(0);
    expect(lines.at(-1)).toMatch(/: up to date$/);
    await reader.close();
    await sqlite.close();
  });
});

// Highlights (issue 15.5): the real highlighter marks what the embedded store marks, and answers
// as highlight-cases.ts says it does (the answers the parity test scripts).
describe.skipIf(!ES_URL)('highlights on a real cluster', () => {
  let es: EsStore;
  let sqlite: SqliteStore;
  beforeAll(async () => {
    es = liveStore();
    await es.init();
    sqlite = new SqliteStore(':memory:');
    await sqlite.init();
    const all = [...structuredClone(FIXTURE), ...structuredClone(HIGHLIGHT_RECORDS)];
    await es.upsert(all, T0);
    await sqlite.upsert(structuredClone(all), T0);
  });
  afterAll(async () => {
    await es?.close();
    await sqlite?.close();
  });

  const marks = (res: SearchResponse) => res.hits.map((h) => [h.record.id, h.highlight ?? {}]);

  for (const q of ['東京', '東京・大阪', '梅林', '港', 'abc', 'ｱｲｳ', 'tokyo station', '"tokyo station"', 'ほてる', 'ぼてる', 'img', '東京 大阪', '神戸港']) {
    it(`marks the same substrings as the embedded store: ${q}`, async () => {
      const [a, b] = [await es.search({ q, pageSize: 100 }), await sqlite.search({ q, pageSize: 100 })];
      expect(marks(a)).toEqual(marks(b));
    });
  }

  for (const c of HIGHLIGHT_CASES) {
    it(`answers as the parity test scripts it: ${c.q} in ${c.id}`, async () => {
      const res = await admin.search({ index: es.target, query: planSearch({ q: c.q }).query, highlight: highlightSpec(parseQuery(c.q).terms), _source: false, size: 100 });
      const hit = res.hits.hits.find((h) => h._id === c.id);
      const normalised = (hl: Record<string, string[]> | undefined) =>
        Object.fromEntries(Object.entries(hl ?? {}).map(([f, frags]) => [f, frags.map((x) => parseTagged(x))]));
      expect(normalised(hit?.highlight)).toEqual(normalised(c.es));
    });
  }
});
