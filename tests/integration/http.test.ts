import http from 'node:http';
import { describe, expect, inject, test } from 'vitest';
import { presentationErrors } from '../helpers/iiif-schema.ts';
import { normalize } from '../../src/lib/search/text.ts';

const base = inject('baseUrl');

async function getJson(path: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(base + path, init);
  return { status: r.status, body: await r.json(), headers: r.headers };
}

function recordText(item: any): string {
  return normalize(JSON.stringify(item));
}

describe('search', () => {
  test('the search page lists every item when there is no query', async () => {
    const r = await fetch(`${base}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    const html = await r.text();
    const count = Number(/data-testid="hit-count">([\d,]+)</.exec(html)?.[1]?.replace(/,/g, ''));
    const api = await getJson('/api/search.json');
    expect(count).toBe(api.body.total);
    expect(api.body.total).toBeGreaterThanOrEqual(30);
    expect(html).toContain('data-item-id=');
  });

  test('a Japanese substring finds exactly the records containing it', async () => {
    const all = await getJson('/api/search.json?size=100');
    const { body } = await getJson(`/api/search.json?size=100&q=${encodeURIComponent('東京')}`);
    expect(body.total).toBeGreaterThan(0);
    expect(body.total).toBeLessThan(all.body.total);
    const ids = new Set(body.items.map((i: any) => i.id));
    // Cross-check against the full records: every record whose text contains 東京 is found.
    for (const item of all.body.items) {
      const full = await getJson(`/api/iiif/${item.id}/manifest.json`);
      const hasTokyo = recordText(full.body.label).includes('東京') || recordText(full.body.metadata ?? []).includes('東京') || recordText(full.body.summary ?? {}).includes('東京');
      if (hasTokyo) expect(ids.has(item.id), `${item.id} mentions 東京`).toBe(true);
    }
  });

  test('the search page shows the hits, a batch facet, and thumbnails from the image server', async () => {
    const html = await (await fetch(`${base}/?q=${encodeURIComponent('東京')}`)).text();
    expect(html).toMatch(/data-facet="batch"/);
    expect(html).toMatch(/src="\/iiif\/3\/[A-Za-z0-9._-]+\/full\/!240,240\/0\/default\.jpg"/);
  });

  test('width variants match: full-width Latin finds half-width', async () => {
    const half = await getJson(`/api/search.json?q=harbour`);
    const full = await getJson(`/api/search.json?q=${encodeURIComponent('ＨＡＲＢＯＵＲ')}`);
    expect(half.body.total).toBeGreaterThan(0);
    expect(full.body.items.map((i: any) => i.id)).toEqual(half.body.items.map((i: any) => i.id));
  });

  test('a one-character query (other than one kanji) gets a clear message, not an error', async () => {
    const r = await fetch(`${base}/?q=${encodeURIComponent('の')}`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('data-testid="too-short"');
    const api = await getJson(`/api/search.json?q=${encodeURIComponent('の')}`);
    expect(api.body).toMatchObject({ total: 0, unsearchable: true });
  });

  test('forgiving search: one kanji is answered, kana fold, "port" ranks the ports first', async () => {
    const one = await getJson(`/api/search.json?size=100&q=${encodeURIComponent('港')}`);
    expect(one.body.unsearchable).toBe(false);
    expect(one.body.total).toBeGreaterThan(0);
    const two = await getJson(`/api/search.json?size=100&q=${encodeURIComponent('港 横浜')}`);
    expect(two.body.tooShort).toEqual([]);
    expect(two.body.total).toBeGreaterThan(0);
    expect(two.body.total).toBeLessThanOrEqual(one.body.total);
    const kata = await getJson(`/api/search.json?size=100&q=${encodeURIComponent('アルバム')}`);
    const hira = await getJson(`/api/search.json?size=100&q=${encodeURIComponent('あるばむ')}`);
    expect(hira.body.items.map((i: any) => i.id)).toEqual(kata.body.items.map((i: any) => i.id));
    const port = await getJson('/api/search.json?size=100&q=port');
    const titles = port.body.items.map((i: any) => i.title.en as string);
    const firstInner = titles.findIndex((t: string) => /sports|portable/i.test(t) && !/\bport\b/i.test(t));
    const lastWhole = titles.map((t: string, i: number) => (port.body.items[i].score >= 100 ? i : -1)).reduce((a: number, b: number) => Math.max(a, b), -1);
    expect(lastWhole).toBeGreaterThanOrEqual(0);
    if (firstInner >= 0) expect(lastWhole).toBeLessThan(firstInner);
  });

  test('a batch facet filters the results', async () => {
    const all = await getJson('/api/search.json');
    const bucket = all.body.facets.batch[0];
    const filtered = await getJson(`/api/search.json?batch=${encodeURIComponent(bucket.value)}&size=100`);
    expect(filtered.body.total).toBe(bucket.count);
    expect(filtered.body.items.every((i: any) => i.batch === bucket.value)).toBe(true);
  });

  test('paging: page 2 continues page 1 without overlap', async () => {
    const p1 = await getJson('/api/search.json?size=10&page=1');
    const p2 = await getJson('/api/search.json?size=10&page=2');
    const ids1 = p1.body.items.map((i: any) => i.id);
    const ids2 = p2.body.items.map((i: any) => i.id);
    expect(ids2.length).toBeGreaterThan(0);
    expect(ids1.filter((id: string) => ids2.includes(id))).toEqual([]);
  });
});

describe('manifests', () => {
  test('every item has a schema-valid manifest whose canvases have the images’ real sizes', async () => {
    const all = await getJson('/api/search.json?size=100');
    for (const item of all.body.items) {
      const r = await getJson(`/api/iiif/${item.id}/manifest.json`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/application\/ld\+json/);
      expect(r.headers.get('cache-control')).toMatch(/max-age=\d+/);
      expect(presentationErrors(r.body), item.id).toEqual([]);
      expect(r.body.id).toBe(`${base}/api/iiif/${item.id}/manifest.json`);
      const canvas = r.body.items[0];
      const service = canvas.items[0].items[0].body.service[0].id;
      const info = await getJson(`${service.replace(base, '')}/info.json`);
      expect([canvas.width, canvas.height]).toEqual([info.body.width, info.body.height]);
    }
  });

  test('an unknown item is a 404 with a message', async () => {
    const r = await getJson('/api/iiif/NOPE-0000/manifest.json');
    expect(r.status).toBe(404);
    expect(r.body.error).toMatch(/NOPE-0000/);
  });

  test('a manifest answers 304 to its ETag', async () => {
    const all = await getJson('/api/search.json?size=1');
    const path = `/api/iiif/${all.body.items[0].id}/manifest.json`;
    const first = await fetch(base + path);
    const etag = first.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await fetch(base + path, { headers: { 'If-None-Match': etag } })).status).toBe(304);
  });
});

describe('IIIF image API', () => {
  async function firstImage(): Promise<string> {
    const all = await getJson('/api/search.json?size=1');
    return all.body.items[0].images[0];
  }

  test('info.json v3 and v2', async () => {
    const id = await firstImage();
    const v3 = await getJson(`/iiif/3/${id}/info.json`);
    expect(v3.status).toBe(200);
    expect(v3.body.id).toBe(`${base}/iiif/3/${id}`);
    expect(v3.body.type).toBe('ImageService3');
    expect(v3.body.width).toBeGreaterThan(0);
    expect(v3.body.maxArea).toBeGreaterThan(0);
    const v2 = await getJson(`/iiif/2/${id}/info.json`);
    expect(v2.body['@id']).toBe(`${base}/iiif/2/${id}`);
    expect(v2.body.width).toBe(v3.body.width);
  });

  test('/iiif/3/{id} redirects to info.json', async () => {
    const id = await firstImage();
    const r = await fetch(`${base}/iiif/3/${id}`, { redirect: 'manual' });
    expect([302, 303]).toContain(r.status);
    expect(r.headers.get('location')).toMatch(new RegExp(`/iiif/3/${id}/info\\.json$`));
  });

  test('a 512 px tile is a JPEG of the requested size', async () => {
    const id = await firstImage();
    const r = await fetch(`${base}/iiif/3/${id}/0,0,512,512/256,/0/default.jpg`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/jpeg');
    const bytes = new Uint8Array(await r.arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    const sharp = (await import('sharp')).default;
    const meta = await sharp(bytes).metadata();
    expect([meta.width, meta.height]).toEqual([256, 256]);
  });

  test('bad parameters are 400, unknown ids 404, traversal never reaches a file', async () => {
    const id = await firstImage();
    expect((await fetch(`${base}/iiif/3/${id}/full/max/45x/default.jpg`)).status).toBe(400);
    expect((await fetch(`${base}/iiif/3/${id}/full/max/0/sepia.jpg`)).status).toBe(400);
    expect((await fetch(`${base}/iiif/3/NOPE/full/max/0/default.jpg`)).status).toBe(404);
    for (const p of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5c..%5cetc%5cpasswd']) {
      const r = await fetch(`${base}/iiif/3/${p}/info.json`);
      expect([400, 404]).toContain(r.status);
      expect(await r.text()).not.toContain('root:');
    }
  });
});

describe('pages', () => {
  test('an item page shows the persistent URL, the manifest URL and a viewer', async () => {
    const all = await getJson('/api/search.json?size=1');
    const id = all.body.items[0].id;
    const html = await (await fetch(`${base}/items/${id}`)).text();
    expect(html).toContain(`${base}/items/${id}`);
    expect(html).toContain(`${base}/api/iiif/${id}/manifest.json`);
    // Mirador is a client-only island: the page ships the island, the browser test checks it renders.
    expect(html).toMatch(/<astro-island[^>]+component-url="\/_astro\/MiradorViewer\.[^"]+\.js"/);
  });

  test('an unknown item page is a 404 page', async () => {
    const r = await fetch(`${base}/items/NOPE-0000`);
    expect(r.status).toBe(404);
    expect(await r.text()).toMatch(/見つかりません|Not found/);
  });

  test('/view lists one window per item, reproducible from the URL alone', async () => {
    const all = await getJson('/api/search.json?size=2');
    const [a, b] = all.body.items.map((i: any) => i.id);
    const html = await (await fetch(`${base}/view?items=${a},${b}`)).text();
    expect(html).toContain(`${base}/api/iiif/${a}/manifest.json`);
    expect(html).toContain(`${base}/api/iiif/${b}/manifest.json`);
  });

  test('the Mirador bundle is served by the app, gzipped on request', async () => {
    const r = await fetch(`${base}/vendor/mirador.min.js`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/javascript/);
    expect((await r.text()).length).toBeGreaterThan(1_000_000);
  });

  test('the language follows Accept-Language and ?lang= is remembered', async () => {
    const en = await (await fetch(`${base}/`, { headers: { 'Accept-Language': 'en-GB,en;q=0.9' } })).text();
    expect(en).toContain('<html lang="en"');
    const switched = await fetch(`${base}/?lang=ja`, { headers: { 'Accept-Language': 'en' } });
    expect(await switched.text()).toContain('<html lang="ja"');
    expect(switched.headers.get('set-cookie')).toMatch(/lang=ja/);
  });
});

describe('connections', () => {
  test('an idle keep-alive connection is closed by the client or proxy first (cloudflared 90 s, fetch 4 s): the server announces a longer timeout', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
        http
          .get(`${base}/healthz`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers));
          })
          .on('error', reject);
      });
      expect(headers.connection).toBe('keep-alive');
      const timeout = Number(/timeout=(\d+)/.exec(String(headers['keep-alive']))?.[1]);
      expect(timeout).toBeGreaterThan(90);
    } finally {
      agent.destroy();
    }
  });
});
