/**
 * The built server in ACCESS_MODE=cloudflare, with Cloudflare Access played by a loopback JWKS and
 * tokens minted here:
 *  - the issue's matrix: every token kind against a page, the search API, a manifest, an info.json
 *    and a tile, in the header and in the cookie — only the valid token gets 200;
 *  - no path answers without a token, except the documented exemptions;
 *  - per-item rules: a members-only item is invisible (search, page, manifest, info.json, tiles,
 *    thumbnails, collections, comparison view) to an outsider — exactly like a missing item — and
 *    visible to a member;
 *  - an unknown kid refreshes the keys at most once per cooldown; unreachable keys are a 503.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { FakeAccess, tokenMatrix } from './helpers/access.ts';
import { presentationErrors } from '../helpers/iiif-schema.ts';

const MEMBER = 'student@members.example.org';
const OUTSIDER = 'reader@example.org';
const STAFF = 'curator@example.org';
const RESTRICTED = ['R01-0013', 'R02-0008'];

let fa: FakeAccess;
let server: RunningServer;
let base: string;
let tokens: { member: string; outsider: string; staff: string };
/** An open item's first image (for the matrix's info.json and tile). */
let openImage: string;

const asUser = (token: string | undefined, via: 'header' | 'cookie' = 'header'): RequestInit =>
  token === undefined ? {} : { headers: via === 'header' ? { 'Cf-Access-Jwt-Assertion': token } : { Cookie: `lang=ja; CF_Authorization=${token}` } };

async function get(p: string, init: RequestInit = {}): Promise<{ status: number; type: string; text: string; headers: Headers }> {
  const r = await fetch(base + p, { redirect: 'manual', ...init });
  const buf = Buffer.from(await r.arrayBuffer());
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: buf.toString('utf8'), headers: r.headers };
}

beforeAll(async () => {
  fa = await FakeAccess.start();
  server = await startServer({
    ...fa.env(1),
    ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'], staff: [STAFF] }),
  });
  base = server.baseUrl;
  tokens = { member: await fa.token({ email: MEMBER }), outsider: await fa.token({ email: OUTSIDER }), staff: await fa.token({ email: STAFF }) };
  const found = await (await fetch(`${base}/api/search.json?q=R01-0001`, asUser(tokens.outsider))).json();
  openImage = found.items.find((i: { id: string }) => i.id === 'R01-0001').images[0];
});

afterAll(async () => {
  await server?.stop();
  await fa?.close();
});

describe('the token matrix (issue 6)', () => {
  const targets = () => ({
    page: '/',
    'search API': '/api/search.json?q=%E6%9D%B1%E4%BA%AC',
    manifest: '/api/iiif/R01-0001/manifest.json',
    'info.json': `/iiif/3/${openImage}/info.json`,
    tile: `/iiif/3/${openImage}/0,0,256,256/256,/0/default.jpg`,
  });

  test('only the valid token gets 200, in the header or the cookie; everything else is a whole 401', async () => {
    const matrix = await tokenMatrix(fa);
    const results: string[] = [];
    let ok = 0;
    let refused = 0;
    for (const [name, token] of Object.entries(matrix)) {
      for (const via of ['header', 'cookie'] as const) {
        if (token === undefined && via === 'cookie') continue;
        for (const [target, p] of Object.entries(targets())) {
          const r = await get(p, asUser(token, via));
          results.push(`${name} via ${via} -> ${target}: ${r.status}`);
          if (name === 'valid') {
            expect(r.status, `${name} ${via} ${target}`).toBe(200);
            ok++;
            continue;
          }
          expect(r.status, `${name} ${via} ${target}`).toBe(401);
          expect(r.headers.get('cache-control')).toBe('no-store');
          if (target === 'page') {
            expect(r.type).toMatch(/^text\/html/);
            expect(r.text).toContain('Sign-in required');
            expect(r.text.trimEnd().endsWith('</html>')).toBe(true);
          } else {
            expect(r.type).toMatch(/^application\/json/);
            expect(JSON.parse(r.text)).toMatchObject({ error: 'authentication required', status: 401 });
          }
          refused++;
        }
      }
    }
    console.log(`token matrix: ${Object.keys(matrix).length} token kinds x ${Object.keys(targets()).length} targets (header and cookie): ${ok} x 200 (valid), ${refused} x 401`);
    expect(ok).toBe(10);
    expect(refused).toBe((Object.keys(matrix).length - 2) * 10 + 5);
  });

  test('an unknown kid refetches the keys (at most once per cooldown) and is still refused', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const before = fa.fetches;
    const forged = await fa.token({ key: fa.stranger, email: MEMBER });
    expect((await get('/api/search.json', asUser(forged))).status).toBe(401);
    expect(fa.fetches).toBe(before + 1);
    expect((await get('/api/search.json', asUser(await fa.token({ key: fa.stranger, kid: 'other' })))).status).toBe(401);
    expect(fa.fetches).toBe(before + 1);
  });

  test('a rotated key is picked up without a restart', async () => {
    const next = await fa.rotate('key-rotated');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await get('/api/search.json', asUser(await fa.token({ key: next, email: MEMBER })))).status).toBe(200);
  });
});

describe('no path answers without a token', () => {
  test('pages, APIs, IIIF, the viewer bundle, built assets and public files are all gated, whatever the method', async () => {
    const asset = readdirSync(path.join(ROOT, 'dist', 'client', '_astro')).find((f) => f.endsWith('.js'));
    expect(asset).toBeDefined();
    const paths = [
      '/',
      '/?q=%E6%9D%B1%E4%BA%AC',
      '/items/R01-0001',
      '/view?items=R01-0001,R01-0002',
      '/api/search.json',
      '/api/iiif/R01-0001/manifest.json',
      '/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC',
      `/iiif/3/${openImage}`,
      `/iiif/2/${openImage}/info.json`,
      `/iiif/3/${openImage}/full/!240,240/0/default.jpg`,
      '/vendor/mirador.min.js',
      `/_astro/${asset}`,
      '/styles.css',
      '/favicon.svg',
      '/auth/iiif/login?origin=http://127.0.0.1:1',
      '/admin',
      '/api/admin/status.json',
      '/no/such/page',
      '/healthz/',
      '/auth/iiif/probe/../../../api/search.json',
    ];
    for (const p of paths) {
      for (const method of ['GET', 'HEAD', 'POST', 'OPTIONS']) {
        const r = await get(p, { method });
        expect(r.status, `${method} ${p}`).toBe(401);
        if (method === 'HEAD') expect(r.text).toBe('');
      }
      // And the same path does answer with a token (not a 401 for another reason).
      expect((await get(p, asUser(tokens.member))).status, `GET ${p} with a token`).not.toBe(401);
    }
  });

  test('the exemptions: /healthz; /readyz from loopback; the IIIF Auth probe, token and logout services', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text).checks.find((c: { name: string }) => c.name === 'access')).toMatchObject({ ok: true, detail: expect.stringMatching(/signing key\(s\) from http:\/\/127\.0\.0\.1/) });
    const probe = await get(`/auth/iiif/probe/image/${openImage}`);
    expect(probe.status).toBe(200);
    expect(JSON.parse(probe.text)).toMatchObject({ type: 'AuthProbeResult2', status: 401 });
    const preflight = await get(`/auth/iiif/probe/image/${openImage}`, { method: 'OPTIONS', headers: { Origin: 'http://127.0.0.1:1', 'Access-Control-Request-Headers': 'authorization' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const token = await get('/auth/iiif/token?messageId=1&origin=http://127.0.0.1:1');
    expect(token.status).toBe(200);
    expect(token.text).toContain('AuthAccessTokenError2');
    expect(token.text).not.toContain('accessToken');
    // Sign-out: GET only asks for confirmation; the same-origin POST signs out (tests/security/front.test.ts).
    const logout = await get('/auth/iiif/logout');
    expect(logout.status).toBe(200);
    expect(logout.text).toContain('data-testid="logout-confirm"');
    const signOut = await get('/auth/iiif/logout', { method: 'POST', headers: { Origin: base, 'Content-Type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(signOut.status).toBe(303);
    expect(signOut.headers.get('location')).toBe('/cdn-cgi/access/logout');
  });

  test('the probe answers 401 for every identifier without a token: existence is not revealed', async () => {
    const a = JSON.parse((await get('/auth/iiif/probe/image/R01-0013')).text);
    const b = JSON.parse((await get('/auth/iiif/probe/image/NO-SUCH-IMAGE')).text);
    const c = JSON.parse((await get('/auth/iiif/probe/manifest/R01-0013')).text);
    expect(a).toEqual(b);
    expect(c).toEqual(b);
    expect(a.status).toBe(401);
  });
});

describe('per-item rules', () => {
  async function searchIds(token: string, q = ''): Promise<{ total: number; ids: string[]; facets: unknown }> {
    const body = JSON.parse((await get(`/api/search.json?size=100${q ? `&q=${encodeURIComponent(q)}` : ''}`, asUser(token))).text);
    return { total: body.total, ids: body.items.map((i: { id: string }) => i.id), facets: body.facets };
  }

  test('search: the members-only items are invisible to an outsider (hits, totals, facets), visible to a member and staff', async () => {
    const member = await searchIds(tokens.member);
    const outsider = await searchIds(tokens.outsider);
    const staff = await searchIds(tokens.staff);
    for (const id of RESTRICTED) {
      expect(member.ids).toContain(id);
      expect(staff.ids).toContain(id);
      expect(outsider.ids).not.toContain(id);
    }
    expect(outsider.total).toBe(member.total - RESTRICTED.length);
    expect(outsider.ids).toEqual(member.ids.filter((id) => !RESTRICTED.includes(id)));
    const batchSum = (f: any) => f.batch.reduce((n: number, b: { count: number }) => n + b.count, 0);
    expect(batchSum(outsider.facets)).toBe(outsider.total);
    // A query that names the item: found for the member only.
    expect((await searchIds(tokens.member, '運動会')).ids).toContain('R01-0013');
    expect((await searchIds(tokens.outsider, '運動会')).ids).not.toContain('R01-0013');
    expect((await searchIds(tokens.outsider, 'R01-0013')).total).toBe(0);
    // The search page and the collection of the search agree.
    const page = (await get('/', asUser(tokens.outsider))).text;
    expect(page).not.toContain('data-item-id="R01-0013"');
    expect((await get('/', asUser(tokens.member))).text).toContain('data-item-id="R01-0013"');
    // The canonical URL (other spellings such as ?size=100 are redirected to it).
    const collectionRes = await get('/api/iiif/collection', asUser(tokens.outsider));
    expect(collectionRes.status).toBe(200);
    const collection = collectionRes.text;
    expect(collection).not.toContain('R01-0013');
  });

  test('manifest: 404 for the outsider with exactly the body of a missing item; 200 and valid for the member', async () => {
    for (const id of RESTRICTED) {
      const restricted = await get(`/api/iiif/${id}/manifest.json`, asUser(tokens.outsider));
      const missing = await get(`/api/iiif/${id.replace('R0', 'X0')}/manifest.json`, asUser(tokens.outsider));
      expect(restricted.status).toBe(404);
      expect(restricted.type).toBe(missing.type);
      expect(restricted.text.replaceAll(id, 'ID')).toBe(missing.text.replaceAll(id.replace('R0', 'X0'), 'ID'));
      const ok = await get(`/api/iiif/${id}/manifest.json`, asUser(tokens.member));
      expect(ok.status).toBe(200);
      expect(presentationErrors(JSON.parse(ok.text))).toEqual([]);
    }
  });

  test('images: info.json, tiles and thumbnails are 404 for the outsider, indistinguishable from a missing image; 200 for the member', async () => {
    const manifest = JSON.parse((await get('/api/iiif/R01-0013/manifest.json', asUser(tokens.member))).text);
    const imageIds: string[] = manifest.items.map((c: any) => c.items[0].items[0].body.service[0].id.split('/').pop());
    expect(imageIds.length).toBeGreaterThan(0);
    for (const img of imageIds) {
      for (const suffix of ['info.json', 'full/!240,240/0/default.jpg', '0,0,256,256/256,/0/default.jpg', 'full/max/0/default.png']) {
        for (const v of ['2', '3']) {
          const restricted = await get(`/iiif/${v}/${img}/${suffix}`, asUser(tokens.outsider));
          const missing = await get(`/iiif/${v}/NO-SUCH-IMAGE/${suffix}`, asUser(tokens.outsider));
          expect(restricted.status, `${v}/${img}/${suffix}`).toBe(404);
          expect(restricted.type).toBe(missing.type);
          expect(restricted.text.replaceAll(img, 'ID')).toBe(missing.text.replaceAll('NO-SUCH-IMAGE', 'ID'));
          expect(restricted.headers.get('cache-control')).toBe(missing.headers.get('cache-control'));
          const head = await get(`/iiif/${v}/${img}/${suffix}`, { ...asUser(tokens.outsider), method: 'HEAD' });
          expect(head.status).toBe(404);
          const ok = await get(`/iiif/${v}/${img}/${suffix}`, asUser(tokens.member));
          expect(ok.status, `member ${v}/${img}/${suffix}`).toBe(200);
        }
      }
    }
  });

  test('item page and comparison view: the restricted item is "not found" for the outsider, shown to the member', async () => {
    const restricted = await get('/items/R01-0013', asUser(tokens.outsider));
    const missing = await get('/items/X01-0013', asUser(tokens.outsider));
    expect(restricted.status).toBe(404);
    expect(restricted.text.replaceAll('R01-0013', 'ID')).toBe(missing.text.replaceAll('X01-0013', 'ID'));
    const shown = await get('/items/R01-0013', asUser(tokens.member));
    expect(shown.status).toBe(200);
    expect(shown.text).toContain('尋常小学校の運動会');
    const view = (await get('/view?items=R01-0013,R01-0001', asUser(tokens.outsider))).text;
    const viewMissing = (await get('/view?items=X01-0013,R01-0001', asUser(tokens.outsider))).text;
    expect(view.replaceAll('R01-0013', 'ID')).toBe(viewMissing.replaceAll('X01-0013', 'ID'));
    expect((await get('/view?items=R01-0013,R01-0001', asUser(tokens.member))).text).toContain('R01-0013/manifest.json');
  });

  test('the page header shows who is signed in, with a sign-out link', async () => {
    const html = (await get('/', asUser(tokens.member))).text;
    expect(html).toContain(`data-testid="user-email">${MEMBER}<`);
    expect(html).toContain('href="/auth/iiif/logout"');
  });

  test('IIIF auth services are advertised in info.json and in the manifest', async () => {
    const info = JSON.parse((await get(`/iiif/3/${openImage}/info.json`, asUser(tokens.member))).text);
    expect(info['@context'][0]).toBe('http://iiif.io/api/auth/2/context.json');
    expect(info.service[0]).toMatchObject({ id: `${base}/auth/iiif/probe/image/${openImage}`, type: 'AuthProbeService2' });
    const info2 = JSON.parse((await get(`/iiif/2/${openImage}/info.json`, asUser(tokens.member))).text);
    expect(info2.service[0]).toMatchObject({ '@context': 'http://iiif.io/api/auth/2/context.json', type: 'AuthProbeService2' });
    const manifest = JSON.parse((await get('/api/iiif/R01-0001/manifest.json', asUser(tokens.member))).text);
    expect(manifest.service[0]).toMatchObject({ id: `${base}/auth/iiif/probe/manifest/R01-0001`, type: 'AuthProbeService2' });
    expect(manifest.items[0].items[0].items[0].body.service[0].service[0].type).toBe('AuthProbeService2');
  });

  test('IIIF access tokens from the token service: the probe answers per user and per item', async () => {
    async function tokenFor(user: string): Promise<string> {
      const html = (await get(`/auth/iiif/token?messageId=t1&origin=${encodeURIComponent(base)}`, asUser(user))).text;
      const token = /"accessToken":"([^"]+)"/.exec(html)?.[1];
      expect(token, html).toBeDefined();
      return token!;
    }
    const probe = async (p: string, token: string) => JSON.parse((await get(p, { headers: { Authorization: `Bearer ${token}` } })).text).status;
    const member = await tokenFor(tokens.member);
    const outsider = await tokenFor(tokens.outsider);
    expect(await probe('/auth/iiif/probe/image/R01-0013', member)).toBe(200);
    expect(await probe('/auth/iiif/probe/manifest/R01-0013', member)).toBe(200);
    expect(await probe('/auth/iiif/probe/image/R01-0013', outsider)).toBe(404);
    expect(await probe('/auth/iiif/probe/manifest/R01-0013', outsider)).toBe(404);
    expect(await probe('/auth/iiif/probe/image/NO-SUCH-IMAGE', outsider)).toBe(404);
    expect(await probe(`/auth/iiif/probe/image/${openImage}`, outsider)).toBe(200);
    expect(await probe(`/auth/iiif/probe/image/${openImage}`, 'not-a-token')).toBe(401);
    // A Cloudflare token is not an IIIF access token, and an IIIF token opens nothing but the probe.
    expect(await probe(`/auth/iiif/probe/image/${openImage}`, tokens.member)).toBe(401);
    expect((await get(`/iiif/3/${openImage}/info.json`, { headers: { Authorization: `Bearer ${member}` } })).status).toBe(401);
    // Signing out revokes the tokens of that user only.
    await get('/auth/iiif/logout', { method: 'POST', headers: { 'Cf-Access-Jwt-Assertion': tokens.outsider, Origin: base, 'Content-Type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(await probe(`/auth/iiif/probe/image/${openImage}`, outsider)).toBe(401);
    expect(await probe('/auth/iiif/probe/image/R01-0013', member)).toBe(200);
  });
});

describe('when Cloudflare cannot be reached', () => {
  test('cached keys keep verifying; a token needing a refetch gets 503, never a pass', async () => {
    await fa.close();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await get('/api/search.json', asUser(tokens.member))).status).toBe(200);
    const r = await get('/api/search.json', asUser(await fa.token({ key: fa.stranger })));
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('30');
    const page = await get('/', asUser(await fa.token({ key: fa.stranger, kid: 'again' })));
    expect([401, 503]).toContain(page.status);
  });
});
