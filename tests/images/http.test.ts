/**
 * The plain node:http adapter (src/lib/images/http.ts) that scripts/start.ts can put in front of
 * Astro: only /iiif/ paths, the authorize hook first, extra headers, methods, streamed files.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { handleIiifRequest, iiifPath, withHeaders } from '../../src/lib/images/http.ts';
import { ImageServer } from '../../src/lib/images/server.ts';
import { rawRequest } from './harness.ts';

let tmp: string;
let base: string;
let srv: http.Server;
const seen: string[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-http-'));
  await sharp({ create: { width: 3000, height: 2000, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 }, background: '#000' } })
    .png()
    .toFile(path.join(tmp, 'a.png'));
  const server = new ImageServer({
    root: tmp,
    lookup: async (id) => (id === 'a' || id === 'secret' ? { file: 'a.png' } : null),
    maxWidth: 10000,
    maxHeight: 10000,
    maxArea: 1e8,
    publicBaseUrl: 'http://h',
    cacheDir: path.join(tmp, 'cache'),
    log: () => {},
  });
  srv = http.createServer((req, res) => {
    void handleIiifRequest(req, res, {
      server: async () => server,
      authorize: (rq, rs) => {
        seen.push(rq.url!);
        if (rq.url!.includes('/secret/')) {
          rs.writeHead(403, { 'Content-Type': 'text/plain' }).end('no\n');
          return false;
        }
        return true;
      },
      headers: (rq) => ({ 'X-Content-Type-Options': 'nosniff', ...(rq.headers.origin === 'https://viewer.example' ? { 'Access-Control-Allow-Origin': rq.headers.origin, Vary: 'Origin' } : {}) }),
    }).then((handled) => {
      if (!handled) res.writeHead(418).end('astro\n');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  srv?.closeAllConnections();
  await new Promise((r) => srv?.close(r));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('iiifPath: the raw path after /iiif/, without query; null elsewhere', () => {
  expect(iiifPath('/iiif/3/a/info.json?x=1')).toBe('3/a/info.json');
  expect(iiifPath('/iiif/3/a%2Fb/info.json')).toBe('3/a%2Fb/info.json');
  expect(iiifPath('/iiifx/3/a')).toBeNull();
  expect(iiifPath('/items/a')).toBeNull();
  expect(iiifPath(undefined)).toBeNull();
});

test('other paths are left to the next handler, untouched', async () => {
  const r = await rawRequest(base, '/items/x');
  expect(r.status).toBe(418);
  expect(seen).not.toContain('/items/x');
});

test('authorize runs first and may answer the request itself', async () => {
  const denied = await rawRequest(base, '/iiif/3/secret/info.json');
  expect(denied.status).toBe(403);
  expect(denied.body.toString()).toBe('no\n');
  const ok = await rawRequest(base, '/iiif/3/a/info.json');
  expect(ok.status).toBe(200);
  expect(seen).toContain('/iiif/3/a/info.json');
});

test('extra headers on every answer; Vary joined', async () => {
  const r = await rawRequest(base, '/iiif/3/a/info.json', { headers: { Origin: 'https://viewer.example' } });
  expect(r.headers['x-content-type-options']).toBe('nosniff');
  expect(r.headers['access-control-allow-origin']).toBe('https://viewer.example');
  expect(r.headers.vary).toBe('Accept, Origin');
  const e = await rawRequest(base, '/iiif/3/nope/info.json');
  expect(e.status).toBe(404);
  expect(e.headers['x-content-type-options']).toBe('nosniff');
  expect(withHeaders({ Vary: 'Accept' }, undefined)).toEqual({ Vary: 'Accept' });
});

test('methods: OPTIONS preflight 204, others 405', async () => {
  const o = await rawRequest(base, '/iiif/3/a/info.json', { method: 'OPTIONS' });
  expect(o.status).toBe(204);
  expect(o.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
  const p = await rawRequest(base, '/iiif/3/a/info.json', { method: 'POST' });
  expect(p.status).toBe(405);
  expect(p.headers.allow).toBe('GET, HEAD, OPTIONS');
});

test('a large rendering is streamed from its file, with its length; HEAD sends none of it', async () => {
  // 3000 x 2000 noise as PNG: estimated far over 8 MB, so encoded to a file and streamed.
  const r = await rawRequest(base, '/iiif/3/a/full/max/0/default.png');
  expect(r.status).toBe(200);
  expect(Number(r.headers['content-length'])).toBe(r.body.length);
  expect(r.body.length).toBeGreaterThan(8 * 2 ** 20);
  const meta = await sharp(r.body).metadata();
  expect([meta.width, meta.height]).toEqual([3000, 2000]);
  const h = await rawRequest(base, '/iiif/3/a/full/max/0/default.png', { method: 'HEAD' });
  expect(h.status).toBe(200);
  expect(h.body.length).toBe(0);
  // Again: from the disk cache, still streamed.
  const again = await rawRequest(base, '/iiif/3/a/full/max/0/default.png');
  expect(Buffer.compare(again.body, r.body)).toBe(0);
});
