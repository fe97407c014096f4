/**
 * The gate on plain node:http (src/lib/access/node.ts): `guard` in front of a listener, and the
 * `authorize` hook for the IIIF image fast path (src/lib/images/http.ts handleIiifRequest), which
 * must refuse a restricted image with exactly the image server's answer for a missing one.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';
import { AccessGate, VOUCH_HEADER } from '../../src/lib/access/gate.ts';
import { guard, iiifAuthorizer, userOf } from '../../src/lib/access/node.ts';
import { handleIiifRequest, writeIiifResponse } from '../../src/lib/images/http.ts';
import type { IiifResponse, ImageServer } from '../../src/lib/images/server.ts';
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

describe('iiifAuthorizer (the image fast path hook)', () => {
  const images: Record<string, ImageEntry> = {
    open1: { id: 'open1', file: 'a.jpg', itemId: 'A', access: 'open' },
    memb1: { id: 'memb1', file: 'b.jpg', itemId: 'B', access: 'members' },
  };
  /** Stand-in image servers: the real one renders "pixels", the denied one answers like a missing id. */
  const real = { handle: async (p: string): Promise<IiifResponse> => ({ status: 200, headers: { 'Content-Type': 'image/jpeg' }, body: Buffer.from(`pixels of ${p}`) }) };
  const denied = {
    handle: async (p: string): Promise<IiifResponse> => ({
      status: 404,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
      body: `No image with identifier "${p.split('/')[1]}"\n`,
    }),
  };
  let base: string;
  beforeAll(async () => {
    const authorize = iiifAuthorizer(gate, async (id) => images[id] ?? null, async () => denied, writeIiifResponse);
    base = await listen(async (req, res) => {
      if (!(await handleIiifRequest(req, res, { server: real as unknown as ImageServer, authorize }))) res.writeHead(418).end();
    });
  });

  test('no token: 401; outsider: restricted image answered as missing; member: served', async () => {
    const outsider = { headers: { 'Cf-Access-Jwt-Assertion': await fa.token({ email: 'reader@example.org' }) } };
    const member = { headers: { 'Cf-Access-Jwt-Assertion': await fa.token({ email: 'x@members.example.org' }) } };
    expect((await fetch(`${base}/iiif/3/open1/info.json`)).status).toBe(401);

    const r1 = await fetch(`${base}/iiif/3/memb1/full/max/0/default.jpg`, outsider);
    const r2 = await fetch(`${base}/iiif/3/nope1/full/max/0/default.jpg`, outsider);
    expect(r1.status).toBe(404);
    expect((await r1.text()).replace('memb1', 'ID')).toBe((await r2.text()).replace('nope1', 'ID'));

    const ok = await fetch(`${base}/iiif/3/open1/full/max/0/default.jpg`, outsider);
    expect(await ok.text()).toBe('pixels of 3/open1/full/max/0/default.jpg');
    const m = await fetch(`${base}/iiif/3/memb1/full/max/0/default.jpg`, member);
    expect(m.status).toBe(200);
    const head = await fetch(`${base}/iiif/3/memb1/info.json`, { ...outsider, method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
  });
});
