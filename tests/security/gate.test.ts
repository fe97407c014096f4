/**
 * The gate's decisions without a server: modes, exempt paths, refusal responses, the hand-over to
 * the middleware, rules, trusted proxies, IIIF access tokens, and the per-request store scope.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';
import { AccessGate, VOUCH_HEADER, requestPath } from '../../src/lib/access/gate.ts';
import { AddressList, headerIdentity } from '../../src/lib/access/header.ts';
import { levelFor, parseRules } from '../../src/lib/access/rules.ts';
import { AccessTokens } from '../../src/lib/access/tokens.ts';
import { parseOrigin, scriptJson, tokenPage } from '../../src/lib/access/iiif-auth.ts';
import { AccessScopeMissing, runInAccessScope, scopedStore } from '../../src/lib/access/scope.ts';
import type { ImageEntry, ItemRecord, SearchRequest, SearchResponse, SearchStore } from '../../src/lib/search/store.ts';
import { FakeAccess } from './helpers/access.ts';

let fa: FakeAccess;
beforeAll(async () => {
  fa = await FakeAccess.start();
});
afterAll(async () => {
  await fa.close();
});

const BASE = 'https://archive.example.org';

function gateFor(env: Record<string, string>): AccessGate {
  const cfg = loadConfig({ PUBLIC_BASE_URL: BASE, ...env }, '/srv/archive');
  return new AccessGate({ access: cfg.access, publicBaseUrl: cfg.publicBaseUrl });
}

const RULES = JSON.stringify({ staff: ['curator@example.org'], members: ['*@members.example.org'] });

describe('exempt paths', () => {
  const gate = () => gateFor({ ...fa.env(), ACCESS_RULES: RULES });

  test.each([
    ['GET', '/healthz', '203.0.113.9', 'open'],
    ['HEAD', '/healthz', '203.0.113.9', 'open'],
    ['POST', '/healthz', '127.0.0.1', 'required'],
    ['GET', '/healthz/', '127.0.0.1', 'required'],
    ['GET', '/readyz', '127.0.0.1', 'open'],
    ['GET', '/readyz', '::ffff:127.0.0.1', 'open'],
    ['GET', '/readyz', '::1', 'open'],
    ['GET', '/readyz', '10.0.0.5', 'required'],
    ['GET', '/readyz', undefined, 'required'],
    ['GET', '/auth/iiif/probe/image/R01-0013-01', '203.0.113.9', 'optional'],
    ['OPTIONS', '/auth/iiif/probe/image/x', '203.0.113.9', 'optional'],
    ['GET', '/auth/iiif/token', '203.0.113.9', 'optional'],
    ['GET', '/auth/iiif/logout', '203.0.113.9', 'optional'],
    ['GET', '/auth/iiif/login', '203.0.113.9', 'required'],
    ['GET', '/', '127.0.0.1', 'required'],
    ['GET', '/_astro/client.js', '127.0.0.1', 'required'],
    ['GET', '/styles.css', '127.0.0.1', 'required'],
    ['GET', '/iiif/3/x/info.json', '127.0.0.1', 'required'],
    ['OPTIONS', '/iiif/3/x/info.json', '127.0.0.1', 'required'],
  ])('%s %s from %s: %s', (method, path, remote, expected) => {
    expect(gate().exemption(method, path, remote)).toBe(expected);
  });

  test('/readyz: open only to a direct local check; details only for staff and that check (issue 11.3)', () => {
    const g = gate();
    expect(g.exemption('POST', '/auth/iiif/logout', '203.0.113.9')).toBe('optional');
    for (const h of [{ 'x-forwarded-for': '203.0.113.9' }, { 'cf-connecting-ip': '203.0.113.9' }, { forwarded: 'for=x' }, { via: '1.1 x' }, { 'cf-access-jwt-assertion': 'x' }, { cookie: 'lang=ja; CF_Authorization=x' }]) {
      expect(g.exemption('GET', '/readyz', '127.0.0.1', h), JSON.stringify(h)).toBe('required');
      expect(g.seesHealthDetails(null, '127.0.0.1', h), JSON.stringify(h)).toBe(false);
    }
    expect(g.seesHealthDetails(null, '127.0.0.1', { cookie: 'lang=ja' })).toBe(true);
    expect(g.seesHealthDetails(null, '10.0.0.5', {})).toBe(false);
    expect(g.seesHealthDetails(g.userFor('curator@example.org', undefined, 'cloudflare'), '203.0.113.9', { 'x-forwarded-for': 'x' })).toBe(true);
    expect(g.seesHealthDetails(g.userFor('a@members.example.org', undefined, 'cloudflare'), '127.0.0.1', {})).toBe(false);
  });

  test('paths are normalised as the router sees them: dot segments cannot reach a page through an exempt prefix', async () => {
    expect(requestPath('/auth/iiif/probe/../../../items/R01-0013')).toBe('/items/R01-0013');
    expect(requestPath('/auth/iiif/probe/%2e%2e/%2e%2e/%2e%2e/api/search.json')).toBe('/api/search.json');
    const r = await gate().authenticate({ method: 'GET', url: '/auth/iiif/probe/../../../api/search.json', headers: {} });
    expect(r).toMatchObject({ allow: false, status: 401 });
  });
});

describe('refusals', () => {
  const gate = () => gateFor({ ...fa.env() });

  test('API and IIIF paths get 401 JSON; pages get a complete HTML page; HEAD gets no body', async () => {
    const api = await gate().authenticate({ method: 'GET', url: '/api/search.json?q=x', headers: {} });
    expect(api).toMatchObject({ allow: false, status: 401 });
    if (api.allow) throw new Error('allowed');
    expect(api.headers['Content-Type']).toMatch(/^application\/json/);
    expect(JSON.parse(api.body)).toEqual({ error: 'authentication required', status: 401 });
    expect(api.headers['Cache-Control']).toBe('no-store');
    expect(api.headers['WWW-Authenticate']).toMatch(/^CloudflareAccess realm=/);

    const page = await gate().authenticate({ method: 'GET', url: '/items/R01-0013', headers: { accept: 'text/html' } });
    if (page.allow) throw new Error('allowed');
    expect(page.headers['Content-Type']).toMatch(/^text\/html/);
    expect(page.body).toMatch(/^<!doctype html>[\s\S]*サインインが必要です[\s\S]*Sign-in required[\s\S]*<\/html>\n$/);
    expect(page.body).toContain(`href="${BASE}/"`);
    expect(page.body).not.toContain('R01-0013');

    const head = await gate().authenticate({ method: 'HEAD', url: '/', headers: {} });
    if (head.allow) throw new Error('allowed');
    expect(head.body).toBe('');
  });

  test('an info.json refusal names the probe service of that identifier, the same for any identifier', async () => {
    const r = await gate().authenticate({ method: 'GET', url: '/iiif/3/R01-0013-01/info.json', headers: {} });
    if (r.allow) throw new Error('allowed');
    const body = JSON.parse(r.body);
    expect(body.service[0]).toMatchObject({ id: `${BASE}/auth/iiif/probe/image/R01-0013-01`, type: 'AuthProbeService2' });
    expect(body.service[0].service[0]).toMatchObject({ id: `${BASE}/auth/iiif/login`, type: 'AuthAccessService2', profile: 'active' });
    const missing = await gate().authenticate({ method: 'GET', url: '/iiif/3/NO-SUCH-ID/info.json', headers: {} });
    if (missing.allow) throw new Error('allowed');
    expect(missing.body.replaceAll('NO-SUCH-ID', 'R01-0013-01')).toBe(r.body);
  });

  test('signing keys that cannot be fetched give 503 with Retry-After, never a pass', async () => {
    const g = gateFor({ ...fa.env(), CF_ACCESS_JWKS_URL: 'http://127.0.0.1:9/cdn-cgi/access/certs' });
    const r = await g.authenticate({ method: 'GET', url: '/api/search.json', headers: { 'cf-access-jwt-assertion': await fa.token() } });
    expect(r).toMatchObject({ allow: false, status: 503 });
    if (r.allow) throw new Error('allowed');
    expect(r.headers['Retry-After']).toBe('30');
  });

  test('a valid token yields the user with the level the rules give', async () => {
    const g = gateFor({ ...fa.env(), ACCESS_RULES: RULES });
    const cases: Array<[string, string]> = [
      ['reader@example.org', 'open'],
      ['someone@members.example.org', 'members'],
      ['curator@example.org', 'staff'],
    ];
    for (const [email, level] of cases) {
      const r = await g.authenticate({ method: 'GET', url: '/', headers: { cookie: `CF_Authorization=${await fa.token({ email })}` } });
      expect(r).toMatchObject({ allow: true, user: { id: email, email, level, via: 'cloudflare' } });
    }
  });
});

describe('hand-over to the middleware', () => {
  test('round-trips the outcome; a forged or foreign value is ignored', async () => {
    const g = gateFor({ ...fa.env(), ACCESS_RULES: RULES });
    const outcome = await g.authenticate({ method: 'GET', url: '/', headers: { 'cf-access-jwt-assertion': await fa.token({ email: 'curator@example.org' }) } });
    if (!outcome.allow) throw new Error('refused');
    const value = g.vouch(outcome);
    expect(g.readVouch(value)).toEqual({ user: outcome.user });
    const other = gateFor({ ...fa.env(), ACCESS_RULES: RULES });
    expect(other.readVouch(value)).toBeUndefined();
    const payload = Buffer.from(JSON.stringify({ u: { id: 'x', level: 'staff', levels: ['open', 'members', 'staff'], via: 'cloudflare' }, r: null })).toString('base64url');
    expect(g.readVouch(`guess.${payload}`)).toBeUndefined();
    expect(g.readVouch(`${value.split('.')[0]}.not-json`)).toBeUndefined();
    expect(g.readVouch(undefined)).toBeUndefined();
    expect(VOUCH_HEADER).toBe('x-archive-identity');
  });
});

describe('header mode', () => {
  test('the identity header counts only from a trusted proxy address', async () => {
    const g = gateFor({ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '10.0.0.0/8, ::1', ACCESS_RULES: RULES });
    const headers = { 'x-auth-request-email': 'curator@example.org', 'x-forwarded-for': '10.0.0.1' };
    expect(await g.authenticate({ method: 'GET', url: '/', headers, remoteAddress: '10.1.2.3' })).toMatchObject({ allow: true, user: { id: 'curator@example.org', level: 'staff', via: 'header' } });
    expect(await g.authenticate({ method: 'GET', url: '/', headers, remoteAddress: '::ffff:10.1.2.3' })).toMatchObject({ allow: true });
    expect(await g.authenticate({ method: 'GET', url: '/', headers, remoteAddress: '::1' })).toMatchObject({ allow: true });
    expect(await g.authenticate({ method: 'GET', url: '/', headers, remoteAddress: '192.168.1.1' })).toMatchObject({ allow: false, status: 401 });
    expect(await g.authenticate({ method: 'GET', url: '/', headers, remoteAddress: undefined })).toMatchObject({ allow: false, status: 401 });
    expect(await g.authenticate({ method: 'GET', url: '/', headers: {}, remoteAddress: '10.1.2.3' })).toMatchObject({ allow: false, status: 401 });
  });

  test('identity header values: one e-mail address, nothing else', () => {
    const trusted = new AddressList(['127.0.0.1']);
    expect(headerIdentity('A@Example.org', '127.0.0.1', trusted)).toEqual({ ok: true, id: 'a@example.org' });
    expect(headerIdentity('a@example.org, b@example.org', '127.0.0.1', trusted)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(headerIdentity(['a@example.org', 'b@example.org'], '127.0.0.1', trusted)).toMatchObject({ ok: false });
    expect(headerIdentity('admin', '127.0.0.1', trusted)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(headerIdentity('a@example.org', '127.0.0.2', trusted)).toMatchObject({ ok: false, reason: 'missing' });
    expect(headerIdentity(`${'a'.repeat(300)}@example.org`, '127.0.0.1', trusted)).toMatchObject({ ok: false });
  });
});

describe('none mode', () => {
  test('everyone is the anonymous user: everything on loopback by default, open items only when configured', async () => {
    expect(await gateFor({}).authenticate({ method: 'GET', url: '/', headers: {} })).toMatchObject({ allow: true, user: { id: 'anonymous', level: 'staff', via: 'none' } });
    expect(await gateFor({ ACCESS_ANONYMOUS_LEVEL: 'open' }).authenticate({ method: 'GET', url: '/', headers: {} })).toMatchObject({ allow: true, user: { level: 'open' } });
    const pub = gateFor({ HOST: '0.0.0.0', ALLOW_PUBLIC_UNAUTHENTICATED: 'true' });
    expect(await pub.authenticate({ method: 'GET', url: '/', headers: {} })).toMatchObject({ allow: true, user: { level: 'open' } });
  });
});

describe('rules', () => {
  test('exact addresses, *@domain (not subdomains), * and service token ids; the highest match wins', () => {
    const rules = parseRules(JSON.stringify({ staff: ['Curator@Example.org', 'harvester.access'], members: ['*@example.ac.jp', 'curator@example.org'] }));
    expect(levelFor('curator@example.org', rules)).toBe('staff');
    expect(levelFor('CURATOR@example.org', rules)).toBe('staff');
    expect(levelFor('harvester.access', rules)).toBe('staff');
    expect(levelFor('student@example.ac.jp', rules)).toBe('members');
    expect(levelFor('student@lab.example.ac.jp', rules)).toBe('open');
    expect(levelFor('student@example.ac.jp.evil.org', rules)).toBe('open');
    expect(levelFor('x@evilexample.ac.jp', rules)).toBe('open');
    expect(levelFor('reader@example.org', rules)).toBe('open');
    expect(levelFor('anyone@anywhere.org', parseRules('{"members":["*"]}'))).toBe('members');
  });

  test.each([
    ['not json', /not valid JSON/],
    ['[]', /JSON object/],
    ['{"open":["*"]}', /open.*needs no rule/],
    ['{"admins":["a@b.org"]}', /unknown level "admins"/],
    ['{"members":"*@b.org"}', /array/],
    ['{"members":["*@"]}', /domain/],
    ['{"members":["a*@b.org"]}', /only "\*" and "\*@domain"/],
    ['{"members":["not an address@"]}', /e-mail/],
    ['{"members":[""]}', /non-empty/],
  ])('refuses %s', (text, message) => {
    expect(() => parseRules(text)).toThrow(message);
  });
});

describe('IIIF access tokens', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('bound to the origin they were issued to, opaque, tamper-proof, short-lived, revocable', async () => {
    const tokens = new AccessTokens({ issuer: BASE, ttlSeconds: 60 });
    const t = await tokens.issue({ id: 'curator@example.org', origin: 'https://viewer.example.net' });
    expect(t.split('.')).toHaveLength(5);
    expect(Buffer.from(t.replaceAll('.', ''), 'base64url').toString('latin1')).not.toContain('curator');
    expect(await tokens.check(t)).toEqual({ ok: true, claims: { id: 'curator@example.org', origin: 'https://viewer.example.net' } });
    expect(await tokens.check(t, 'https://viewer.example.net')).toMatchObject({ ok: true });
    expect(await tokens.check(t, 'https://evil.example.com')).toMatchObject({ ok: false });
    const parts = t.split('.');
    parts[3] = parts[3]!.slice(0, -2) + (parts[3]!.endsWith('AA') ? 'BB' : 'AA');
    expect(await tokens.check(parts.join('.'))).toMatchObject({ ok: false });
    expect(await new AccessTokens({ issuer: BASE, ttlSeconds: 60 }).check(t)).toMatchObject({ ok: false });
    expect(await new AccessTokens({ issuer: 'https://other.example.org', ttlSeconds: 60, secret: undefined }).check(t)).toMatchObject({ ok: false });

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 70_000);
    expect(await tokens.check(t)).toMatchObject({ ok: false });
    vi.useRealTimers();

    const u = await tokens.issue({ id: 'a@example.org', origin: 'https://viewer.example.net' });
    const other = await tokens.issue({ id: 'b@example.org', origin: 'https://viewer.example.net' });
    tokens.revoke('a@example.org');
    expect(await tokens.check(u)).toMatchObject({ ok: false, detail: /revoked/ });
    expect(await tokens.check(other)).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 5));
    expect(await tokens.check(await tokens.issue({ id: 'a@example.org', origin: 'https://viewer.example.net' }))).toMatchObject({ ok: true });
  });

  test('a configured secret keeps tokens valid across restarts', async () => {
    const secret = 'f'.repeat(64);
    const t = await new AccessTokens({ issuer: BASE, ttlSeconds: 60, secret }).issue({ id: 'x@example.org', origin: BASE });
    expect(await new AccessTokens({ issuer: BASE, ttlSeconds: 60, secret }).check(t)).toMatchObject({ ok: true });
  });

  test('the token page posts only to a valid origin and cannot be broken out of', () => {
    expect(parseOrigin('https://viewer.example.net')).toBe('https://viewer.example.net');
    expect(parseOrigin('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    for (const bad of ['*', 'null', 'https://viewer.example.net/', 'https://viewer.example.net/path', 'javascript:alert(1)', 'file:///etc', '']) {
      expect(parseOrigin(bad), bad).toBeUndefined();
    }
    const page = tokenPage({ messageId: '</script><script>alert(1)</script>' }, 'https://viewer.example.net', 'n0nce');
    expect(page.html).not.toContain('</script><script>alert(1)');
    expect(page.html).toContain('"https://viewer.example.net"');
    expect(page.headers['Content-Security-Policy']).toContain("frame-ancestors https://viewer.example.net");
    expect(page.headers['Content-Security-Policy']).toContain("script-src 'nonce-n0nce'");
    const none = tokenPage(undefined, undefined, 'n');
    expect(none.html).not.toContain('postMessage');
    expect(none.headers['Content-Security-Policy']).toContain("frame-ancestors 'none'");
    expect(scriptJson('\u2028<&>')).toBe('"\\u2028\\u003c\\u0026\\u003e"');
  });
});

describe('origins allowed to receive tokens', () => {
  test('the archive itself, the configured ones, or any with *', () => {
    const g = gateFor({ ...fa.env(), IIIF_AUTH_ORIGINS: 'https://viewer.example.net, http://127.0.0.1:5173' });
    expect(g.originAllowed(BASE)).toBe(true);
    expect(g.originAllowed('https://viewer.example.net')).toBe(true);
    expect(g.originAllowed('http://127.0.0.1:5173')).toBe(true);
    expect(g.originAllowed('https://evil.example.com')).toBe(false);
    expect(g.originAllowed(null)).toBe(false);
    expect(g.corsFor('https://viewer.example.net')).toEqual({ 'Access-Control-Allow-Origin': 'https://viewer.example.net', 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' });
    expect(g.corsFor('https://evil.example.com')).toEqual({});
    expect(gateFor({ ...fa.env(), IIIF_AUTH_ORIGINS: '*' }).originAllowed('https://any.example.com')).toBe(true);
    expect(gateFor({ ...fa.env() }).originAllowed('https://viewer.example.net')).toBe(false);
  });

  test('opaque origins are never allowed, not even with IIIF_AUTH_ORIGINS=* (issue 11.6)', async () => {
    const any = gateFor({ ...fa.env(), IIIF_AUTH_ORIGINS: '*' });
    for (const o of ['null', 'file://', 'data:', 'about:blank', 'chrome-extension://abc', 'http://a b', 'http://x/y']) {
      expect(any.originAllowed(o), o).toBe(false);
      expect(any.corsFor(o), o).toEqual({});
    }
    const tokens = new AccessTokens({ secret: 'x'.repeat(40), issuer: BASE, ttlSeconds: 60 });
    const t = await tokens.issue({ id: 'a@example.org', origin: 'https://viewer.example.net' });
    expect((await tokens.check(t, 'https://viewer.example.net')).ok).toBe(true);
    expect((await tokens.check(t, undefined)).ok).toBe(true);
    expect((await tokens.check(t, 'null')).ok).toBe(false);
    expect((await tokens.check(t, '')).ok).toBe(false);
  });

  test('a refusal below /iiif/ is readable by an allowed client origin (to find the probe); nothing else is', async () => {
    const g = gateFor({ ...fa.env(), IIIF_AUTH_ORIGINS: 'https://viewer.example.net' });
    const refusal = async (url: string, origin: string) => {
      const r = await g.authenticate({ method: 'GET', url, headers: { origin } });
      if (r.allow) throw new Error('allowed');
      return r.headers['Access-Control-Allow-Origin'];
    };
    expect(await refusal('/iiif/3/x/info.json', 'https://viewer.example.net')).toBe('https://viewer.example.net');
    expect(await refusal('/api/iiif/x/manifest.json', 'https://viewer.example.net')).toBe('https://viewer.example.net');
    expect(await refusal('/iiif/3/x/info.json', 'https://evil.example.com')).toBeUndefined();
    expect(await refusal('/api/search.json', 'https://viewer.example.net')).toBeUndefined();
    expect(await refusal('/', 'https://viewer.example.net')).toBeUndefined();
  });
});

describe('scoped store', () => {
  const record = (id: string, access?: 'open' | 'members' | 'staff'): ItemRecord => ({
    id,
    batch: 'R01',
    title: { ja: id },
    images: [{ id: `${id}-01`, file: `${id}.jpg` }],
    ...(access ? { access } : {}),
    indexed_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    s3_uploaded: false,
  });
  const records = [record('A'), record('B', 'members'), record('C', 'staff')];
  const seen: SearchRequest[] = [];
  const fake = (honour = true): SearchStore => ({
    backend: 'fake',
    init: async () => {},
    upsert: async () => ({ inserted: 0, updated: 0 }),
    get: async (id) => records.find((r) => r.id === id) ?? null,
    getImage: async (id) => {
      const r = records.find((x) => x.images[0]!.id === id);
      return r ? ({ ...r.images[0]!, itemId: r.id, access: r.access ?? 'open' } as ImageEntry) : null;
    },
    search: async (req) => {
      seen.push(req);
      const access = (req.filters as { access?: string[] } | undefined)?.access;
      const hits = records.filter((r) => !honour || !access || access.includes(r.access ?? 'open')).map((record) => ({ record, score: 0 }));
      return { total: hits.length, page: 1, pageSize: 20, hits, facets: { batch: [], type: [] }, tooShort: [], unsearchable: false } satisfies SearchResponse;
    },
    count: async () => records.length,
    close: async () => {},
  });

  test('reads obey the scope; restricted items look missing; no scope, no reads', async () => {
    const s = scopedStore(fake());
    await expect(s.get('B')).rejects.toBeInstanceOf(AccessScopeMissing);
    await expect(s.search({})).rejects.toBeInstanceOf(AccessScopeMissing);
    await runInAccessScope({ levels: ['open'] }, async () => {
      expect(await s.get('A')).not.toBeNull();
      expect(await s.get('B')).toBeNull();
      expect(await s.getImage('B-01')).toBeNull();
      expect(await s.getImage('A-01')).not.toBeNull();
      expect((await s.search({ q: 'x' })).hits.map((h) => h.record.id)).toEqual(['A']);
      expect(seen.at(-1)?.filters).toEqual({ access: ['open'] });
      expect((await s.search({ filters: { batch: ['R01'], access: ['members'] } as never })).total).toBe(0);
    });
    await runInAccessScope({ levels: ['open', 'members'] }, async () => {
      expect(await s.get('B')).not.toBeNull();
      expect(await s.get('C')).toBeNull();
      expect((await s.search({ filters: { batch: ['R01'] } })).hits.map((h) => h.record.id)).toEqual(['A', 'B']);
      expect(seen.at(-1)?.filters).toEqual({ batch: ['R01'], access: ['open', 'members'] });
    });
    await runInAccessScope({ levels: [] }, async () => {
      const r = await s.search({ q: 'の' });
      expect(r).toMatchObject({ total: 0, hits: [], unsearchable: true, tooShort: ['の'] });
    });
  });

  test('a backend that ignores filters.access fails the request instead of leaking', async () => {
    const s = scopedStore(fake(false));
    await runInAccessScope({ levels: ['open'] }, async () => {
      await expect(s.search({})).rejects.toThrow(/outside filters.access/);
    });
  });
});
