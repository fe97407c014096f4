/**
 * Verifies Cloudflare Access application tokens (the `Cf-Access-Jwt-Assertion` header or the
 * `CF_Authorization` cookie) at the origin. The one module that talks to Cloudflare's key set.
 *
 * - Keys: the team's JWKS (`https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`, or a
 *   configured URL), fetched on first use and kept for ten minutes; a token whose `kid` is not in
 *   the cached set triggers one refetch (key rotation), at most once per cooldown period, so a
 *   stream of forged `kid`s cannot make the archive hammer Cloudflare.
 * - Tokens: RS256 only (no `none`, no HMAC, whatever the header says), signature, `aud` = the
 *   application's AUD tag, `iss` = the team domain, `exp` and `nbf` with 30 s of clock skew, `iat`
 *   required and not in the future. Oversized tokens are refused before any parsing.
 * - Identity: the token's `email` (users), or `common_name` (service tokens).
 * - Verified tokens are remembered (bounded, until they expire, at most a minute) so a page with a
 *   hundred tiles costs one signature check, not a hundred.
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { normalizeEmail } from './rules.ts';

export interface CloudflareOptions {
  issuer: string;
  audience: string[];
  jwksUrl: string;
  jwksCooldownSeconds: number;
  /** Seconds of clock skew tolerated on exp/nbf/iat (default 30). */
  clockToleranceSeconds?: number;
}

export interface CloudflareIdentity {
  /** Lower-case e-mail, or the service token's client id. */
  id: string;
  email?: string;
  /** Token expiry, epoch seconds. */
  exp: number;
}

export type VerifyFailure = 'missing' | 'invalid' | 'expired' | 'unavailable';

export type VerifyResult = { ok: true; identity: CloudflareIdentity } | { ok: false; reason: VerifyFailure; detail: string };

/** Longest token accepted (Cloudflare's are about 1 KB; custom SAML/OIDC claims can grow them). */
export const MAX_TOKEN_LENGTH = 8192;
/** Longest decoded protected header accepted. */
export const MAX_HEADER_BYTES = 1024;
/** Access sessions last at most a month; older tokens are refused whatever their exp says. */
const MAX_TOKEN_AGE = '32d';

const CACHE_ENTRIES = 2000;
const CACHE_MS = 60_000;

/** Reads `Cf-Access-Jwt-Assertion`, else the `CF_Authorization` cookie. */
export function cloudflareToken(header: string | null | undefined, cookieHeader: string | null | undefined): string | undefined {
  const h = header?.trim();
  if (h) return h;
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === 'CF_Authorization') {
      const v = part.slice(eq + 1).trim();
      return v || undefined;
    }
  }
  return undefined;
}

export class CloudflareVerifier {
  readonly #opts: CloudflareOptions;
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #verified = new Map<string, { identity: CloudflareIdentity; until: number }>();

  constructor(opts: CloudflareOptions) {
    this.#opts = opts;
    this.#jwks = createRemoteJWKSet(new URL(opts.jwksUrl), {
      cooldownDuration: opts.jwksCooldownSeconds * 1000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5000,
      [customFetch]: fetchKeySet,
    });
  }

  /** Fetches the key set now (start-up check); resolves to the number of keys or rejects. */
  async warmUp(): Promise<number> {
    await this.#jwks.reload();
    return this.#jwks.jwks()?.keys.length ?? 0;
  }

  /** Signing keys at hand: the cached set, fetched only when there is none yet (for /readyz). */
  async keyCount(): Promise<number> {
    const cached = this.#jwks.jwks()?.keys.length ?? 0;
    return cached > 0 ? cached : this.warmUp();
  }

  async verify(token: string | undefined): Promise<VerifyResult> {
    if (!token) return { ok: false, reason: 'missing', detail: 'no Cloudflare Access token' };
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'invalid', detail: 'token too long' };
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
      return { ok: false, reason: 'invalid', detail: 'not a compact JWS' };
    }
    if (Math.ceil((parts[0]!.length * 3) / 4) > MAX_HEADER_BYTES) return { ok: false, reason: 'invalid', detail: 'token header too large' };

    const now = Date.now();
    const hit = this.#verified.get(token);
    if (hit) {
      if (hit.until > now) return { ok: true, identity: hit.identity };
      this.#verified.delete(token);
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, {
        algorithms: ['RS256'],
        issuer: this.#opts.issuer,
        audience: this.#opts.audience,
        clockTolerance: this.#opts.clockToleranceSeconds ?? 30,
        maxTokenAge: MAX_TOKEN_AGE,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) return { ok: false, reason: 'expired', detail: e.message };
      // The key set could not be had (network, timeout, non-200, not JSON, not a key set): the
      // token may be fine, so this is 503, not 401.
      if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || (e instanceof errors.JOSEError && e.code === 'ERR_JOSE_GENERIC') || isFetchFailure(e)) {
        return { ok: false, reason: 'unavailable', detail: `signing keys unavailable: ${(e as Error).message}` };
      }
      return { ok: false, reason: 'invalid', detail: e instanceof Error ? e.message : String(e) };
    }

    const email = normalizeEmail(payload.email);
    const serviceId = typeof payload.common_name === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(payload.common_name) ? payload.common_name.toLowerCase() : undefined;
    if (payload.email !== undefined && !email) return { ok: false, reason: 'invalid', detail: 'email claim is not an e-mail address' };
    const id = email ?? serviceId;
    if (!id) return { ok: false, reason: 'invalid', detail: 'token names no user (email) or service token (common_name)' };
    const identity: CloudflareIdentity = { id, email, exp: payload.exp! };

    this.#verified.set(token, { identity, until: Math.min(now + CACHE_MS, identity.exp * 1000) });
    if (this.#verified.size > CACHE_ENTRIES) {
      for (const [k, v] of this.#verified) {
        if (v.until <= now || this.#verified.size > CACHE_ENTRIES) this.#verified.delete(k);
        if (this.#verified.size <= CACHE_ENTRIES / 2) break;
      }
    }
    return { ok: true, identity };
  }
}

/**
 * Fetches the key set, refusing an answer that holds no usable RSA signing key (`{"keys":[]}`, an
 * error page, keys of another type): such an answer fails the refresh, so it never replaces the
 * keys already cached, and tokens that need a refresh get 503 instead of a verdict on no keys.
 */
async function fetchKeySet(url: string, init: RequestInit): Promise<Response> {
  const r = await fetch(url, init);
  if (r.status !== 200) return r;
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new errors.JWKSInvalid('the signing key set is not JSON');
  }
  const keys = (body as { keys?: unknown })?.keys;
  const usable = Array.isArray(keys) && keys.some((k) => !!k && typeof k === 'object' && (k as { kty?: unknown }).kty === 'RSA' && typeof (k as { n?: unknown }).n === 'string');
  if (!usable) throw new errors.JWKSInvalid('the signing key set holds no RSA key: refused, the cached keys are kept');
  return new Response(text, { status: 200, headers: r.headers });
}

/** A network failure while fetching the key set (fetch rejects with a TypeError). */
function isFetchFailure(e: unknown): boolean {
  return e instanceof TypeError && /fetch failed|network|ECONNREFUSED|ENOTFOUND|ECONNRESET/i.test(`${e.message} ${String((e as { cause?: unknown }).cause ?? '')}`);
}
