/**
 * The only module that reads the environment. Everything else receives a `Config`.
 *
 * `loadConfig()` validates every variable and throws a `ConfigError` naming the bad one, so the
 * server and the CLI fail at start-up with a sentence an operator can act on, not a stack trace
 * deep inside a request. The variables, their types, defaults and refusals are declared once, as a
 * schema (`ENV`, zod); loadConfig() adds what spans several variables and builds the `Config`.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
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
    /**
     * Where pyramid derivatives are shared between processes (docs/scaling.md): `s3` below
     * `prefix` in the image bucket (the default with IMAGE_SOURCE=s3), `fs` in `dir`, or `none`.
     */
    derivatives: { store: 'none' | 'fs' | 's3'; dir: string; prefix: string };
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

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

// --- The environment, declared once ----------------------------------------------------------------
//
// Every variable the archive reads, with its type, its default and the sentence that refuses a bad
// value. An unset, empty or blank variable takes its default. loadConfig() reads each one through
// `read()`, which turns the first problem into a ConfigError naming the variable; a default that
// depends on another variable (IIIF_MAX_HEIGHT = IIIF_MAX_WIDTH, ...) is passed to read() as the
// value to validate instead. .env.example's test takes the list of variables and their defaults
// from here.

/** An unset or blank value reads as undefined (then the default applies). */
const blank = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** Wraps a value's schema: blank means `fallback` (or undefined without one). */
function variable<T extends z.ZodType>(schema: T): z.ZodPipe<z.ZodTransform, z.ZodOptional<T>>;
function variable<T extends z.ZodType>(schema: T, fallback: z.output<T>): z.ZodPipe<z.ZodTransform, z.ZodDefault<T>>;
function variable(schema: z.ZodType, fallback?: unknown): z.ZodType {
  // The default is the value as read (`prefault` would re-run the checks on it instead).
  return fallback === undefined ? z.preprocess(blank, schema.optional()) : z.preprocess(blank, schema.default(fallback));
}

/** A text, trimmed. */
const text = () => z.string().trim();

/** A whole number from `min` to `max`. */
const whole = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*\d+\s*$/, { error: (iss) => `must be a whole number, got "${String(iss.input)}"` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: (iss) => `must be between ${min} and ${max}, got ${String(iss.input)}` })
        .max(max, { error: (iss) => `must be between ${min} and ${max}, got ${String(iss.input)}` }),
    );

/** A IIIF size limit: at most 65500, the largest side a JPEG (the default output format) can have. */
const jpegSide = () =>
  whole(1, 1_000_000).refine((n) => n <= 65500, {
    error: (iss) => `must be at most 65500, the largest side a JPEG (the default output format) can have; got ${String(iss.input)}`,
  });

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];
/** true/false, 1/0, yes/no, on/off (any case). */
const flag = () =>
  z
    .string()
    .refine((raw) => [...TRUE, ...FALSE].includes(raw.trim().toLowerCase()), { error: (iss) => `must be true or false, got "${String(iss.input)}"` })
    .transform((raw) => TRUE.includes(raw.trim().toLowerCase()));

/** One of a few words. */
const oneOf = <const T extends readonly [string, ...string[]]>(allowed: T) =>
  z.string().trim().pipe(z.enum(allowed, { error: (iss) => `must be one of ${allowed.join(', ')}, got "${String(iss.input)}"` }));

/** A number above 0 and at most 1. */
const fraction = () =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw.trim());
    if (/^\d*\.?\d+$/.test(raw.trim()) && n > 0 && n <= 1) return n;
    ctx.issues.push({ code: 'custom', input: raw, message: `must be a number above 0 and at most 1, got "${raw}"` });
    return z.NEVER;
  });

/** A bind address: a host name, an IPv4 address or an IPv6 address (bracketed or not; read bare, as listen() wants it). */
const hostName = () =>
  text().transform((v, ctx) => {
    const bracketed = /^\[.*\]$/.test(v);
    const bare = bracketed ? v.slice(1, -1) : v;
    if (bracketed || bare.includes(':') ? net.isIP(bare) !== 6 : !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/.test(bare) || (/^[\d.]+$/.test(bare) && net.isIP(bare) !== 4)) {
      ctx.issues.push({ code: 'custom', input: v, message: `is not a host name or address: "${v}"` });
      return z.NEVER;
    }
    return bare;
  });

/** Why `v` is not an absolute http(s) URL without query or fragment, or undefined. */
function urlProblem(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `must be an absolute http(s) URL, got "${v}"`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `must be an http or https URL, got "${v}"`;
  if (u.search || u.hash) return 'must not carry a query or fragment';
  return undefined;
}

/** An absolute http(s) URL, kept as written (trimmed). */
const url = () => text().superRefine((v, ctx) => {
  const problem = urlProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', input: v, message: problem });
});

/** A base URL: an absolute http(s) URL, read without its trailing slashes. */
const baseUrl = () => url().transform((v) => new URL(v).toString().replace(/\/+$/, ''));

/** A link to sign out at: a path on this site or an absolute http(s) URL. */
const linkOrPath = () =>
  text().superRefine((v, ctx) => {
    const problem = v.startsWith('/') && !v.startsWith('//') ? undefined : urlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', input: v, message: problem });
  });

/** `a.b.c`, `https://a.b.c/` or a bare team name, read as the team domain host. */
const teamDomain = () =>
  z.string().transform((raw, ctx) => {
    let v = raw.trim().toLowerCase().replace(/^https:\/\//, '').replace(/\/+$/, '');
    if (v && !v.includes('.')) v = `${v}.cloudflareaccess.com`;
    if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(v)) {
      ctx.issues.push({ code: 'custom', input: raw, message: `must be your Zero Trust team domain, e.g. your-team.cloudflareaccess.com, got "${raw}"` });
      return z.NEVER;
    }
    if (v === 'your-team.cloudflareaccess.com') {
      ctx.issues.push({ code: 'custom', input: raw, message: 'is still the placeholder your-team.cloudflareaccess.com' });
      return z.NEVER;
    }
    return v;
  });

/** Comma-separated values, trimmed, empty ones dropped, each checked by `item` (the first refusal is the issue). */
function splitList(raw: string, item: z.ZodType<string, string>, ctx: z.RefinementCtx): string[] {
  const out: string[] = [];
  for (const v of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const r = item.safeParse(v);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', input: v, message: r.error.issues[0]!.message });
      return out;
    }
    out.push(r.data);
  }
  return out;
}

/** A comma-separated list of values checked by `item`. */
const listOf = (item: z.ZodType<string, string>) => z.string().transform((raw, ctx) => splitList(raw, item, ctx));

/** `*` alone, or a comma-separated list of values checked by `item`. */
const anyOrListOf = (item: z.ZodType<string, string>) =>
  z.string().transform((raw, ctx): '*' | string[] => (raw.trim() === '*' ? '*' : splitList(raw, item, ctx)));

/** An origin as browsers serialise it: scheme://host[:port], http or https, nothing else. */
const origin = () =>
  z.string().transform((value, ctx) => {
    let u: URL | undefined;
    try {
      u = new URL(value);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== value.replace(/\/$/, '')) {
      ctx.issues.push({ code: 'custom', input: value, message: `"${value}" is not an origin such as https://viewer.example.org` });
      return z.NEVER;
    }
    return u.origin;
  });

/** An IP address or CIDR block (v4 or v6). */
const addressOrBlock = () =>
  z.string().refine(
    (value) => {
      const [addr, prefix, extra] = value.split('/');
      const family = net.isIP(addr ?? '');
      const max = family === 4 ? 32 : 128;
      return !!family && extra === undefined && (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= max));
    },
    { error: (iss) => `"${String(iss.input)}" is not an IP address or CIDR block (e.g. 127.0.0.1, 10.0.0.0/8, ::1)` },
  );

/** The environment the archive reads: every variable, its type, default and validation. */
export const ENV = {
  DATA_DIR: variable(text(), 'data'),
  HOST: variable(hostName(), '127.0.0.1'),
  PORT: variable(whole(0, 65535), 4321),
  /** Default: http://HOST:PORT (127.0.0.1 for 0.0.0.0). */
  PUBLIC_BASE_URL: variable(baseUrl()),

  STORE_BACKEND: variable(oneOf(['sqlite', 'elasticsearch']), 'sqlite'),
  SQLITE_PATH: variable(text(), 'archive.sqlite'),
  ES_URL: variable(url()),
  ES_INDEX: variable(
    text().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, {
      error: (iss) => `must be lower case letters, digits, ".", "_" or "-" (at most 100, starting with a letter or digit), got "${String(iss.input)}"`,
    }),
    'archive',
  ),
  ES_API_KEY: variable(text()),
  ES_USERNAME: variable(text()),
  /** Any characters, spaces included: read as written. */
  ES_PASSWORD: z.string().optional().transform((v) => v || undefined),
  ES_CA_CERT: variable(text()),
  ES_TIMEOUT_MS: variable(whole(100, 600_000), 5000),

  IMAGE_SOURCE: variable(oneOf(['fs', 's3']), 'fs'),
  IMAGE_ROOT: variable(text(), 'images'),
  CACHE_DIR: variable(text(), 'cache'),
  // JPEG, the default output format, cannot be wider or taller than 65500 px (libjpeg): a larger
  // limit would advertise sizes in info.json that the server cannot deliver.
  IIIF_MAX_WIDTH: variable(jpegSide(), 10000),
  /** Default: IIIF_MAX_WIDTH. */
  IIIF_MAX_HEIGHT: variable(jpegSide()),
  IIIF_MAX_AREA: variable(whole(1, 10_000_000_000), 100_000_000),
  IIIF_CACHE_MAX_MB: variable(whole(0, 100_000_000), 2048),
  // The small-VPS settings are the defaults (bench/viewers: 20 viewers within 250 MB RSS).
  IIIF_MEMORY_CACHE_MB: variable(whole(0, 100_000), 32),
  /** Default: the number of cores. */
  IIIF_MAX_RENDERS: variable(whole(1, 1024)),
  // A viewer's tiles wait (e.g. for a pyramid being built) rather than fail: room for 40 viewers' 6 connections.
  IIIF_MAX_QUEUE: variable(whole(0, 100_000), 256),
  IIIF_RENDER_MEMORY_MB: variable(whole(16, 1_000_000), 512),

  S3_ENDPOINT: variable(url()),
  S3_REGION: variable(text(), 'us-east-1'),
  S3_BUCKET: variable(text()),
  S3_ACCESS_KEY_ID: variable(text()),
  S3_SECRET_ACCESS_KEY: variable(text()),
  S3_PREFIX: variable(
    text().regex(/^([A-Za-z0-9._-]+\/)*$/, { error: (iss) => `must be empty or ASCII path segments ending in "/", got "${String(iss.input)}"` }),
    'photos/',
  ),
  S3_FORCE_PATH_STYLE: variable(flag(), true),
  /** Where pyramids are shared between processes (docs/scaling.md). Default: s3 with IMAGE_SOURCE=s3, none otherwise. */
  DERIVATIVE_STORE: variable(oneOf(['none', 'fs', 's3'])),
  DERIVATIVE_DIR: variable(text(), 'derivatives'),
  S3_DERIVATIVE_PREFIX: variable(
    text().regex(/^([A-Za-z0-9._-]+\/)+$/, { error: (iss) => `must be ASCII path segments ending in "/" other than S3_PREFIX, got "${String(iss.input)}"` }),
    'derivatives/',
  ),

  ACCESS_MODE: variable(oneOf(['none', 'cloudflare', 'header']), 'none'),
  ALLOW_PUBLIC_UNAUTHENTICATED: variable(flag(), false),
  /** Default: staff on a loopback HOST, open otherwise. */
  ACCESS_ANONYMOUS_LEVEL: variable(oneOf(['open', 'members', 'staff'])),
  /** JSON (src/lib/domain.ts, access rules); parsed by loadConfig, which also reads ACCESS_RULES_FILE. */
  ACCESS_RULES: variable(text()),
  ACCESS_RULES_FILE: variable(text()),
  IIIF_AUTH_ORIGINS: variable(anyOrListOf(origin()), [] as string[]),
  IIIF_AUTH_TOKEN_SECRET: variable(text().min(32, { error: 'must be at least 32 characters (e.g. openssl rand -hex 32)' })),
  IIIF_AUTH_TOKEN_TTL: variable(whole(30, 3600), 300),
  /** Required with ACCESS_MODE=cloudflare (read only then). */
  CF_ACCESS_TEAM_DOMAIN: z.string().default('').pipe(teamDomain()),
  CF_ACCESS_AUD: variable(
    listOf(z.string()).refine((aud) => !aud.some((a) => /^CHANGE_ME/i.test(a) || /\s/.test(a)), { error: 'is still a placeholder or contains spaces' }),
    [] as string[],
  ),
  /** Default: https://<team domain>/cdn-cgi/access/certs. */
  CF_ACCESS_JWKS_URL: variable(
    baseUrl().refine((u) => u.startsWith('https://') || isLoopback(new URL(u).hostname), {
      error: 'must be an https URL (plain http only for a loopback test server)',
    }),
  ),
  CF_ACCESS_JWKS_COOLDOWN: variable(whole(1, 3600), 30),
  ACCESS_TRUSTED_PROXIES: variable(listOf(addressOrBlock()), [] as string[]),
  ACCESS_HEADER: variable(
    text()
      .refine((name) => /^[A-Za-z0-9-]{1,64}$/.test(name) && !/^(cookie|authorization|host|x-forwarded-for|forwarded)$/i.test(name), {
        error: (iss) => `"${String(iss.input)}" cannot be used as the identity header`,
      }),
    'X-Auth-Request-Email',
  ),
  /** Default: /cdn-cgi/access/logout with ACCESS_MODE=cloudflare, none otherwise. */
  ACCESS_LOGOUT_URL: variable(linkOrPath()),

  DEMO: variable(flag(), true),
  DEMO_SCALE: variable(fraction(), 1),
  LOG_REQUESTS: variable(flag(), true),
  DELIVERY_DIR: variable(text(), 'delivery'),
  NORMALIZE_RULES: variable(text()),
  SYNC_CONCURRENCY: variable(whole(1, 256), 16),
  GRANTS_CACHE_SECONDS: variable(whole(0, 60), 10),
  AUDIT_RETENTION_DAYS: variable(whole(1, 36500), 1825),
};

export type EnvName = keyof typeof ENV;

/**
 * The variable `name` as its schema reads it; `fallback` (validated like a value) stands in when it
 * is unset or blank. Throws a ConfigError naming the variable and the first problem.
 */
function read<K extends EnvName>(env: Env, name: K): z.output<(typeof ENV)[K]>;
function read<K extends EnvName>(env: Env, name: K, fallback: string): Exclude<z.output<(typeof ENV)[K]>, undefined>;
function read(env: Env, name: EnvName, fallback?: string): unknown {
  const schema: z.ZodType = ENV[name];
  const raw = env[name];
  const r = schema.safeParse(fallback !== undefined && (raw === undefined || raw.trim() === '') ? fallback : raw);
  if (!r.success) throw new ConfigError(name, r.error.issues[0]!.message);
  return r.data;
}

function accessRules(env: Env, cwd: string): AccessRules {
  const inline = read(env, 'ACCESS_RULES');
  const file = read(env, 'ACCESS_RULES_FILE');
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
  const dataDir = path.resolve(cwd, read(env, 'DATA_DIR'));
  const host = read(env, 'HOST');
  const port = read(env, 'PORT');
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const publicBaseUrl = read(env, 'PUBLIC_BASE_URL', `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`);

  const backend = read(env, 'STORE_BACKEND');
  const esUrl = read(env, 'ES_URL');
  if (backend === 'elasticsearch' && !esUrl) {
    throw new ConfigError('ES_URL', 'is required when STORE_BACKEND=elasticsearch');
  }
  const esIndex = read(env, 'ES_INDEX');
  const esApiKey = read(env, 'ES_API_KEY');
  const esUsername = read(env, 'ES_USERNAME');
  const esPassword = read(env, 'ES_PASSWORD');
  if (esApiKey && (esUsername || esPassword)) throw new ConfigError('ES_API_KEY', 'set either ES_API_KEY or ES_USERNAME/ES_PASSWORD, not both');
  if (esUsername && !esPassword) throw new ConfigError('ES_PASSWORD', 'is required with ES_USERNAME');
  if (esPassword && !esUsername) throw new ConfigError('ES_USERNAME', 'is required with ES_PASSWORD');
  if (esUrl && (esApiKey || esUsername) && /^[a-z]+:\/\/[^/]*@/i.test(esUrl)) {
    throw new ConfigError('ES_URL', 'carries credentials while ES_API_KEY or ES_USERNAME is set too: keep one of them');
  }
  const esCaCertRaw = read(env, 'ES_CA_CERT');
  const esCaCert = esCaCertRaw ? path.resolve(cwd, esCaCertRaw) : undefined;
  if (esCaCert) {
    try {
      if (!/-----BEGIN CERTIFICATE-----/.test(readFileSync(esCaCert, 'utf8'))) throw new Error('no PEM certificate in it');
    } catch (e) {
      throw new ConfigError('ES_CA_CERT', `cannot use ${esCaCert}: ${(e as Error).message}`);
    }
  }
  const esTimeoutMs = read(env, 'ES_TIMEOUT_MS');

  const source = read(env, 'IMAGE_SOURCE');
  const maxWidth = read(env, 'IIIF_MAX_WIDTH');
  const maxHeight = read(env, 'IIIF_MAX_HEIGHT', String(maxWidth));
  const maxArea = read(env, 'IIIF_MAX_AREA');
  const MB = 1024 * 1024;
  const imageCache = {
    cacheMaxBytes: read(env, 'IIIF_CACHE_MAX_MB') * MB,
    memoryCacheBytes: read(env, 'IIIF_MEMORY_CACHE_MB') * MB,
    maxRenders: read(env, 'IIIF_MAX_RENDERS', String(os.availableParallelism())),
    maxQueue: read(env, 'IIIF_MAX_QUEUE'),
    renderMemoryBytes: read(env, 'IIIF_RENDER_MEMORY_MB') * MB,
  };

  const s3Endpoint = read(env, 'S3_ENDPOINT');
  if (source === 's3' && !read(env, 'S3_BUCKET')) throw new ConfigError('S3_BUCKET', 'is required when IMAGE_SOURCE=s3');
  const s3 = {
    endpoint: s3Endpoint,
    region: read(env, 'S3_REGION'),
    bucket: read(env, 'S3_BUCKET'),
    accessKeyId: read(env, 'S3_ACCESS_KEY_ID'),
    secretAccessKey: read(env, 'S3_SECRET_ACCESS_KEY'),
    prefix: read(env, 'S3_PREFIX'),
    forcePathStyle: read(env, 'S3_FORCE_PATH_STYLE'),
  };
  const derivatives = {
    store: read(env, 'DERIVATIVE_STORE', source === 's3' ? 's3' : 'none'),
    dir: path.resolve(dataDir, read(env, 'DERIVATIVE_DIR')),
    prefix: read(env, 'S3_DERIVATIVE_PREFIX'),
  };
  if (derivatives.store === 's3' && !s3.bucket) throw new ConfigError('DERIVATIVE_STORE', 'is s3, which needs S3_BUCKET');
  if (derivatives.prefix.split('/').some((seg) => seg === '.' || seg === '..') || derivatives.prefix === s3.prefix) {
    throw new ConfigError('S3_DERIVATIVE_PREFIX', `must be ASCII path segments ending in "/" other than S3_PREFIX, got "${derivatives.prefix}"`);
  }

  const mode = read(env, 'ACCESS_MODE');
  const allowPublicUnauthenticated = read(env, 'ALLOW_PUBLIC_UNAUTHENTICATED');
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
    anonymousLevel: read(env, 'ACCESS_ANONYMOUS_LEVEL', isLoopback(host) ? 'staff' : 'open'),
    rules: accessRules(env, cwd),
    iiif: {
      origins: read(env, 'IIIF_AUTH_ORIGINS'),
      tokenSecret: read(env, 'IIIF_AUTH_TOKEN_SECRET'),
      tokenTtlSeconds: read(env, 'IIIF_AUTH_TOKEN_TTL'),
    },
  };
  if (mode === 'cloudflare') {
    const team = read(env, 'CF_ACCESS_TEAM_DOMAIN');
    const audience = read(env, 'CF_ACCESS_AUD');
    if (audience.length === 0) throw new ConfigError('CF_ACCESS_AUD', 'is required when ACCESS_MODE=cloudflare (the Access application\'s AUD tag)');
    access.cloudflare = {
      teamDomain: team,
      issuer: `https://${team}`,
      audience,
      jwksUrl: read(env, 'CF_ACCESS_JWKS_URL', `https://${team}/cdn-cgi/access/certs`),
      jwksCooldownSeconds: read(env, 'CF_ACCESS_JWKS_COOLDOWN'),
    };
  }
  if (mode === 'header') {
    const trustedProxies = read(env, 'ACCESS_TRUSTED_PROXIES');
    if (trustedProxies.length === 0) {
      throw new ConfigError('ACCESS_TRUSTED_PROXIES', 'is required when ACCESS_MODE=header: the addresses of the authenticating proxy, whose identity header alone is trusted');
    }
    access.header = { name: read(env, 'ACCESS_HEADER').toLowerCase(), trustedProxies };
  }
  const logout = mode === 'cloudflare' ? read(env, 'ACCESS_LOGOUT_URL', '/cdn-cgi/access/logout') : read(env, 'ACCESS_LOGOUT_URL');
  if (logout) access.logoutUrl = logout;

  const normalizeRules = read(env, 'NORMALIZE_RULES');
  return {
    dataDir,
    host,
    port,
    publicBaseUrl,
    store: {
      backend,
      sqlitePath: path.resolve(dataDir, read(env, 'SQLITE_PATH')),
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
      root: path.resolve(dataDir, read(env, 'IMAGE_ROOT')),
      cacheDir: path.resolve(dataDir, read(env, 'CACHE_DIR')),
      derivatives,
      maxWidth,
      maxHeight,
      maxArea,
      ...imageCache,
    },
    s3,
    access,
    demo: read(env, 'DEMO'),
    demoScale: read(env, 'DEMO_SCALE'),
    logRequests: read(env, 'LOG_REQUESTS'),
    ingest: {
      deliveryDir: path.resolve(dataDir, read(env, 'DELIVERY_DIR')),
      rulesFile: normalizeRules ? path.resolve(dataDir, normalizeRules) : undefined,
      syncConcurrency: read(env, 'SYNC_CONCURRENCY'),
    },
    grants: {
      cacheSeconds: read(env, 'GRANTS_CACHE_SECONDS'),
      auditRetentionDays: read(env, 'AUDIT_RETENTION_DAYS'),
    },
  };
}

let cached: Config | undefined;

/** The process-wide configuration, loaded and validated once. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
