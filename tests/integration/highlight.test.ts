/**
 * Highlights on the built site (issue 15.5): a search marks what it matched in the result titles
 * and a snippet, shows both titles (the interface language first), and markup in a title stays
 * text (marks are the only markup). The demo server from global setup answers the demo searches;
 * a second server, on a store holding a hostile title, answers the XSS case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { normalize } from '../../src/lib/search/text.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

const base = inject('baseUrl');

/** The <li> of each result, by item id. */
function results(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<li data-item-id="([^"]+)"[^>]*>([\s\S]*?)<\/li>/g)) out.set(m[1]!, m[2]!);
  return out;
}

describe('the demo corpus', () => {
  test('a search for 東京 marks 東京 in the results', async () => {
    const html = await (await fetch(`${base}/?q=${encodeURIComponent('東京')}`)).text();
    const hits = results(html);
    expect(hits.size).toBeGreaterThan(0);
    const marked = [...hits.values()].filter((li) => li.includes('<mark>東京</mark>'));
    expect(marked.length).toBeGreaterThan(0);
    // Every mark holds the query, nothing else.
    for (const m of html.matchAll(/<mark>([^<]*)<\/mark>/g)) expect(m[1]).toBe('東京');
    // The JSON search carries the same marks as offsets.
    const api = await (await fetch(`${base}/api/search.json?q=${encodeURIComponent('東京')}`)).json();
    const first = api.items.find((i: { highlight?: Record<string, Array<{ value: string; ranges: number[][] }>> }) => Object.keys(i.highlight ?? {}).length > 0);
    const [field] = Object.values(first.highlight as Record<string, Array<{ value: string; ranges: number[][] }>>);
    const [{ value, ranges }] = field!;
    expect(value.slice(ranges[0]![0], ranges[0]![1])).toBe('東京');
  });

  test('full-width and kana variants mark the original characters, and browsing marks nothing', async () => {
    const html = await (await fetch(`${base}/?q=${encodeURIComponent('ｈａｒｂｏｕｒ')}`)).text();
    const marks = [...html.matchAll(/<mark>([^<]*)<\/mark>/g)].map((m) => m[1]!);
    expect(marks.length).toBeGreaterThan(0);
    for (const m of marks) expect(normalize(m)).toBe('harbour');
    expect(await (await fetch(`${base}/`)).text()).not.toContain('<mark>');
  });

  test('both titles, the interface language first', async () => {
    const en = results(await (await fetch(`${base}/?q=${encodeURIComponent('東京')}`, { headers: { 'Accept-Language': 'en' } })).text());
    const ja = results(await (await fetch(`${base}/?q=${encodeURIComponent('東京')}`, { headers: { 'Accept-Language': 'ja' } })).text());
    const both = [...en.keys()].filter((id) => en.get(id)!.includes('data-testid="hit-title-other"'));
    expect(both.length).toBeGreaterThan(0);
    for (const id of both) {
      expect(en.get(id)!).toMatch(/class="hit-title-other" lang="ja"/);
      expect(ja.get(id)!).toMatch(/class="hit-title-other" lang="en"/);
    }
  });
});

describe('a hostile title', () => {
  let server: RunningServer;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'archive-highlight-'));
    const store = new SqliteStore(path.join(dataDir, 'archive.sqlite'));
    await store.init();
    await store.upsert([
      {
        id: 'X-0001',
        batch: 'X',
        title: { ja: '<img src=x onerror=alert(1)>の写真', en: '<script>alert(2)</script> photograph' },
        description: { ja: '説明 <b>img</b> の中' },
        images: [{ id: 'X-0001_01', file: 'X/X-0001/01.jpg' }],
      },
    ]);
    await store.close();
    server = await startServer({ DEMO: 'false' }, { dataDir });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the query img marks text; the markup in the title is shown, never run', async () => {
    const r = await fetch(`${server.baseUrl}/?q=img`, { headers: { 'Accept-Language': 'ja' } });
    expect(r.status).toBe(200);
    const html = await r.text();
    const li = results(html).get('X-0001');
    expect(li).toBeDefined();
    expect(li).toContain('&lt;<mark>img</mark> src=x onerror=alert(1)&gt;の写真');
    expect(li).toContain('&lt;script&gt;alert(2)&lt;/script&gt; photograph');
    expect(li).toContain('&lt;b&gt;<mark>img</mark>&lt;/b&gt;');
    expect(html).not.toMatch(/<img src=x/);
    expect(html).not.toContain('<script>alert(2)');
  });
});
