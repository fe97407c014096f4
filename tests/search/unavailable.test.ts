import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/lib/search/store.ts';
import { storeUnavailableResponse, unavailableResponseFor, wantsJson } from '../../src/lib/search/unavailable.ts';

const down = new StoreUnavailableError('elasticsearch', 'cannot connect to http://es.internal:9200 (connect ECONNREFUSED 10.0.0.9:9200)');
const NOW = () => new Date('2024-06-01T12:00:00.000Z');

function answer(url: string, lang?: string) {
  const lines: string[] = [];
  const res = storeUnavailableResponse(down, new URL(url), { lang, log: (l) => lines.push(l), now: NOW, method: 'GET' });
  return { res, lines };
}

describe('503 when the store cannot be reached', () => {
  it('answers pages with an HTML page in the visitor language, no detail, Retry-After', async () => {
    const { res } = answer('http://127.0.0.1:4321/?q=東京');
    expect(res.status).toBe(503);
    expect(res.headers.get('Content-Type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('Retry-After')).toBe('30');
    expect(res.headers.get('Cache-Control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<html lang="ja">');
    expect(html).toContain('検索データベースに接続できません');
    expect(html).not.toContain('es.internal');
    expect(html).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    const en = await answer('http://127.0.0.1:4321/items/R01-0001', 'en').res.text();
    expect(en).toContain('<html lang="en">');
    expect(en).toContain('cannot reach its search database');
  });

  it('answers the APIs and IIIF endpoints with JSON', async () => {
    for (const url of ['http://h/api/search.json?q=x', 'http://h/api/iiif/R01-0001/manifest.json', 'http://h/iiif/3/R01-0001_01/info.json', 'http://h/iiif/2/x/full/max/0/default.jpg']) {
      const { res } = answer(url);
      expect(res.status, url).toBe(503);
      expect(res.headers.get('Content-Type'), url).toBe('application/json; charset=utf-8');
      expect(await res.json(), url).toEqual({ error: 'search store unavailable', status: 503, retryAfter: 30 });
    }
    expect(wantsJson(new URL('http://h/'))).toBe(false);
    expect(wantsJson(new URL('http://h/view?items=a'))).toBe(false);
    expect(wantsJson(new URL('http://h/apiary'))).toBe(false);
  });

  it('writes one JSON log line with the reason', () => {
    const { lines } = answer('http://h/api/search.json?q=x');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      t: '2024-06-01T12:00:00.000Z',
      level: 'error',
      event: 'store_unavailable',
      backend: 'elasticsearch',
      method: 'GET',
      path: '/api/search.json',
      reason: 'cannot connect to http://es.internal:9200 (connect ECONNREFUSED 10.0.0.9:9200)',
    });
  });

  it('lets every other error through untouched', () => {
    const lines: string[] = [];
    expect(unavailableResponseFor(new Error('bug'), new URL('http://h/'), { log: (l) => lines.push(l) })).toBeNull();
    expect(unavailableResponseFor(down, new URL('http://h/'), { log: (l) => lines.push(l) })?.status).toBe(503);
    expect(lines).toHaveLength(1);
  });

  it('carries backend and reason on the error', () => {
    expect(down.message).toBe('the elasticsearch search store is unavailable: cannot connect to http://es.internal:9200 (connect ECONNREFUSED 10.0.0.9:9200)');
    expect(down.name).toBe('StoreUnavailableError');
    expect(down).toBeInstanceOf(Error);
  });
});
