/**
 * CORS preflight under the gate (issue 13): a browser sends a preflight (OPTIONS with `Origin` and
 * `Access-Control-Request-Method`) without credentials, so a gated front that asked the gate answered
 * 401 and every cross-origin IIIF client sending a non-safelisted header (the IIIF `Accept` profile,
 * `If-None-Match`) failed before its credentialed request was ever made. The front answers the
 * preflight itself on /iiif/* and /api/iiif/*: headers only, never `*`, the listed origin with
 * credentials; nothing reaches the image server or the app, and everything else still meets the gate.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';
import { AccessGate } from '../../src/lib/access/gate.ts';
import { createFront } from '../../src/lib/front/front.ts';
import type { ImageServer } from '../../src/lib/images/server.ts';
import { FakeAccess } from './helpers/access.ts';

const LISTED = 'https://viewer.example.org';
const OTHER = 'https://elsewhere.example.org';

let fa: FakeAccess;
const servers: http.Server[] = [];
/** What got past the front, per mode (the image server and the app must see no preflight). */
const reached: Record<string, string[]> = { cloudflare: [], header: [] };
const bases: Record<string, string> = {};

async function frontFor(mode: 'cloudflare' | 'header'): Promise<string> {
  const env =
    mode === 'cloudflare'
      ? { ...fa.env(), IIIF_AUTH_ORIGINS: LISTED }
      : { ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1', IIIF_AUTH_ORIGINS: LISTED };
  const cfg = loadConfig({ ...env, PUBLIC_BASE_URL: 'http://127.0.0.1:1', ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'] }) }, '/srv');
  const gate = new AccessGate({ access: cfg.access, publicBaseUrl: cfg.publicBaseUrl });
  const images = {
    handle: async (p: string) => {
      reached[mode]!.push(`image ${p}`);
      return { status: 200, headers: { 'Content-Type': 'application/json' }, body: '{}' };
    },
  } as unknown as ImageServer;
  const listener = createFront({
    gate,
    images,
    app: (req, res) => {
      reached[mode]!.push(`app ${req.method} ${req.url}`);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('app');
    },
  });
  const s = http.createServer(listener);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  // The gate's PUBLIC_BASE_URL is canonical; requests carry its Host.
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** node:http request with a chosen Host header (fetch does not let a test set it). */
function request(base: string, path: string, method: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers: { Host: '127.0.0.1:1', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const preflight = (origin: string) => ({ Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept, if-none-match' });

const IIIF_PATHS = [
  '/iiif/3/R01-0001/info.json',
  '/iiif/3/R01-0001/0,0,256,256/256,/0/default.jpg',
  '/iiif/2/NO-SUCH-IMAGE/info.json',
  '/api/iiif/R01-0001/manifest.json',
  '/api/iiif/collection?q=x&page=2',
];

beforeAll(async () => {
  fa = await FakeAccess.start();
  bases.cloudflare = await frontFor('cloudflare');
  bases.header = await frontFor('header');
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await fa?.close();
});

describe.each(['cloudflare', 'header'] as const)('%s mode', (mode) => {
  test('a preflight from the listed origin: 204, that origin with credentials, the IIIF request headers, no body', async () => {
    for (const p of IIIF_PATHS) {
      const r = await request(bases[mode]!, p, 'OPTIONS', preflight(LISTED));
      expect(r.status, p).toBe(204);
      expect(r.body, p).toBe('');
      expect(r.headers['access-control-allow-origin'], p).toBe(LISTED);
      expect(r.headers['access-control-allow-credentials'], p).toBe('true');
      expect(r.headers['access-control-allow-methods'], p).toBe('GET, HEAD, OPTIONS');
      const allowed = (r.headers['access-control-allow-headers'] ?? '').toLowerCase();
      for (const h of ['accept', 'if-none-match', 'if-modified-since']) expect(allowed, `${p} ${h}`).toContain(h);
      expect(r.headers.vary, p).toMatch(/Origin/);
      expect(r.headers['x-content-type-options'], p).toBe('nosniff');
      expect(r.headers['www-authenticate'], p).toBeUndefined();
    }
  });

  test('a preflight from an origin not listed: 204 without any allowed origin (the browser refuses), never *', async () => {
    for (const origin of [OTHER, 'null', 'http://127.0.0.1:1']) {
      const r = await request(bases[mode]!, '/iiif/3/R01-0001/info.json', 'OPTIONS', preflight(origin));
      expect(r.status, origin).toBe(204);
      expect(r.body, origin).toBe('');
      expect(r.headers['access-control-allow-origin'], origin).toBeUndefined();
      expect(r.headers['access-control-allow-credentials'], origin).toBeUndefined();
    }
  });

  test('the preflight reveals nothing: the same headers for an image that exists and one that does not', async () => {
    const strip = (h: http.IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date' && k !== 'connection' && k !== 'keep-alive'));
    const a = await request(bases[mode]!, '/iiif/3/R01-0001/info.json', 'OPTIONS', preflight(LISTED));
    const b = await request(bases[mode]!, '/iiif/3/NO-SUCH-IMAGE/info.json', 'OPTIONS', preflight(LISTED));
    expect(strip(a.headers)).toEqual(strip(b.headers));
  });

  test('everything that is not a preflight to a IIIF path still meets the gate: 401', async () => {
    const before = reached[mode]!.length;
    const cases: Array<[string, string, Record<string, string>]> = [
      ['OPTIONS', '/iiif/3/R01-0001/info.json', {}],
      ['OPTIONS', '/iiif/3/R01-0001/info.json', { Origin: LISTED }],
      ['OPTIONS', '/items/R01-0001', preflight(LISTED)],
      ['OPTIONS', '/api/search.json?q=x', preflight(LISTED)],
      ['OPTIONS', '/admin', preflight(LISTED)],
      ['GET', '/iiif/3/R01-0001/info.json', preflight(LISTED)],
      ['GET', '/api/iiif/R01-0001/manifest.json', preflight(LISTED)],
      ['POST', '/iiif/3/R01-0001/info.json', preflight(LISTED)],
    ];
    for (const [method, p, h] of cases) {
      const r = await request(bases[mode]!, p, method, h);
      expect(r.status, `${method} ${p} ${JSON.stringify(h)}`).toBe(401);
    }
    expect(reached[mode]!.slice(before)).toEqual([]);
  });

  test('no preflight reached the image server or the app', () => {
    expect(reached[mode]!.filter((l) => l.includes('OPTIONS') || l.startsWith('image'))).toEqual([]);
  });
});
