/**
 * Faults of S3 underneath the image server (issue 18): a loopback TCP proxy in front of s3rver
 * hangs, delays, resets or answers 500. For each fault: a cached tile is still 200 (from the
 * derivative cache, without waiting for S3), an image that needs S3 answers 503 with Retry-After
 * within its deadline (never hangs, never 500, no stack trace in the log), and once the fault is
 * removed, everything is served again without a restart within 30 s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createS3Client, describeS3Error, isS3Unavailable } from '../../src/lib/storage/s3.ts';
import { CircuitBreaker, CircuitOpenError } from '../../src/lib/storage/breaker.ts';
import { DiskCache } from '../../src/lib/images/cache.ts';
import { S3ImageSource } from '../../src/lib/images/s3source.ts';
import { ImageServer } from '../../src/lib/images/server.ts';
import { startS3rverProcess } from '../ingest/helpers/s3.ts';
import { startFaultProxy, waitUntil, type FaultMode, type FaultProxy } from './helpers/tcp-proxy.ts';
import { s3rverSettings } from '../helpers/s3.ts';

const BUCKET = 'fault-images';
/** The deadline of one S3 lookup in these tests (ms), and what a client may wait at most. */
const HEAD_DEADLINE = 2_500;
const ANSWER_WITHIN = HEAD_DEADLINE + 2_000;
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

let tmp: string;
let s3: Awaited<ReturnType<typeof startS3rverProcess>>;
let proxy: FaultProxy;
let server: ImageServer;
let source: S3ImageSource;
const logged: string[] = [];
const table: string[] = [];

const settings = (endpoint: string) => s3rverSettings(endpoint, BUCKET, '');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fault-s3-'));
  s3 = await startS3rverProcess(path.join(tmp, 's3'));
  const direct: S3Client = createS3Client(settings(s3.url));
  await direct.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const [i, id] of IDS.entries()) {
    const img = sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 30 * i, g: 120, b: 200 - 20 * i } } });
    await direct.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${id}.jpg`, Body: await img.jpeg().toBuffer() }));
  }
  direct.destroy();
  const u = new URL(s3.url);
  proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port) });
  const client = createS3Client(settings(proxy.url), { maxAttempts: 2, connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000, socketTimeoutMs: 2_000, maxSockets: 8 });
  const cache = new DiskCache({ dir: path.join(tmp, 'cache'), maxBytes: 256 * 2 ** 20 });
  source = new S3ImageSource({
    client,
    bucket: BUCKET,
    prefix: '',
    lookup: async (id) => (IDS.includes(id) ? { file: `${id}.jpg` } : null),
    cache,
    ttlMs: 1,
    revalidateWaitMs: 100,
    headDeadlineMs: HEAD_DEADLINE,
    breaker: new CircuitBreaker({ service: `S3 bucket ${BUCKET}`, threshold: 3, coolDownMs: 500, maxCoolDownMs: 2_000, describe: describeS3Error, log: (l) => logged.push(l) }),
    warn: (m) => logged.push(m),
  });
  server = new ImageServer({
    source,
    cache,
    maxWidth: 5000,
    maxHeight: 5000,
    maxArea: 25_000_000,
    publicBaseUrl: 'http://h',
    memoryCacheBytes: 0, // every cached answer comes from the disk cache, as after a restart
    log: (m, err) => logged.push(`${m} ${err instanceof Error ? (err.stack ?? err.message) : ''}`),
  });
}, 60_000);

afterAll(async () => {
  if (table.length) console.log(`\nS3 fault table\n${table.join('\n')}\n`);
  await proxy?.close();
  await s3?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function get(p: string) {
  const t0 = performance.now();
  const r = await server.handle(p);
  await r.file?.handle.close();
  return { status: r.status, headers: r.headers, body: String(r.body ?? ''), ms: performance.now() - t0 };
}

const TILE = (id: string) => `3/${id}/0,0,512,512/512,/0/default.jpg`;

/** Each fault uses two fresh images: one warmed before the fault (cached), one never touched. */
async function exercise(mode: FaultMode, opts: { delayMs?: number; cached: string; cold: string }) {
  expect((await get(`3/${opts.cached}/info.json`)).status).toBe(200);
  expect((await get(TILE(opts.cached))).status).toBe(200);
  const before = logged.length;
  if (opts.delayMs) proxy.delayMs = opts.delayMs;
  else proxy.mode = mode;
  try {
    // Cached: served from the derivative cache while S3 misbehaves.
    const cachedMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const hit = await get(TILE(opts.cached));
      expect(hit.status, hit.body).toBe(200);
      cachedMs.push(hit.ms);
      expect(hit.ms).toBeLessThan(ANSWER_WITHIN);
      const info = await get(`3/${opts.cached}/info.json`);
      expect(info.status, info.body).toBe(200);
    }
    // Not cached: 503 with Retry-After within the deadline, several times (the breaker opens).
    const answers = [];
    for (let i = 0; i < 5; i++) {
      const miss = await get(TILE(opts.cold));
      expect(miss.status, miss.body).toBe(503);
      expect(Number(miss.headers['Retry-After'])).toBeGreaterThan(0);
      expect(miss.ms).toBeLessThan(ANSWER_WITHIN);
      expect(miss.body).not.toMatch(/\n\s+at /);
      answers.push(miss.ms);
    }
    const during = logged.slice(before);
    expect(during.join('\n'), 'no stack traces per request').not.toMatch(/\n\s+at /);
    const label = opts.delayMs ? `S3 delayed ${opts.delayMs} ms` : `S3 ${mode}`;
    // Recovery without a restart.
    proxy.mode = 'pass';
    proxy.delayMs = 0;
    const recovered = await waitUntil(async () => (await get(TILE(opts.cold))).status === 200, 30_000, `${label}: recovery`);
    table.push(
      `${label.padEnd(22)} | cached tile 200 in ≤${Math.ceil(Math.max(...cachedMs))} ms | uncached 503 + Retry-After in ${Math.round(Math.min(...answers))}-${Math.round(Math.max(...answers))} ms | recovered ${Math.round(recovered)} ms after the fault was removed`,
    );
    return during;
  } finally {
    proxy.mode = 'pass';
    proxy.delayMs = 0;
  }
}

describe('S3 faults', () => {
  test('hung S3 (accepts, never answers): deadline, 503, pool not exhausted, recovery', async () => {
    // With only 8 sockets in the pool, recovery within seconds shows that the hung requests gave
    // their sockets back (request timeout + abort) instead of holding the pool.
    await exercise('hang', { cached: 'a', cold: 'b' });
  }, 60_000);

  test('S3 answering 500: 503 for the client, the log line carries the HTTP status and code', async () => {
    const lines = await exercise('500', { cached: 'c', cold: 'd' });
    // HEAD answers carry no body, so no S3 error code: the status is what there is.
    expect(lines.join('\n')).toMatch(/S3 HeadObject "[a-z]\.jpg" failed: HTTP 500/);
    expect(lines.join('\n')).toMatch(/"event":"dependency_unavailable".*"reason":"HTTP 500/);
  }, 60_000);

  test('S3 resetting connections', async () => {
    await exercise('reset', { cached: 'e', cold: 'f' });
  }, 60_000);

  test('S3 10 s slow: cached tiles at cache speed, the rest 503 within the deadline', async () => {
    await exercise('pass', { delayMs: 10_000, cached: 'g', cold: 'h' });
  }, 60_000);

  test('the /readyz probe: a HEAD on a known object, failing within its deadline and naming the bucket while S3 hangs', async () => {
    expect(await source.probe('a')).toMatch(/^s3: HEAD fault-images\/a\.jpg answered in \d+ ms$/);
    proxy.mode = 'hang';
    try {
      const t0 = performance.now();
      await expect(source.probe('a')).rejects.toThrow(/S3 bucket fault-images unavailable/);
      expect(performance.now() - t0).toBeLessThan(ANSWER_WITHIN);
    } finally {
      proxy.mode = 'pass';
    }
    await waitUntil(async () => /answered/.test(await source.probe('a')), 30_000, 'probe after the fault');
  }, 60_000);

  test('the breaker opens after consecutive failures, fails fast, and closes after one good trial', async () => {
    let now = 0;
    const lines: string[] = [];
    const b = new CircuitBreaker({ service: 'x', threshold: 2, coolDownMs: 1000, maxCoolDownMs: 4000, now: () => now, log: (l) => lines.push(l) });
    const boom = () => Promise.reject(Object.assign(new Error('down'), { name: 'TimeoutError' }));
    await expect(b.run(boom)).rejects.toThrow('down');
    await expect(b.run(boom)).rejects.toThrow('down');
    expect(b.state).toBe('open');
    let called = 0;
    await expect(b.run(async () => ++called)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(0);
    now = 1000;
    expect(b.state).toBe('half-open');
    await expect(b.run(boom)).rejects.toThrow('down'); // the trial fails: cool-down doubles
    now = 1999;
    await expect(b.run(async () => ++called)).rejects.toBeInstanceOf(CircuitOpenError);
    now = 3000;
    expect(await b.run(async () => ++called)).toBe(1);
    expect(b.state).toBe('closed');
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['dependency_unavailable', 'dependency_recovered']);
  });

  test('errors are classified: 5xx and timeouts are unavailability, 404/403 are answers', () => {
    const err = (status: number, name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    expect(isS3Unavailable(err(500, 'InternalError'))).toBe(true);
    expect(isS3Unavailable(err(503, 'SlowDown'))).toBe(true);
    expect(isS3Unavailable(err(404, 'NotFound'))).toBe(false);
    expect(isS3Unavailable(err(403, 'AccessDenied'))).toBe(false);
    expect(isS3Unavailable(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toBe(true);
    expect(isS3Unavailable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(describeS3Error(err(500, 'InternalError'))).toMatch(/^HTTP 500 InternalError/);
  });
});
