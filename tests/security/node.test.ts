/**
 * The gate on plain node:http (src/lib/access/node.ts): `guard` in front of a listener, and the
 * gate's part of the IIIF adapter (src/lib/images/http.ts handleIiifRequest): the image server, told
 * the user's levels, must refuse a restricted image with exactly its answer for a missing one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';
import { AccessGate, VOUCH_HEADER } from '../../src/lib/access/gate.ts';
import { guard, iiifGate, userOf } from '../../src/lib/access/node.ts';
import { handleIiifRequest } from '../../src/lib/images/http.ts';
import { ImageServer } from '../../src/lib/images/server.ts';
import type { ImageEntry } from '../../src/lib/search/store.ts';
import { FakeAccess } from './helpers/access.ts';

let fa: FakeAccess;
let gate: AccessGate;
const servers: http.Server[] = [];

async function listen(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  fa = await FakeAccess.start();
  const cfg = loadConfig({ ...fa.env(), PUBLIC_BASE_URL: 'http://127.0.0.1:1', ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'] }) }, '/srv');
  gate = new AccessGate({ access: cfg.access, publicBaseUrl: cfg.publicBaseUrl });
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await fa.close();
});

describe('guard', () => {
  test('refuses before the listener runs; lets a user through with the hand-over header, never a client-sent one', async () => {
    const seen: Array<{ url: string; vouch: string | undefined; user: string | undefined }> = [];
    const base = await listen((req, res) =>
      guard(gate, req, res, (rq, rs) => {
        seen.push({ url: rq.url!, vouch: rq.headers[VOUCH_HEADER] as string | undefined, user: userOf(rq)?.id });
        rs.end('inner');
      }),
    );
    const refused = await fetch(`${base}/_astro/x.js`, { headers: { [VOUCH_HEADER]: 'forged.e30' } });
    expect(refused.status).toBe(401);
    expect(seen).toEqual([]);
    const ok = await fetch(`${base}/styles.css`, { headers: { 'Cf-Access-Jwt-Assertion': await fa.token({ email: 'a@members.example.org' }), [VOUCH_HEADER]: 'forged.e30' } });
    expect(await ok.text()).toBe('inner');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.user).toBe('a@members.example.org');
    expect(gate.readVouch(seen[0]!.vouch)).toMatchObject({ user: { id: 'a@members.example.org', level: 'members' } });
    // An exempt path passes without a user, and with no usable hand-over of one.
    const health = await fetch(`${base}/healthz`, { headers: { [VOUCH_HEADER]: 'forged.e30' } });
    expect(await health.text()).toBe('inner');
    expect(gate.readVouch(seen[1]!.vouch)).toEqual({ user: null });
  });
});

describe('iiifGate (the IIIF adapter without the front): the image server decides with the user\'s levels', () => {
  const images: Record<string, ImageEntry> = {
    open1: { id: 'open1', file: 'a.png', itemId: 'A', access: 'open' },
    memb1: { id: 'memb1', file: 'a.png', itemId: 'B', access: 'members' },
  };
  let base: string;
  let root: string;
  let lookups = 0;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'node-gate-'));
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#8a6' } }).png().toFile(path.join(root, 'a.png'));
    const server = new ImageServer({
      root,
      lookup: async (id) => {
        lookups++;
        return images[id] ?? null;
      },
      maxWidth: 1000,
      maxHeight: 1000,
      maxArea: 1e6,
      publicBaseUrl: 'http://127.0.0.1:1',
      enforceAccess: true,
      log: () => {},
    });
    base = await listen(async (req, res) => {
      if (!(await handleIiifRequest(req, res, { server, ...iiifGate(gate) }))) res.writeHead(418).end();
    });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('no token: 401; outsider: restricted image answered as missing (status, headers, body); member: served', async () => {
    const outsider = { headers: { 'Cf-Access-Jwt-Assertion': await fa.token({ email: 'reader@example.org' }) } };
    const member = { headers: { 'Cf-Access-Jwt-Assertion': await fa.token({ email: 'x@members.example.org' }) } };
    expect((await fetch(`${base}/iiif/3/open1/info.json`)).status).toBe(401);
    expect(lookups).toBe(0); // refused before the image server looked anything up

    for (const tail of ['full/max/0/default.jpg', 'info.json', '0,0,10,10/10,10/0/default.png']) {
      const r1 = await fetch(`${base}/iiif/3/memb1/${tail}`, outsider);
      const r2 = await fetch(`${base}/iiif/3/nope1/${tail}`, outsider);
      expect(r1.status, tail).toBe(404);
      expect(r2.status, tail).toBe(404);
      const headers = (r: Response) => [...r.headers].filter(([k]) => k !== 'date' && k !== 'content-length');
      expect(headers(r1)).toEqual(headers(r2));
      expect((await r1.text()).replace('memb1', 'ID')).toBe((await r2.text()).replace('nope1', 'ID'));
    }

    const ok = await fetch(`${base}/iiif/3/open1/full/max/0/default.jpg`, outsider);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/jpeg');
    const m = await fetch(`${base}/iiif/3/memb1/full/max/0/default.jpg`, member);
    expect(m.status).toBe(200);
    // Warm for the member now; still refused to the outsider (the hot cache checks the level too),
    // also when the outsider sends the ETag the member got.
    const again = await fetch(`${base}/iiif/3/memb1/full/max/0/default.jpg`, { headers: { ...outsider.headers, 'If-None-Match': m.headers.get('etag')! } });
    expect(again.status).toBe(404);
    const head = await fetch(`${base}/iiif/3/memb1/info.json`, { ...outsider, method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
  });
});
