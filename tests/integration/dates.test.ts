/**
 * Dates on the built server with the demo corpus (issue 15.4): the same year and sort parameters
 * in /api/search.json, the search page and the IIIF search collection; unreadable years answered
 * 400 by the API and named on the page; the demo's coverage (records with a year range / total).
 */
import { describe, expect, inject, test } from 'vitest';
import { parseDateRange } from '../../src/lib/dates/range.ts';

const base = inject('baseUrl');

interface Item {
  id: string;
  date?: string;
}

async function api(qs: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}/api/search.json${qs}`);
  return { status: r.status, body: await r.json() };
}

describe('dates over HTTP', () => {
  test('the demo corpus: every record but the one dated 年代不詳 has a year range', async () => {
    const all = (await api('?size=100')).body as { total: number; items: Item[]; decades: Array<{ value: string; count: number }> };
    const dated = all.items.filter((i) => parseDateRange(i.date) !== null);
    expect(all.items.length).toBe(all.total);
    expect(all.items.filter((i) => parseDateRange(i.date) === null).map((i) => i.date)).toEqual(['年代不詳']);
    console.info(`[dates] demo corpus: ${dated.length} of ${all.total} records have a year range`);
    expect(all.decades.length).toBeGreaterThan(3);
  });

  test('和暦 and 西暦 bounds give the same search; the API and the page agree', async () => {
    const era = (await api(`?from=${encodeURIComponent('大正')}&to=${encodeURIComponent('昭和元年')}&sort=oldest&size=100`)).body;
    const years = (await api('?from=1912&to=1926&sort=oldest&size=100')).body;
    expect(era.items.map((i: Item) => i.id)).toEqual(years.items.map((i: Item) => i.id));
    expect(era.total).toBeGreaterThan(0);
    for (const i of era.items as Item[]) {
      const r = parseDateRange(i.date)!;
      expect(r.to >= 1912 && r.from <= 1926, `${i.id} ${i.date}`).toBe(true);
    }
    const html = await (await fetch(`${base}/?from=${encodeURIComponent('大正')}&to=${encodeURIComponent('昭和元年')}&sort=oldest`)).text();
    expect(Number(/data-testid="hit-count">([\d,]+)</.exec(html)?.[1]?.replace(/,/g, ''))).toBe(era.total);
    const newest = (await api('?from=1912&to=1926&sort=newest&size=100')).body;
    expect(new Set(newest.items.map((i: Item) => i.id))).toEqual(new Set(years.items.map((i: Item) => i.id)));
  });

  test('an unreadable year: 400 from the API with a message, a notice on the page', async () => {
    const r = await api('?from=abc');
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('abc');
    const page = await fetch(`${base}/?from=abc`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/data-testid="years-unreadable"[^>]*>[^<]*abc/);
  });

  test('the IIIF search collection takes the same parameters, redirected to canonical years', async () => {
    const r = await fetch(`${base}/api/iiif/collection?sort=oldest&to=${encodeURIComponent('昭和')}&from=${encodeURIComponent('大正')}`, { redirect: 'manual' });
    expect(r.status).toBe(301);
    const location = r.headers.get('location')!;
    expect(new URL(location).search).toBe('?from=1912&to=1989&sort=oldest');
    const doc = await (await fetch(location)).json();
    expect(doc.id).toBe(location);
    const expected = (await api('?from=1912&to=1989&sort=oldest&size=100')).body;
    expect(doc.items.map((m: { id: string }) => m.id.replace(/^.*\/api\/iiif\/([^/]+)\/manifest\.json$/, '$1'))).toEqual(expected.items.map((i: Item) => i.id));
  });
});
