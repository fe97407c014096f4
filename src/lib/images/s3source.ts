/**
 * Images from S3-compatible object storage (IMAGE_SOURCE=s3).
 *
 * Object key: `objectKey()` of src/lib/storage/keys.ts, the one derivation the sync stage uses to
 * upload: the store's `s3Key` when recorded, else `{S3_PREFIX}{file name}` (or
 * `{S3_PREFIX}{image id}{ext}` for a file name that is not plain ASCII). Keys are checked again
 * here (ASCII, no `.`/`..` segments) before any request.
 *
 * Reading: HeadObject gives size, ETag and Last-Modified (reused for `ttlMs`); the ETag is the
 * source version in cache keys and HTTP ETags, so a replaced object is noticed. Pixels are read
 * from a LOCAL COPY made on first touch: one GetObject per object version (IfMatch the ETag),
 * streamed to a file in the derivative cache (single-flight, pinned while read, evicted like any
 * derivative). libvips cannot read through ranged requests (sharp takes a file, a buffer or a
 * sequential stream, and tiled TIFF access is random), so a tiled pyramid TIFF is copied once and
 * then read tile by tile from disk like a local file; a plain JPEG gets its pyramid derivative from
 * that copy and the copy itself may then be evicted first.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { objectKey } from '../storage/keys.ts';
import { CircuitBreaker, CircuitOpenError } from '../storage/breaker.ts';
import { describeS3Error, isS3Unavailable } from '../storage/s3.ts';
import { CacheUnavailableError, cacheKey, type DiskCache } from './cache.ts';
import { IiifError, noSuchImage, quote } from './errors.ts';
import { lookupOr503, RevalidatingCache, type ImageLookup, type ImageSource, type SourceFile } from './source.ts';

export interface S3SourceOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix for records without an s3Key, e.g. `photos/`. */
  prefix: string;
  lookup: ImageLookup;
  cache: DiskCache;
  ttlMs?: number;
  /**
   * Once `ttlMs` has passed, how long a request waits for the HeadObject that revalidates a known
   * object before it is answered from what was known (the check goes on in the background), ms
   * (default 200). When S3 is down or slow, cached tiles are served at cache speed.
   */
  revalidateWaitMs?: number;
  /** Overall deadline of one HeadObject including SDK retries, ms (default 8 s). */
  headDeadlineMs?: number;
  /** Largest object fetched (bytes); default 8 GiB. */
  maxObjectBytes?: number;
  /** The circuit breaker in front of the bucket (default: 3 failures, 2-10 s cool-down). */
  breaker?: CircuitBreaker;
  warn?: (message: string) => void;
}

const SAFE_KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function isSafeKey(key: string): boolean {
  return key.length <= 1024 && SAFE_KEY.test(key) && key.split('/').every((s) => s !== '.' && s !== '..');
}


interface S3Source extends SourceFile {
  key: string;
  etag: string;
}

export class S3ImageSource implements ImageSource {
  readonly #o: S3SourceOptions;
  readonly #recent: RevalidatingCache<S3Source>;
  readonly #warn: (message: string) => void;
  readonly #maxBytes: number;
  readonly #headDeadline: number;
  readonly breaker: CircuitBreaker;
  readonly ttlMs: number;

  constructor(opts: S3SourceOptions) {
    this.#o = opts;
    this.ttlMs = opts.ttlMs ?? 5000;
    this.#warn = opts.warn ?? ((m) => console.warn(`[iiif s3] ${m}`));
    this.#recent = new RevalidatingCache(this.ttlMs, opts.revalidateWaitMs ?? 200, (id) => this.#head(id), (err) => this.#isOutage(err));
    this.#maxBytes = opts.maxObjectBytes ?? 8 * 2 ** 30;
    this.#headDeadline = opts.headDeadlineMs ?? 8_000;
    this.breaker = opts.breaker ?? new CircuitBreaker({ service: `S3 bucket ${opts.bucket}`, describe: describeS3Error });
  }

  /**
   * Identifier to object facts. Known objects are answered from memory for `ttlMs` (counted from
   * the end of the HeadObject); after that they are revalidated, and while S3 is unavailable or
   * slow the last known facts keep being used (so cached derivatives keep being served).
   */
  resolve(id: string): Promise<SourceFile> {
    return this.#recent.get(id);
  }

  /**
   * For /readyz: a HeadObject on the object of image `id` now (not from memory), through the same
   * client, deadline and breaker as requests; resolves a description, rejects naming the failure.
   */
  async probe(id: string): Promise<string> {
    const t0 = performance.now();
    try {
      const src = await this.#head(id);
      return `s3: HEAD ${this.#o.bucket}/${src.key} answered in ${Math.round(performance.now() - t0)} ms`;
    } catch (err) {
      if (err instanceof IiifError && err.status === 503) {
        throw new Error(`S3 bucket ${this.#o.bucket} unavailable${this.breaker.reason ? `: ${this.breaker.reason}` : ''}`);
      }
      throw new Error(`S3 HEAD for image ${id} in bucket ${this.#o.bucket}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #isOutage(err: unknown): boolean {
    return err instanceof IiifError && err.status === 503;
  }

  /** One S3 call through the breaker, with an overall deadline; unavailability becomes a 503. */
  async #send<T>(what: string, key: string, deadlineMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await this.breaker.run(() => call(AbortSignal.timeout(deadlineMs)), isS3Unavailable);
    } catch (err) {
      if (err instanceof CircuitOpenError) throw new IiifError(503, 'The image store is unavailable; try again shortly', { 'Retry-After': String(err.retryAfterSeconds) });
      if (isS3Unavailable(err)) {
        this.#warn(`S3 ${what} ${quote(key, 200)} failed: ${describeS3Error(err)}`);
        throw new IiifError(503, 'The image store is unavailable; try again shortly', { 'Retry-After': '5' });
      }
      throw err;
    }
  }

  async #head(id: string): Promise<S3Source> {
    const record = await lookupOr503(this.#o.lookup, id);
    if (!record) throw noSuchImage(id);
    const unavailable = () => new IiifError(404, `The image ${quote(id)} is not available`);
    const key = objectKey({ id, file: record.file, ...(record.s3Key ? { s3Key: record.s3Key } : {}) }, this.#o.prefix);
    if (!isSafeKey(key)) {
      this.#warn(`image ${id}: refusing object key ${quote(key, 200)}`);
      throw unavailable();
    }
    let head;
    try {
      head = await this.#send('HeadObject', key, this.#headDeadline, (abortSignal) =>
        this.#o.client.send(new HeadObjectCommand({ Bucket: this.#o.bucket, Key: key }), { abortSignal }),
      );
    } catch (err) {
      if (err instanceof IiifError) throw err;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey') {
        this.#warn(`image ${id}: object ${quote(key, 200)} is missing in bucket ${this.#o.bucket}`);
        throw unavailable();
      }
      if (status === 403) this.#warn(`image ${id}: S3 HeadObject ${quote(key, 200)}: permission denied (${describeS3Error(err)})`);
      throw new Error(`S3 HeadObject ${key}: ${describeS3Error(err)}`);
    }
    const etag = String(head.ETag ?? '').replace(/"/g, '');
    const size = Number(head.ContentLength ?? 0);
    const mtimeMs = head.LastModified ? head.LastModified.getTime() : 0;
    if (!(size > 0) || size > this.#maxBytes) {
      this.#warn(`image ${id}: object ${quote(key, 200)} has an unusable size (${size} bytes)`);
      throw unavailable();
    }
    return { id, path: '', size, mtimeMs, version: `s3:${this.#o.bucket}/${key}:${etag || `${size}:${mtimeMs}`}`, key, etag, access: record.access ?? 'open' };
  }

  /** The local copy (fetched on first touch). */
  async local(source: SourceFile): Promise<string> {
    const src = source as S3Source;
    const ext = path.posix.extname(src.key).toLowerCase().replace(/[^.a-z0-9]/g, '').slice(0, 6) || '.bin';
    const safeExt = /^\.[a-z0-9]{1,5}$/.test(ext) ? ext : '.bin';
    const key = cacheKey('s3-copy', src.version);
    const hit = await this.#o.cache.lookup(key);
    if (hit) return hit.path;
    return this.#o.cache.singleFlight(key, async () => {
      const again = this.#o.cache.peek(key);
      if (again) return again.path;
      const cacheDown = () => new IiifError(503, 'The image cache is unavailable; try again shortly', { 'Retry-After': '10' });
      let tmp: string;
      try {
        tmp = await this.#o.cache.tmpPath(safeExt);
      } catch (err) {
        if (err instanceof CacheUnavailableError) throw cacheDown(); // logged once by the cache
        throw err;
      }
      try {
        // Headers and body within a deadline that grows with the size (at least 1 MB/s).
        const deadline = Math.round(15_000 + src.size / 1000);
        await this.#send('GetObject', src.key, deadline, async (abortSignal) => {
          const res = await this.#o.client.send(
            new GetObjectCommand({ Bucket: this.#o.bucket, Key: src.key, ...(src.etag ? { IfMatch: `"${src.etag}"` } : {}) }),
            { abortSignal },
          );
          if (!res.Body) throw new Error('empty body');
          await pipeline(res.Body as Readable, createWriteStream(tmp, { flags: 'wx' }), { signal: abortSignal });
        });
        const st = await fs.stat(tmp);
        if (st.size !== src.size) throw new Error(`got ${st.size} bytes, expected ${src.size}`);
        return (await this.#o.cache.adopt(key, safeExt, tmp)).path;
      } catch (err) {
        await fs.rm(tmp, { force: true });
        if (err instanceof IiifError) throw err;
        if (err instanceof CacheUnavailableError) throw cacheDown();
        this.#recent.delete(src.id);
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 412 || status === 404) {
          // Replaced or deleted since HeadObject: the next request sees the new state.
          throw new IiifError(503, 'The image changed while it was being read; try again', { 'Retry-After': '1' });
        }
        throw new Error(`S3 GetObject ${src.key}: ${describeS3Error(err)}`);
      }
    });
  }

  /** Keep the local copy of `source` from eviction while it is read. */
  pin(source: SourceFile): () => void {
    return this.#o.cache.pin(cacheKey('s3-copy', source.version));
  }
}
