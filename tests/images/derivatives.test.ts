/**
 * Pyramid derivatives shared between processes (src/lib/images/derivative-store.ts): two image
 * servers with their own disk caches (two processes, or a new container) and one shared store —
 * the bucket (s3rver on 127.0.0.1, signatures checked) or a shared directory. A pyramid built by
 * the first is fetched by the second instead of being built again; a damaged or unreachable
 * shared copy costs a local build, never a wrong or failed tile.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createS3Client } from '../../src/lib/storage/s3.ts';
import { DiskCache } from '../../src/lib/images/cache.ts';
import { S3ImageSource } from '../../src/lib/images/s3source.ts';
import { ImageServer } from '../../src/lib/images/server.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { FsDerivativeStore, S3DerivativeStore, derivativeName, type DerivativeStore } from '../../src/lib/images/derivative-store.ts';
import { s3rverSettings } from '../helpers/s3.ts';

const BUCKET = 'archive-images';
let tmp: string;
let s3rver: InstanceType<typeof S3rver>;
let client: S3Client;
let jpeg: Buffer;
const logged: string[] = [];
const TILE = '3/photo/0,0,512,512/512,/0/default.jpg';

const settings = (endpoint: string) => s3rverSettings(endpoint, BUCKET);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-derivatives-'));
  s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(tmp, 's3'), allowMismatchedSignatures: false });
  const addr = (await s3rver.run()) as AddressInfo;
  client = createS3Client(settings(`http://127.0.0.1:${addr.port}`));
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  // A plain (non-tiled) JPEG well over two tiles: it gets a pyramid derivative.
  jpeg = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 20, g: 160, b: 60 } } })
    .jpeg({ quality: 90 })
    .toBuffer();
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'photos/photo.jpg', Body: jpeg }));
  await writeFile(path.join(tmp, 'photo.jpg'), jpeg);
}, 60_000);

afterAll(async () => {
  await s3rver?.close().catch(() => {});
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

let n = 0;
/** One "process": its own disk cache and image server, on the shared bucket and derivative store. */
function s3Process(derivatives: DerivativeStore): ImageServer {
  const cache = new DiskCache({ dir: path.join(tmp, `cache-${++n}`), maxBytes: 512 * 2 ** 20 });
  const source = new S3ImageSource({ client, bucket: BUCKET, prefix: 'photos/', lookup: async (id) => (id === 'photo' ? { file: 'photo.jpg' } : null), cache, ttlMs: 0, warn: (m) => logged.push(m) });
  return new ImageServer({ source, cache, derivatives, maxWidth: 10000, maxHeight: 10000, maxArea: 1e8, publicBaseUrl: 'http://h', log: (m) => logged.push(m) });
}

function fsProcess(derivatives: DerivativeStore): ImageServer {
  return new ImageServer({
    root: tmp,
    lookup: async (id) => (id === 'photo' ? { file: 'photo.jpg' } : null),
    cacheDir: path.join(tmp, `cache-${++n}`),
    derivatives,
    maxWidth: 10000,
    maxHeight: 10000,
    maxArea: 1e8,
    publicBaseUrl: 'http://h',
    log: (m) => logged.push(m),
  });
}

async function tile(server: ImageServer): Promise<{ width: number; height: number; green: number }> {
  const r = await server.handle(TILE);
  expect(r.status, String(r.body)).toBe(200);
  const buf = r.file ? await r.file.handle.readFile().finally(() => r.file!.handle.close()) : (r.body as Buffer);
  const { data, info } = await sharp(buf).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, green: data[1]! };
}

async function derivativeKeys(prefix: string): Promise<string[]> {
  const list = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (list.Contents ?? []).map((o) => o.Key!);
}

describe('derivative names', () => {
  test('flat ASCII, from the kind, revision, tile edge, source version and size', () => {
    const a = derivativeName('pyramid', '2', 512, 's3:b/photos/a.jpg:etag1', 100, '.tif');
    expect(a).toMatch(/^pyramid-r2-t512-[0-9a-f]{64}\.tif$/);
    expect(derivativeName('pyramid', '2', 512, 's3:b/photos/a.jpg:etag2', 100, '.tif')).not.toBe(a);
    expect(derivativeName('pyramid', '2', 512, 's3:b/photos/a.jpg:etag1', 101, '.tif')).not.toBe(a);
    expect(derivativeName('pyramid', '3', 512, 's3:b/photos/a.jpg:etag1', 100, '.tif')).not.toBe(a);
    expect(() => derivativeName('../x', '2', 512, 'v', 1, '')).toThrow(/invalid derivative name/);
  });
});

describe('in the bucket', () => {
  test('a pyramid built by one process is fetched by another, not built again', async () => {
    const store = () => new S3DerivativeStore({ client, bucket: BUCKET, prefix: 'derivatives/', warn: (m) => logged.push(m) });
    const first = s3Process(store());
    const a = await tile(first);
    expect(first.stats()).toMatchObject({ pyramidBuilds: 1, pyramidsShared: 0 });
    const keys = await derivativeKeys('derivatives/');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^derivatives\/pyramid-r\d+-t\d+-[0-9a-f]{64}\.tif$/);

    const second = s3Process(store());
    const b = await tile(second);
    expect(second.stats()).toMatchObject({ pyramidBuilds: 0, pyramidsShared: 1 });
    expect(b).toEqual(a);
    expect(a).toMatchObject({ width: 512, height: 512 });
    expect(Math.abs(a.green - 160)).toBeLessThanOrEqual(4);
  });

  test('a damaged shared copy is refused: built again locally, the tile is right', async () => {
    const [key] = await derivativeKeys('derivatives/');
    const good = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key! }))).Body!.transformToByteArray());
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key!, Body: good.subarray(0, 4000) }));
    const third = s3Process(new S3DerivativeStore({ client, bucket: BUCKET, prefix: 'derivatives/', warn: (m) => logged.push(m) }));
    const t = await tile(third);
    expect(third.stats()).toMatchObject({ pyramidBuilds: 1, pyramidsShared: 0 });
    expect(t).toMatchObject({ width: 512, height: 512 });
    expect(logged.some((m) => /shared pyramid .* is unusable/.test(m))).toBe(true);
  });

  test('an unreachable derivative store: the pyramid is built locally and the tile served', async () => {
    // A closed port on loopback: connection refused at once.
    const dead = createS3Client(settings('http://127.0.0.1:9'), { maxAttempts: 1 });
    const lonely = s3Process(new S3DerivativeStore({ client: dead, bucket: BUCKET, prefix: 'derivatives/', warn: (m) => logged.push(m) }));
    const t = await tile(lonely);
    expect(t).toMatchObject({ width: 512, height: 512 });
    expect(lonely.stats()).toMatchObject({ pyramidBuilds: 1, pyramidsShared: 0 });
    expect(logged.some((m) => /PutObject .* failed/.test(m))).toBe(true);
  });
});

describe('in a shared directory', () => {
  test('a pyramid built by one process is fetched by another; the directory holds whole files only', async () => {
    const dir = path.join(tmp, 'shared');
    const first = fsProcess(new FsDerivativeStore({ dir }));
    const a = await tile(first);
    expect(first.stats()).toMatchObject({ pyramidBuilds: 1, pyramidsShared: 0 });
    expect((await readdir(dir)).filter((f) => f !== 'tmp')).toEqual([expect.stringMatching(/^pyramid-r\d+-t\d+-[0-9a-f]{64}\.tif$/)]);
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
    const second = fsProcess(new FsDerivativeStore({ dir }));
    expect(await tile(second)).toEqual(a);
    expect(second.stats()).toMatchObject({ pyramidBuilds: 0, pyramidsShared: 1 });
  });
});

describe('configuration (DERIVATIVE_STORE)', () => {
  const load = (env: Record<string, string>) => loadConfig(env, '/srv/archive');
  test('the bucket by default with IMAGE_SOURCE=s3, none with files; fs in DERIVATIVE_DIR below DATA_DIR', () => {
    expect(load({ IMAGE_SOURCE: 's3', S3_BUCKET: 'b' }).images.derivatives).toEqual({ store: 's3', dir: '/srv/archive/data/derivatives', prefix: 'derivatives/' });
    expect(load({}).images.derivatives.store).toBe('none');
    expect(load({ DERIVATIVE_STORE: 'fs', DERIVATIVE_DIR: '/shared/pyramids' }).images.derivatives).toMatchObject({ store: 'fs', dir: '/shared/pyramids' });
  });
  test('refuses a prefix that is not flat ASCII segments, or that is the images’ own prefix, or s3 without a bucket', () => {
    expect(() => load({ IMAGE_SOURCE: 's3', S3_BUCKET: 'b', S3_DERIVATIVE_PREFIX: '../x/' })).toThrow(/S3_DERIVATIVE_PREFIX/);
    expect(() => load({ IMAGE_SOURCE: 's3', S3_BUCKET: 'b', S3_DERIVATIVE_PREFIX: 'photos/' })).toThrow(/S3_DERIVATIVE_PREFIX/);
    expect(() => load({ DERIVATIVE_STORE: 's3' })).toThrow(/DERIVATIVE_STORE/);
    expect(() => load({ DERIVATIVE_STORE: 'nfs' })).toThrow(/DERIVATIVE_STORE/);
  });
});
