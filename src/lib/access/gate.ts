/**
 * The access gate: who is asking, and may the request go on. Framework-free, so that the raw
 * node:http server (scripts/start.ts), the Astro middleware and any fast path (the IIIF image
 * adapter's `authorize` hook) all run the same function:
 *
 *   gate.authenticate({ method, url, headers, remoteAddress }) -> { allow: true, user } | { allow: false, status, headers, body }
 *
 * Modes (ACCESS_MODE):
 *  - cloudflare: a valid Cloudflare Access token is required (cloudflare.ts);
 *  - header:     an e-mail in the configured header, believed only from the configured proxy
 *                addresses (header.ts);
 *  - none:       everyone is the anonymous user (config.ts allows this on loopback only, unless
 *                ALLOW_PUBLIC_UNAUTHENTICATED=true).
 *
 * Paths that answer without authentication (see docs/access.md for why):
 *  - GET/HEAD /healthz                 liveness for container health checks; says only {"status":"ok"}
 *  - GET/HEAD /readyz                  only when the TCP peer is loopback and the request carries no
 *                                      forwarded/proxy header and no identity (a health check on the
 *                                      host or inside the container, not a request relayed by a
 *                                      tunnel connector on the same host); otherwise it is gated, and
 *                                      only staff see its details (`seesHealthDetails`)
 *  - /auth/iiif/probe/..., /auth/iiif/token, /auth/iiif/logout
 *                                      the IIIF Authorization Flow endpoints that must answer an
 *                                      unauthenticated client (they identify the user themselves,
 *                                      and answer nothing about an item to a client without access)
 * Everything else — pages, search, manifests, /iiif, Mirador, static assets — needs a user.
 *
 * Refusals are whole responses written before anything of the app runs: 401 (no valid sign-in) or
 * 503 (the signing keys could not be fetched), JSON below /api/ and /iiif/, an HTML page elsewhere.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccessMode, Config } from '../config.ts';
import { CloudflareVerifier, cloudflareToken, type VerifyFailure } from './cloudflare.ts';
import { AddressList, headerIdentity, isLoopbackAddress } from './header.ts';
import { AUTH_CONTEXT, AUTH_PATH, probeService } from './iiif-auth.ts';
import { ACCESS_LEVELS, IMAGE_ID_RE, levelsUpTo, type AccessLevel } from '../domain.ts';
import { levelFor } from './rules.ts';
import { AccessTokens } from './tokens.ts';
import { BASE_SECURITY_HEADERS } from '../http/headers.ts';

export interface User {
  /** Lower-case e-mail, a service token id, or "anonymous" (ACCESS_MODE=none). */
  id: string;
  email?: string;
  /** Highest level this user may see. */
  level: AccessLevel;
  /** Every level this user may see, lowest first. */
  levels: AccessLevel[];
  via: AccessMode;
  /** The stored grant that raised the level above the rules (grants.ts), if one did. */
  grant?: string;
}

/** Stored grants as the gate consults them (grant-book.ts). */
export interface GrantLookup {
  resolve(identity: string): Promise<{ level: AccessLevel; levels: AccessLevel[]; grant?: string }>;
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

export interface GateRequest {
  method?: string;
  /** The request target as received (`/path?query`) or an absolute URL. */
  url: string;
  headers: HeaderBag;
  /** The TCP peer's address (never a forwarded-for header). */
  remoteAddress?: string | null;
}

export type Identification = { user: User; reason?: undefined; detail?: undefined } | { user: null; reason: VerifyFailure; detail: string };

export type GateOutcome =
  | { allow: true; user: User | null; reason?: VerifyFailure }
  | { allow: false; status: 401 | 503; headers: Record<string, string>; body: string };

/** Whether a path needs a user: `required`, `optional` (identify if possible, never refuse) or `open`. */
export type Exemption = 'required' | 'optional' | 'open';

export const VOUCH_HEADER = 'x-archive-identity';

/** Headers a proxy, load balancer or tunnel adds: their presence means the peer is relaying. */
export const PROXY_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'via',
  'true-client-ip',
  'cf-connecting-ip',
  'cf-ray',
  'cf-visitor',
  'cf-ipcountry',
  'cf-access-jwt-assertion',
  'cf-access-authenticated-user-email',
  'authorization',
];

export function headerValue(headers: HeaderBag, name: string): string | string[] | null {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const rec = headers as Record<string, string | string[] | undefined>;
  return rec[name] ?? rec[name.toLowerCase()] ?? null;
}

function firstValue(v: string | string[] | null): string | null {
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

/** The normalised path of a request target (dot segments resolved as the router will). */
export function requestPath(url: string): string {
  try {
    return new URL(url, 'http://gate.invalid').pathname;
  } catch {
    return '/';
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface AccessGateOptions {
  access: Config['access'];
  publicBaseUrl: string;
}

export class AccessGate {
  readonly mode: AccessMode;
  readonly tokens: AccessTokens;
  readonly #cfg: Config['access'];
  readonly #base: string;
  readonly #ownOrigin: string;
  readonly #cloudflare: CloudflareVerifier | undefined;
  readonly #proxies: AddressList | undefined;
  /** Per-process secret of the identity hand-over from the node:http server to the middleware. */
  readonly #vouchSecret = Buffer.from(randomBytes(24).toString('base64url'));
  /** Stored grants, consulted on every identification (set once by runtime.ts; absent: rules only). */
  grants: GrantLookup | undefined;
  /** Records allowed consultations of restricted items (audit.ts; set by runtime.ts). Synchronous, never throws. */
  audit: { noteRequest(path: string, user: User | null | undefined): void } | undefined;

  constructor(opts: AccessGateOptions) {
    this.#cfg = opts.access;
    this.mode = opts.access.mode;
    this.#base = opts.publicBaseUrl.replace(/\/+$/, '');
    this.#ownOrigin = new URL(this.#base).origin;
    if (this.mode === 'cloudflare') {
      if (!opts.access.cloudflare) throw new Error('ACCESS_MODE=cloudflare without Cloudflare settings');
      this.#cloudflare = new CloudflareVerifier(opts.access.cloudflare);
    }
    if (this.mode === 'header') {
      if (!opts.access.header) throw new Error('ACCESS_MODE=header without header settings');
      this.#proxies = new AddressList(opts.access.header.trustedProxies);
    }
    this.tokens = new AccessTokens({ secret: opts.access.iiif.tokenSecret, issuer: this.#base, ttlSeconds: opts.access.iiif.tokenTtlSeconds });
  }

  get publicBaseUrl(): string {
    return this.#base;
  }

  get logoutUrl(): string | undefined {
    return this.#cfg.logoutUrl;
  }

  /** Whether the IIIF auth services are advertised (not in ACCESS_MODE=none: nothing to sign in to). */
  get advertisesAuth(): boolean {
    return this.mode !== 'none';
  }

  /** Start-up check in cloudflare mode: fetch the signing keys once (a failure is reported, not fatal). */
  async warmUp(): Promise<string> {
    if (!this.#cloudflare) return `access: ${this.mode}`;
    try {
      const n = await this.#cloudflare.warmUp();
      return `access: cloudflare, ${n} signing key(s) from ${this.#cfg.cloudflare!.jwksUrl}`;
    } catch (e) {
      return `access: cloudflare, WARNING: signing keys not available yet from ${this.#cfg.cloudflare!.jwksUrl} (${(e as Error).message}); every request gets 503 until they are`;
    }
  }

  /**
   * Readiness of the gate's own dependency: in cloudflare mode, the team's signing keys (throws when
   * none can be had, so /readyz fails while every request would get 503); undefined otherwise.
   */
  async signingKeys(): Promise<string | undefined> {
    if (!this.#cloudflare) return undefined;
    const n = await this.#cloudflare.keyCount();
    if (n === 0) throw new Error(`no signing keys from ${this.#cfg.cloudflare!.jwksUrl}`);
    return `${n} signing key(s) from ${this.#cfg.cloudflare!.jwksUrl}`;
  }

  /** A user for an authenticated identity, with the level the rules give it. */
  userFor(id: string, email: string | undefined, via: AccessMode): User {
    const level = via === 'none' ? this.#cfg.anonymousLevel : levelFor(id, this.#cfg.rules);
    return { id, ...(email ? { email } : {}), level, levels: levelsUpTo(level), via };
  }

  /** userFor, raised by the stored grants (not in ACCESS_MODE=none: there is nobody to grant to). */
  async gradedUser(id: string, email: string | undefined, via: AccessMode): Promise<User> {
    const user = this.userFor(id, email, via);
    if (via === 'none' || !this.grants) return user;
    const r = await this.grants.resolve(id);
    return r.grant ? { ...user, level: r.level, levels: r.levels, grant: r.grant } : user;
  }

  /** Who the request is, without any path logic. */
  async identify(req: Pick<GateRequest, 'headers' | 'remoteAddress'>): Promise<Identification> {
    if (this.mode === 'none') return { user: this.userFor('anonymous', undefined, 'none') };
    if (this.#cloudflare) {
      const token = cloudflareToken(firstValue(headerValue(req.headers, 'cf-access-jwt-assertion')), firstValue(headerValue(req.headers, 'cookie')));
      const r = await this.#cloudflare.verify(token);
      if (!r.ok) return { user: null, reason: r.reason, detail: r.detail };
      return { user: await this.gradedUser(r.identity.id, r.identity.email, 'cloudflare') };
    }
    const r = headerIdentity(headerValue(req.headers, this.#cfg.header!.name), req.remoteAddress, this.#proxies!);
    if (!r.ok) return { user: null, reason: r.reason, detail: r.detail };
    return { user: await this.gradedUser(r.id, r.id, 'header') };
  }

  /**
   * Whether a request comes straight from a process on this host: a loopback TCP peer whose
   * request carries no header a proxy or tunnel adds and no identity. A tunnel connector on the
   * same host (cloudflared) is a loopback peer too, but it adds Cf-Connecting-IP, X-Forwarded-For
   * and the like, and relays the user's sign-in.
   */
  isDirectLocal(remoteAddress: string | null | undefined, headers: HeaderBag = {}): boolean {
    if (!isLoopbackAddress(remoteAddress)) return false;
    for (const name of PROXY_HEADERS) if (headerValue(headers, name) !== null) return false;
    if (this.#cfg.header && headerValue(headers, this.#cfg.header.name) !== null) return false;
    const cookie = firstValue(headerValue(headers, 'cookie'));
    if (cookie && /(^|;\s*)CF_Authorization=/.test(cookie)) return false;
    return true;
  }

  /**
   * Who may read /readyz's details (record counts, paths, key URLs): staff, and a direct local
   * check (`isDirectLocal`) with no user. Everyone else the gate lets in learns only ok/unavailable.
   */
  seesHealthDetails(user: User | null | undefined, remoteAddress: string | null | undefined, headers: HeaderBag): boolean {
    if (user) return user.level === ACCESS_LEVELS[ACCESS_LEVELS.length - 1];
    return this.isDirectLocal(remoteAddress, headers);
  }

  /** Which paths answer without a user (module comment). `headers`: the request's, for /readyz. */
  exemption(method: string, path: string, remoteAddress?: string | null, headers: HeaderBag = {}): Exemption {
    const m = method.toUpperCase();
    const read = m === 'GET' || m === 'HEAD';
    if (path === '/healthz' && read) return 'open';
    if (path === '/readyz' && read && this.isDirectLocal(remoteAddress, headers)) return 'open';
    if (path.startsWith(`${AUTH_PATH}/probe/`) && (read || m === 'OPTIONS')) return 'optional';
    if (path === `${AUTH_PATH}/token` && read) return 'optional';
    // Sign-out: the confirmation page (GET) and the sign-out itself (POST, same-origin checked).
    if (path === `${AUTH_PATH}/logout` && (read || m === 'POST')) return 'optional';
    return 'required';
  }

  async authenticate(req: GateRequest): Promise<GateOutcome> {
    const method = req.method ?? 'GET';
    const path = requestPath(req.url);
    const exemption = this.exemption(method, path, req.remoteAddress, req.headers);
    if (exemption === 'open') return { allow: true, user: null };
    const who = await this.identify(req);
    if (who.user) return { allow: true, user: who.user };
    if (exemption === 'optional') return { allow: true, user: null, reason: who.reason };
    return this.refuse(method, path, who.reason, firstValue(headerValue(req.headers, 'origin')));
  }

  /** Whether a client origin may receive IIIF access tokens and credentialed CORS answers. */
  originAllowed(origin: string | null | undefined): boolean {
    // `null` (sandboxed frames, file:, data: and redirected requests) and any other opaque or
    // non-http(s) origin is never allowed, whatever IIIF_AUTH_ORIGINS says.
    if (!origin || !/^https?:\/\/[^/?#@\s]+$/i.test(origin)) return false;
    if (origin === this.#ownOrigin) return true;
    const allowed = this.#cfg.iiif.origins;
    return allowed === '*' || allowed.includes(origin);
  }

  /** CORS headers for a credentialed cross-origin request from an allowed client origin. */
  corsFor(origin: string | null | undefined): Record<string, string> {
    if (!origin || origin === this.#ownOrigin || !this.originAllowed(origin)) return {};
    return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' };
  }

  /** The complete refusal response. */
  refuse(method: string, path: string, reason: VerifyFailure, origin?: string | null): GateOutcome & { allow: false } {
    const status = reason === 'unavailable' ? 503 : 401;
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...BASE_SECURITY_HEADERS };
    if (status === 401) headers['WWW-Authenticate'] = `${this.mode === 'cloudflare' ? 'CloudflareAccess' : 'ProxyIdentity'} realm="${this.#base}"`;
    else headers['Retry-After'] = '30';
    const head = method.toUpperCase() === 'HEAD';
    if (path.startsWith('/api/') || path.startsWith('/iiif/')) {
      // An allowed IIIF client origin may read the refusal (and the probe it names).
      if (path.startsWith('/iiif/') || path.startsWith('/api/iiif/')) Object.assign(headers, this.corsFor(origin));
      const body: Record<string, unknown> = {
        error: status === 401 ? 'authentication required' : 'authentication temporarily unavailable',
        status,
      };
      // An info.json request learns where to start the IIIF Authorization Flow. The same answer for
      // every identifier, existing or not: nothing is looked up.
      const info = /^\/iiif\/[23]\/([^/]+)\/info\.json$/.exec(path);
      if (info && status === 401) {
        let id: string | undefined;
        try {
          id = decodeURIComponent(info[1]!);
        } catch {
          id = undefined;
        }
        if (id && IMAGE_ID_RE.test(id)) {
          body['@context'] = AUTH_CONTEXT;
          body.service = [probeService(this.#base, 'image', id)];
        }
      }
      headers['Content-Type'] = 'application/json; charset=utf-8';
      return { allow: false, status, headers, body: head ? '' : JSON.stringify(body) };
    }
    headers['Content-Type'] = 'text/html; charset=utf-8';
    headers['Content-Security-Policy'] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
    return { allow: false, status, headers, body: head ? '' : this.#page(status) };
  }

  #page(status: 401 | 503): string {
    const base = escapeHtml(this.#base);
    const how =
      this.mode === 'cloudflare'
        ? {
            ja: `このアーカイブは許可された人だけが利用できます。<a href="${base}/">${base}</a> を開いて Cloudflare Access でサインインしてください。`,
            en: `This archive is open only to the people allowed in. Open <a href="${base}/">${base}</a> and sign in with Cloudflare Access.`,
          }
        : {
            ja: `このアーカイブは許可された人だけが利用できます。<a href="${base}/">${base}</a> からサインインしてください。`,
            en: `This archive is open only to the people allowed in. Sign in through <a href="${base}/">${base}</a>.`,
          };
    const [titleJa, titleEn, textJa, textEn] =
      status === 401
        ? ['サインインが必要です', 'Sign-in required', how.ja, how.en]
        : [
            'サインインを確認できません',
            'Sign-in cannot be checked right now',
            'サインインの確認に必要な鍵を取得できませんでした。しばらくしてから再読み込みしてください。',
            'The keys needed to check your sign-in could not be fetched. Please reload in a minute.',
          ];
    return `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow">
<title>${titleJa} / ${titleEn}</title>
<style>body{font:16px/1.6 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{margin:.5rem 0 1.5rem}</style></head>
<body><main>
<h1>${titleJa}</h1><p>${textJa}</p>
<h1 lang="en">${titleEn}</h1><p lang="en">${textEn}</p>
<p><small>HTTP ${status}</small></p>
</main></body></html>
`;
  }

  /** The hand-over value: the node:http server tells the middleware who the request is. */
  vouch(outcome: { user: User | null; reason?: VerifyFailure }): string {
    const payload = Buffer.from(JSON.stringify({ u: outcome.user, r: outcome.reason ?? null })).toString('base64url');
    return `${this.#vouchSecret.toString()}.${payload}`;
  }

  /** Reads a hand-over value; undefined unless it carries this process's secret. */
  readVouch(value: string | null | undefined): { user: User | null; reason?: VerifyFailure } | undefined {
    if (!value || value.length > 8192) return undefined;
    const dot = value.indexOf('.');
    if (dot < 0) return undefined;
    const secret = Buffer.from(value.slice(0, dot));
    if (secret.length !== this.#vouchSecret.length || !timingSafeEqual(secret, this.#vouchSecret)) return undefined;
    try {
      const { u, r } = JSON.parse(Buffer.from(value.slice(dot + 1), 'base64url').toString('utf8')) as { u: User | null; r: VerifyFailure | null };
      return { user: u, ...(r ? { reason: r } : {}) };
    } catch {
      return undefined;
    }
  }
}
