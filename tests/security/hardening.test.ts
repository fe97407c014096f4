/**
 * Issue 11's smaller findings, each reproduced without a server:
 *  - 11.9 configuration that validated but then failed: IPv4-mapped trusted proxies, a bracketed
 *    IPv6 HOST, an empty key set replacing good cached keys;
 *  - 11.8 markup from a spreadsheet cell reaching Mirador through the manifest;
 *  - 11.5 a content-state naming a manifest URL with bad percent-encoding (URIError);
 *  - 11.4 the indexed access-level lookup the scoped store decides on before reading a record.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';
import { AddressList } from '../../src/lib/access/header.ts';
import { CloudflareVerifier } from '../../src/lib/access/cloudflare.ts';
import { buildManifest } from '../../src/lib/iiif/manifest.ts';
import { buildCollection } from '../../src/lib/iiif/collection.ts';
import { itemIdFromManifest } from '../../src/lib/iiif/view.ts';
import { runInAccessScope, scopedStore } from '../../src/lib/access/scope.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { ItemRecord } from '../../src/lib/search/store.ts';
import { AUD, FakeAccess, ISSUER } from './helpers/access.ts';
import { FIXTURE } from '../search/fixture.ts';
import { Harness, httpError, recorded } from '../search/es-harness.ts';

describe('configuration that validates also works (11.9)', () => {
  test('ACCESS_TRUSTED_PROXIES with IPv4-mapped IPv6 addresses and blocks', () => {
    const cfg = loadConfig({ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '::ffff:127.0.0.3, ::ffff:10.1.0.0/112, ::1' }, '/srv');
    const list = new AddressList(cfg.access.header!.trustedProxies);
    expect(list.has('127.0.0.3')).toBe(true);
    expect(list.has('::ffff:127.0.0.3')).toBe(true);
    expect(list.has('10.1.200.7')).toBe(true);
    expect(list.has('::ffff:10.1.200.7')).toBe(true);
    expect(list.has('10.2.0.1')).toBe(false);
    expect(list.has('127.0.0.1')).toBe(false);
    expect(list.has('::1')).toBe(true);
  });

  test("HOST='[::1]' is the address ::1, and it listens; a malformed one is refused naming HOST", async () => {
    const cfg = loadConfig({ HOST: '[::1]', PORT: '0' }, '/srv');
    expect(cfg.host).toBe('::1');
    expect(cfg.publicBaseUrl).toBe('http://[::1]:0');
    const s = net.createServer();
    const listened = await new Promise<boolean>((resolve) => {
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT' ? true : false));
      s.listen(0, cfg.host, () => resolve(true));
    });
    s.close();
    expect(listened).toBe(true);
    for (const bad of ['[::1', '[zz::1]', '::g', '1.2.3', 'a b', '[127.0.0.1]']) {
      expect(() => loadConfig({ HOST: bad }, '/srv'), bad).toThrow(/HOST/);
    }
  });

  describe('an empty or invalid key set never replaces cached keys', () => {
    let fa: FakeAccess;
    let jwks: http.Server;
    let answer = '';
    let url = '';
    beforeAll(async () => {
      fa = await FakeAccess.start();
      const good = await (await fetch(fa.jwksUrl)).text();
      answer = good;
      jwks = http.createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(answer);
      });
      await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/certs`;
    });
    afterAll(async () => {
      jwks.closeAllConnections();
      await new Promise((r) => jwks.close(r));
      await fa.close();
    });

    test('{"keys":[]}, {} and non-JSON answers are refused; tokens keep verifying with the cached keys', async () => {
      const v = new CloudflareVerifier({ issuer: ISSUER, audience: [AUD], jwksUrl: url, jwksCooldownSeconds: 0 });
      expect(await v.warmUp()).toBe(1);
      const token = await fa.token({ email: 'a@example.org' });
      expect((await v.verify(token)).ok).toBe(true);
      for (const bad of ['{"keys":[]}', '{}', '<html>maintenance</html>', '{"keys":[{"kty":"oct","k":"AAAA"}]}']) {
        answer = bad;
        await expect(v.warmUp(), bad).rejects.toThrow();
        expect(await v.keyCount(), bad).toBe(1);
        // A token with an unknown kid forces a refresh: it fails (503), the cached key stays.
        const other = await fa.token({ key: fa.stranger });
        expect(await v.verify(other), bad).toMatchObject({ ok: false, reason: 'unavailable' });
        expect((await v.verify(await fa.token({ email: 'b@example.org' }))).ok, bad).toBe(true);
      }
    });
  });
});

describe('catalogue values are text in manifests and collections (11.8)', () => {
  const record: ItemRecord = {
    id: 'X-0001',
    batch: 'R01',
    title: { ja: '<img src=x onerror=alert(1)>題', en: 'Smith & Co' },
    creator: { ja: '<a href="http://evil">作者</a>' },
    place: { en: '<script>x</script>' },
    date: '1900 <b>',
    rights: '<img src=//tracker.example/p.gif>',
    images: [{ id: 'X-0001', file: 'x.jpg', width: 10, height: 10 }],
    indexed_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    s3_uploaded: false,
  } as ItemRecord;

  test('no value a viewer renders as HTML holds a tag; plain text is unchanged', () => {
    const m = buildManifest({ record, sizes: new Map(), base: 'https://a.example' });
    const json = JSON.stringify(m);
    expect(json).not.toMatch(/<(img|a|script|b)\b/i);
    expect(json).toContain('&lt;img src=x onerror=alert(1)&gt;題');
    expect(json).toContain('Smith & Co');
    const c = buildCollection({ base: 'https://a.example', req: { q: '<img src=x>' }, records: [record], total: 1 } as never);
    expect(JSON.stringify(c)).not.toMatch(/<img/i);
  });
});

describe('bad input in a content state (11.5)', () => {
  test('a manifest URL with malformed percent-encoding is not ours, not a URIError', () => {
    expect(itemIdFromManifest('https://a.example', 'https://a.example/api/iiif/%E0%A4%A/manifest.json')).toBeUndefined();
    expect(itemIdFromManifest('https://a.example', 'https://a.example/api/iiif/%E0%A4/manifest.json')).toBeUndefined();
    expect(itemIdFromManifest('https://a.example', 'https://a.example/api/iiif/R01-0001/manifest.json')).toBe('R01-0001');
  });
});

describe('access decided from the indexed level before the record is read (11.4)', () => {
  test('getAccessLevel answers the level or null; the scoped get never reads a record it may not show', async () => {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert(FIXTURE);
    try {
      const restricted = FIXTURE.find((r) => r.access === 'members' || r.access === 'staff')!;
      const open = FIXTURE.find((r) => !r.access || r.access === 'open')!;
      expect(await store.getAccessLevel(restricted.id)).toBe(restricted.access);
      expect(await store.getAccessLevel(open.id)).toBe('open');
      expect(await store.getAccessLevel('NO-SUCH')).toBeNull();
      let reads = 0;
      const view = scopedStore({
        backend: 'sqlite',
        init: () => store.init(),
        upsert: (i) => store.upsert(i),
        count: () => store.count(),
        close: async () => {},
        search: (r) => store.search(r),
        getImage: (id) => store.getImage(id),
        getAccessLevel: (id) => store.getAccessLevel(id),
        get: async (id) => {
          reads++;
          return store.get(id);
        },
      });
      await runInAccessScope({ levels: ['open'] }, async () => {
        expect(await view.get(restricted.id)).toBeNull();
        expect(await view.get('NO-SUCH')).toBeNull();
        expect(reads).toBe(0);
        expect((await view.get(open.id))?.id).toBe(open.id);
        expect(reads).toBe(1);
        expect(await view.getAccessLevel!(restricted.id)).toBeNull();
      });
    } finally {
      await store.close();
    }
  });
});

describe('getAccessLevel on Elasticsearch: one get of the access field only (11.4)', () => {
  test('the level, open for a record without one, null for a missing id; nothing but `access` is fetched', async () => {
    const h = new Harness();
    const store = h.ready();
    h.on('GET', '/archive/_doc/R01-0013', { _index: 'archive-v1', _id: 'R01-0013', found: true, _source: { access: 'members' } });
    h.on('GET', '/archive/_doc/R01-0001', { _index: 'archive-v1', _id: 'R01-0001', found: true, _source: {} });
    h.on('GET', '/archive/_doc/R99-9999', httpError(404, recorded('get-missing.json')));
    expect(await store.getAccessLevel('R01-0013')).toBe('members');
    expect(await store.getAccessLevel('R01-0001')).toBe('open');
    expect(await store.getAccessLevel('R99-9999')).toBeNull();
    expect(await store.getAccessLevel('')).toBeNull();
    expect(h.to('GET', '/archive/_doc/R01-0013')[0]!.querystring).toEqual({ _source_includes: 'access' });
    expect(h.unexpected).toEqual([]);
  });
});
