/**
 * The Elasticsearch backend against @elastic/elasticsearch-mock: the exact index settings and
 * mappings, bulk bodies and query bodies it sends, and how it reads realistic responses (recorded in
 * tests/search/es-recorded/ in the formats the Elasticsearch reference documents), including bulk
 * partial failures, retries and an unreachable cluster. What only a real cluster can show (the
 * analysis itself, Painless, scoring) is in elasticsearch.live.test.ts, which runs the shared query
 * suite when ES_URL is set.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, errors } from '@elastic/elasticsearch';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';
import { readiness } from '../../src/lib/health.ts';
import { BulkWriteError, EsStore, createEsClient, describeNode } from '../../src/lib/search/elasticsearch.ts';
import { MARK_UPLOADED_SCRIPT, UPSERT_SCRIPT, docFromRecord, docInput, firstInsertDoc } from '../../src/lib/search/es-docs.ts';
import { escapeMappingSide, indexBody, indexMappings, MAPPING_VERSION, widthMappingRules } from '../../src/lib/search/es-settings.ts';
import { openStore } from '../../src/lib/search/open.ts';
import { FIELD_WEIGHTS, StoreUnavailableError, type ItemInput } from '../../src/lib/search/store.ts';
import { KANA_MAPPINGS, WIDTH_MAPPINGS, normalize } from '../../src/lib/search/text.ts';
import { FIXTURE, TOKYO_RANKING } from './fixture.ts';
import { Harness, httpError, mappingOf, recorded, refused } from './es-harness.ts';
import { T0, T1, ranked } from './query-suite.ts';

let h: Harness;
afterEach(() => {
  // Every test states all the requests it expects: none more, none fewer.
  const done = h;
  h = undefined as never;
  if (done) {
    expect(done.unexpected, 'requests nobody expected').toEqual([]);
    expect(done.pending(), 'expected requests that never came').toEqual([]);
  }
});

const item = (id: string): ItemInput => structuredClone(FIXTURE.find((i) => i.id === id)!);

/**
 * Elasticsearch's reading of one `mapping` char filter rule (MappingCharFilterFactory.parseRules):
 * the regex split, Java's String.trim() (everything <= U+0020), then the escapes it decodes.
 */
function parseEsMappingRule(rule: string): [string, string] {
  const m = /^(.*)\s*=>\s*(.*)\s*$/su.exec(rule);
  if (!m) throw new Error(`Invalid Mapping Rule : [${rule}]`);
  const javaTrim = (s: string) => s.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  const unescape = (s: string) =>
    s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) =>
      e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' } as Record<string, string>)[e] ?? e,
    );
  return [unescape(javaTrim(m[1]!)), unescape(javaTrim(m[2]!))];
}

/** One weighted-field clause of a term, as the backend must send it. */
const clause = (field: string, phrase: string, boost: number) => ({
  constant_score: { filter: { match_phrase: { [`search.${field}`]: { query: phrase } } }, boost },
});
/** The whole-word bonus clause of one Latin word. */
const wholeWord = (word: string) => ({
  constant_score: {
    filter: {
      bool: {
        should: ['id', 'title', 'creator', 'subjects', 'place', 'collection', 'description', 'notes'].map((f) => ({ term: { [`search.${f}.word`]: word } })),
        minimum_should_match: 1,
      },
    },
    boost: 100,
  },
});
const term = (phrase: string) => ({
  bool: {
    should: [
      clause('id', phrase, 8),
      clause('title', phrase, 10),
      clause('creator', phrase, 5),
      clause('subjects', phrase, 4),
      clause('place', phrase, 3),
      clause('collection', phrase, 2),
      clause('description', phrase, 2),
      clause('notes', phrase, 1),
    ],
    minimum_should_match: 1,
  },
});
const AGGS = {
  batch: { terms: { field: 'batch', size: 1024, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
  type: { terms: { field: 'type', size: 1024, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
};
const BY_SCORE = [{ _score: { order: 'desc' } }, { id: { order: 'asc' } }];
const BY_ID = [{ id: { order: 'asc' } }];
const SOURCE = ['record', 'indexed_at', 'updated_at', 's3_uploaded'];
const NONE = recorded('search-nothing.json');

describe('index settings and mappings', () => {
  it('builds the mapping char filter from WIDTH_MAPPINGS exactly, rule by rule, in order', () => {
    const rules = widthMappingRules();
    expect(rules).toHaveLength(WIDTH_MAPPINGS.length);
    expect(rules.map(parseEsMappingRule)).toEqual(WIDTH_MAPPINGS.map(([from, to]) => [from, to]));
    // Elasticsearch refuses a map with the same source twice, or an empty source.
    expect(new Set(WIDTH_MAPPINGS.map(([from]) => from)).size).toBe(WIDTH_MAPPINGS.length);
    expect(WIDTH_MAPPINGS.every(([from]) => from.length > 0)).toBe(true);
    // Voiced pairs come before the single characters they start with (longest match either way).
    expect(rules.slice(0, 3)).toEqual(['ｶﾞ => ガ', 'ｷﾞ => ギ', 'ｸﾞ => グ']);
    expect(rules).toContain('ｱ => ア');
    expect(rules).toContain('ﾟ => ゜');
    expect(rules).toContain('Ａ => A');
    expect(rules).toContain('１ => 1');
  });

  it('writes ASCII punctuation and the space as \\u escapes, so that Elasticsearch reads them back', () => {
    const rules = widthMappingRules();
    expect(rules.at(-1)).toBe('\u3000 => \\u0020');
    expect(rules).toContain('＝ => \\u003d');
    expect(rules).toContain('＞ => \\u003e');
    expect(rules).toContain('＼ => \\u005c');
    expect(rules).toContain('＃ => \\u0023');
    expect(rules).toContain('！ => \\u0021');
    // Written plainly, the space would be trimmed away: the ideographic space would be deleted and
    // join the runs on either side ("東京　大阪" -> bigram 京大), unlike normalize().
    expect(parseEsMappingRule('\u3000 =>  ')).toEqual(['\u3000', '']);
    expect(parseEsMappingRule(rules.at(-1)!)).toEqual(['\u3000', ' ']);
    expect(escapeMappingSide('a=>b')).toBe('a\\u003d\\u003eb');
    expect(() => escapeMappingSide('𠮷')).toThrow(/outside the BMP/);
  });

  it('analyses with the bigram ngram tokenizer (letters and digits), cjk_width and lowercase', () => {
    const { analysis } = indexBody().settings;
    expect(analysis.tokenizer).toEqual({
      archive_bigram: { type: 'ngram', min_gram: 2, max_gram: 2, token_chars: ['letter', 'digit'] },
      archive_unigram: { type: 'ngram', min_gram: 1, max_gram: 1, token_chars: ['letter', 'digit'] },
      archive_word: { type: 'pattern', pattern: '[^\\p{L}\\p{Nd}]+' },
    });
    const chars = ['archive_nfc', 'archive_width', 'archive_kana'];
    expect(analysis.analyzer).toEqual({
      archive_unigram: { type: 'custom', char_filter: chars, tokenizer: 'archive_unigram', filter: ['lowercase'] },
      archive_word: { type: 'custom', char_filter: chars, tokenizer: 'archive_word', filter: ['lowercase'] },
      archive_bigram: { type: 'custom', char_filter: chars, tokenizer: 'archive_bigram', filter: ['cjk_width', 'lowercase'] },
    });
    expect(Object.keys(analysis.char_filter)).toEqual(chars);
    expect(analysis.char_filter.archive_width.type).toBe('mapping');
  });

  it('folds kana with a char filter generated from the embedded store’s table (parity)', () => {
    const rules = indexBody().settings.analysis.char_filter.archive_kana;
    expect(rules.type).toBe('mapping');
    // Elasticsearch's reading of every rule gives back KANA_MAPPINGS exactly, in order.
    expect(rules.mappings.map(parseEsMappingRule)).toEqual(KANA_MAPPINGS.map(([a, b]) => [a, b]));
    // Applied the way the char filters run (width, then kana), the tables give normalize()'s text.
    const apply = (text: string) => {
      let out = text;
      for (const table of [WIDTH_MAPPINGS, KANA_MAPPINGS]) {
        const sorted = [...table].sort((x, y) => y[0].length - x[0].length);
        let next = '';
        for (let i = 0; i < out.length; ) {
          const hit = sorted.find(([from]) => out.startsWith(from, i));
          if (hit) {
            next += hit[1];
            i += hit[0].length;
          } else next += out[i++];
        }
        out = next;
      }
      return out.toLowerCase();
    };
    for (const s of ['ホテル', 'ほてる', 'ﾎﾃﾙ', 'ｶﾞｽﾄｰﾌﾞ', 'ヴァイオリン', 'ヽヾ', 'ＡＢＣ　東京']) expect(apply(s), s).toBe(normalize(s));
  });

  it('maps facets and filters as exact values, every searchable field as bigram text, the record unindexed', () => {
    // Expected from the code's own field list (FIELD_WEIGHTS), not a copy of the mapping.
    const text = {
      type: 'text',
      analyzer: 'archive_bigram',
      norms: false,
      index_options: 'positions',
      position_increment_gap: 100,
      // One-character terms (single kanji) and Latin whole words, for ranking (text.ts, es-query.ts).
      fields: {
        uni: { type: 'text', analyzer: 'archive_unigram', norms: false, index_options: 'docs' },
        word: { type: 'text', analyzer: 'archive_word', norms: false, index_options: 'docs' },
      },
    };
    const m = indexMappings();
    expect(m.dynamic).toBe('strict');
    expect(m._meta).toEqual({ mapping_version: MAPPING_VERSION, app: 'iiif-private-archive' });
    expect(m.properties.search.properties).toEqual(Object.fromEntries(Object.keys(FIELD_WEIGHTS).map((f) => [f, text])));
    for (const f of ['id', 'batch', 'type', 'access', 'image_ids'] as const) expect(m.properties[f], f).toEqual({ type: 'keyword' });
    expect(m.properties.s3_uploaded).toEqual({ type: 'boolean' });
    expect([m.properties.indexed_at, m.properties.updated_at]).toEqual([{ type: 'date' }, { type: 'date' }]);
    expect([m.properties.record, m.properties.uploads]).toEqual([
      { type: 'object', enabled: false },
      { type: 'object', enabled: false },
    ]);
  });

  it('changes the index body only together with a new mapping version', () => {
    // A fingerprint per mapping version: an index of an older version is migrated (`archive es
    // migrate`), so a changed body under the same version would leave existing indices behind.
    const canon = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
    const FINGERPRINTS: Record<number, string> = {
      1: '67de6d3125171f9e40f8c82a905c886af47b1a9fa75285bf2a183361ac91944c',
      2: '35338c6430f55c5ace4f8c2ff2e60a27c2b1c8944741522169e7faa8d21c08f3',
    };
    const now = createHash('sha256').update(JSON.stringify(canon(indexBody()))).digest('hex');
    expect(now, `the index body changed: raise MAPPING_VERSION and add its fingerprint ${now}`).toBe(FINGERPRINTS[MAPPING_VERSION]);
    expect(indexBody().settings.index).toEqual({ number_of_shards: 1, auto_expand_replicas: '0-1', max_result_window: 10000, refresh_interval: '1s' });
  });
});

describe('first use', () => {
  it('creates <alias>-v2 together with the alias when nothing exists', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', httpError(404, recorded('index-not-found.json')));
    h.on('PUT', '/archive-v2', recorded('create-index.json'));
    const store = h.store();
    await store.init();
    await store.init(); // once only
    expect(h.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /archive/_mapping', 'PUT /archive-v2']);
    expect(h.requests[1]!.body).toEqual({ ...indexBody(), aliases: { archive: { is_write_index: true } } });
  });

  it('uses the index the alias points at when its mapping version is this one', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('GET', '/archive/_count', recorded('count.json'));
    expect(await store.count()).toBe(30);
    expect(h.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /archive/_mapping', 'GET /archive/_count']);
  });

  it('refuses an index of another mapping version, naming the command that migrates it', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', mappingOf('archive-v0', 0));
    const err = await h.store().count().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).reason).toBe(
      'index archive-v0 (alias archive) has mapping version 0, this program needs 2: run `archive es migrate`',
    );
  });

  it('refuses a concrete index that has the alias name', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', { archive: { mappings: { properties: {} } } });
    await expect(h.store().search({})).rejects.toThrow(/archive is an index, not an alias/);
  });

  it('accepts the index another process created at the same moment', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', httpError(404, recorded('index-not-found.json')), mappingOf());
    h.on(
      'PUT',
      '/archive-v2',
      httpError(400, {
        error: { type: 'resource_already_exists_exception', reason: 'index [archive-v2/x1Yq] already exists', index: 'archive-v2' },
        status: 400,
      }),
    );
    await h.store().init();
  });

  it('retries the first use after a failure instead of keeping the error', async () => {
    h = new Harness();
    h.on('GET', '/archive/_mapping', refused(), mappingOf());
    h.on('GET', '/archive/_count', recorded('count.json'));
    const store = h.store();
    await expect(store.count()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await store.count()).toBe(30);
  });

  it('opens through openStore without connecting (the server starts while the cluster is down)', async () => {
    const cfg = loadConfig({ STORE_BACKEND: 'elasticsearch', ES_URL: 'http://127.0.0.1:1', ES_INDEX: 'archive' }, '/tmp');
    const store = await openStore(cfg);
    expect(store.backend).toBe('elasticsearch');
    await store.close();
  });
});

describe('query bodies', () => {
  it('one term: match_phrase per weighted field, constant_score boosts, sorted by score then id', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE);
    await store.search({ q: '東京' });
    expect(h.to('POST', '/archive/_search')[0]!.body).toEqual({
      query: {
        bool: {
          must: [
            {
              bool: {
                should: [
                  { constant_score: { filter: { match_phrase: { 'search.id': { query: '東京' } } }, boost: 8 } },
                  { constant_score: { filter: { match_phrase: { 'search.title': { query: '東京' } } }, boost: 10 } },
                  { constant_score: { filter: { match_phrase: { 'search.creator': { query: '東京' } } }, boost: 5 } },
                  { constant_score: { filter: { match_phrase: { 'search.subjects': { query: '東京' } } }, boost: 4 } },
                  { constant_score: { filter: { match_phrase: { 'search.place': { query: '東京' } } }, boost: 3 } },
                  { constant_score: { filter: { match_phrase: { 'search.collection': { query: '東京' } } }, boost: 2 } },
                  { constant_score: { filter: { match_phrase: { 'search.description': { query: '東京' } } }, boost: 2 } },
                  { constant_score: { filter: { match_phrase: { 'search.notes': { query: '東京' } } }, boost: 1 } },
                ],
                minimum_should_match: 1,
              },
            },
          ],
        },
      },
      sort: [{ _score: { order: 'desc' } }, { id: { order: 'asc' } }],
      from: 0,
      size: 20,
      track_total_hits: true,
      _source: ['record', 'indexed_at', 'updated_at', 's3_uploaded'],
      aggs: {
        batch: { terms: { field: 'batch', size: 1024, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
        type: { terms: { field: 'type', size: 1024, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
      },
    });
    expect(h.to('POST', '/archive/_search')[0]!.querystring).toEqual({});
  });

  it('two terms: one must clause each; a term with punctuation is its bigrams, space-separated', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE);
    await store.search({ q: '東京 大阪' });
    await store.search({ q: '東京・大阪 ｓｔａｔｉｏｎ' });
    const [a, b] = h.to('POST', '/archive/_search').map((r) => r.body as { query: unknown });
    expect(a!.query).toEqual({ bool: { must: [term('東京'), term('大阪')] } });
    // "station" is one Latin word: the whole-word bonus rides along as an optional clause.
    expect(b!.query).toEqual({ bool: { must: [term('東京 大阪'), term('st ta at ti io on')], should: [wholeWord('station')] } });
  });

  it('a quoted phrase is one term: the bigrams of both words in one match_phrase', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE);
    await store.search({ q: '"tokyo station"' });
    expect((h.requests[1]!.body as { query: unknown }).query).toEqual({ bool: { must: [term('to ok ky yo st ta at ti io on')] } });
  });

  it('width and case variants send the same query (normalised before it is sent)', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE, NONE, NONE, NONE);
    for (const q of ['ＡＢＣ', 'abc', 'ABC', 'ｱｲｳ', 'アイウ']) await store.search({ q });
    const queries = h.to('POST', '/archive/_search').map((r) => (r.body as { query: unknown }).query);
    expect(queries[0]).toEqual({ bool: { must: [term('ab bc')], should: [wholeWord('abc')] } });
    expect(queries[1]).toEqual(queries[0]);
    expect(queries[2]).toEqual(queries[0]);
    expect(queries[3]).toEqual({ bool: { must: [term('あい いう')] } });
    expect(queries[4]).toEqual(queries[3]);
  });

  it('filters: batch and type as terms (any of), s3_uploaded as a term; empty lists are no filter', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE, NONE);
    await store.search({ q: '東京', filters: { batch: ['R01', 'R03'], type: ['地図', '絵葉書'], s3_uploaded: false } });
    await store.search({ filters: { type: ['地図'] } });
    await store.search({ q: '東京', filters: { batch: [], type: [] } });
    const bodies = h.to('POST', '/archive/_search').map((r) => r.body as Record<string, unknown>);
    expect(bodies[0]!.query).toEqual({
      bool: {
        must: [term('東京')],
        filter: [{ terms: { batch: ['R01', 'R03'] } }, { terms: { type: ['地図', '絵葉書'] } }, { term: { s3_uploaded: false } }],
      },
    });
    expect(bodies[1]).toEqual({
      query: { bool: { filter: [{ terms: { type: ['地図'] } }] } },
      sort: BY_ID,
      from: 0,
      size: 20,
      track_total_hits: true,
      _source: SOURCE,
      aggs: AGGS,
    });
    expect(bodies[2]!.query).toEqual({ bool: { must: [term('東京')] } });
  });

  it('an access filter (any of the levels) when the request carries one', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE);
    await store.search({ filters: { access: ['open', 'members'] } } as never);
    await store.search({ filters: { access: [] } } as never);
    const bodies = h.to('POST', '/archive/_search').map((r) => (r.body as { query: unknown }).query);
    expect(bodies[0]).toEqual({ bool: { filter: [{ terms: { access: ['open', 'members'] } }] } });
    // An empty access list lets nothing through (unlike batch/type, where it means no filter).
    expect(bodies[1]).toEqual({ bool: { filter: [{ terms: { access: [] } }] } });
  });

  it('paging: from/size from page and pageSize, clamped as the embedded store clamps them', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE, NONE, NONE);
    const res = await store.search({ q: '梅林', page: 2, pageSize: 3 });
    await store.search({ q: '梅林', page: 0, pageSize: 1000 });
    await store.search({ q: '梅林', page: 2.7, pageSize: -5 });
    await store.search({ q: '梅林', page: Number.NaN, pageSize: Number.NaN });
    expect([res.page, res.pageSize]).toEqual([2, 3]);
    const fromSize = h.to('POST', '/archive/_search').map((r) => {
      const b = r.body as { from: number; size: number };
      return [b.from, b.size];
    });
    expect(fromSize).toEqual([
      [3, 3],
      [0, 100],
      [1, 1],
      [0, 20],
    ]);
  });

  it('sort=id with a query: id order only (scores reported as 0); browsing: match_all by id', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE, NONE);
    await store.search({ q: '梅林', sort: 'id' });
    await store.search({ sort: 'relevance' });
    await store.search({ q: '   ' });
    const bodies = h.to('POST', '/archive/_search').map((r) => r.body as Record<string, unknown>);
    expect(bodies[0]!.sort).toEqual(BY_ID);
    expect(bodies[0]!.query).toEqual({ bool: { must: [term('梅林')] } });
    expect(bodies[1]).toEqual({ query: { match_all: {} }, sort: BY_ID, from: 0, size: 20, track_total_hits: true, _source: SOURCE, aggs: AGGS });
    expect(bodies[2]).toEqual(bodies[1]);
  });

  it('sends nothing for a query with nothing searchable in it', async () => {
    h = new Harness();
    const store = h.store();
    for (const q of ['の', 'の ぬ', '・', '"a"']) {
      const res = await store.search({ q, filters: { batch: ['R01'] } });
      expect(res.unsearchable).toBe(true);
      expect(res.total).toBe(0);
      expect(res.facets).toEqual({ batch: [], type: [] });
    }
    expect((await store.search({ q: 'の ぬ' })).tooShort).toEqual(['の', 'ぬ']);
    expect(h.requests).toEqual([]);
  });

  it('forgiving search: one Han character is a term query on the unigram sub-fields at the unigram weights', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE);
    await store.search({ q: '港' });
    await store.search({ q: '港 横浜' });
    const [a, b] = h.to('POST', '/archive/_search').map((r) => (r.body as { query: unknown }).query);
    const uni = {
      bool: {
        should: [
          ['id', 4],
          ['title', 5],
          ['creator', 3],
          ['subjects', 2],
          ['place', 2],
          ['collection', 1],
          ['description', 1],
          ['notes', 1],
        ].map(([f, w]) => ({ constant_score: { filter: { term: { [`search.${f}.uni`]: '港' } }, boost: w } })),
        minimum_should_match: 1,
      },
    };
    expect(a).toEqual({ bool: { must: [uni] } });
    // Not dropped from a longer query any more.
    expect(b).toEqual({ bool: { must: [uni, term('横浜')] } });
  });

  it('forgiving search: katakana, hiragana and half-width katakana send the same query', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE, NONE);
    for (const q of ['ほてる', 'ホテル', 'ﾎﾃﾙ']) await store.search({ q });
    const queries = h.to('POST', '/archive/_search').map((r) => (r.body as { query: unknown }).query);
    expect(queries[0]).toEqual({ bool: { must: [term('ほて てる')] } });
    expect(queries[1]).toEqual(queries[0]);
    expect(queries[2]).toEqual(queries[0]);
  });

  it('forgiving search: a Latin word adds one whole-word bonus (100) over every field’s word sub-field, once per word', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE);
    await store.search({ q: 'port PORT' });
    await store.search({ q: 'r02-0003' });
    const [a, b] = h.to('POST', '/archive/_search').map((r) => (r.body as { query: unknown }).query);
    expect(a).toEqual({ bool: { must: [term('po or rt'), term('po or rt')], should: [wholeWord('port')] } });
    expect(b).toEqual({ bool: { must: [term('r0 02 00 00 03')] } });
  });

  it('walks past max_result_window with search_after: total and facets, sort-key hops, then the page', async () => {
    h = new Harness();
    const store = h.ready();
    const keys = (n: number, from: number) => ({
      hits: {
        total: { value: 25000, relation: 'eq' },
        hits: Array.from({ length: n }, (_, i) => ({ _id: `X${from + i}`, _score: null, sort: [8.0, `X${String(from + i).padStart(6, '0')}`] })),
      },
    });
    h.on('POST', '/archive/_search', {
      hits: { total: { value: 25000, relation: 'eq' }, hits: [] },
      aggregations: { batch: { buckets: [{ key: 'R01', doc_count: 25000 }] }, type: { buckets: [] } },
    });
    const doc = recorded('get-found.json')._source;
    const page = { hits: { hits: [{ _id: 'R01-0002', _score: 8.0, _source: doc, sort: [8.0, 'R01-0002'] }] } };
    h.on('POST', '/archive/_search', keys(10000, 0), keys(10000, 10000), page);
    const res = await store.search({ q: '0000', page: 201, pageSize: 100 });
    const bodies = h.to('POST', '/archive/_search').map((r) => r.body as Record<string, unknown>);
    const query = { bool: { must: [term('00 00 00')] } };
    expect(bodies[0]).toEqual({ query, size: 0, track_total_hits: true, aggs: AGGS });
    expect(bodies[1]).toEqual({ query, sort: BY_SCORE, size: 10000, _source: false, track_total_hits: false });
    expect(bodies[2]).toEqual({ query, sort: BY_SCORE, size: 10000, _source: false, track_total_hits: false, search_after: [8, 'X009999'] });
    expect(bodies[3]).toEqual({ query, sort: BY_SCORE, size: 100, search_after: [8, 'X019999'], _source: SOURCE, track_total_hits: false });
    expect(res.total).toBe(25000);
    expect(res.facets.batch).toEqual([{ value: 'R01', count: 25000 }]);
    expect(res.page).toBe(201);
    expect(ranked(res)).toEqual([['R01-0002', 8]]);
  });

  it('answers a page beyond the last one from the totals alone', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', { hits: { total: { value: 30, relation: 'eq' }, hits: [] }, aggregations: {} });
    const res = await store.search({ page: 500, pageSize: 100 });
    expect(res).toMatchObject({ total: 30, hits: [], page: 500, pageSize: 100 });
  });
});

describe('reading recorded responses', () => {
  it('a ranked search: hits in order with their scores, total, facets', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-tokyo.json'));
    const res = await store.search({ q: '東京' });
    expect(ranked(res)).toEqual(TOKYO_RANKING);
    expect(res.total).toBe(11);
    expect([res.page, res.pageSize, res.unsearchable, res.tooShort]).toEqual([1, 20, false, []]);
    expect(res.facets).toEqual({
      batch: [
        { value: 'R03', count: 5 },
        { value: 'R01', count: 4 },
        { value: 'R02', count: 2 },
      ],
      type: [
        { value: '写真', count: 8 },
        { value: '絵葉書', count: 2 },
        { value: '地図', count: 1 },
      ],
    });
    expect(res.hits[0]!.record).toEqual({
      ...item('R01-0002'),
      indexed_at: T0.toISOString(),
      updated_at: T0.toISOString(),
      s3_uploaded: false,
    });
  });

  it('a page sorted by id: scores are 0', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-tokyo-sort-id-page2.json'));
    const res = await store.search({ q: '東京', sort: 'id', page: 2, pageSize: 4 });
    expect(ranked(res)).toEqual([
      ['R02-0007', 0],
      ['R02-0011', 0],
      ['R03-0001', 0],
      ['R03-0003', 0],
    ]);
    expect(res.total).toBe(11);
  });

  it('a filtered browse and an empty result', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-browse-maps.json'), NONE);
    const maps = await store.search({ filters: { type: ['地図'] } });
    expect(ranked(maps)).toEqual([
      ['R01-0007', 0],
      ['R02-0008', 0],
      ['R03-0007', 0],
    ]);
    expect(maps.facets).toEqual({
      batch: [
        { value: 'R01', count: 1 },
        { value: 'R02', count: 1 },
        { value: 'R03', count: 1 },
      ],
      type: [{ value: '地図', count: 3 }],
    });
    expect(await store.search({ q: '存在しない言葉' })).toEqual({
      total: 0,
      page: 1,
      pageSize: 20,
      hits: [],
      facets: { batch: [], type: [] },
      tooShort: [],
      unsearchable: false,
    });
  });

  it('get: the record as given plus the store fields, or null', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('GET', '/archive/_doc/R01-0002', recorded('get-found.json'));
    h.on('GET', '/archive/_doc/R99-9999', httpError(404, recorded('get-missing.json')));
    expect(await store.get('R01-0002')).toEqual({ ...item('R01-0002'), indexed_at: T0.toISOString(), updated_at: T0.toISOString(), s3_uploaded: false });
    expect(await store.get('R99-9999')).toBeNull();
    expect(await store.get('')).toBeNull();
    expect(await store.get('x'.repeat(513))).toBeNull();
    expect(h.to('GET', '/archive/_doc/R01-0002')[0]!.querystring).toEqual({ _source_includes: 'record,indexed_at,updated_at,s3_uploaded' });
  });

  it('getImage: one term query on image_ids, the image with its record and access level', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-image.json'));
    expect(await store.getImage('R01-0001_02')).toEqual({
      id: 'R01-0001_02',
      file: 'R01/R01-0001/02.tif',
      label: { ja: '裏', en: 'back' },
      width: 3990,
      height: 2980,
      itemId: 'R01-0001',
      access: 'open',
    });
    expect(h.requests[1]!.body).toEqual({ size: 1, _source: ['record', 'access'], query: { term: { image_ids: 'R01-0001_02' } } });
    // Malformed ids never reach Elasticsearch.
    expect(await store.getImage('../etc/passwd')).toBeNull();
    expect(await store.getImage('')).toBeNull();
  });
});

describe('bulk upsert', () => {
  const ownerCheck = (images: string[], ids: string[]) => ({
    size: images.length,
    _source: ['id', 'image_ids', 's3_uploaded'],
    query: { bool: { filter: [{ terms: { image_ids: images } }], must_not: [{ ids: { values: ids } }] } },
  });

  it('checks image ownership, then sends one update per record (upsert body + script) in one bulk request', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-no-owners.json'));
    h.on('POST', '/archive/_bulk', recorded('bulk-upsert-created.json'));
    const a = item('R01-0001');
    const b = item('R01-0002');
    expect(await store.upsert([a, b], T1)).toEqual({ inserted: 1, updated: 1 });
    expect(h.requests[1]!.body).toEqual(ownerCheck(['R01-0001_01', 'R01-0001_02', 'R01-0002_01'], ['R01-0001', 'R01-0002']));
    const bulk = h.to('POST', '/archive/_bulk')[0]!;
    expect(bulk.querystring).toEqual({ refresh: 'wait_for', require_alias: 'true' });
    const now = T1.toISOString();
    expect(bulk.body).toEqual([
      { update: { _id: 'R01-0001', retry_on_conflict: 3 } },
      { upsert: firstInsertDoc(a, now), script: { source: UPSERT_SCRIPT, lang: 'painless', params: { doc: docInput(a), now } } },
      { update: { _id: 'R01-0002', retry_on_conflict: 3 } },
      { upsert: firstInsertDoc(b, now), script: { source: UPSERT_SCRIPT, lang: 'painless', params: { doc: docInput(b), now } } },
    ]);
    // The upsert body is the whole first-insert document, timestamps and empty upload state included.
    expect(firstInsertDoc(a, now)).toEqual({ ...docInput(a), indexed_at: now, updated_at: now, uploads: [], s3_uploaded: false });
  });

  it('writes indexed_at only in the upsert body (first insert), never in the script or a partial doc', async () => {
    h = new Harness();
    const store = h.ready();
    const a = item('R01-0001');
    const created = recorded('bulk-upsert-created.json');
    const answer = (result: 'created' | 'updated') => ({ ...created, items: [{ update: { ...created.items[0].update, result, status: result === 'created' ? 201 : 200 } }] });
    h.on('POST', '/archive/_search', recorded('search-no-owners.json'), recorded('search-no-owners.json'));
    h.on('POST', '/archive/_bulk', answer('created'), answer('updated'));
    expect(await store.upsert([a], T0)).toEqual({ inserted: 1, updated: 0 });
    expect(await store.upsert([a], T1)).toEqual({ inserted: 0, updated: 1 });
    const bodies = h.to('POST', '/archive/_bulk').map((r) => r.body as Array<Record<string, any>>);
    for (const [k, body] of bodies.entries()) {
      const now = [T0, T1][k]!.toISOString();
      const [action, update] = body as [Record<string, unknown>, Record<string, any>];
      expect(action).toEqual({ update: { _id: 'R01-0001', retry_on_conflict: 3 } });
      // Elasticsearch indexes `upsert` only when the document is missing, and runs the script only
      // when it exists: no scripted_upsert (the script would run on insert), no doc_as_upsert, no doc.
      expect(Object.keys(update).sort()).toEqual(['script', 'upsert']);
      expect(update.upsert.indexed_at).toBe(now);
      expect(update.upsert.updated_at).toBe(now);
      expect(update.script.params.now).toBe(now);
      expect(JSON.stringify(update.script.params)).not.toContain('indexed_at');
    }
    // Nothing changed between the two runs: the requests differ in their times only.
    const times = (b: unknown) => JSON.stringify(b).replaceAll(T0.toISOString(), 'T').replaceAll(T1.toISOString(), 'T');
    expect(times(bodies[1])).toBe(times(bodies[0]));
  });

  it('sends the record as given, its searchable values as arrays, exact-value fields beside them', () => {
    const r = item('R01-0001');
    expect(docInput(r)).toEqual({
      id: 'R01-0001',
      batch: 'R01',
      type: '写真',
      access: 'open',
      image_ids: ['R01-0001_01', 'R01-0001_02'],
      search: {
        id: ['R01-0001'],
        title: ['浅草寺の雷門', 'Kaminarimon Gate, Sensoji'],
        creator: ['山田太郎'],
        subjects: ['寺院', '門'],
        place: ['東京 浅草'],
        collection: ['山田家旧蔵写真'],
        description: ['浅草の雷門を正面から写す。'],
        notes: [],
      },
      record: r,
    });
    expect(docInput({ ...item('R01-0008'), type: ' ' }).type).toBeNull();
    expect(docInput(item('R01-0008')).access).toBe('open');
    expect(docInput({ ...item('R02-0003'), subjects: ['梅林', 7 as never, ''] }).search.subjects).toEqual(['梅林']);
  });

  it('copies a stored record whole (rebuilds): timestamps, upload state from the images\' s3Key when nothing better is known', () => {
    const rec = { ...item('R01-0001'), indexed_at: T0.toISOString(), updated_at: T1.toISOString(), s3_uploaded: false };
    rec.images[0]!.s3Key = 'photos/R01-0001_01.tif';
    expect(docFromRecord(rec)).toEqual({
      ...docInput(item('R01-0001')),
      record: { ...item('R01-0001'), images: [{ ...item('R01-0001').images[0]!, s3Key: 'photos/R01-0001_01.tif' }, item('R01-0001').images[1]] },
      indexed_at: T0.toISOString(),
      updated_at: T1.toISOString(),
      uploads: [{ image: 'R01-0001_01', file: 'R01/R01-0001/01.tif', key: 'photos/R01-0001_01.tif', size: null, at: null }],
      s3_uploaded: false,
    });
  });

  it('keeps indexed_at, sets updated_at and carries uploads in the script (verified live)', () => {
    // The script's rules, as text: what elasticsearch.live.test.ts proves on a cluster. It runs on
    // existing documents only, so it keeps the stored indexed_at and never takes one from params.
    expect(UPSERT_SCRIPT).toContain('def indexedAt = s.indexed_at;');
    expect(UPSERT_SCRIPT).toContain('s.indexed_at = indexedAt;');
    expect(UPSERT_SCRIPT).not.toMatch(/indexed_at\s*=\s*params|indexedAt\s*=\s*params|params\.doc\.indexed_at/);
    expect(UPSERT_SCRIPT).toContain('s.updated_at = params.now;');
    expect(UPSERT_SCRIPT).toContain('u.file == img.file');
    expect(UPSERT_SCRIPT).toContain('boolean all = d.record.images.size() > 0;');
    expect(MARK_UPLOADED_SCRIPT).toContain('boolean all = images.size() > 0;');
  });

  it('retries 429 and 503 items with backoff, reports a permanent failure per record, never drops one', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-no-owners.json'));
    h.on('POST', '/archive/_bulk', recorded('bulk-upsert-partial.json'), recorded('bulk-upsert-retry.json'));
    const items = ['R01-0001', 'R01-0002', 'R01-0003', 'R01-0004'].map(item);
    const err = await store.upsert(items, T1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulkWriteError);
    const e = err as BulkWriteError;
    expect(e.failures).toEqual([
      {
        id: 'R01-0003',
        status: 400,
        type: 'document_parsing_exception',
        reason:
          "[1:38] failed to parse field [indexed_at] of type [date] in document with id 'R01-0003'. Preview of field's value: 'yesterday', " +
          'caused by illegal_argument_exception: failed to parse date field [yesterday] with format [strict_date_optional_time||epoch_millis]',
        attempts: 1,
      },
    ]);
    expect(e.written).toBe(3);
    expect(e.message).toMatch(/^upsert: 1 of 4 records were not written: R01-0003 \(400 document_parsing_exception: /);
    // The second request carries exactly the two retryable records, after one backoff.
    const [first, second] = h.to('POST', '/archive/_bulk');
    expect((first!.body as unknown[]).length).toBe(8);
    expect((second!.body as Array<Record<string, { _id: string }>>).filter((_, i) => i % 2 === 0).map((a) => a.update!._id)).toEqual([
      'R01-0002',
      'R01-0004',
    ]);
    expect(h.sleeps).toEqual([100]);
  });

  it('goes on with the next bulk request after a failure and reports every failed record at the end', async () => {
    h = new Harness();
    const store = h.ready();
    const items: ItemInput[] = Array.from({ length: 1001 }, (_, i) => ({ id: `X-${String(i).padStart(4, '0')}`, batch: 'R01', title: { ja: '題' }, images: [] }));
    const ok = (id: string) => ({ update: { _index: 'archive-v2', _id: id, _version: 1, result: 'created', status: 201 } });
    const refusedItem = recorded('bulk-upsert-partial.json').items[2];
    h.on(
      'POST',
      '/archive/_bulk',
      { errors: true, took: 90, items: items.slice(0, 1000).map((it, i) => (i === 7 ? { update: { ...refusedItem.update, _id: it.id } } : ok(it.id))) },
      { errors: false, took: 2, items: [ok('X-1000')] },
    );
    const err = (await store.upsert(items, T0).catch((e: unknown) => e)) as BulkWriteError;
    expect(err).toBeInstanceOf(BulkWriteError);
    expect(err.failures.map((f) => [f.id, f.status])).toEqual([['X-0007', 400]]);
    expect(err.written).toBe(1000);
    expect(err.message).toMatch(/^upsert: 1 of 1001 records were not written: X-0007 \(400 document_parsing_exception/);
    expect(h.to('POST', '/archive/_bulk').map((r) => (r.body as unknown[]).length)).toEqual([2000, 2]);
  });

  it('gives up on a retryable item after the configured attempts and names it', async () => {
    h = new Harness();
    const store = h.ready({ retry: { attempts: 2, baseMs: 50 } });
    const rejected = recorded('bulk-upsert-partial.json');
    const only429 = { ...rejected, items: [rejected.items[1]] };
    h.on('POST', '/archive/_search', recorded('search-no-owners.json'));
    h.on('POST', '/archive/_bulk', only429, only429);
    await expect(store.upsert([item('R01-0002')], T1)).rejects.toThrow(
      /^upsert: 1 of 1 records were not written: R01-0002 \(429 es_rejected_execution_exception: rejected execution of coordinating operation .*; 2 attempts\)$/,
    );
    expect(h.sleeps).toEqual([50]);
  });

  it('reports a record whose bulk result is missing (an empty item) instead of dropping it', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-no-owners.json'));
    h.on('POST', '/archive/_bulk', { errors: true, took: 1, items: [{}] });
    const err = (await store.upsert([item('R01-0001')], T1).catch((e: unknown) => e)) as BulkWriteError;
    expect(err).toBeInstanceOf(BulkWriteError);
    expect(err.failures).toEqual([{ id: 'R01-0001', status: 500, type: 'empty_bulk_item', reason: 'no result for this operation', attempts: 1 }]);
  });

  it('retries a whole bulk request rejected with 429', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-no-owners.json'));
    h.on('POST', '/archive/_bulk', httpError(429, recorded('bulk-rejected-429.json')), recorded('bulk-upsert-created.json'));
    expect(await store.upsert([item('R01-0001'), item('R01-0002')], T1)).toEqual({ inserted: 1, updated: 1 });
    expect(h.sleeps).toEqual([100]);
  });

  it('rejects an image owned by a record outside the upsert, writing nothing', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', {
      hits: { total: { value: 1, relation: 'eq' }, hits: [{ _id: 'R01-0001', _source: { id: 'R01-0001', image_ids: ['R01-0001_01', 'R01-0001_02'], s3_uploaded: false } }] },
    });
    const b = { ...item('R01-0002'), images: [{ id: 'R01-0002_01', file: 'a.tif' }, { id: 'R01-0001_01', file: 'x.tif' }] };
    await expect(store.upsert([b], T1)).rejects.toThrow('upsert: image R01-0001_01 of R01-0002 already belongs to R01-0001');
    expect(h.to('POST', '/archive/_bulk')).toEqual([]);
  });

  it('checks the input before sending anything, with the embedded store messages', async () => {
    h = new Harness();
    const store = h.store();
    const a = item('R01-0001');
    await expect(store.upsert([a, { ...item('R01-0002'), images: [{ id: 'R01-0001_01', file: 'x.tif' }] }], T0)).rejects.toThrow(
      'upsert: image R01-0001_01 is listed by both R01-0001 and R01-0002',
    );
    await expect(store.upsert([{ ...a, images: [{ id: '../x', file: 'a.tif' }] }], T0)).rejects.toThrow('upsert: R01-0001: invalid image id "../x"');
    await expect(store.upsert([{ ...a, batch: ' ' }], T0)).rejects.toThrow('upsert: R01-0001: no batch');
    await expect(store.upsert([{ ...a, access: 'public' as never }], T0)).rejects.toThrow('upsert: R01-0001: unknown access level "public"');
    await expect(store.upsert([{ ...a, type: 3 as never }], T0)).rejects.toThrow('upsert: R01-0001: type must be a string');
    await expect(store.upsert([{ ...a, id: 'あ'.repeat(171) }], T0)).rejects.toThrow(/ids longer than 512 bytes cannot be stored in Elasticsearch/);
    expect(await store.upsert([], T0)).toEqual({ inserted: 0, updated: 0 });
    expect(h.requests).toEqual([]);
  });

  it('sends the last of two records with the same id, once', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-no-owners.json'));
    h.on('POST', '/archive/_bulk', { errors: false, took: 3, items: [{ update: { _id: 'R01-0001', result: 'created', status: 201 } }] });
    const a = item('R01-0001');
    const second = { ...a, title: { ja: '二枚目' } };
    expect(await store.upsert([a, second], T0)).toEqual({ inserted: 1, updated: 0 });
    const body = h.to('POST', '/archive/_bulk')[0]!.body as Array<{ script?: { params: { doc: unknown } } }>;
    expect(body).toHaveLength(2);
    expect(body[1]!.script!.params.doc).toEqual(docInput(second));
  });
});

describe('markUploaded', () => {
  it('finds the owners, updates each record once with its uploads, counts completed records', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-image-owners.json'));
    h.on('POST', '/archive/_bulk', recorded('bulk-mark-uploaded.json'));
    const at = T1.toISOString();
    const report = await store.markUploaded([
      { imageId: 'R01-0001_01', key: 'photos/R01-0001_01.tif', size: 10, at },
      { imageId: 'nope', key: 'photos/nope.tif', size: 1, at },
      { imageId: 'R01-0002_01', key: 'photos/R01-0002_01.tif', size: 30, at },
      { imageId: 'R01-0001_02', key: 'photos/R01-0001_02.tif', size: 20, at },
    ]);
    expect(report).toEqual({ images: 3, unknown: ['nope'], completed: 1 });
    expect(h.requests[1]!.body).toEqual({
      size: 4,
      _source: ['id', 'image_ids', 's3_uploaded'],
      query: { bool: { filter: [{ terms: { image_ids: ['R01-0001_01', 'nope', 'R01-0002_01', 'R01-0001_02'] } }] } },
    });
    const bulk = h.to('POST', '/archive/_bulk')[0]!;
    expect(bulk.querystring).toEqual({ refresh: 'wait_for', require_alias: 'true' });
    expect(bulk.body).toEqual([
      { update: { _id: 'R01-0001', retry_on_conflict: 3 } },
      {
        script: {
          source: MARK_UPLOADED_SCRIPT,
          lang: 'painless',
          params: {
            uploads: [
              { image: 'R01-0001_01', key: 'photos/R01-0001_01.tif', size: 10, at },
              { image: 'R01-0001_02', key: 'photos/R01-0001_02.tif', size: 20, at },
            ],
          },
        },
        _source: ['s3_uploaded'],
      },
      { update: { _id: 'R01-0002', retry_on_conflict: 3 } },
      {
        script: { source: MARK_UPLOADED_SCRIPT, lang: 'painless', params: { uploads: [{ image: 'R01-0002_01', key: 'photos/R01-0002_01.tif', size: 30, at }] } },
        _source: ['s3_uploaded'],
      },
    ]);
  });

  it('checks its input and sends nothing for an empty list', async () => {
    h = new Harness();
    const store = h.store();
    await expect(store.markUploaded([{ imageId: 'a', key: 'k', size: -1, at: 'now' }])).rejects.toThrow(/markUploaded: invalid entry/);
    expect(await store.markUploaded([])).toEqual({ images: 0, unknown: [], completed: 0 });
    expect(h.requests).toEqual([]);
  });
});

describe('listImages', () => {
  it('reads the documents in id order (search_after) and lists their images with the upload state', async () => {
    h = new Harness();
    const store = h.ready();
    const r1 = item('R01-0001');
    r1.images[1]!.s3Key = 'photos/R01-0001_02.tif';
    const page1 = {
      hits: {
        hits: [
          {
            _id: 'R01-0001',
            _source: {
              id: 'R01-0001',
              batch: 'R01',
              record: { images: r1.images },
              uploads: [{ image: 'R01-0001_02', file: 'R01/R01-0001/02.tif', key: 'photos/R01-0001_02.tif', size: 77, at: T1.toISOString() }],
            },
            sort: ['R01-0001'],
          },
          { _id: 'R01-0008', _source: { id: 'R01-0008', batch: 'R01', record: { images: [] }, uploads: [] }, sort: ['R01-0008'] },
        ],
      },
    };
    h.on('POST', '/archive/_search', page1, page1);
    const all = await store.listImages();
    expect(all).toEqual([
      { id: 'R01-0001_01', itemId: 'R01-0001', batch: 'R01', file: 'R01/R01-0001/01.tif' },
      { id: 'R01-0001_02', itemId: 'R01-0001', batch: 'R01', file: 'R01/R01-0001/02.tif', s3Key: 'photos/R01-0001_02.tif', s3Size: 77, uploadedAt: T1.toISOString() },
    ]);
    expect((await store.listImages({ batch: ['R01'], uploaded: false })).map((i) => i.id)).toEqual(['R01-0001_01']);
    const [a, b] = h.to('POST', '/archive/_search').map((r) => r.body);
    expect(a).toEqual({
      size: 1000,
      sort: [{ id: { order: 'asc' } }],
      _source: ['id', 'batch', 'record.images', 'uploads'],
      track_total_hits: false,
      query: { match_all: {} },
    });
    expect((b as { query: unknown }).query).toEqual({ bool: { filter: [{ terms: { batch: ['R01'] } }] } });
  });
});

describe('an unreachable or refusing cluster', () => {
  it('connection refused: StoreUnavailableError naming the node without its credentials', async () => {
    const cfg = loadConfig({ STORE_BACKEND: 'elasticsearch', ES_URL: 'http://elastic:s3cret@127.0.0.1:1', ES_TIMEOUT_MS: '2000' }, '/tmp');
    const store = await openStore(cfg);
    const err = await store.search({ q: '東京' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).reason).toMatch(/^cannot connect to http:\/\/127\.0\.0\.1:1 \(/);
    expect(String((err as Error).message)).not.toContain('s3cret');
    await store.close();
  });

  it('a cluster that does not answer: StoreUnavailableError after the timeout', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = http.createServer(() => {
      /* never answers */
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const cfg = loadConfig({ STORE_BACKEND: 'elasticsearch', ES_URL: `http://127.0.0.1:${port}`, ES_TIMEOUT_MS: '200' }, '/tmp');
      const store = await openStore(cfg);
      // The test's own timeout is the bound: a client that ignored ES_TIMEOUT_MS would hang here.
      const err = await store.count().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as StoreUnavailableError).reason).toBe(`no answer from http://127.0.0.1:${port} within 200 ms`);
      await store.close();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('refused credentials, an unavailable cluster, a deleted index: StoreUnavailableError with the reason', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', httpError(401, recorded('security-401.json')), httpError(503, recorded('search-unavailable-503.json')));
    h.on('GET', '/archive/_count', httpError(404, recorded('index-not-found.json')), recorded('count.json'));
    await expect(store.search({ q: '東京' })).rejects.toThrow(
      'the elasticsearch search store is unavailable: http://es.test:9200 refused the credentials (401 security_exception): check ES_API_KEY, ES_USERNAME/ES_PASSWORD or the user in ES_URL',
    );
    await expect(store.search({})).rejects.toThrow('http://es.test:9200 answered 503 search_phase_execution_exception');
    await expect(store.count()).rejects.toThrow('index archive does not exist on http://es.test:9200');
    // The next call checks the alias again (and would create the index if it were missing).
    h.on('GET', '/archive/_mapping', mappingOf());
    expect(await store.count()).toBe(30);
  });

  it('bad requests are not availability problems: they keep their own error', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', httpError(400, { error: { type: 'parsing_exception', reason: 'unknown query [x]' }, status: 400 }));
    const err = await store.search({ q: '東京' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errors.ResponseError);
    expect((err as InstanceType<typeof errors.ResponseError>).statusCode).toBe(400);
    expect(err).not.toBeInstanceOf(StoreUnavailableError);
  });

  it('/readyz (readiness) says what is wrong instead of failing', async () => {
    const cfg = loadConfig({ STORE_BACKEND: 'elasticsearch', ES_URL: 'http://127.0.0.1:1', DATA_DIR: '/tmp' }, '/tmp');
    const store = await openStore(cfg);
    const r = await readiness(cfg, async () => store);
    const check = r.checks.find((c) => c.name === 'store')!;
    expect(r.ok).toBe(false);
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/^the elasticsearch search store is unavailable: cannot connect to http:\/\/127\.0\.0\.1:1/);
    await store.close();
  });

  it('builds its client from the configuration: API key, user and password, timeout', () => {
    const withKey = createEsClient(loadConfig({ ES_URL: 'https://es.example.org:9243', ES_API_KEY: 'aWQ6a2V5' }, '/tmp').store);
    const withUser = createEsClient(loadConfig({ ES_URL: 'http://es:9200', ES_USERNAME: 'archive', ES_PASSWORD: 'p:w @' }, '/tmp').store);
    const auth = (c: Client) => (c.connectionPool.connections[0] as unknown as { headers: Record<string, string> }).headers.authorization;
    expect(auth(withKey)).toBe('ApiKey aWQ6a2V5');
    expect(auth(withUser)).toBe(`Basic ${Buffer.from('archive:p:w @').toString('base64')}`);
    expect(describeNode('http://elastic:secret@es.internal:9200/')).toBe('http://es.internal:9200');
    expect(describeNode('https://es.example.org/prefix')).toBe('https://es.example.org/prefix');
    void withKey.close();
    void withUser.close();
  });
});

describe('a store bound to a concrete index (rebuilds)', () => {
  it('writes without require_alias, with the requested refresh, and creates nothing', async () => {
    h = new Harness();
    const store = new EsStore({ client: h.client, alias: 'archive', index: 'archive-v2-20240601000000', refresh: true, ownsClient: false });
    h.on('POST', '/archive-v2-20240601000000/_search', recorded('search-no-owners.json'));
    h.on('POST', '/archive-v2-20240601000000/_bulk', recorded('bulk-upsert-created.json'));
    await store.upsert([item('R01-0001'), item('R01-0002')], T0);
    expect(h.to('POST', '/archive-v2-20240601000000/_bulk')[0]!.querystring).toEqual({ refresh: 'true' });
  });
});
