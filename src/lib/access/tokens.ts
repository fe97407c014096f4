/**
 * Access tokens of the IIIF Authorization Flow: short-lived, bound to the client origin they were
 * issued to, and opaque. A token is a JWE (`dir` + A256GCM: encrypted and authenticated with one
 * symmetric key), so the client sees nothing of who the user is (the specification asks that
 * tokens carry no sensitive information) and cannot alter anything in it.
 *
 * The key comes from IIIF_AUTH_TOKEN_SECRET (hashed to 256 bits) or is generated at start; with a
 * generated key, tokens die with the process, which only means clients fetch a new one.
 *
 * Logging out revokes every token of that identity issued before that moment. The revocation is
 * kept in this process's memory (checked first, no I/O) and, once `useStore()` is given the
 * archive's store (runtime.ts), in the store too (src/lib/access/access-store.ts), so a sign-out
 * through one web process refuses the token on every other process on the same store at its next
 * check. Revocations are kept for one token lifetime, which is all they have to outlive.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';

export interface AccessTokenClaims {
  /** The identity the token stands for (e-mail, service token id, or "anonymous"). */
  id: string;
  /** The client origin it was issued to. */
  origin: string;
}

/** Where revocations are shared between processes (the AccessStore's token methods). */
export interface RevocationStore {
  revokeTokens(identity: string, atMs: number): Promise<void>;
  tokensRevokedAt(identity: string): Promise<number | undefined>;
  pruneRevocations(beforeMs: number): Promise<void>;
}

export type TokenCheck = { ok: true; claims: AccessTokenClaims } | { ok: false; detail: string };

const AUDIENCE = 'iiif-auth-probe';
const MAX_TOKEN_LENGTH = 4096;
const MAX_REVOCATIONS = 100_000;

export class AccessTokens {
  readonly #key: Uint8Array;
  readonly #issuer: string;
  readonly ttlSeconds: number;
  /** identity -> epoch ms before which its tokens are void. */
  readonly #revoked = new Map<string, number>();
  #shared: (() => Promise<RevocationStore | null>) | undefined;

  constructor(opts: { secret?: string; issuer: string; ttlSeconds: number }) {
    this.#key = opts.secret ? createHash('sha256').update(`iiif-access-token\0${opts.secret}`).digest() : randomBytes(32);
    this.#issuer = opts.issuer;
    this.ttlSeconds = opts.ttlSeconds;
  }

  /** Shares revocations through the store (null: this process only). */
  useStore(shared: () => Promise<RevocationStore | null>): void {
    this.#shared = shared;
  }

  async issue(claims: AccessTokenClaims): Promise<string> {
    const now = Date.now();
    return new EncryptJWT({ org: claims.origin, ms: now })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setSubject(claims.id)
      .setIssuer(this.#issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + this.ttlSeconds)
      .setJti(randomBytes(12).toString('base64url'))
      .encrypt(this.#key);
  }

  /** Checks a token; `requestOrigin` is the request's Origin header (absent for non-browser clients). */
  async check(token: string | undefined, requestOrigin?: string | null): Promise<TokenCheck> {
    if (!token) return { ok: false, detail: 'no token' };
    if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 5) return { ok: false, detail: 'not an access token' };
    let payload;
    try {
      ({ payload } = await jwtDecrypt(token, this.#key, {
        issuer: this.#issuer,
        audience: AUDIENCE,
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: 5,
      }));
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
    const id = payload.sub!;
    const origin = typeof payload.org === 'string' ? payload.org : '';
    const issuedMs = typeof payload.ms === 'number' ? payload.ms : 0;
    if (!origin) return { ok: false, detail: 'token without origin' };
    // A browser always names the page's origin on a cross-origin request: a token presented from
    // another page than the one it was issued to is refused — and so is one presented from an
    // opaque origin (`Origin: null`: a sandboxed frame, a data: or file: page), which could be anyone.
    if (requestOrigin !== null && requestOrigin !== undefined && requestOrigin !== origin) return { ok: false, detail: 'token used from another origin' };
    const revokedAt = this.#revoked.get(id);
    if (revokedAt !== undefined && issuedMs <= revokedAt) return { ok: false, detail: 'token revoked (signed out)' };
    if (this.#shared) {
      // Fail closed: a store that cannot say whether the token was revoked refuses it.
      let sharedAt: number | undefined;
      try {
        sharedAt = await (await this.#shared())?.tokensRevokedAt(id);
      } catch (e) {
        return { ok: false, detail: `revocations cannot be checked (${(e as Error).message})` };
      }
      if (sharedAt !== undefined && issuedMs <= sharedAt) return { ok: false, detail: 'token revoked (signed out)' };
    }
    return { ok: true, claims: { id, origin } };
  }

  /**
   * Voids every token of `id` issued up to now: at once in this process, and in the store for the
   * others (the promise rejects when the store could not record it; this process refuses the tokens
   * anyway).
   */
  async revoke(id: string): Promise<void> {
    const now = Date.now();
    this.#revokeLocally(id, now);
    const shared = await this.#shared?.();
    if (!shared) return;
    await shared.revokeTokens(id, now);
    await shared.pruneRevocations(now - (this.ttlSeconds + 10) * 1000);
  }

  #revokeLocally(id: string, now: number): void {
    this.#revoked.delete(id);
    this.#revoked.set(id, now);
    const horizon = now - (this.ttlSeconds + 10) * 1000;
    for (const [k, at] of this.#revoked) {
      if (at >= horizon && this.#revoked.size <= MAX_REVOCATIONS) break;
      this.#revoked.delete(k);
    }
  }
}
