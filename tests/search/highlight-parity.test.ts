/**
 * Highlight parity between the backends: the same query marks the same substrings.
 *
 * A mock cannot show what Elasticsearch's highlighter does, so this suite checks the two things
 * that are ours: (a) the search request asks the highlighter for the fields the query searches,
 * analysed by the bigram and unigram analysers of the mapping, with the tags highlight.ts reads;
 * (b) for each case, the embedded store's marks and the marks read from the fragments Elasticsearch
 * answers with (written here as its unified highlighter forms them: each matched token between the
 * tags, overlapping tokens as one, offsets on the original text) come out identical, through both
 * adapters. The live suite (elasticsearch.live.test.ts, with ES_URL) compares real highlights.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docFromRecord } from '../../src/lib/search/es-docs.ts';
import { highlightSpec } from '../../src/lib/search/es-query.ts';
import { ANALYZER, UNIGRAM_ANALYZER, indexMappings } from '../../src/lib/search/es-settings.ts';
import { HIGHLIGHT_FIELDS, HIGHLIGHT_POST as E, HIGHLIGHT_PRE as S, hitSnippet, rangesOf, segments } from '../../src/lib/search/highlight.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { parseQuery } from '../../src/lib/search/text.ts';
import { Harness } from './es-harness.ts';
import { HIGHLIGHT_CASES as CASES, HIGHLIGHT_RECORDS as RECORDS } from './highlight-cases.ts';

let sqlite: SqliteStore;
beforeAll(async () => {
  sqlite = new SqliteStore(':memory:');
  await sqlite.init();
  await sqlite.upsert(RECORDS);
});
afterAll(async () => {
  await sqlite.close();
});

describe('(a) the highlighter request', () => {
  it('a search with terms asks for the searched fields, analysed as the query analyses them, whole values, our tags', async () => {
    const h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', { hits: { total: { value: 0, relation: 'eq' }, hits: [] }, aggregations: {} });
    await store.search({ q: '東京 港' });
    const body = h.to('POST', '/archive/_search')[0]!.body as { highlight: ReturnType<typeof highlightSpec>; query: unknown };
    expect(body.highlight).toEqual(highlightSpec(parseQuery('東京 港').terms));
    expect(body.highlight).toMatchObject({ type: 'unified', number_of_fragments: 0, require_field_match: true, pre_tags: [S], post_tags: [E] });
    // The terms to mark, as their own query: 東京's phrase in each bigram field, 港 in each unigram field.
    expect(body.highlight.highlight_query).toEqual({
      bool: {
        should: [
          ...HIGHLIGHT_FIELDS.map((f) => ({ match_phrase: { [`search.${f}`]: { query: '東京' } } })),
          ...HIGHLIGHT_FIELDS.map((f) => ({ term: { [`search.${f}.uni`]: '港' } })),
        ],
        minimum_should_match: 1,
      },
    });
    const fields = Object.keys(body.highlight.fields as Record<string, unknown>);
    expect(fields.sort()).toEqual(HIGHLIGHT_FIELDS.flatMap((f) => [`search.${f}`, `search.${f}.uni`]).sort());
    // Every highlighted field is a field the query searches, with the analyser the query uses.
    const query = JSON.stringify(body.query);
    const props = indexMappings().properties.search.properties as Record<string, { analyzer: string; fields: { uni: { analyzer: string } } }>;
    for (const f of HIGHLIGHT_FIELDS) {
      expect(query).toContain(`"search.${f}"`);
      expect(query).toContain(`"search.${f}.uni"`);
      expect(props[f]!.analyzer).toBe(ANALYZER);
      expect(props[f]!.fields.uni.analyzer).toBe(UNIGRAM_ANALYZER);
    }
  });

  it('browsing (no terms) asks for no highlights, and hits carry none', async () => {
    const h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', { hits: { total: { value: 0, relation: 'eq' }, hits: [] }, aggregations: {} });
    await store.search({});
    expect(h.to('POST', '/archive/_search')[0]!.body).not.toHaveProperty('highlight');
    const res = await sqlite.search({});
    expect(res.hits.every((hit) => hit.highlight === undefined)).toBe(true);
  });
});

describe('(b) the same marks from both backends', () => {
  for (const c of CASES) {
    it(`${c.q} in ${c.id}`, async () => {
      const local = await sqlite.search({ q: c.q });
      const hit = local.hits.find((x) => x.record.id === c.id);
      expect(hit, `${c.q} finds ${c.id} in the embedded store`).toBeDefined();

      const h = new Harness();
      const store = h.ready();
      const source = docFromRecord(hit!.record);
      h.on('POST', '/archive/_search', {
        hits: { total: { value: 1, relation: 'eq' }, hits: [{ _id: c.id, _score: hit!.score, _source: source, sort: [hit!.score, c.id], highlight: c.es }] },
        aggregations: {},
      });
      const remote = await store.search({ q: c.q });
      expect(remote.hits[0]!.record.id).toBe(c.id);
      expect(remote.hits[0]!.highlight).toEqual(hit!.highlight);
      expect(Object.keys(hit!.highlight ?? {}).length).toBeGreaterThan(0);
    });
  }

  it('what the page shows: the title and snippet pieces are the same, and markup stays text', async () => {
    const local = (await sqlite.search({ q: 'img' })).hits.find((x) => x.record.id === 'P-0007')!;
    const title = local.record.title.ja!;
    expect(segments(title, rangesOf(local.highlight, 'title', title))).toEqual([
      { text: '<', mark: false },
      { text: 'img', mark: true },
      { text: ' src=x onerror=alert(1)>の写真', mark: false },
    ]);
    const six = (await sqlite.search({ q: '東京 大阪' })).hits.find((x) => x.record.id === 'P-0006')!;
    expect(hitSnippet(six.highlight)).toEqual({
      field: 'notes',
      value: '東京と大阪',
      segments: [
        { text: '東京', mark: true },
        { text: 'と', mark: false },
        { text: '大阪', mark: true },
      ],
    });
  });
});
