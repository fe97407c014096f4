/**
 * The node:http front of the built server (src/lib/front/front.ts), attacked as issue 11 did, in
 * ACCESS_MODE=cloudflare and ACCESS_MODE=header, from a raw socket:
 *
 *  - the three reproductions of 11.1 (a Host with a path, an absolute request target);
 *  - the generated gate matrix: request-target forms × Host forms × every surface × both modes —
 *    without a valid identity nothing but 400/401, and the exempt paths answer only their own
 *    content;
 *  - the fuzz suite: methods, headers and path/query encodings against every surface, with and
 *    without an identity — no 5xx, and no stack trace in the server's log;
 *  - health without disclosure, CORS and caching of private content, sign-out by POST only,
 *    tokens refused from opaque origins, an unreadable image source.
 */
import { readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, SERVER_START_TIMEOUT_MS, startServer, type RunningServer } from '../helpers/server.ts';
import { FakeAccess } from './helpers/access.ts';
import { pool, rawRequest, type RawResponse } from './helpers/raw.ts';

const MEMBER = 'student@members.example.org';
const STAFF = 'curator@example.org';
const ALLOWED_ORIGIN = 'http://127.0.0.1:9';

let fa: FakeAccess;
let cf: RunningServer;
let hdr: RunningServer;
let tokens: { member: string; staff: string };
const portOf = (s: RunningServer) => Number(new URL(s.baseUrl).port);

beforeAll(async () => {
  fa = await FakeAccess.start();
  cf = await startServer({
    ...fa.env(1),
    ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'], staff: [STAFF] }),
    IIIF_AUTH_ORIGINS: ALLOWED_ORIGIN,
  });
  // The header-mode server shares the corpus (and store) the first one created.
  hdr = await startServer(
    { ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1', ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'], staff: [STAFF] }) },
    { dataDir: cf.dataDir },
  );
  tokens = { member: await fa.token({ email: MEMBER }), staff: await fa.token({ email: STAFF }) };
  // Two server starts (a build and the demo corpus on a cold checkout): waited on, on a loaded machine too.
}, 2 * SERVER_START_TIMEOUT_MS + 100_000); // startServer's own bound per server

afterAll(async () => {
  await hdr?.stop();
  await cf?.stop();
  await fa?.close();
});

type Mode = 'cloudflare' | 'header';
const serverOf = (mode: Mode) => (mode === 'cloudflare' ? cf : hdr);
/** Identity header lines of a member, per mode. */
const identity = (mode: Mode, who: 'member' | 'staff' = 'member') =>
  mode === 'cloudflare' ? [`Cf-Access-Jwt-Assertion: ${tokens[who]}`] : [`X-Auth-Request-Email: ${who === 'member' ? MEMBER : STAFF}`];

const astroAsset = () => readdirSync(path.join(ROOT, 'dist', 'client', '_astro')).find((f) => f.endsWith('.js'))!;

/** Every surface of the archive (path and query). */
function surfaces(): Record<string, string> {
  return {
    search: '/?q=%E6%9D%B1%E4%BA%AC',
    item: '/items/R01-0001',
    view: '/view?items=R01-0001,R01-0002',
    'search API': '/api/search.json?q=x',
    manifest: '/api/iiif/R01-0001/manifest.json',
    collection: '/api/iiif/collection?q=%E6%9D%B1%E4%BA%AC',
    'info.json': '/iiif/3/R01-0001/info.json',
    tile: '/iiif/3/R01-0001/0,0,256,256/256,/0/default.jpg',
    'image 2.1': '/iiif/2/R01-0001/full/120,/0/default.jpg',
    astro: `/_astro/${astroAsset()}`,
    vendor: '/vendor/mirador.min.js',
    styles: '/styles.css',
    admin: '/admin',
    login: '/auth/iiif/login?origin=http%3A%2F%2F127.0.0.1%3A9',
    token: '/auth/iiif/token?messageId=1&origin=http%3A%2F%2F127.0.0.1%3A9',
    probe: '/auth/iiif/probe/image/R01-0001',
    logout: '/auth/iiif/logout',
    healthz: '/healthz',
    readyz: '/readyz',
  };
}

/** What an exempt path may answer without an identity: its own content and nothing else. */
const OWN_CONTENT: Record<string, (r: RawResponse) => boolean> = {
  '/healthz': (r) => r.status === 200 && r.body === '{"status":"ok"}',
  '/readyz': (r) => (r.status === 200 || r.status === 503) && Array.isArray(JSON.parse(r.body).checks),
  '/auth/iiif/token': (r) => r.status === 200 && r.body.includes('AuthAccessTokenError2') && !r.body.includes('"accessToken"'),
  '/auth/iiif/probe/image/R01-0001': (r) => r.status === 200 && JSON.parse(r.body).type === 'AuthProbeResult2' && JSON.parse(r.body).status === 401,
  '/auth/iiif/logout': (r) => r.status === 200 && r.body.includes('data-testid="logout-confirm"'),
};

describe('the three reproductions of issue 11.1', () => {
  test.each(['cloudflare', 'header'] as const)('%s mode: the router answers what the gate decided on, or 400', async (mode) => {
    const port = portOf(serverOf(mode));
    const a = await rawRequest(port, ['GET /healthz HTTP/1.1', `Host: 127.0.0.1:${port}/readyz#`]);
    expect(a.status).toBe(400);
    expect(a.body).not.toMatch(/checks|records|signing key/);
    const b = await rawRequest(port, ['GET /auth/iiif/token HTTP/1.1', `Host: 127.0.0.1:${port}/vendor/mirador.min.js#`]);
    expect(b.status).toBe(400);
    expect(b.body.length).toBeLessThan(200);
    const c = await rawRequest(port, [`GET http://127.0.0.1:${port}/healthz HTTP/1.1`, `Host: 127.0.0.1:${port}`]);
    expect(c.status).toBe(200);
    expect(c.body).toBe('{"status":"ok"}');
  });
});

describe('the generated gate matrix', () => {
  test('request-target forms × Host forms × surfaces × modes: without an identity, 400/401 or the exempt path’s own content', async () => {
    let total = 0;
    const counts: Record<string, number> = {};
    const failures: string[] = [];
    for (const mode of ['cloudflare', 'header'] as const) {
      const port = portOf(serverOf(mode));
      const self = `127.0.0.1:${port}`;
      const hostForms: Record<string, string[]> = {
        valid: [`Host: ${self}`],
        'with path': [`Host: ${self}/readyz#`],
        'with bundle path': [`Host: ${self}/vendor/mirador.min.js#`],
        'with ?': [`Host: ${self}?a=/healthz`],
        'with #': [`Host: ${self}#/readyz`],
        'with @': ['Host: a@b'],
        userinfo: [`Host: user:pw@${self}`],
        'IPv6 literal': [`Host: [::1]:${port}`],
        'other host': ['Host: evil.example'],
        duplicate: [`Host: ${self}`, 'Host: evil.example/readyz#'],
        missing: [],
        'over-long': [`Host: ${'a'.repeat(300)}.example`],
      };
      for (const [surface, p] of Object.entries(surfaces())) {
        const targets: Record<string, string> = {
          origin: p,
          absolute: `http://${self}${p}`,
          'absolute, other host': `http://evil.example${p}`,
          authority: self,
          asterisk: '*',
        };
        const tasks: Array<() => Promise<void>> = [];
        for (const [form, target] of Object.entries(targets)) {
          for (const [hostForm, hostLines] of Object.entries(hostForms)) {
            // 'PREFLIGHT': a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method),
            // which a browser sends without credentials: on the IIIF paths the front answers it with
            // 204 and headers only (issue 13), so 204 without a body joins 400/401 there.
            for (const method of form === 'asterisk' ? ['GET', 'OPTIONS'] : form === 'origin' ? ['GET', 'PREFLIGHT'] : ['GET']) {
              tasks.push(async () => {
                const preflight = method === 'PREFLIGHT';
                const r = await rawRequest(port, [`${preflight ? 'OPTIONS' : method} ${target} HTTP/1.1`, ...hostLines, ...(preflight ? [`Origin: ${ALLOWED_ORIGIN}`, 'Access-Control-Request-Method: GET'] : [])]);
                total++;
                counts[r.status] = (counts[r.status] ?? 0) + 1;
                const pathOnly = p.split('?')[0]!;
                const own = OWN_CONTENT[pathOnly];
                const canReachPath = form === 'origin' || form === 'absolute';
                // (The IIIF Auth probe answered its preflight before: an exempt path of its own.)
                const preflightAnswer = preflight && /^\/((api\/)?iiif\/|auth\/iiif\/probe\/)/.test(p) && r.status === 204 && r.body === '' && r.headers['access-control-allow-origin'] !== '*';
                const fine = r.status === 400 || r.status === 401 || preflightAnswer || (own !== undefined && canReachPath && (() => { try { return own(r); } catch { return false; } })());
                if (!fine) failures.push(`${mode} ${method} ${form} ${target.slice(0, 60)} Host ${hostForm} (${surface}): ${r.status} ${r.body.slice(0, 80)}`);
              });
            }
          }
        }
        await pool(tasks, 6);
      }
    }
    console.log(`gate matrix: ${total} requests (2 modes × ${Object.keys(surfaces()).length} surfaces × 5 target forms × 12 Host forms, + OPTIONS *, + CORS preflights); statuses ${JSON.stringify(counts)}`);
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(2000);
    // The preflights with a valid Host to the five IIIF surfaces, in both modes, were answered.
    expect(counts[204] ?? 0).toBeGreaterThanOrEqual(2 * 5);
  }, 900_000);

  test('with an identity, every valid form reaches the same page: the canonicalisation does not lock users out', async () => {
    for (const mode of ['cloudflare', 'header'] as const) {
      const port = portOf(serverOf(mode));
      for (const [target, host] of [
        ['/items/R01-0001', `127.0.0.1:${port}`],
        [`http://127.0.0.1:${port}/items/R01-0001`, `127.0.0.1:${port}`],
        ['/items/R01-0001', `[::1]:${port}`],
        ['/auth/iiif/probe/../../../items/R01-0001', `127.0.0.1:${port}`],
      ] as const) {
        const r = await rawRequest(port, [`GET ${target} HTTP/1.1`, `Host: ${host}`, ...identity(mode)]);
        expect(r.status, `${mode} ${target} ${host}`).toBe(200);
        expect(r.body).toContain('R01-0001');
      }
    }
  });
});

describe('fuzz: methods, headers and encodings against every surface', () => {
  const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'PURGE', 'SEARCH', 'LOCK'];
  const MUTATIONS: Array<[string, (p: string) => string]> = [
    ['as is', (p) => p],
    ['bad percent', (p) => `${p}${p.includes('?') ? '&' : '?'}q=%E0%A4%A`],
    ['bad percent in path', (p) => p.replace(/\/([^/?]*)(\?|$)/, '/%E0%A4%A$2')],
    ['overlong UTF-8', (p) => p.replace(/\/([^/?]*)(\?|$)/, '/%C0%AF$2')],
    ['NUL', (p) => `${p.split('?')[0]}%00`],
    ['double slash', (p) => `/${p}`],
    ['dot segments', (p) => `/auth/iiif/probe/..%2f..%2f..${p}`],
    ['backslash', (p) => p.replace(/\//g, '\\').replace(/^\\/, '/')],
    ['huge query', (p) => `${p}${p.includes('?') ? '&' : '?'}x=${'A'.repeat(6000)}`],
    ['repeated params', (p) => `${p}${p.includes('?') ? '&' : '?'}page=-1&page=9999999999999&size=NaN&q=%EF%BF%BF&batch[]=x`],
    ['content-state %', () => `/view?iiif-content=${Buffer.from('http://127.0.0.1:1/api/iiif/%E0%A4%A/manifest.json').toString('base64url')}`],
    ['content-state junk', () => '/view?iiif-content=%%%%&items=%E0'],
  ];
  const HEADERS: Array<[string, string[]]> = [
    ['none', []],
    ['bad Accept-Language', ['Accept-Language: \u00ff\u00fe;q=abc, *;q=-1']],
    ['Range', ['Range: bytes=99999999999-1']],
    ['conditional', ['If-None-Match: "x", W/"y", *', 'If-Modified-Since: yesterday']],
    ['Origin null', ['Origin: null']],
    ['forwarded', ['X-Forwarded-For: 1.2.3.4, ::1', 'Forwarded: for=unknown;host=evil', 'X-Forwarded-Host: evil.example']],
    ['cookie junk', ['Cookie: CF_Authorization=%%%; lang=xx; =;;']],
    ['bad bearer', ['Authorization: Bearer a.b.c.d.e']],
  ];

  test('no 5xx and no stack trace logged, with and without an identity', async () => {
    let total = 0;
    const fivexx: string[] = [];
    const before = { cf: cf.output().length, hdr: hdr.output().length };
    for (const mode of ['cloudflare', 'header'] as const) {
      const port = portOf(serverOf(mode));
      const tasks: Array<() => Promise<void>> = [];
      let i = 0;
      for (const [surface, p] of Object.entries(surfaces())) {
        // Every method on the plain request; then each encoding with GET and one other method, the
        // header sets taking turns (so each meets every surface and encoding over the run).
        const cases: Array<[string, string, string, string[]]> = METHODS.map((m) => [m, p, 'as is', []]);
        for (const [mname, mutate] of MUTATIONS) {
          for (const method of ['GET', METHODS[i++ % METHODS.length]!]) {
            for (let k = 0; k < 2; k++) {
              const [hname, hlines] = HEADERS[(i + k * 3) % HEADERS.length]!;
              cases.push([method, mutate(p), `${mname} [${hname}]`, hlines]);
            }
          }
        }
        for (const [method, target, what, hlines] of cases) {
          for (const who of ['nobody', 'member'] as const) {
            tasks.push(async () => {
              const lines = [
                `${method} ${target} HTTP/1.1`,
                `Host: 127.0.0.1:${port}`,
                ...hlines,
                ...(method === 'POST' || method === 'PUT' || method === 'PATCH' ? ['Content-Type: application/x-www-form-urlencoded', 'Content-Length: 0'] : []),
                ...(who === 'member' ? identity(mode) : []),
              ];
              let r: RawResponse;
              try {
                r = await rawRequest(port, lines);
              } catch (e) {
                fivexx.push(`${mode} ${who} ${method} ${target.slice(0, 80)} (${surface}, ${what}): no answer (${(e as Error).message})`);
                return;
              }
              total++;
              if (r.status >= 500 && !(p === '/readyz' && r.status === 503)) fivexx.push(`${mode} ${who} ${method} ${target.slice(0, 80)} (${surface}, ${what}): ${r.status} ${r.body.slice(0, 120)}`);
            });
          }
        }
      }
      await pool(tasks, 6);
    }
    const log = cf.output().slice(before.cf) + hdr.output().slice(before.hdr);
    const stacks = log.split('\n').filter((l) => /"stack"|\n\s+at |^\s+at /.test(l) || /"level":"error"/.test(l));
    console.log(`fuzz: ${total} requests (${METHODS.length} methods, ${MUTATIONS.length} path/query encodings, ${HEADERS.length} header sets, ${Object.keys(surfaces()).length} surfaces, with and without identity, 2 modes); 5xx: ${fivexx.length}; stack traces logged: ${stacks.length}`);
    expect(fivexx).toEqual([]);
    expect(stacks).toEqual([]);
    expect(total).toBeGreaterThan(2000);
  }, 900_000);

  test('TRACE and unknown methods are 405 with Allow, before anything else', async () => {
    const port = portOf(cf);
    for (const method of ['TRACE', 'TRACK', 'PROPFIND', 'CONNECT']) {
      const r = await rawRequest(port, [`${method} ${method === 'CONNECT' ? `127.0.0.1:${port}` : '/'} HTTP/1.1`, `Host: 127.0.0.1:${port}`]).catch((e: Error) => e);
      // Node's parser refuses methods it does not know (400); the others are 405 with Allow.
      if (r instanceof Error) throw r;
      expect([400, 405], method).toContain(r.status);
      if (method !== 'TRACK') expect(r.status, method).toBe(405);
      if (r.status === 405) expect(r.headers.allow, method).toMatch(/GET/);
    }
  });

  test('an image whose source is not an image (a symlink to a text file) is a 4xx, not a 500', async () => {
    const images = path.join(cf.dataDir, 'images', 'R01');
    const file = readdirSync(images).find((f) => f.startsWith('R01-0002.'))!;
    const text = path.join(cf.dataDir, 'not-an-image.txt');
    writeFileSync(text, 'hello, I am not a JPEG\n');
    rmSync(path.join(images, file));
    symlinkSync(text, path.join(images, file));
    const port = portOf(cf);
    for (const p of ['/iiif/3/R01-0002/info.json', '/iiif/3/R01-0002/full/max/0/default.jpg']) {
      const r = await rawRequest(port, [`GET ${p} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...identity('cloudflare')]);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.status, p).toBeLessThan(500);
      expect(r.body).not.toContain(cf.dataDir);
    }
  });
});

describe('health without disclosure', () => {
  test('/healthz says only ok; /readyz details only for staff and a direct local check', async () => {
    const port = portOf(cf);
    const get = (p: string, lines: string[] = []) => rawRequest(port, [`GET ${p} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...lines]);
    expect((await get('/healthz', identity('cloudflare', 'staff'))).body).toBe('{"status":"ok"}');
    const local = await get('/readyz');
    expect(JSON.parse(local.body).checks).toBeDefined();
    const member = await get('/readyz', identity('cloudflare'));
    expect(JSON.parse(member.body)).toEqual({ status: 'ok' });
    const staff = await get('/readyz', identity('cloudflare', 'staff'));
    expect(JSON.parse(staff.body).checks.length).toBeGreaterThan(0);
    // A tunnel connector on this host: loopback peer, but proxy headers — no details, no entry.
    for (const h of ['Cf-Connecting-IP: 203.0.113.7', 'X-Forwarded-For: 203.0.113.7', 'Forwarded: for=203.0.113.7', 'Via: 1.1 tunnel']) {
      const relayed = await get('/readyz', [h]);
      expect(relayed.status, h).toBe(401);
      expect(relayed.body).not.toMatch(/records|checks/);
      const relayedMember = await get('/readyz', [h, ...identity('cloudflare')]);
      expect(JSON.parse(relayedMember.body), h).toEqual({ status: 'ok' });
    }
  });
});

describe('CORS and caching of private content', () => {
  const privatePaths = ['/api/iiif/R01-0001/manifest.json', '/api/iiif/collection', '/iiif/3/R01-0001/info.json', '/iiif/3/R01-0001/0,0,256,256/256,/0/default.jpg', '/api/search.json?q=x', '/items/R01-0001', '/auth/iiif/probe/image/R01-0001'];

  test.each(['cloudflare', 'header'] as const)('%s: never ACAO *, an allowed origin gets itself with Vary: Origin, private bytes are never stored', async (mode) => {
    const port = portOf(serverOf(mode));
    for (const p of privatePaths) {
      for (const origin of [undefined, 'http://127.0.0.1:1', ALLOWED_ORIGIN, 'null']) {
        const r = await rawRequest(port, [`GET ${p} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...identity(mode), ...(origin ? [`Origin: ${origin}`] : [])]);
        expect(r.status, `${p} ${origin}`).toBe(200);
        expect(r.headers['access-control-allow-origin'], `${p} ${origin}`).not.toBe('*');
        if (origin === ALLOWED_ORIGIN && mode === 'cloudflare' && !p.startsWith('/items') && !p.startsWith('/api/search')) {
          expect(r.headers['access-control-allow-origin'], p).toBe(ALLOWED_ORIGIN);
          expect(r.headers.vary, p).toMatch(/Origin/);
        } else {
          expect(r.headers['access-control-allow-origin'], `${p} ${origin}`).toBeUndefined();
        }
        if (!p.startsWith('/auth/')) {
          expect(r.headers['cache-control'], p).toBe('private, no-store');
          expect(r.headers.vary, p).toMatch(/Cookie/);
        }
      }
    }
  });

  test('pages carry a strict Content-Security-Policy', async () => {
    const port = portOf(cf);
    for (const p of ['/', '/items/R01-0001', '/view?items=R01-0001', '/auth/iiif/logout', '/admin']) {
      const r = await rawRequest(port, [`GET ${p} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...identity('cloudflare', 'staff')]);
      const csp = r.headers['content-security-policy'] ?? '';
      expect(csp, p).toMatch(/default-src 'self'/);
      expect(csp, p).toMatch(/script-src 'self'/);
      expect(csp, p).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      expect(csp, p).toMatch(/img-src 'self' blob: data:/);
      expect(csp, p).toMatch(/frame-ancestors 'self'/);
    }
  });
});

describe('sign-out and IIIF tokens', () => {
  const base = () => cf.baseUrl;
  async function accessToken(cfToken: string): Promise<string> {
    const html = await (await fetch(`${base()}/auth/iiif/token?messageId=t1&origin=${encodeURIComponent(base())}`, { headers: { 'Cf-Access-Jwt-Assertion': cfToken } })).text();
    return /"accessToken":"([^"]+)"/.exec(html)![1]!;
  }
  const probe = async (token: string, origin?: string) =>
    (await (await fetch(`${base()}/auth/iiif/probe/image/R01-0001`, { headers: { Authorization: `Bearer ${token}`, ...(origin ? { Origin: origin } : {}) } })).json()).status;

  test('Origin: null (and any other origin than the token’s) is refused by the token binding', async () => {
    const t = await accessToken(tokens.member);
    expect(await probe(t)).toBe(200);
    expect(await probe(t, base())).toBe(200);
    expect(await probe(t, 'null')).toBe(401);
    expect(await probe(t, 'http://127.0.0.1:1')).toBe(401);
  });

  test('GET shows a confirmation and signs nobody out; a cross-site POST is refused; a same-origin POST signs out and clears the site data', async () => {
    const user = await fa.token({ email: 'leaver@members.example.org' });
    const t = await accessToken(user);
    const as = { 'Cf-Access-Jwt-Assertion': user };
    const confirm = await fetch(`${base()}/auth/iiif/logout`, { headers: as, redirect: 'manual' });
    expect(confirm.status).toBe(200);
    expect(await confirm.text()).toContain('method="post"');
    expect(await probe(t)).toBe(200);
    const cross = await fetch(`${base()}/auth/iiif/logout`, { method: 'POST', headers: { ...as, Origin: 'http://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(cross.status).toBe(403);
    expect(await probe(t)).toBe(200);
    const out = await fetch(`${base()}/auth/iiif/logout`, { method: 'POST', headers: { ...as, Origin: base(), 'Content-Type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/cdn-cgi/access/logout');
    expect(out.headers.get('clear-site-data')).toMatch(/"cache"/);
    expect(await probe(t)).toBe(401);
  });
});
