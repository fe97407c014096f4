/**
 * The sync stage against s3rver on 127.0.0.1, through a proxy that verifies every SigV4 signature
 * (helpers/s3.ts), fails requests on demand and misreports listings.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { ImageState } from '../../src/lib/search/store.ts';
import { createS3Client } from '../../src/lib/storage/s3.ts';
import { objectKey } from '../../src/lib/storage/keys.ts';
import { syncToS3 } from '../../src/lib/ingest/sync.ts';
import { writeDelivery2024, writeDelivery2025, writeManyBatch, uniqueJpeg } from './fixtures/delivery.ts';
import { ACCESS_KEY, REGION, SECRET_KEY, startS3, type S3Fixture } from './helpers/s3.ts';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');

let tmp: string;
let s3: S3Fixture;
let direct: S3Client;
let viaProxy: S3Client;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-sync-'));
  s3 = await startS3();
  const settings = { region: REGION, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, prefix: 'photos/', forcePathStyle: true };
  direct = createS3Client({ ...settings, endpoint: s3.direct });
  viaProxy = createS3Client({ ...settings, endpoint: s3.endpoint });
});
afterAll(async () => {
  direct?.destroy();
  viaProxy?.destroy();
  await s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

function env(dataDir: string, bucket: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: bucket,
    S3_REGION: REGION,
    S3_ACCESS_KEY_ID: ACCESS_KEY,
    S3_SECRET_ACCESS_KEY: SECRET_KEY,
    ...extra,
  };
}

async function cli(argv: string[], e: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { env: e, cwd: tmp, out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function bucket(name: string) {
  await viaProxy.send(new CreateBucketCommand({ Bucket: name }));
}

/** key → "size md5" of every object in a bucket (read from s3rver directly). */
async function contents(name: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let token: string | undefined;
  do {
    const page = await direct.send(new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const body = await (await direct.send(new GetObjectCommand({ Bucket: name, Key: o.Key! }))).Body!.transformToByteArray();
      out[o.Key!] = `${body.length} ${createHash('md5').update(body).digest('hex')}`;
    }
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

const md5 = (file: string) => {
  const b = fs.readFileSync(file);
  return `${b.length} ${createHash('md5').update(b).digest('hex')}`;
};

async function withStore<T>(dataDir: string, fn: (s: SqliteStore) => Promise<T>): Promise<T> {
  const s = new SqliteStore(path.join(dataDir, 'archive.sqlite'));
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

const requests = (from: number, bucketName: string, kind?: string) =>
  s3.log.slice(from).filter((r) => r.bucket === bucketName && (!kind || r.kind === kind));

describe('object keys', () => {
  it('are flat ASCII: the file name, or the image id when the name is not plain ASCII', () => {
    expect(objectKey({ id: 'R01-0001', file: 'R01/R01-0001.jpg' }, 'photos/')).toBe('photos/R01-0001.jpg');
    expect(objectKey({ id: 'R01-0021_p001', file: 'R01/浅草寺_本堂.jpg' }, 'photos/')).toBe('photos/R01-0021_p001.jpg');
    expect(objectKey({ id: 'a_b', file: 'R01/a b.TIF' }, 'photos/')).toBe('photos/a_b.tif');
    expect(objectKey({ id: 'x', file: 'R01/.hidden.jpg' }, '')).toBe('x.jpg');
    expect(objectKey({ id: 'x', file: 'R01/x.jpg', s3Key: 'elsewhere/x.jpg' }, 'photos/')).toBe('elsewhere/x.jpg');
    // without an id (the image server's fallback): the base name, as before
    expect(objectKey({ file: 'R01/box 3/photo.jpg' }, 'photos/')).toBe('photos/photo.jpg');
  });
});

describe('sync the fixture delivery', () => {
  let data: string;
  const B = 'archive-images';

  beforeAll(async () => {
    data = path.join(tmp, 'fixture-data');
    const d = path.join(tmp, 'deliveries');
    await writeDelivery2024(path.join(d, '2024'));
    await writeDelivery2025(path.join(d, '2025'));
    expect((await cli(['normalize', path.join(d, '2024'), path.join(d, '2025')], env(data, B))).code).toBe(0);
    expect((await cli(['index'], env(data, B))).code).toBe(0);
    await bucket(B);
  });

  it('uploads every image under its key, signed, and records each upload in the store', async () => {
    const from = s3.log.length;
    const dry = await cli(['sync', '--dry-run'], env(data, B));
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/^would upload 11 objects \([\d.]+ MB\) in [\d.]+ s; 0 already in the bucket; 0 already recorded$/);
    expect(requests(from, B, 'put')).toHaveLength(0);

    const r = await cli(['sync'], env(data, B));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^uploaded 11 objects \([\d.]+ MB\) in [\d.]+ s \(\d+\/s\); 0 already in the bucket; 0 already recorded; 11 upload records written(; \d+ retries)?$/);
    const calls = requests(from, B);
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.every((c) => c.verified)).toBe(true);
    expect(s3.rejected()).toBe(0);

    const images = await withStore(data, (s) => s.listImages());
    const expected: Record<string, string> = {};
    for (const img of images) expected[objectKey({ id: img.id, file: img.file }, 'photos/')] = md5(path.join(data, 'images', img.file));
    expect(await contents(B)).toEqual(expected);
    expect(Object.keys(expected)).toContain('photos/R03-0004_p001.jpg'); // ポジ_01.jpg: an ASCII key from the record
    for (const img of images) {
      expect(img.uploadedAt, img.id).toBeDefined();
      expect(img.s3Key).toBe(objectKey({ id: img.id, file: img.file }, 'photos/'));
      expect(img.s3Size).toBe(fs.statSync(path.join(data, 'images', img.file)).size);
    }
    await withStore(data, async (s) => {
      expect((await s.search({ filters: { s3_uploaded: false } })).total).toBe(0);
      expect((await s.get('R03-0004'))!.images[0]!.s3Key).toBe('photos/R03-0004_p001.jpg'); // the mapping, in the record
    });
  });

  it('does nothing, without a single S3 request, when everything is recorded', async () => {
    const from = s3.log.length;
    const r = await cli(['sync'], env(data, B));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^uploaded 0 objects \(0\.0 MB\) in [\d.]+ s; 0 already in the bucket; 11 already recorded; 0 upload records written(; \d+ retries)?$/);
    expect(requests(from, B)).toEqual([]);
  });

  it('uploads a re-digitised file again (new size) under the same key: last write wins', async () => {
    const file = path.join(data, 'images', 'R04', 'R04-0002.jpg');
    const target = fs.readlinkSync(file);
    await writeFile(target, await uniqueJpeg('R04-0002 re-digitised, a longer comment so the size changes'));
    const from = s3.log.length;
    const r = await cli(['sync'], env(data, B));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^uploaded 1 object .*; 10 already recorded; 1 upload records written(; \d+ retries)?$/);
    expect(requests(from, B, 'put').map((c) => c.key)).toEqual(['photos/R04-0002.jpg']);
    expect((await contents(B))['photos/R04-0002.jpg']).toBe(md5(file));
    const img = (await withStore(data, (s) => s.listImages())).find((i) => i.id === 'R04-0002')!;
    expect(img.s3Size).toBe(fs.statSync(file).size);
  });

  it('stops at once on a signature the server refuses, records nothing, exit 3', async () => {
    const other = 'wrong-secret';
    await bucket(other);
    const data2 = path.join(tmp, 'fixture-data-2');
    fs.cpSync(data, data2, { recursive: true, verbatimSymlinks: true });
    fs.rmSync(path.join(data2, 'archive.sqlite')); // a store that knows of no upload
    expect((await cli(['index'], env(data2, other))).code).toBe(0);
    // s3rver alone accepts a SigV4 request signed with the wrong secret: that is why the proxy checks
    const sloppy = createS3Client({ endpoint: s3.direct, region: REGION, accessKeyId: ACCESS_KEY, secretAccessKey: 'wrong', prefix: '', forcePathStyle: true });
    await expect(sloppy.send(new HeadObjectCommand({ Bucket: B, Key: 'photos/R04-0001.jpg' }))).resolves.toBeDefined();
    sloppy.destroy();

    const r = await cli(['sync'], env(data2, other, { S3_SECRET_ACCESS_KEY: 'wrong' }));
    expect(r.code).toBe(3);
    // a HEAD error has no body, so S3 (and the proxy) can only say 403
    expect(r.err).toMatch(/^sync stopped: HTTP 403 (Forbidden|SignatureDoesNotMatch)( [^(]*)? \(check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION and what the key may do in the bucket\)$/m);
    expect(r.out).toMatch(/stopped early \(HTTP 403 .*\), \d+ not attempted$/);
    expect(await withStore(data2, (s) => s.listImages({ uploaded: true }))).toEqual([]);
    expect(await contents(other)).toEqual({});
  });

  it('retries server errors with backoff, lists what still failed, exit 1; the next run uploads only those', async () => {
    const B2 = 'flaky';
    await bucket(B2);
    const data3 = path.join(tmp, 'fixture-data-3');
    fs.cpSync(data, data3, { recursive: true, verbatimSymlinks: true });
    fs.rmSync(path.join(data3, 'archive.sqlite'));
    expect((await cli(['index'], env(data3, B2))).code).toBe(0);
    const broken = new Set(['photos/R03-0002.jpg', 'photos/R05-0001.png']);
    s3.controls.fail = ({ kind, bucket: b, key, attempt }) =>
      b === B2 && kind === 'put' && (broken.has(key) || (attempt === 1 && /[13579]\.jpg$/.test(key))) ? 500 : undefined;
    const from = s3.log.length;
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await cli(['sync', '--attempts', '3'], env(data3, B2));
    } finally {
      s3.controls.fail = undefined;
    }
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toEqual([
      'failed: R03-0002 R03/R03-0002.jpg -> photos/R03-0002.jpg: HTTP 500 InternalError: injected by the test proxy (after 3 attempts)',
      'failed: R05-0001 R05/R05-0001.png -> photos/R05-0001.png: HTTP 500 InternalError: injected by the test proxy (after 3 attempts)',
    ]);
    expect(r.out).toMatch(/^uploaded 9 objects .*; 0 already in the bucket; 0 already recorded; 9 upload records written; \d+ retries; 2 failed$/);
    const puts = requests(from, B2, 'put');
    expect(puts.filter((p) => broken.has(p.key))).toHaveLength(6);
    const retried = puts.filter((p) => !broken.has(p.key) && p.status === 500).map((p) => p.key);
    expect(retried.length).toBeGreaterThan(0); // first attempts that failed, then succeeded
    const marked = await withStore(data3, (s) => s.listImages({ uploaded: true }));
    expect(marked.map((m) => m.s3Key).filter((k) => broken.has(k!))).toEqual([]);
    expect(Object.keys(await contents(B2)).filter((k) => broken.has(k))).toEqual([]);

    const from2 = s3.log.length;
    const again = await cli(['sync'], env(data3, B2));
    expect(again.code).toBe(0);
    expect(requests(from2, B2, 'put').map((p) => p.key).sort()).toEqual([...broken].sort());
    expect(await contents(B2)).toEqual(await contents(B));
  });
});

describe('existing objects and listings that cannot be trusted', () => {
  let data: string;
  let pristine: string;
  const B = 'many';
  const N = 1100;

  beforeAll(async () => {
    data = path.join(tmp, 'many-data');
    await writeManyBatch(path.join(tmp, 'many-delivery', 'R20'), 'M', N);
    expect((await cli(['normalize', path.join(tmp, 'many-delivery')], env(data, B))).code).toBe(0);
    expect((await cli(['index'], env(data, B))).code).toBe(0);
    pristine = path.join(tmp, 'many-pristine.sqlite');
    fs.copyFileSync(path.join(data, 'archive.sqlite'), pristine);
    await bucket(B);
    const r = await cli(['sync'], env(data, B));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^uploaded 1100 objects/);
  }, 120_000);

  const fresh = () => {
    for (const ext of ['', '-wal', '-shm']) fs.rmSync(path.join(data, `archive.sqlite${ext}`), { force: true });
    fs.copyFileSync(pristine, path.join(data, 'archive.sqlite'));
  };

  it('takes objects listed with the same size as present: recorded, not uploaded again', async () => {
    fresh();
    const from = s3.log.length;
    const r = await cli(['sync'], env(data, B));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^uploaded 0 objects .*; 1100 already in the bucket; 0 already recorded; 1100 upload records written(; \d+ retries)?$/);
    expect(requests(from, B, 'put')).toHaveLength(0);
    expect(requests(from, B, 'head')).toHaveLength(0);
    expect(requests(from, B, 'list')).toHaveLength(2); // 1000 + 100, following the continuation token
    expect(await withStore(data, (s) => s.listImages({ uploaded: false }))).toEqual([]);
  });

  for (const mode of ['drop-token', 'stop-at-1000'] as const) {
    it(`falls back to HEAD for every unlisted key when the listing ${mode === 'drop-token' ? 'is truncated without a continuation token' : 'stops at exactly 1000'}`, async () => {
      fresh();
      s3.controls.listMode = mode;
      const from = s3.log.length;
      let r: Awaited<ReturnType<typeof cli>>;
      try {
        r = await cli(['sync'], env(data, B));
      } finally {
        s3.controls.listMode = undefined;
      }
      expect(r.code).toBe(0);
      expect(r.err).toMatch(mode === 'drop-token' ? /^note: listing truncated after 1000 keys without a continuation token/ : /^note: listing stopped at exactly 1000 keys/);
      expect(r.out).toMatch(/; 1100 already in the bucket; 0 already recorded; 1100 upload records written(; \d+ retries)?$/);
      expect(requests(from, B, 'list')).toHaveLength(1);
      expect(requests(from, B, 'head')).toHaveLength(100);
      expect(requests(from, B, 'put')).toHaveLength(0);
      expect(await withStore(data, (s) => s.listImages({ uploaded: false }))).toEqual([]);
    });
  }

  it('uploads what a suspicious listing does not show and HEAD cannot find', async () => {
    fresh();
    const gone = ['photos/M-1050.jpg', 'photos/M-1051.jpg'];
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    for (const k of gone) await direct.send(new DeleteObjectCommand({ Bucket: B, Key: k }));
    s3.controls.listMode = 'stop-at-1000';
    const from = s3.log.length;
    try {
      const r = await cli(['sync'], env(data, B));
      expect(r.code).toBe(0);
    } finally {
      s3.controls.listMode = undefined;
    }
    expect(requests(from, B, 'put').map((p) => p.key).sort()).toEqual(gone);
    expect(requests(from, B, 'head')).toHaveLength(100); // every key after the first 1000; 2 of them answer 404
  });
});

describe('kill -9 in the middle of a sync, then resume', () => {
  const N = 200;
  let runData: string;
  let refData: string;

  beforeAll(async () => {
    const d = path.join(tmp, 'kill-delivery');
    await writeManyBatch(path.join(d, 'R30'), 'K', N);
    runData = path.join(tmp, 'kill-data');
    refData = path.join(tmp, 'kill-ref-data');
    for (const data of [runData, refData]) {
      expect((await cli(['normalize', d], env(data, 'x'))).code).toBe(0);
      expect((await cli(['index'], env(data, 'x'))).code).toBe(0);
    }
    await bucket('kill-run');
    await bucket('kill-ref');
  }, 60_000);

  /** Spawns `archive sync`; kills it with SIGKILL once `killAfter` more PUTs have succeeded. */
  async function runSync(data: string, name: string, killAfter?: number): Promise<{ code: number | null; signal: string | null; from: number }> {
    const from = s3.log.length;
    const child = spawn(process.execPath, [CLI, 'sync', '--flush-every', '4'], {
      env: { ...process.env, ...env(data, name) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    if (killAfter !== undefined) {
      const deadline = Date.now() + 30_000;
      while (requests(from, name, 'put').filter((p) => p.status === 200).length < killAfter) {
        if (Date.now() > deadline) throw new Error(`sync did not reach ${killAfter} PUTs in 30 s: ${stderr}`);
        if (child.exitCode !== null) throw new Error(`sync ended before it could be killed: ${stderr}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
    }
    const end = await exited;
    return { ...end, from };
  }

  /** Every image marked uploaded is in the bucket with the recorded size. */
  async function markedAreUploaded(data: string, name: string): Promise<Map<string, ImageState>> {
    const marked = await withStore(data, (s) => s.listImages({ uploaded: true }));
    for (const m of marked) {
      const head = await direct.send(new HeadObjectCommand({ Bucket: name, Key: m.s3Key! }));
      expect(head.ContentLength, m.s3Key).toBe(m.s3Size);
    }
    return new Map(marked.map((m) => [m.s3Key!, m]));
  }

  it('reaches exactly the state of an uninterrupted run: nothing marked that was not uploaded, nothing marked uploaded again', async () => {
    s3.controls.putDelayMs = 15; // a sync that lasts long enough to be killed in the middle
    try {
      const ref = await runSync(refData, 'kill-ref');
      expect(ref.code).toBe(0);

      const first = await runSync(runData, 'kill-run', 50);
      expect(first.signal).toBe('SIGKILL');
      const m1 = await markedAreUploaded(runData, 'kill-run');
      expect(m1.size).toBeGreaterThan(0); // killed after some flushes…
      expect(m1.size).toBeLessThan(N); // …and before the end

      const second = await runSync(runData, 'kill-run', 50);
      expect(second.signal).toBe('SIGKILL');
      const put2 = new Set(requests(second.from, 'kill-run', 'put').map((p) => p.key));
      expect([...put2].filter((k) => m1.has(k))).toEqual([]);
      const m2 = await markedAreUploaded(runData, 'kill-run');
      for (const k of m1.keys()) expect(m2.has(k), k).toBe(true);
      expect(m2.size).toBeGreaterThan(m1.size);

      const last = await runSync(runData, 'kill-run');
      expect(last.code).toBe(0);
      const put3 = new Set(requests(last.from, 'kill-run', 'put').map((p) => p.key));
      expect([...put3].filter((k) => m2.has(k))).toEqual([]);
      const all = requests(first.from, 'kill-run', 'put').length;
      expect(all).toBeLessThanOrEqual(N + 2 * 16); // at most the PUTs in flight at each kill are repeated

      expect(await contents('kill-run')).toEqual(await contents('kill-ref'));
      const state = async (data: string) =>
        (await withStore(data, (s) => s.listImages())).map((i) => [i.id, i.s3Key, i.s3Size, !!i.uploadedAt]);
      expect(await state(runData)).toEqual(await state(refData));
      const records = async (data: string) => withStore(data, async (s) => (await s.search({ filters: { s3_uploaded: true }, pageSize: 1 })).total);
      expect(await records(runData)).toBe(N);
      expect(await records(refData)).toBe(N);
    } finally {
      s3.controls.putDelayMs = 0;
    }
  }, 120_000);
});

describe('the demo with S3 configured', () => {
  it('runs sync after normalize and index; an S3 that does not answer leaves the demo usable (exit 0, a warning)', async () => {
    await bucket('demo');
    const data = path.join(tmp, 'demo-data');
    const r = await cli(['demo', '--scale', '0.05'], env(data, 'demo'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^uploaded 47 objects .*; 47 upload records written(; \d+ retries)?$/m);
    expect(Object.keys(await contents('demo'))).toHaveLength(47);
    expect((await contents('demo'))['photos/R01-0021_p001.jpg']).toBeDefined(); // 浅草寺_本堂.jpg

    const down = path.join(tmp, 'demo-data-down');
    const r2 = await cli(['demo', '--scale', '0.05'], env(down, 'demo', { S3_ENDPOINT: 'http://127.0.0.1:9' }));
    expect(r2.code).toBe(0);
    expect(r2.err).toMatch(/^failed: R01-0001 R01\/R01-0001\.jpg -> photos\/R01-0001\.jpg: .*ECONNREFUSED.* \(after 3 attempts\)$/m);
    expect(r2.err).toMatch(/^warning: the demo images are not all in S3; run `archive sync` again once S3 answers$/m);
    expect(r2.out).toMatch(/^indexed 40 records/m);
  }, 60_000);
});

describe('syncToS3 as a library', () => {
  it('sends large files in parts (multipart upload), verified like any PUT', async () => {
    const name = 'multipart';
    await bucket(name);
    const root = path.join(tmp, 'mp-clean');
    fs.mkdirSync(path.join(root, 'R40'), { recursive: true });
    const big = Buffer.alloc(6 * 1024 * 1024 + 10);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    fs.writeFileSync(path.join(root, 'R40', 'BIG.tif'), big);
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert([{ id: 'BIG', batch: 'R40', title: { en: 'big' }, images: [{ id: 'BIG', file: 'R40/BIG.tif' }] }]);
    const from = s3.log.length;
    const r = await syncToS3({ store, client: viaProxy, bucket: name, prefix: 'photos/', cleanRoot: root, multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
    expect(r).toMatchObject({ uploaded: 1, bytes: big.length, failed: [], marked: 1 });
    const calls = requests(from, name).map((c) => `${c.method} ${c.status}`);
    expect(calls).toEqual(['HEAD 404', 'POST 200', 'PUT 200', 'PUT 200', 'POST 200']); // create, 2 parts, complete
    expect((await contents(name))['photos/BIG.tif']).toBe(`${big.length} ${createHash('md5').update(big).digest('hex')}`);
    expect((await store.listImages())[0]).toMatchObject({ s3Key: 'photos/BIG.tif', s3Size: big.length });
    await store.close();
  });

  it('a part that fails aborts the multipart upload, which is retried as a whole and recorded once', async () => {
    const name = 'multipart-retry';
    await bucket(name);
    const root = path.join(tmp, 'mp-retry-clean');
    fs.mkdirSync(path.join(root, 'R42'), { recursive: true });
    const big = Buffer.alloc(6 * 1024 * 1024 + 10);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i * 7) % 251;
    fs.writeFileSync(path.join(root, 'R42', 'BIG2.tif'), big);
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert([{ id: 'BIG2', batch: 'R42', title: { en: 'big' }, images: [{ id: 'BIG2', file: 'R42/BIG2.tif' }] }]);
    // One attempt per request, as `archive sync` configures its client (the SDK's own retries off).
    const client = createS3Client({ region: REGION, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, prefix: 'photos/', forcePathStyle: true, endpoint: s3.endpoint }, { maxAttempts: 1 });
    // The second part PUT to the key (one of the first try's two parts, sent together) fails once.
    s3.controls.fail = ({ bucket: b, method, attempt }) => (b === name && method === 'PUT' && attempt === 2 ? 500 : undefined);
    const from = s3.log.length;
    let r: Awaited<ReturnType<typeof syncToS3>>;
    try {
      r = await syncToS3({ store, client, bucket: name, prefix: 'photos/', cleanRoot: root, backoffMs: 1, multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
    } finally {
      s3.controls.fail = undefined;
      client.destroy();
    }
    expect(r).toMatchObject({ uploaded: 1, bytes: big.length, failed: [], marked: 1 });
    expect(r.requests.retries).toBe(1);
    const calls = requests(from, name).map((c) => `${c.method} ${c.status}`);
    expect(calls.filter((c) => c === 'PUT 500')).toHaveLength(1);
    // The failed try's upload is aborted (s3rver has no AbortMultipartUpload and answers 405, which
    // must not hide the part's error: that 500 is what makes the upload worth another try).
    expect(calls.filter((c) => c.startsWith('DELETE '))).toHaveLength(1);
    expect(calls.filter((c) => c === 'POST 200')).toHaveLength(3); // create, create again, complete
    expect((await contents(name))['photos/BIG2.tif']).toBe(`${big.length} ${createHash('md5').update(big).digest('hex')}`);
    expect((await store.listImages())[0]).toMatchObject({ s3Key: 'photos/BIG2.tif', s3Size: big.length });
    await store.close();
  });

  it('stops taking new uploads when interrupted, and records the ones it finished', async () => {
    const name = 'interrupted';
    await bucket(name);
    const root = path.join(tmp, 'int-clean');
    fs.mkdirSync(path.join(root, 'R41'), { recursive: true });
    const store = new SqliteStore(':memory:');
    await store.init();
    const items = [];
    for (let i = 1; i <= 120; i++) {
      const id = `I-${String(i).padStart(3, '0')}`;
      fs.writeFileSync(path.join(root, 'R41', `${id}.jpg`), await uniqueJpeg(id));
      items.push({ id, batch: 'R41', title: { en: id }, images: [{ id, file: `R41/${id}.jpg` }] });
    }
    await store.upsert(items);
    const ac = new AbortController();
    s3.controls.putDelayMs = 10;
    let r: Awaited<ReturnType<typeof syncToS3>>;
    try {
      r = await syncToS3({
        store,
        client: viaProxy,
        bucket: name,
        prefix: 'photos/',
        cleanRoot: root,
        concurrency: 4,
        signal: ac.signal,
        onProgress: (p) => p.phase === 'upload' && p.done >= 32 && ac.abort(),
      });
    } finally {
      s3.controls.putDelayMs = 0;
    }
    expect(r.stopped).toBe(true);
    expect(r.uploaded).toBeGreaterThanOrEqual(32);
    expect(r.uploaded).toBeLessThan(120);
    expect(r.notAttempted).toBe(120 - r.uploaded);
    const marked = await store.listImages({ uploaded: true });
    expect(marked).toHaveLength(r.uploaded);
    expect(Object.keys(await contents(name)).sort()).toEqual(marked.map((m) => m.s3Key).sort());
    await store.close();
  });

  it('refuses a store that cannot list images or record uploads', async () => {
    const store = { backend: 'test double' } as unknown as SqliteStore;
    await expect(
      syncToS3({ store, client: viaProxy, bucket: 'x', prefix: '', cleanRoot: tmp }),
    ).rejects.toThrow(/the test double store cannot list images or record uploads/);
  });
});
