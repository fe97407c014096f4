/**
 * Citations through the real server: Highwire meta tags on item pages, /api/cite exports for an
 * item and a result set (parsed back with Citation.js), the same 404 for a restricted item as for a
 * missing one; and the small things of issue 19.11 (favicon, 404 page, a page past the last one).
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
// @ts-expect-error citation-js ships no type declarations
import { Cite } from '@citation-js/core';
import '@citation-js/plugin-ris';
import '@citation-js/plugin-bibtex';
import { startServer, type RunningServer } from '../helpers/server.ts';

const base = inject('baseUrl');
const today = new Date();
const todayParts = [today.getUTCFullYear(), today.getUTCMonth() + 1, today.getUTCDate()];

async function ids(b: string): Promise<string[]> {
  const r = await fetch(`${b}/api/search.json?size=100`);
  return ((await r.json()).items as Array<{ id: string }>).map((i) => i.id);
}

function metaTags(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<meta name="(citation_[a-z_]+)" content="([^"]*)"/g)) out[m[1]!] ??= m[2]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"');
  return out;
}

describe('item pages carry Highwire citation tags', () => {
  test('title, date (Western year), publisher, persistent URL, language', async () => {
    const html = await (await fetch(`${base}/items/R01-0001?lang=en`)).text();
    expect(metaTags(html)).toMatchObject({
      citation_title: 'Tokyo Station, Marunouchi entrance',
      citation_date: '1914',
      citation_publisher: 'Private Image Archive',
      citation_public_url: `${base}/items/R01-0001`,
      citation_language: 'ja',
    });
    const ja = metaTags(await (await fetch(`${base}/items/R01-0001?lang=ja`)).text());
    expect(ja.citation_title).toBe('東京駅丸ノ内口');
    expect(ja.citation_publisher).toBe('非公開画像アーカイブ');
  });

  test('the English page shows Western years and English vocabulary, each value with its language', async () => {
    const html = await (await fetch(`${base}/items/R01-0001?lang=en`)).text();
    expect(html).toMatch(/<dd data-field="date"><span lang="en">1914<\/span><\/dd>/);
    expect(html).toMatch(/<dd data-field="type"><span lang="en">Photograph<\/span><\/dd>/);
    expect(html).toMatch(/<title>Tokyo Station, Marunouchi entrance \(1914\) — /);
    expect(html).not.toContain('大正3年（1914）</span>');
  });
});

describe('/api/cite exports', () => {
  test('one item as RIS, BibTeX and CSL-JSON, with the persistent URL and the access date', async () => {
    for (const [ext, type] of [
      ['ris', 'application/x-research-info-systems'],
      ['bib', 'application/x-bibtex'],
      ['json', 'application/vnd.citationstyles.csl+json'],
    ] as const) {
      const r = await fetch(`${base}/api/cite/R01-0001.${ext}?lang=en`);
      expect(r.status, ext).toBe(200);
      expect(r.headers.get('content-type'), ext).toContain(type);
      expect(r.headers.get('content-disposition'), ext).toBe(`attachment; filename="R01-0001.${ext}"`);
      const text = await r.text();
      const data = new Cite(ext === 'json' ? JSON.parse(text) : text).data;
      expect(data, ext).toHaveLength(1);
      expect(data[0], ext).toMatchObject({
        title: 'Tokyo Station, Marunouchi entrance',
        URL: `${base}/items/R01-0001`,
        issued: { 'date-parts': [[1914]] },
        accessed: { 'date-parts': [todayParts] },
      });
    }
  });

  test('a result set: the search page’s hits in its order', async () => {
    const q = encodeURIComponent('東京');
    const search = await (await fetch(`${base}/api/search.json?q=${q}&size=100`)).json();
    const r = await fetch(`${base}/api/cite/search.json?q=${q}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-total-count')).toBe(String(search.total));
    const data = new Cite(JSON.parse(await r.text())).data;
    expect(data.map((d: { id: string }) => d.id)).toEqual(search.items.map((i: { id: string }) => i.id));
    const ris = await (await fetch(`${base}/api/cite/search.ris?q=${q}`)).text();
    expect(new Cite(ris).data).toHaveLength(search.total);
  });

  test('unknown formats and ids are clear 404s', async () => {
    for (const path of ['/api/cite/R01-0001.pdf', '/api/cite/R99-9999.ris', '/api/cite/..%2Fetc.bib', '/api/cite/R01-0001']) {
      const r = await fetch(base + path);
      expect(r.status, path).toBe(404);
      expect((await r.json()).error, path).toBeTruthy();
    }
  });
});

describe('access scope', () => {
  let open: RunningServer;
  beforeAll(async () => {
    // The same archive, seen by an anonymous user who may see open items only.
    open = await startServer({ ACCESS_ANONYMOUS_LEVEL: 'open' }, { dataDir: inject('dataDir') });
  });
  afterAll(async () => {
    await open?.stop();
  });

  test('a restricted item answers exactly like a missing one; result sets leave it out', async () => {
    const visible = new Set(await ids(open.baseUrl));
    const restricted = (await ids(base)).filter((id) => !visible.has(id));
    expect(restricted.length).toBeGreaterThan(0);
    const id = restricted[0]!;
    const missing = 'R99-9999';
    for (const ext of ['ris', 'bib', 'json']) {
      const a = await fetch(`${open.baseUrl}/api/cite/${id}.${ext}`);
      const b = await fetch(`${open.baseUrl}/api/cite/${missing}.${ext}`);
      expect(a.status).toBe(404);
      expect(b.status).toBe(404);
      const [ta, tb] = [await a.text(), await b.text()];
      expect(ta.replace(id, 'X')).toBe(tb.replace(missing, 'X'));
    }
    const all = JSON.parse(await (await fetch(`${open.baseUrl}/api/cite/search.json`)).text()) as Array<{ id: string }>;
    expect(all.map((d) => d.id)).not.toContain(id);
    expect(all).toHaveLength(visible.size);
    const html = await (await fetch(`${open.baseUrl}/items/${id}`)).text();
    expect(html).not.toContain('citation_title');
  });
});

describe('issue 19.11', () => {
  test('/favicon.ico is an icon', async () => {
    const r = await fetch(`${base}/favicon.ico`);
    expect(r.status).toBe(200);
    const bytes = new Uint8Array(await r.arrayBuffer());
    expect([...bytes.slice(0, 4)]).toEqual([0, 0, 1, 0]);
  });

  test('unknown paths get the site’s own 404 page in the interface language', async () => {
    const r = await fetch(`${base}/no/such/page?lang=en`);
    expect(r.status).toBe(404);
    const html = await r.text();
    expect(html).toContain('data-testid="not-found">Page not found<');
    expect(html).toContain('href="/styles.css"');
    expect(html).toContain('role="search"');
  });

  test('a page past the last one says so and links to the last page', async () => {
    const html = await (await fetch(`${base}/?q=${encodeURIComponent('東京')}&page=9&lang=en`)).text();
    expect(html).toMatch(/data-testid="page-beyond">There are no results on this page\. The last page is <a href="\/\?q=%E6%9D%B1%E4%BA%AC">Page 1<\/a>/);
  });

  test('/view tabs name what is compared, with years', async () => {
    const html = await (await fetch(`${base}/view?items=R01-0001,R01-0002&lang=en`)).text();
    expect(html).toMatch(/<title>Tokyo Station, Marunouchi entrance \(1914\) \/ [^<]+ — Comparison — Private Image Archive<\/title>/);
    expect(html).toContain('data-testid="back-link"');
  });

  test('"1 image", "4 images"; the collection URL shown decoded', async () => {
    const html = await (await fetch(`${base}/?q=${encodeURIComponent('東京')}&lang=en`)).text();
    const counts = [...html.matchAll(/data-testid="image-count">([^<]+)</g)].map((m) => m[1]);
    expect(counts).toContain('1 image');
    expect(counts.every((c) => /^1 image$|^[02-9]\d* images$|^\d{2,} images$/.test(c!))).toBe(true);
    expect(html).toContain(`data-testid="collection-url">${base}/api/iiif/collection?q=東京<`);
  });
});
