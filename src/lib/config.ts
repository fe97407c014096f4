/**
 * The only module that reads the environment. Everything else receives a `Config`.
 *
 * `loadConfig()` validates every variable and throws a `ConfigError` naming the bad one, so the
 * server and the CLI fail at start-up with a sentence an operator can act on, not a stack trace
 * deep inside a request.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

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
  };
  /** Generate and load the demo corpus when the store is empty (the start command's default). */
  demo: boolean;
  /** Write one JSON log line per request to stdout. */
  logRequests: boolean;
  /** Linear scale of the demo images (1 = realistic 3000–6000 px; tests use less). */
  demoScale: number;
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

function hostname(env: Env, name: string, fallback: string): string {
  const v = str(env, name, fallback);
  if (!/^(\[[0-9a-fA-F:]+\]|[0-9a-fA-F:]*:[0-9a-fA-F:]*|[A-Za-z0-9.-]+)$/.test(v)) {
    throw new ConfigError(name, `is not a host name or address: "${v}"`);
  }
  return v;
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
  const maxWidth = int(env, 'IIIF_MAX_WIDTH', 10000, 1, 1_000_000);
  const maxHeight = int(env, 'IIIF_MAX_HEIGHT', maxWidth, 1, 1_000_000);
  const maxArea = int(env, 'IIIF_MAX_AREA', 100_000_000, 1, 10_000_000_000);

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
    },
    s3,
    access: { mode, allowPublicUnauthenticated },
    demo: bool(env, 'DEMO', true),
    demoScale: scale(env, 'DEMO_SCALE', 1),
    logRequests: bool(env, 'LOG_REQUESTS', true),
  };
}

let cached: Config | undefined;

/** The process-wide configuration, loaded and validated once. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
