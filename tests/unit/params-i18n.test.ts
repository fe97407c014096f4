import { describe, expect, test } from 'vitest';
import { parseItemList, parseSearchParams, searchQueryString, toggleFacet } from '../../src/lib/search/params.ts';
import { negotiateLang, pick, t } from '../../src/lib/i18n/strings.ts';

describe('search parameters', () => {
  test('parse and serialise round-trip in a canonical order', () => {
    const req = parseSearchParams(new URLSearchParams('page=2&batch=R02&q=%E6%9D%B1%E4%BA%AC&batch=R01&size=10'));
    expect(req).toEqual({ q: '東京', page: 2, pageSize: 10, filters: { batch: ['R02', 'R01'] } });
    expect(searchQueryString(req)).toBe('?q=%E6%9D%B1%E4%BA%AC&batch=R02&batch=R01&size=10&page=2');
  });

  test('bad numbers fall back to defaults instead of failing', () => {
    expect(parseSearchParams(new URLSearchParams('page=-3&size=99999'))).toEqual({ page: 1, pageSize: 100 });
    expect(parseSearchParams(new URLSearchParams('page=abc&size=0'))).toEqual({ page: 1, pageSize: 20 });
  });

  test('facet values with markup or over-long values are dropped', () => {
    const req = parseSearchParams(new URLSearchParams(`batch=<script>&batch=${'x'.repeat(65)}&type=写真`));
    expect(req.filters).toEqual({ type: ['写真'] });
  });

  test('toggleFacet adds and removes a value and resets paging', () => {
    const req = { q: 'a', page: 3, filters: { batch: ['R01'] } };
    expect(toggleFacet(req, 'batch', 'R02')).toEqual({ q: 'a', page: 1, filters: { batch: ['R01', 'R02'] } });
    expect(toggleFacet(req, 'batch', 'R01')).toEqual({ q: 'a', page: 1, filters: { batch: undefined } });
  });

  test('item lists for /view are validated and de-duplicated', () => {
    expect(parseItemList(new URLSearchParams('items=R01-0001,R01-0002&items=R01-0001,../etc,'))).toEqual(['R01-0001', 'R01-0002']);
  });
});

describe('language', () => {
  test('explicit choice wins, then Accept-Language by q-value, then Japanese', () => {
    expect(negotiateLang('en', 'ja')).toBe('en');
    expect(negotiateLang(null, 'fr-FR, en-GB;q=0.8, ja;q=0.5')).toBe('en');
    expect(negotiateLang(null, 'en;q=0.4, ja-JP;q=0.9')).toBe('ja');
    expect(negotiateLang(undefined, 'de')).toBe('ja');
    expect(negotiateLang('xx', '')).toBe('ja');
  });

  test('strings exist in both languages and pick falls back across languages', () => {
    expect(t('ja', 'search')).toBe('検索');
    expect(t('en', 'search')).toBe('Search');
    expect(pick({ ja: '東京' }, 'en')).toBe('東京');
    expect(pick({ en: 'Tokyo' }, 'ja')).toBe('Tokyo');
  });
});

describe('internal errors', () => {
  test('are logged with the stack and answered without it', async () => {
    const { internalErrorResponse } = await import('../../src/lib/http/json.ts');
    const lines: string[] = [];
    const api = internalErrorResponse(new Error('boom'), new URL('http://x/api/search.json?q=a'), { method: 'GET', log: (l) => lines.push(l) });
    expect(api.status).toBe(500);
    expect(await api.json()).toEqual({ error: 'internal error (logged)', status: 500 });
    const logged = JSON.parse(lines[0]!);
    expect(logged).toMatchObject({ level: 'error', url: '/api/search.json?q=a', message: 'boom' });
    expect(logged.stack).toMatch(/boom/);
    const page = internalErrorResponse('x', new URL('http://x/items/1'), { lang: 'en', log: () => {} });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).not.toMatch(/at .*\.ts/);
  });
});
