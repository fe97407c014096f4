/**
 * Presentation API routes at the edges (issue 13): collection ids equal to the URL that serves
 * them, every page reachable, RFC 9110 conditional requests on manifests and collections, CORS
 * preflight on /api/iiif/*, partOf and seeAlso on manifests.
 */
import { describe, expect, inject, test } from 'vitest';
import { presentationErrors } from '../helpers/iiif-schema.ts';

const base = inject('baseUrl');

async function firstItemId(): Promise<string> {
  const r = await fetch(`${base}/api/search.json?size=1`);
  return (await r.json()).items[0].id;
}

describe('collections: the id is the URL that serves it', () => {
  test('non-canonical spellings (empty q, parameter order, page size) redirect to the canonical URL', async () => {
    const cases: Array<[string, string]> = [
      ['/api/iiif/collection?q=', '/api/iiif/collection'],
      ['/api/iiif/collection?q=&batch=R01', '/api/iiif/collection?batch=R01'],
      ['/api/iiif/collection?batch=R01&q=%E6%9D%B1%E4%BA%AC', '/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC&batch=R01'],
      ['/api/iiif/collection?size=100&page=1', '/api/iiif/collection?page=1'],
    ];
    for (const [from, to] of cases) {
      const r = await fetch(base + from, { redirect: 'manual' });
      expect(r.status, from).toBe(301);
      expect(r.headers.get('location'), from).toBe(base + to);
      const followed = await fetch(base + from);
      expect(followed.status, from).toBe(200);
      const doc = await followed.json();
      expect(doc.id, from).toBe(base + to);
      expect(followed.url).toBe(doc.id);
    }
  });

  test('the top collection and page 1 are different documents; page 1 lists manifests and points back', async () => {
    const top = await (await fetch(`${base}/api/iiif/collection`)).json();
    expect(top.id).toBe(`${base}/api/iiif/collection`);
    const r = await fetch(`${base}/api/iiif/collection?page=1`);
    expect(r.status).toBe(200);
    const page = await r.json();
    expect(page.id).toBe(`${base}/api/iiif/collection?page=1`);
    expect(page.partOf).toEqual([{ id: top.id, type: 'Collection' }]);
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.every((i: any) => i.type === 'Manifest')).toBe(true);
    expect(presentationErrors(page)).toEqual([]);
    expect((await fetch(`${base}/api/iiif/collection?page=999`)).status).toBe(404);
  });
});

describe('conditional requests on manifests and collections', () => {
  for (const kind of ['manifest', 'collection'] as const) {
    test(`${kind}: ETag and Last-Modified; weak tags, lists, * and If-Modified-Since get 304`, async () => {
      const path = kind === 'manifest' ? `/api/iiif/${await firstItemId()}/manifest.json` : '/api/iiif/collection?batch=R01';
      const first = await fetch(base + path);
      expect(first.status).toBe(200);
      const etag = first.headers.get('etag')!;
      const lastModified = first.headers.get('last-modified')!;
      expect(etag).toMatch(/^(W\/)?"[^"]+"$/);
      expect(Number.isNaN(Date.parse(lastModified))).toBe(false);
      const status = async (headers: Record<string, string>) => (await fetch(base + path, { headers })).status;
      expect(await status({ 'If-None-Match': etag })).toBe(304);
      expect(await status({ 'If-None-Match': `W/${etag}` })).toBe(304);
      expect(await status({ 'If-None-Match': `"nope", ${etag}` })).toBe(304);
      expect(await status({ 'If-None-Match': '*' })).toBe(304);
      expect(await status({ 'If-Modified-Since': lastModified })).toBe(304);
      expect(await status({ 'If-None-Match': '"nope"', 'If-Modified-Since': lastModified })).toBe(200);
      expect(await status({ 'If-Modified-Since': new Date(Date.parse(lastModified) - 60_000).toUTCString() })).toBe(200);
      expect(await status({ 'If-Modified-Since': 'not a date' })).toBe(200);
      const not = await fetch(base + path, { headers: { 'If-None-Match': etag } });
      expect(not.headers.get('etag')).toBe(etag);
      expect(await not.text()).toBe('');
    });
  }
});

describe('CORS preflight on /api/iiif/*', () => {
  test('OPTIONS on a manifest and a collection answers the preflight (IIIF Accept profile header allowed)', async () => {
    for (const path of [`/api/iiif/${await firstItemId()}/manifest.json`, '/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC']) {
      const r = await fetch(base + path, {
        method: 'OPTIONS',
        headers: { Origin: 'https://viewer.example.org', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept,if-none-match' },
      });
      expect(r.status, path).toBe(204);
      expect(r.headers.get('access-control-allow-origin'), path).toBeTruthy();
      expect(r.headers.get('access-control-allow-methods'), path).toContain('GET');
      const allowed = (r.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      expect(allowed, path).toContain('accept');
      expect(allowed, path).toContain('if-none-match');
    }
  });
});

describe('manifests: partOf and seeAlso', () => {
  test('partOf is the archive collection and seeAlso the item record as JSON, both served', async () => {
    const id = await firstItemId();
    const m = await (await fetch(`${base}/api/iiif/${id}/manifest.json`)).json();
    expect(presentationErrors(m)).toEqual([]);
    expect(m.partOf).toEqual([{ id: `${base}/api/iiif/collection`, type: 'Collection' }]);
    const top = await fetch(m.partOf[0].id);
    expect(top.status).toBe(200);
    expect((await top.json()).id).toBe(m.partOf[0].id);
    const see = await fetch(m.seeAlso[0].id);
    expect(see.status).toBe(200);
    expect(see.headers.get('content-type')).toMatch(/^application\/json/);
    const rec = await see.json();
    expect(rec.id).toBe(id);
    expect(rec.manifest).toBe(m.id);
    expect(JSON.stringify(rec)).not.toMatch(/"file"|s3Key|"source"/);
    expect((await fetch(`${base}/api/items/NOPE-0000.json`)).status).toBe(404);
  });
});
