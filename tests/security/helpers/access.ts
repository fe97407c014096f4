/**
 * A stand-in for Cloudflare Access in tests: RSA signing keys, a JWKS endpoint on loopback (with a
 * fetch counter and key rotation), and tokens minted with `jose` — valid ones, and every kind of
 * bad one the origin must refuse.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';

export const TEAM = 'archive-test.cloudflareaccess.com';
export const ISSUER = `https://${TEAM}`;
export const AUD = 'a3f1c0de5b7e4d2f9a8b6c4d2e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f';

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function keyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

export class FakeAccess {
  readonly server: http.Server;
  /** Keys published in the JWKS. */
  published: KeyPair[] = [];
  /** A key never published (unknown kid), and a published kid signed with the wrong key. */
  stranger!: KeyPair;
  fetches = 0;

  private constructor() {
    this.server = http.createServer((req, res) => {
      if (req.url === '/cdn-cgi/access/certs') {
        this.fetches++;
        const body = JSON.stringify({ keys: this.published.map((k) => k.publicJwk) });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      res.writeHead(404).end();
    });
  }

  static async start(): Promise<FakeAccess> {
    const fa = new FakeAccess();
    fa.published = [await keyPair('key-2026-a')];
    fa.stranger = await keyPair('key-unknown');
    await new Promise<void>((resolve) => fa.server.listen(0, '127.0.0.1', resolve));
    return fa;
  }

  get jwksUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/cdn-cgi/access/certs`;
  }

  /** The environment of an archive checking tokens of this fake team. */
  env(cooldownSeconds = 1): Record<string, string> {
    return {
      ACCESS_MODE: 'cloudflare',
      CF_ACCESS_TEAM_DOMAIN: TEAM,
      CF_ACCESS_AUD: AUD,
      CF_ACCESS_JWKS_URL: this.jwksUrl,
      CF_ACCESS_JWKS_COOLDOWN: String(cooldownSeconds),
    };
  }

  /** Publishes one more key (rotation: Cloudflare publishes the next key before using it). */
  async rotate(kid: string): Promise<KeyPair> {
    const k = await keyPair(kid);
    this.published.push(k);
    return k;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** A token as Cloudflare Access issues it (claims overridable), signed with `key` (default: the published one). */
  async token(opts: { email?: string; claims?: Record<string, unknown>; key?: KeyPair; kid?: string; header?: Record<string, unknown> } = {}): Promise<string> {
    const key = opts.key ?? this.published[0]!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      aud: [AUD],
      email: opts.email ?? 'reader@example.org',
      exp: now + 3600,
      iat: now - 60,
      nbf: now - 60,
      iss: ISSUER,
      type: 'app',
      identity_nonce: 'nonce-test',
      sub: '7335d417-61da-459d-899c-0a01c76a2f94',
      country: 'JP',
      ...opts.claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? key.kid, typ: 'JWT', ...opts.header })
      .sign(key.privateKey);
  }
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * Every kind of token the issue lists, keyed by name; `valid` is the only one to be accepted.
 * Built from one valid token so that each differs from it in exactly one respect.
 */
export async function tokenMatrix(fa: FakeAccess, email = 'reader@example.org'): Promise<Record<string, string | undefined>> {
  const { createHmac } = await import('node:crypto');
  const valid = await fa.token({ email });
  const [h, p, s] = valid.split('.') as [string, string, string];
  const now = Math.floor(Date.now() / 1000);
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
  // HS256 "signed" with the RSA public key as the HMAC secret: the classic algorithm confusion.
  const publicPem = JSON.stringify(fa.published[0]!.publicJwk);
  const hsHeader = b64({ alg: 'HS256', kid: fa.published[0]!.kid, typ: 'JWT' });
  const hsSig = createHmac('sha256', publicPem).update(`${hsHeader}.${p}`).digest('base64url');
  return {
    valid,
    missing: undefined,
    'bad signature': `${h}.${p}.${s.slice(0, -6)}${s.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`,
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
    'HS256 with the public key': `${hsHeader}.${p}.${hsSig}`,
    expired: await fa.token({ email, claims: { exp: now - 3600, iat: now - 7200, nbf: now - 7200 } }),
    'not yet valid': await fa.token({ email, claims: { nbf: now + 3600 } }),
    'wrong aud': await fa.token({ email, claims: { aud: ['0000000000000000000000000000000000000000000000000000000000000000'] } }),
    'wrong iss': await fa.token({ email, claims: { iss: 'https://evil-team.cloudflareaccess.com' } }),
    'unknown kid': await fa.token({ email, key: fa.stranger }),
    'signed by another key under a known kid': await fa.token({ email, key: fa.stranger, kid: fa.published[0]!.kid }),
    'malformed base64': `${h}.${p.slice(0, 10)}*%$${p.slice(10)}.${s}`,
    'oversized header': `${b64({ alg: 'RS256', kid: fa.published[0]!.kid, typ: 'JWT', pad: 'x'.repeat(2000) })}.${p}.${s}`,
    'oversized token': `${h}.${b64({ ...payload, pad: 'x'.repeat(9000) })}.${s}`,
    'payload swapped under a valid signature': `${h}.${b64({ ...payload, email: 'curator@example.org' })}.${s}`,
  };
}
