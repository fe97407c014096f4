/**
 * The only module that reads the environment. Everything else receives a `Config`.
 *
 * `loadConfig()` validates every variable and throws a `ConfigError` naming the bad one, so the
 * server and the CLI fail at start-up with a sentence an operator can act on, not a stack trace
 * deep inside a request.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NO_RULES, parseRules, type AccessLevel, type AccessRules } from './domain.ts';

export type StoreBackend = 'sqlite' | 'elasticsearch';
export type ImageSourceKind = 'fs' | 's3';
export type AccessMode = 'none' | 'cloudflare' | 'header';

export interface Config {
  /** Root of everything the archive writes: store, clean image tree, caches, demo corpus. */
  dataDir: string;
  host: string;
  port: number;
  /** Absolute base URL that persistent links and IIIF ids are built from (no trailing slash). */
  publicBaseUrl: string;
  store: {
    backend: StoreBackend;
    sqlitePath: string;
    esUrl?: string;
    esIndex: string;
    /** Elasticsearch API key (base64 "id:key"); or ES_USERNAME/ES_PASSWORD; or user:password in ES_URL. */
    esApiKey?: string;
    esUsername?: string;
    esPassword?: string;
    /** PEM file of the CA that signed the cluster's certificate (https ES_URL with a private CA). */
    esCaCert?: string;
    /** Elasticsearch request timeout in ms (bulk writes get at least 60 s). */
    esTimeoutMs: number;
  };
  images: {
    source: ImageSourceKind;
    /** Directory holding the clean image tree (identifiers are paths below it). */
    root: string;
    cacheDir: string;
    maxWidth: number;
    maxHeight: number;
    maxArea: number;
    /** Size limit of the derivative cache in bytes (IIIF_CACHE_MAX_MB; 0 keeps nothing). */
    cacheMaxBytes: number;
    /** Hot rendered images kept in memory, bytes (IIIF_MEMORY_CACHE_MB). */
    memoryCacheBytes: number;
    /** Renders at once (IIIF_MAX_RENDERS; default: the number of cores). */
    maxRenders: number;
    /** Requests waiting for a render before 503 (IIIF_MAX_QUEUE). */
    maxQueue: number;
    /** Estimated working memory all renders may claim together, bytes (IIIF_RENDER_MEMORY_MB). */
    renderMemoryBytes: number;
  };
  /** S3-compatible object storage (sync target; image source when images.source = 's3'). */
  s3: {
    endpoint?: string;
    region: string;
    bucket?: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    /** Key prefix of image objects (flat ASCII keys below it). */
    prefix: string;
    forcePathStyle: boolean;
  };
  access: {
    mode: AccessMode;
    allowPublicUnauthenticated: boolean;
    /** ACCESS_MODE=none: the level of the (anonymous) user; default staff on loopback, open otherwise. */
    anonymousLevel: AccessLevel;
    /** Who sees `members` and `staff` items (src/lib/access/rules.ts). */
    rules: AccessRules;
    /** ACCESS_MODE=cloudflare: the Access application whose tokens are accepted. */
    cloudflare?: {
      /** Team domain host, e.g. `your-team.cloudflareaccess.com`. */
      teamDomain: string;
      /** Expected `iss`: `https://` + teamDomain. */
      issuer: string;
      /** Accepted `aud` values (the application's AUD tag). */
      audience: string[];
      /** Signing keys; default `https://<team domain>/cdn-cgi/access/certs`. */
      jwksUrl: string;
      /** Least seconds between two key-set fetches triggered by an unknown `kid`. */
      jwksCooldownSeconds: number;
    };
    /** ACCESS_MODE=header: identity header set by an authenticating proxy, trusted only from these addresses. */
    header?: { name: string; trustedProxies: string[] };
    /** Where signing out sends the browser once IIIF tokens are revoked (cloudflare: /cdn-cgi/access/logout). */
    logoutUrl?: string;
    /** IIIF Authorization Flow 2.0 (src/lib/access/iiif-auth.ts). */
    iiif: {
      /** Client origins allowed to receive access tokens (besides the archive's own), or '*' for any. */
      origins: string[] | '*';
      /** Key material for access tokens; generated at start when absent (tokens then die with the process). */
      tokenSecret?: string;
      tokenTtlSeconds: number;
    };
  };
  /** Generate and load the demo corpus when the store is empty (the start command's default). */
  demo: boolean;
  /** Write one JSON log line per request to stdout. */
  logRequests: boolean;
  /** Linear scale of the demo images (1 = realistic 3000–6000 px; tests use less). */
  demoScale: number;
  /** The ingest pipeline (archive normalize | index | sync | status). */
  ingest: {
    /** Default delivery folder of `archive normalize` (raw deliveries; only ever read). */
    deliveryDir: string;
    /** JSON file overriding sections of the normalize rules (src/lib/ingest/rules.ts). */
    rulesFile?: string;
    /** Parallel uploads of `archive sync`. */
    syncConcurrency: number;
  };
  /** Stored grants and the audit trail (src/lib/access/grant-book.ts, audit.ts). */
  grants: {
    /** How long a process keeps the stored grants before reading them again (GRANTS_CACHE_SECONDS). */
    cacheSeconds: number;
    /** Audit events older than this many days are deleted (AUDIT_RETENTION_DAYS). */
    auditRetentionDays: number;
  };
}

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v.trim() === '' ? fallback : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** A IIIF size limit: at most 65500, the largest side a JPEG (the default output format) can have. */
function jpegSide(env: Env, name: string, fallback: number): number {
  const n = int(env, name, fallback, 1, 1_000_000);
  if (n > 65500) throw new ConfigError(name, `must be at most 65500, the largest side a JPEG (the default output format) can have; got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function scale(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (!/^\d*\.?\d+$/.test(raw.trim()) || n <= 0 || n > 1) throw new ConfigError(name, `must be a number above 0 and at most 1, got "${raw}"`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const v = str(env, name, fallback) as T;
  if (!allowed.includes(v)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${v}"`);
  return v;
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A bind address: a host name, an IPv4 address or an IPv6 address (bracketed or not; returned bare, as listen() wants it). */
function hostname(env: Env, name: string, fallback: string): string {
  const v = str(env, name, fallback);
  const bracketed = /^\[.*\]$/.test(v);
  const bare = bracketed ? v.slice(1, -1) : v;
  if (bracketed || bare.includes(':') ? net.isIP(bare) !== 6 : !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/.test(bare) || (/^[\d.]+$/.test(bare) && net.isIP(bare) !== 4)) {
    throw new ConfigError(name, `is not a host name or address: "${v}"`);
  }
  return bare;
}

function baseUrl(env: Env, name: string, fallback: string): string {
  const v = str(env, name, fallback);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${v}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(name, `must be an http or https URL, got "${v}"`);
  }
  if (u.search || u.hash) throw new ConfigError(name, 'must not carry a query or fragment');
  return u.toString().replace(/\/+$/, '');
}

/** `a.b.c`, `https://a.b.c/` or a bare team name -> the team domain host. */
function teamDomain(env: Env, name: string): string {
  let v = str(env, name, '').toLowerCase().replace(/^https:\/\//, '').replace(/\/+$/, '');
  if (v && !v.includes('.')) v = `${v}.cloudflareaccess.com`;
  if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(v)) {
    throw new ConfigError(name, `must be your Zero Trust team domain, e.g. your-team.cloudflareaccess.com, got "${env[name] ?? ''}"`);
  }
  if (v === 'your-team.cloudflareaccess.com') throw new ConfigError(name, 'is still the placeholder your-team.cloudflareaccess.com');
  return v;
}

/** Comma-separated values, trimmed, empty ones dropped. */
function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((v) => v.trim()).filter(Boolean);
}

/** An origin as browsers serialise it: scheme://host[:port], http or https, nothing else. */
function origin(value: string, name: string): string {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== value.replace(/\/$/, '')) {
    throw new ConfigError(name, `"${value}" is not an origin such as https://viewer.example.org`);
  }
  return u.origin;
}

/** An IP address or CIDR block (v4 or v6). */
function addressOrBlock(value: string, name: string): string {
  const [addr, prefix, extra] = value.split('/');
  const family = net.isIP(addr ?? '');
  const max = family === 4 ? 32 : 128;
  if (!family || extra !== undefined || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max))) {
    throw new ConfigError(name, `"${value}" is not an IP address or CIDR block (e.g. 127.0.0.1, 10.0.0.0/8, ::1)`);
  }
  return value;
}

function accessRules(env: Env, cwd: string): AccessRules {
  const inline = env.ACCESS_RULES?.trim();
  const file = env.ACCESS_RULES_FILE?.trim();
  if (inline && file) throw new ConfigError('ACCESS_RULES_FILE', 'set either ACCESS_RULES or ACCESS_RULES_FILE, not both');
  if (!inline && !file) return NO_RULES;
  let text = inline ?? '';
  const name = inline ? 'ACCESS_RULES' : 'ACCESS_RULES_FILE';
  if (file) {
    try {
      text = readFileSync(path.resolve(cwd, file), 'utf8');
    } catch (e) {
      throw new ConfigError(name, `cannot read ${path.resolve(cwd, file)}: ${(e as Error).message}`);
    }
  }
  try {
    return parseRules(text);
  } catch (e) {
    throw new ConfigError(name, (e as Error).message);
  }
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const dataDir = path.resolve(cwd, str(env, 'DATA_DIR', 'data'));
  const host = hostname(env, 'HOST', '127.0.0.1');
  const port = int(env, 'PORT', 4321, 0, 65535);
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const publicBaseUrl = baseUrl(env, 'PUBLIC_BASE_URL', `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`);

  const backend = oneOf(env, 'STORE_BACKEND', 'sqlite', ['sqlite', 'elasticsearch'] as const);
  const esUrl = env.ES_URL?.trim() || undefined;
  if (backend === 'elasticsearch' && !esUrl) {
    throw new ConfigError('ES_URL', 'is required when STORE_BACKEND=elasticsearch');
  }
  if (esUrl) baseUrl(env, 'ES_URL', esUrl);
  const esIndex = str(env, 'ES_INDEX', 'archive');
  if (!/^[a-z0-9][a-z0-9._-]{0,99}$/.test(esIndex)) {
    throw new ConfigError('ES_INDEX', `must be lower case letters, digits, ".", "_" or "-" (at most 100, starting with a letter or digit), got "${esIndex}"`);
  }
  const esApiKey = env.ES_API_KEY?.trim() || undefined;
  const esUsername = env.ES_USERNAME?.trim() || undefined;
  const esPassword = env.ES_PASSWORD || undefined;
  if (esApiKey && (esUsername || esPassword)) throw new ConfigError('ES_API_KEY', 'set either ES_API_KEY or ES_USERNAME/ES_PASSWORD, not both');
  if (esUsername && !esPassword) throw new ConfigError('ES_PASSWORD', 'is required with ES_USERNAME');
  if (esPassword && !esUsername) throw new ConfigError('ES_USERNAME', 'is required with ES_PASSWORD');
  if (esUrl && (esApiKey || esUsername) && /^[a-z]+:\/\/[^/]*@/i.test(esUrl)) {
    throw new ConfigError('ES_URL', 'carries credentials while ES_API_KEY or ES_USERNAME is set too: keep one of them');
  }
  const esCaCertRaw = env.ES_CA_CERT?.trim() || undefined;
  const esCaCert = esCaCertRaw ? path.resolve(cwd, esCaCertRaw) : undefined;
  if (esCaCert) {
    try {
      if (!/-----BEGIN CERTIFICATE-----/.test(readFileSync(esCaCert, 'utf8'))) throw new Error('no PEM certificate in it');
    } catch (e) {
      throw new ConfigError('ES_CA_CERT', `cannot use ${esCaCert}: ${(e as Error).message}`);
    }
  }
  const esTimeoutMs = int(env, 'ES_TIMEOUT_MS', 5000, 100, 600_000);

  const source = oneOf(env, 'IMAGE_SOURCE', 'fs', ['fs', 's3'] as const);
  // JPEG, the default output format, cannot be wider or taller than 65500 px (libjpeg): a larger
  // limit would advertise sizes in info.json that the server cannot deliver.
  const maxWidth = jpegSide(env, 'IIIF_MAX_WIDTH', 10000);
  const maxHeight = jpegSide(env, 'IIIF_MAX_HEIGHT', maxWidth);
  const maxArea = int(env, 'IIIF_MAX_AREA', 100_000_000, 1, 10_000_000_000);
  const MB = 1024 * 1024;
  const imageCache = {
    cacheMaxBytes: int(env, 'IIIF_CACHE_MAX_MB', 2048, 0, 100_000_000) * MB,
    // The small-VPS settings are the defaults (bench/viewers: 20 viewers within 250 MB RSS).
    memoryCacheBytes: int(env, 'IIIF_MEMORY_CACHE_MB', 32, 0, 100_000) * MB,
    maxRenders: int(env, 'IIIF_MAX_RENDERS', os.availableParallelism(), 1, 1024),
    // A viewer's tiles wait (e.g. for a pyramid being built) rather than fail: room for 40 viewers' 6 connections.
    maxQueue: int(env, 'IIIF_MAX_QUEUE', 256, 0, 100_000),
    renderMemoryBytes: int(env, 'IIIF_RENDER_MEMORY_MB', 512, 16, 1_000_000) * MB,
  };

  const s3Endpoint = env.S3_ENDPOINT?.trim() || undefined;
  if (s3Endpoint) baseUrl(env, 'S3_ENDPOINT', s3Endpoint);
  const s3 = {
    endpoint: s3Endpoint,
    region: str(env, 'S3_REGION', 'us-east-1'),
    bucket: env.S3_BUCKET?.trim() || undefined,
    accessKeyId: env.S3_ACCESS_KEY_ID?.trim() || undefined,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY?.trim() || undefined,
    prefix: str(env, 'S3_PREFIX', 'photos/'),
    forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', true),
  };
  if (source === 's3' && !s3.bucket) throw new ConfigError('S3_BUCKET', 'is required when IMAGE_SOURCE=s3');
  if (!/^([A-Za-z0-9._-]+\/)*$/.test(s3.prefix)) throw new ConfigError('S3_PREFIX', `must be empty or ASCII path segments ending in "/", got "${s3.prefix}"`);

  const mode = oneOf(env, 'ACCESS_MODE', 'none', ['none', 'cloudflare', 'header'] as const);
  const allowPublicUnauthenticated = bool(env, 'ALLOW_PUBLIC_UNAUTHENTICATED', false);
  if (mode === 'none' && !isLoopback(host) && !allowPublicUnauthenticated) {
    throw new ConfigError(
      'HOST',
      `is "${host}", which is not a loopback address, and ACCESS_MODE=none would publish every image to anyone who can reach it. ` +
        'Set ACCESS_MODE=cloudflare (or header), bind to 127.0.0.1, or set ALLOW_PUBLIC_UNAUTHENTICATED=true if this is really intended.',
    );
  }
  const access: Config['access'] = {
    mode,
    allowPublicUnauthenticated,
    anonymousLevel: oneOf(env, 'ACCESS_ANONYMOUS_LEVEL', isLoopback(host) ? 'staff' : 'open', ['open', 'members', 'staff'] as const),
    rules: accessRules(env, cwd),
    iiif: {
      origins: str(env, 'IIIF_AUTH_ORIGINS', '') === '*' ? '*' : list(env, 'IIIF_AUTH_ORIGINS').map((o) => origin(o, 'IIIF_AUTH_ORIGINS')),
      tokenSecret: env.IIIF_AUTH_TOKEN_SECRET?.trim() || undefined,
      tokenTtlSeconds: int(env, 'IIIF_AUTH_TOKEN_TTL', 300, 30, 3600),
    },
  };
  if (access.iiif.tokenSecret !== undefined && access.iiif.tokenSecret.length < 32) {
    throw new ConfigError('IIIF_AUTH_TOKEN_SECRET', 'must be at least 32 characters (e.g. openssl rand -hex 32)');
  }
  if (mode === 'cloudflare') {
    const team = teamDomain(env, 'CF_ACCESS_TEAM_DOMAIN');
    const audience = list(env, 'CF_ACCESS_AUD');
    if (audience.length === 0) throw new ConfigError('CF_ACCESS_AUD', 'is required when ACCESS_MODE=cloudflare (the Access application\'s AUD tag)');
    if (audience.some((a) => /^CHANGE_ME/i.test(a) || /\s/.test(a))) throw new ConfigError('CF_ACCESS_AUD', 'is still a placeholder or contains spaces');
    const jwksUrl = baseUrl(env, 'CF_ACCESS_JWKS_URL', `https://${team}/cdn-cgi/access/certs`);
    if (!jwksUrl.startsWith('https://') && !isLoopback(new URL(jwksUrl).hostname)) {
      throw new ConfigError('CF_ACCESS_JWKS_URL', 'must be an https URL (plain http only for a loopback test server)');
    }
    access.cloudflare = {
      teamDomain: team,
      issuer: `https://${team}`,
      audience,
      jwksUrl,
      jwksCooldownSeconds: int(env, 'CF_ACCESS_JWKS_COOLDOWN', 30, 1, 3600),
    };
  }
  if (mode === 'header') {
    const trustedProxies = list(env, 'ACCESS_TRUSTED_PROXIES').map((v) => addressOrBlock(v, 'ACCESS_TRUSTED_PROXIES'));
    if (trustedProxies.length === 0) {
      throw new ConfigError('ACCESS_TRUSTED_PROXIES', 'is required when ACCESS_MODE=header: the addresses of the authenticating proxy, whose identity header alone is trusted');
    }
    const name = str(env, 'ACCESS_HEADER', 'X-Auth-Request-Email');
    if (!/^[A-Za-z0-9-]{1,64}$/.test(name) || /^(cookie|authorization|host|x-forwarded-for|forwarded)$/i.test(name)) {
      throw new ConfigError('ACCESS_HEADER', `"${name}" cannot be used as the identity header`);
    }
    access.header = { name: name.toLowerCase(), trustedProxies };
  }
  const logout = str(env, 'ACCESS_LOGOUT_URL', mode === 'cloudflare' ? '/cdn-cgi/access/logout' : '');
  if (logout) {
    if (!logout.startsWith('/') || logout.startsWith('//')) baseUrl(env, 'ACCESS_LOGOUT_URL', logout);
    access.logoutUrl = logout;
  }

  return {
    dataDir,
    host,
    port,
    publicBaseUrl,
    store: {
      backend,
      sqlitePath: path.resolve(dataDir, str(env, 'SQLITE_PATH', 'archive.sqlite')),
      esUrl,
      esIndex,
      esApiKey,
      esUsername,
      esPassword,
      esCaCert,
      esTimeoutMs,
    },
    images: {
      source,
      root: path.resolve(dataDir, str(env, 'IMAGE_ROOT', 'images')),
      cacheDir: path.resolve(dataDir, str(env, 'CACHE_DIR', 'cache')),
      maxWidth,
      maxHeight,
      maxArea,
      ...imageCache,
    },
    s3,
    access,
    demo: bool(env, 'DEMO', true),
    demoScale: scale(env, 'DEMO_SCALE', 1),
    logRequests: bool(env, 'LOG_REQUESTS', true),
    ingest: {
      deliveryDir: path.resolve(dataDir, str(env, 'DELIVERY_DIR', 'delivery')),
      rulesFile: env.NORMALIZE_RULES?.trim() ? path.resolve(dataDir, env.NORMALIZE_RULES.trim()) : undefined,
      syncConcurrency: int(env, 'SYNC_CONCURRENCY', 16, 1, 256),
    },
    grants: {
      cacheSeconds: int(env, 'GRANTS_CACHE_SECONDS', 10, 0, 60),
      auditRetentionDays: int(env, 'AUDIT_RETENTION_DAYS', 1825, 1, 36500),
    },
  };
}

let cached: Config | undefined;

/** The process-wide configuration, loaded and validated once. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
