/**
 * The Cloudflare Access token check on its own (src/lib/access/cloudflare.ts), against a JWKS served
 * from loopback: every token kind of the issue, key rotation, the rate-limited refresh on an
 * unknown kid, and an unreachable key set.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CloudflareVerifier, cloudflareToken, MAX_TOKEN_LENGTH } from '../../src/lib/access/cloudflare.ts';
import { AUD, FakeAccess, ISSUER, tokenMatrix } from './helpers/access.ts';

let fa: FakeAccess;
const verifier = (cooldownSeconds = 1, jwksUrl?: string) =>
  new CloudflareVerifier({ issuer: ISSUER, audience: [AUD], jwksUrl: jwksUrl ?? fa.jwksUrl, jwksCooldownSeconds: cooldownSeconds });

beforeAll(async () => {
  fa = await FakeAccess.start();
});
afterAll(async () => {
  await fa.close();
});

describe('CloudflareVerifier', () => {
  test('accepts exactly the valid token of the matrix, and says why it refuses each other one', async () => {
    const v = verifier();
    const matrix = await tokenMatrix(fa);
    const outcome: Record<string, string> = {};
    for (const [name, token] of Object.entries(matrix)) {
      const r = await v.verify(token);
      outcome[name] = r.ok ? `ok:${r.identity.id}` : r.reason;
    }
    expect(outcome).toEqual({
      valid: 'ok:reader@example.org',
      missing: 'missing',
      'bad signature': 'invalid',
      'alg none': 'invalid',
      'HS256 with the public key': 'invalid',
      expired: 'expired',
      'not yet valid': 'invalid',
      'wrong aud': 'invalid',
      'wrong iss': 'invalid',
      'unknown kid': 'invalid',
      'signed by another key under a known kid': 'invalid',
      'malformed base64': 'invalid',
      'oversized header': 'invalid',
      'oversized token': 'invalid',
      'payload swapped under a valid signature': 'invalid',
    });
    expect(matrix['oversized token']!.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
  });

  test('iat in the future, no iat, and a token without any identity are refused; skew of a few seconds is tolerated', async () => {
    const v = verifier();
    const now = Math.floor(Date.now() / 1000);
    expect((await v.verify(await fa.token({ claims: { iat: now + 3600 } }))).ok).toBe(false);
    expect((await v.verify(await fa.token({ claims: { iat: undefined } }))).ok).toBe(false);
    expect((await v.verify(await fa.token({ claims: { email: undefined } }))).ok).toBe(false);
    expect((await v.verify(await fa.token({ claims: { email: 'not an address' } }))).ok).toBe(false);
    expect((await v.verify(await fa.token({ claims: { nbf: now + 10, iat: now + 10 } }))).ok).toBe(true);
    expect((await v.verify(await fa.token({ claims: { exp: now - 10 } }))).ok).toBe(true);
    expect((await v.verify(await fa.token({ claims: { exp: now - 120 } }))).ok).toBe(false);
  });

  test('a service token (common_name, no email) is an identity of its own', async () => {
    const r = await verifier().verify(await fa.token({ claims: { email: undefined, common_name: 'harvester.access' } }));
    expect(r).toMatchObject({ ok: true, identity: { id: 'harvester.access' } });
  });

  test('e-mail addresses are compared in lower case', async () => {
    const r = await verifier().verify(await fa.token({ email: 'Curator@Example.ORG' }));
    expect(r).toMatchObject({ ok: true, identity: { id: 'curator@example.org', email: 'curator@example.org' } });
  });

  test('an unknown kid triggers one refresh of the key set, rate-limited, then a refusal; a rotated key is picked up', async () => {
    const v = verifier(1);
    expect((await v.verify(await fa.token())).ok).toBe(true);
    const afterFirst = fa.fetches;
    // Within the cooldown: refused without fetching again.
    expect((await v.verify(await fa.token({ key: fa.stranger }))).ok).toBe(false);
    expect(fa.fetches).toBe(afterFirst);
    await new Promise((r) => setTimeout(r, 1100));
    // After it: one refetch, still unknown, refused; a burst of forged kids fetches no more.
    expect((await v.verify(await fa.token({ key: fa.stranger }))).ok).toBe(false);
    expect(fa.fetches).toBe(afterFirst + 1);
    for (let i = 0; i < 5; i++) expect((await v.verify(await fa.token({ key: fa.stranger, kid: `forged-${i}` }))).ok).toBe(false);
    expect(fa.fetches).toBe(afterFirst + 1);
    // Rotation: Cloudflare publishes a new key; a token signed with it is accepted after a refresh.
    const next = await fa.rotate('key-2026-b');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await v.verify(await fa.token({ key: next, email: 'rotated@example.org' }))).toMatchObject({ ok: true, identity: { id: 'rotated@example.org' } });
    expect(fa.fetches).toBe(afterFirst + 2);
    fa.published = fa.published.filter((k) => k.kid !== 'key-2026-b');
  });

  test('unreachable signing keys are "unavailable" (503), not a verdict on the token', async () => {
    const v = verifier(1, 'http://127.0.0.1:9/cdn-cgi/access/certs');
    const r = await v.verify(await fa.token());
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
  });
});

describe('cloudflareToken', () => {
  test('the Cf-Access-Jwt-Assertion header wins over the CF_Authorization cookie', () => {
    expect(cloudflareToken('h.h.h', 'CF_Authorization=c.c.c')).toBe('h.h.h');
    expect(cloudflareToken(null, 'lang=ja; CF_Authorization=c.c.c; x=1')).toBe('c.c.c');
    expect(cloudflareToken('', 'CF_Authorization=')).toBeUndefined();
    expect(cloudflareToken(undefined, 'XCF_Authorization=c.c.c')).toBeUndefined();
    expect(cloudflareToken(undefined, undefined)).toBeUndefined();
  });
});
