/**
 * The sync stage: clean tree → S3-compatible object storage.
 *
 * Works from the store (`listImages`): every indexed image, its file below the clean root, and its
 * recorded upload. The object key comes from `objectKey()` (storage/keys.ts), the one derivation
 * the image server uses too.
 *
 *  1. An image whose upload is recorded under the same key with the local file's size is done: no
 *     request at all (so a re-run of a fully synced archive costs one store read and one stat per
 *     file).
 *  2. For the rest, existing objects are found with a LIST snapshot of the prefix (or HEAD per
 *     object when there are only a few). The listing is a hint, never the truth: a key listed with
 *     the local size is taken as present, a key missing from a listing that is complete is
 *     uploaded; but when the listing is truncated without a continuation token, stops at exactly
 *     1000 keys, repeats a token or fails, every key it does not show is checked with HEAD.
 *  3. Missing or different objects are PUT by a bounded pool of workers (default 16); files over
 *     the multipart threshold are sent in parts. Failures are retried with exponential backoff and
 *     jitter; credential and bucket errors stop the run.
 *  4. After each successful PUT (or confirmed presence) an upload record {imageId, key, size, at}
 *     is queued and the queue is flushed to the store in bulk (`markUploaded`), every
 *     `flushEvery` records or `flushIntervalMs`, and at the end.
 *
 * Killed at any moment (SIGKILL), the next run reaches the same final state: a record is only ever
 * queued after its object was stored, so nothing is marked that was not uploaded; marked images
 * are skipped (1), so nothing marked is uploaded again; objects stored but not yet marked are found
 * present (2) and marked without another PUT.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ImageState, ImageUpload, SearchStore } from '../search/store.ts';
import { objectKey } from '../storage/keys.ts';

export interface SyncOptions {
  store: SearchStore;
  client: S3Client;
  bucket: string;
  prefix: string;
  cleanRoot: string;
  /** Parallel uploads (default 16). */
  concurrency?: number;
  /** Only images of records in these batches. */
  batches?: string[];
  /** Attempts per request (default 5). */
  attempts?: number;
  /** First retry delay in ms, doubled each attempt, with full jitter (default 200; cap 10 s). */
  backoffMs?: number;
  /** Upload records per store write (default 256). */
  flushEvery?: number;
  /** Longest time an upload record waits in the queue (default 1000 ms). */
  flushIntervalMs?: number;
  /** Files at least this large go up in parts (default 64 MiB). */
  multipartThreshold?: number;
  /** Part size of multipart uploads (default 16 MiB; S3 needs at least 5 MiB). */
  partSize?: number;
  /** Below this many candidates, HEAD each instead of listing the prefix (default 64). */
  headBelow?: number;
  /** Upload every selected image again, ignoring recorded uploads and existing objects. */
  force?: boolean;
  /** Find out what would be uploaded (LIST/HEAD only), upload and record nothing. */
  dryRun?: boolean;
  /** Stop taking new uploads when aborted; in-flight ones finish and are recorded. */
  signal?: AbortSignal;
  now?: () => Date;
  onProgress?: (p: SyncProgress) => void;
}

export interface SyncProgress {
  phase: 'scan' | 'list' | 'upload';
  done: number;
  total: number;
  bytes: number;
}

export interface SyncFailure {
  imageId: string;
  file: string;
  key: string;
  error: string;
  attempts: number;
}

export interface SyncReport {
  /** Images selected from the store. */
  images: number;
  /** Skipped: upload recorded under the same key with the same size. */
  alreadyMarked: number;
  /** Found in the bucket with the local size: recorded without a PUT. */
  present: number;
  /** Objects PUT (or, in a dry run, that would be). */
  uploaded: number;
  bytes: number;
  /** Upload records written to the store. */
  marked: number;
  failed: SyncFailure[];
  listing: { used: boolean; trusted: boolean; pages: number; keys: number; note?: string };
  requests: { list: number; head: number; put: number; retries: number };
  /** The run was stopped early (signal or a fatal S3 error); `fatal` says why. */
  stopped: boolean;
  /** Images not attempted because the run stopped early. */
  notAttempted: number;
  fatal?: string;
  dryRun: boolean;
  seconds: number;
}

export class SyncError extends Error {}

interface Task {
  image: ImageState;
  key: string;
  abs: string;
  size: number;
  /** Listed with the local size. */
  listed?: boolean;
  /** Must be checked with HEAD before deciding. */
  head?: boolean;
}

const MIB = 1024 * 1024;
const FATAL_CODES = new Set([
  'NoSuchBucket',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidBucketName',
  'AuthorizationHeaderMalformed',
  'PermanentRedirect',
  'InvalidToken',
  'ExpiredToken',
]);

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.png': 'image/png',
  '.jp2': 'image/jp2',
  '.webp': 'image/webp',
};

interface S3ErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function errorCode(e: unknown): string {
  const x = e as S3ErrorLike;
  return x?.Code ?? x?.name ?? x?.code ?? 'Error';
}

function statusOf(e: unknown): number | undefined {
  return (e as S3ErrorLike)?.$metadata?.httpStatusCode;
}

const REASONS: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError', 502: 'BadGateway', 503: 'ServiceUnavailable' };

function describe(e: unknown): string {
  const status = statusOf(e);
  let code = errorCode(e);
  // errors of HEAD requests have no body, so the SDK knows no code
  if ((code === 'Unknown' || code === 'UnknownError') && status !== undefined) code = REASONS[status] ?? code;
  const msg = (e as Error)?.message ?? String(e);
  return `${status ? `HTTP ${status} ` : ''}${code}${msg && msg !== code && msg !== 'UnknownError' ? `: ${msg.split('\n')[0]}` : ''}`;
}

/** Worth another attempt: network trouble, throttling, server errors. */
export function isRetryable(e: unknown): boolean {
  const status = statusOf(e);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408 || errorCode(e) === 'RequestTimeout';
  if ((e as Error)?.name === 'AbortError') return false;
  return true; // no HTTP response at all: connection reset, refused, timed out
}

function isFatal(e: unknown): boolean {
  const status = statusOf(e);
  return FATAL_CODES.has(errorCode(e)) || status === 403 || status === 301;
}

class Fatal extends Error {}

/** What an operator should check after a fatal error. */
function hint(e: unknown): string {
  const code = errorCode(e);
  if (code === 'NoSuchBucket' || code === 'InvalidBucketName') return 'check S3_BUCKET';
  if (statusOf(e) === 301 || code === 'PermanentRedirect') return 'check S3_REGION and S3_ENDPOINT';
  return 'check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION and what the key may do in the bucket';
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

export async function syncToS3(opts: SyncOptions): Promise<SyncReport> {
  const started = performance.now();
  const { store, client, bucket, prefix } = opts;
  if (!store.listImages || !store.markUploaded) {
    throw new SyncError(`the ${store.backend} store cannot list images or record uploads (listImages, markUploaded)`);
  }
  const cleanRoot = path.resolve(opts.cleanRoot);
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 16));
  const attempts = Math.max(1, Math.floor(opts.attempts ?? 5));
  const backoff = Math.max(0, opts.backoffMs ?? 200);
  const flushEvery = Math.max(1, Math.floor(opts.flushEvery ?? 256));
  const flushInterval = Math.max(10, opts.flushIntervalMs ?? 1000);
  const multipartThreshold = opts.multipartThreshold ?? 64 * MIB;
  const partSize = Math.max(5 * MIB, opts.partSize ?? 16 * MIB);
  const headBelow = opts.headBelow ?? 64;
  const now = opts.now ?? (() => new Date());
  const dryRun = !!opts.dryRun;
  const report: SyncReport = {
    images: 0,
    alreadyMarked: 0,
    present: 0,
    uploaded: 0,
    bytes: 0,
    marked: 0,
    failed: [],
    listing: { used: false, trusted: false, pages: 0, keys: 0 },
    requests: { list: 0, head: 0, put: 0, retries: 0 },
    stopped: false,
    notAttempted: 0,
    dryRun,
    seconds: 0,
  };
  let fatal: string | undefined;
  const stopping = () => fatal !== undefined || !!opts.signal?.aborted;

  /** Run one request with retries; throws Fatal for credential/bucket errors. */
  const attempt = async <T>(kind: 'list' | 'head' | 'put', fn: () => Promise<T>, counter?: { n: number }): Promise<T> => {
    for (let i = 1; ; i++) {
      report.requests[kind]++;
      if (counter) counter.n = i;
      try {
        return await fn();
      } catch (e) {
        if (kind === 'head' && (statusOf(e) === 404 || errorCode(e) === 'NotFound' || errorCode(e) === 'NoSuchKey')) throw e;
        if (isFatal(e)) {
          fatal ??= `${describe(e)} (${hint(e)})`;
          throw new Fatal(describe(e));
        }
        if (i >= attempts || !isRetryable(e) || opts.signal?.aborted) throw e;
        report.requests.retries++;
        const delay = Math.min(10_000, backoff * 2 ** (i - 1));
        await sleep(Math.random() * delay + delay / 2, opts.signal);
      }
    }
  };

  // 1. What the store holds, and what is already done.
  const images = await store.listImages(opts.batches?.length ? { batch: opts.batches } : {});
  report.images = images.length;
  const tasks: Task[] = [];
  const keyOwner = new Map<string, string>();
  let scanned = 0;
  for (const image of images) {
    const key = objectKey({ id: image.id, file: image.file }, prefix);
    const abs = path.join(cleanRoot, image.file);
    if (++scanned % 4096 === 0) opts.onProgress?.({ phase: 'scan', done: scanned, total: images.length, bytes: 0 });
    const owner = keyOwner.get(key);
    if (owner) {
      report.failed.push({ imageId: image.id, file: image.file, key, error: `object key ${key} is also the key of image ${owner}`, attempts: 0 });
      continue;
    }
    keyOwner.set(key, image.id);
    let size: number;
    try {
      const st = fs.statSync(abs);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      size = st.size;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      report.failed.push({
        imageId: image.id,
        file: image.file,
        key,
        error: code === 'ENOENT' ? `file not found in the clean tree (${abs}); run archive normalize and index` : `cannot read ${abs}: ${code ?? (e as Error).message}`,
        attempts: 0,
      });
      continue;
    }
    if (!opts.force && image.uploadedAt && image.s3Key === key && image.s3Size === size) {
      report.alreadyMarked++;
      continue;
    }
    tasks.push({ image, key, abs, size });
  }
  opts.onProgress?.({ phase: 'scan', done: scanned, total: images.length, bytes: 0 });

  // 2. Which of them are in the bucket already.
  if (tasks.length > 0 && !opts.force) {
    if (tasks.length < headBelow) {
      for (const t of tasks) t.head = true;
    } else {
      const listed = await listSnapshot(client, bucket, prefix, report, attempt, (keys) =>
        opts.onProgress?.({ phase: 'list', done: keys, total: 0, bytes: 0 }),
      ).catch((e) => {
        if (e instanceof Fatal) return undefined;
        report.listing.trusted = false;
        report.listing.note = `listing failed (${describe(e)}); checking each object with HEAD`;
        return new Map<string, number>();
      });
      if (!listed) {
        report.stopped = true;
        report.fatal = fatal;
        report.seconds = (performance.now() - started) / 1000;
        return report;
      }
      for (const t of tasks) {
        const size = listed.get(t.key);
        if (size === t.size) t.listed = true;
        else if (size === undefined && !report.listing.trusted) t.head = true;
      }
    }
  }

  // 3 + 4. Upload, queue records, flush them in bulk.
  const queue: ImageUpload[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let flushError: unknown;
  const flush = () => {
    if (queue.length === 0 || dryRun) return flushing;
    const batch = queue.splice(0, queue.length);
    flushing = flushing.then(async () => {
      try {
        const r = await store.markUploaded!(batch);
        report.marked += r.images;
      } catch (e) {
        flushError ??= e;
        queue.unshift(...batch); // retried by the next flush; never lost, never marked early
      }
    });
    return flushing;
  };
  const timer = setInterval(() => void flush(), flushInterval);
  timer.unref?.();
  const record = (t: Task) => {
    if (dryRun) return;
    queue.push({ imageId: t.image.id, key: t.key, size: t.size, at: now().toISOString() });
    if (queue.length >= flushEvery) void flush();
  };

  const total = tasks.length;
  let done = 0;
  let next = 0;
  const progress = () => opts.onProgress?.({ phase: 'upload', done, total, bytes: report.bytes });

  const work = async (t: Task) => {
    const counter = { n: 0 };
    try {
      if (t.listed) {
        report.present++;
        record(t);
        return;
      }
      if (t.head) {
        const size = await attempt('head', async () => {
          try {
            const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: t.key }));
            return h.ContentLength;
          } catch (e) {
            if (statusOf(e) === 404 || errorCode(e) === 'NotFound' || errorCode(e) === 'NoSuchKey') return undefined;
            throw e;
          }
        }, counter);
        if (size === t.size) {
          report.present++;
          record(t);
          return;
        }
      }
      if (dryRun) {
        report.uploaded++;
        report.bytes += t.size;
        return;
      }
      if (t.size >= multipartThreshold) await putMultipart(t, counter);
      else await putSingle(t, counter);
      report.uploaded++;
      report.bytes += t.size;
      record(t);
    } catch (e) {
      report.failed.push({
        imageId: t.image.id,
        file: t.image.file,
        key: t.key,
        error: e instanceof Fatal ? e.message : describe(e),
        attempts: Math.max(1, counter.n),
      });
    } finally {
      done++;
      if ((done & 31) === 0 || done === total) progress();
    }
  };

  const putSingle = async (t: Task, counter: { n: number }) => {
    const body = await fs.promises.readFile(t.abs);
    if (body.length !== t.size) throw new Error(`${t.abs} changed size while syncing (${t.size} → ${body.length} bytes)`);
    await attempt(
      'put',
      () =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: t.key,
            Body: body,
            ContentLength: body.length,
            ContentType: CONTENT_TYPES[path.extname(t.key).toLowerCase()] ?? 'application/octet-stream',
          }),
        ),
      counter,
    );
  };

  const putMultipart = async (t: Task, counter: { n: number }) => {
    const created = await attempt(
      'put',
      () =>
        client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: t.key,
            ContentType: CONTENT_TYPES[path.extname(t.key).toLowerCase()] ?? 'application/octet-stream',
          }),
        ),
      counter,
    );
    const uploadId = created.UploadId!;
    const fh = await fs.promises.open(t.abs, 'r');
    try {
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let off = 0, n = 1; off < t.size; off += partSize, n++) {
        const len = Math.min(partSize, t.size - off);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, off);
        if (bytesRead !== len) throw new Error(`${t.abs} changed size while syncing`);
        const r = await attempt(
          'put',
          () => client.send(new UploadPartCommand({ Bucket: bucket, Key: t.key, UploadId: uploadId, PartNumber: n, Body: buf, ContentLength: len })),
          counter,
        );
        parts.push({ ETag: r.ETag!, PartNumber: n });
      }
      await attempt(
        'put',
        () => client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: t.key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
        counter,
      );
    } catch (e) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: t.key, UploadId: uploadId })).catch(() => {});
      throw e;
    } finally {
      await fh.close();
    }
  };

  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, total) }, async () => {
        while (next < total && !stopping()) await work(tasks[next++]!);
      }),
    );
  } finally {
    clearInterval(timer);
    await flush();
    if (queue.length > 0 && !dryRun) await flush(); // one more try for a batch the store refused
  }
  if (queue.length > 0 && !dryRun) {
    throw new SyncError(
      `${queue.length} uploads could not be recorded in the store (${describe(flushError)}); they are in the bucket and the next sync records them without uploading again`,
    );
  }
  report.failed.sort((a, b) => (a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0));
  report.stopped = stopping();
  report.notAttempted = total - next;
  report.fatal = fatal;
  report.seconds = (performance.now() - started) / 1000;
  progress();
  return report;
}

type Attempt = <T>(kind: 'list' | 'head' | 'put', fn: () => Promise<T>) => Promise<T>;

/**
 * Keys and sizes below the prefix. Sets `report.listing.trusted` to whether the listing can be
 * taken as complete.
 */
async function listSnapshot(
  client: S3Client,
  bucket: string,
  prefix: string,
  report: SyncReport,
  attempt: Attempt,
  onPage: (keys: number) => void,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  report.listing.used = true;
  report.listing.trusted = true;
  const seenTokens = new Set<string>();
  let token: string | undefined;
  let lastCount = 0;
  for (;;) {
    const page = await attempt('list', () =>
      client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000, ContinuationToken: token })),
    );
    report.listing.pages++;
    lastCount = page.Contents?.length ?? 0;
    for (const o of page.Contents ?? []) if (o.Key !== undefined) out.set(o.Key, Number(o.Size ?? -1));
    report.listing.keys = out.size;
    onPage(out.size);
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
    if (!token) {
      report.listing.trusted = false;
      report.listing.note = `listing truncated after ${out.size} keys without a continuation token; checking unlisted objects with HEAD`;
      return out;
    }
    if (seenTokens.has(token)) {
      report.listing.trusted = false;
      report.listing.note = `listing repeated a continuation token after ${out.size} keys; checking unlisted objects with HEAD`;
      return out;
    }
    seenTokens.add(token);
  }
  if (lastCount >= 1000) {
    report.listing.trusted = false;
    report.listing.note = `listing stopped at exactly ${out.size} keys (a page of 1000 and no more), which some servers do when they cap listings; checking unlisted objects with HEAD`;
  }
  return out;
}
