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
 *  3. Missing or different objects are PUT by a bounded pool of workers (default 16), through
 *     lib-storage's `Upload` (files over the multipart threshold in parts). Failures are retried
 *     with exponential backoff and jitter; credential and bucket errors stop the run.
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
import { AbortMultipartUploadCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
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
  /**
   * Also check images whose upload is recorded against the bucket (bounded: one LIST snapshot of
   * the prefix, HEAD only when there are few or the listing cannot be trusted) and upload again what
   * is missing or of another size (e.g. deleted behind the archive's back).
   */
  verify?: boolean;
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
  /** With `verify`: recorded uploads checked, confirmed in the bucket, and missing (uploaded again). */
  verify?: { checked: number; confirmed: number; missing: string[] };
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
  /** Its upload is recorded already (only with `verify`): confirm it, re-upload when missing. */
  marked?: boolean;
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

/** Settings, report and request policy of one sync run, shared by its three steps. */
class SyncRun {
  readonly opts: SyncOptions;
  readonly store: SearchStore & Required<Pick<SearchStore, 'listImages' | 'markUploaded'>>;
  readonly cleanRoot: string;
  readonly concurrency: number;
  readonly attempts: number;
  readonly backoff: number;
  readonly multipartThreshold: number;
  readonly partSize: number;
  readonly dryRun: boolean;
  readonly started = performance.now();
  readonly report: SyncReport;
  fatal: string | undefined;

  constructor(opts: SyncOptions) {
    const { store } = opts;
    if (!store.listImages || !store.markUploaded) {
      throw new SyncError(`the ${store.backend} store cannot list images or record uploads (listImages, markUploaded)`);
    }
    this.opts = opts;
    this.store = store as SyncRun['store'];
    this.cleanRoot = path.resolve(opts.cleanRoot);
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 16));
    this.attempts = Math.max(1, Math.floor(opts.attempts ?? 5));
    this.backoff = Math.max(0, opts.backoffMs ?? 200);
    this.multipartThreshold = opts.multipartThreshold ?? 64 * MIB;
    this.partSize = Math.max(5 * MIB, opts.partSize ?? 16 * MIB);
    this.dryRun = !!opts.dryRun;
    this.report = {
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
      dryRun: this.dryRun,
      seconds: 0,
    };
    if (opts.verify) this.report.verify = { checked: 0, confirmed: 0, missing: [] };
  }

  stopping(): boolean {
    return this.fatal !== undefined || !!this.opts.signal?.aborted;
  }

  /** Run one request with retries; throws Fatal for credential/bucket errors. */
  attempt = async <T>(kind: 'list' | 'head' | 'put', fn: () => Promise<T>, counter?: { n: number }): Promise<T> => {
    for (let i = 1; ; i++) {
      this.report.requests[kind]++;
      if (counter) counter.n = i;
      try {
        return await fn();
      } catch (e) {
        if (kind === 'head' && (statusOf(e) === 404 || errorCode(e) === 'NotFound' || errorCode(e) === 'NoSuchKey')) throw e;
        if (isFatal(e)) {
          this.fatal ??= `${describe(e)} (${hint(e)})`;
          throw new Fatal(describe(e));
        }
        if (i >= this.attempts || !isRetryable(e) || this.opts.signal?.aborted) throw e;
        this.report.requests.retries++;
        const delay = Math.min(10_000, this.backoff * 2 ** (i - 1));
        await sleep(Math.random() * delay + delay / 2, this.opts.signal);
      }
    }
  };

  finish(notAttempted = 0): SyncReport {
    const r = this.report;
    r.failed.sort((a, b) => (a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0));
    r.stopped = this.stopping();
    r.notAttempted = notAttempted;
    r.fatal = this.fatal;
    r.seconds = (performance.now() - this.started) / 1000;
    return r;
  }
}

export async function syncToS3(opts: SyncOptions): Promise<SyncReport> {
  const run = new SyncRun(opts);
  const tasks = await planSync(run);
  if (!tasks) return run.finish();
  const recorder = new UploadRecorder(run);
  let next = 0;
  try {
    next = await uploadTasks(run, tasks, recorder);
  } finally {
    await recorder.close();
  }
  const report = run.finish(tasks.length - next);
  opts.onProgress?.({ phase: 'upload', done: tasks.length, total: tasks.length, bytes: report.bytes });
  return report;
}

/**
 * Step 1 — plan: the store's images, their files, what is already done (upload recorded under the
 * same key with the file's size; with `verify`, those too are checked against the bucket), and
 * which of the rest the bucket holds (a LIST snapshot, or HEAD per object when there are few or the
 * listing cannot be trusted). Undefined when a fatal error stopped the run.
 */
async function planSync(run: SyncRun): Promise<Task[] | undefined> {
  const { opts, report, store } = run;
  const images = await store.listImages(opts.batches?.length ? { batch: opts.batches } : {});
  report.images = images.length;
  const tasks: Task[] = [];
  const keyOwner = new Map<string, string>();
  let scanned = 0;
  for (const image of images) {
    const key = objectKey({ id: image.id, file: image.file }, opts.prefix);
    const abs = path.join(run.cleanRoot, image.file);
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
      if (!opts.verify) {
        report.alreadyMarked++;
        continue;
      }
      report.verify!.checked++;
      tasks.push({ image, key, abs, size, marked: true });
      continue;
    }
    tasks.push({ image, key, abs, size });
  }
  opts.onProgress?.({ phase: 'scan', done: scanned, total: images.length, bytes: 0 });

  if (tasks.length === 0 || opts.force) return tasks;
  if (tasks.length < (opts.headBelow ?? 64)) {
    for (const t of tasks) t.head = true;
    return tasks;
  }
  const listed = await listSnapshot(opts.client, opts.bucket, opts.prefix, report, run.attempt, (keys) =>
    opts.onProgress?.({ phase: 'list', done: keys, total: 0, bytes: 0 }),
  ).catch((e) => {
    if (e instanceof Fatal) return undefined;
    report.listing.trusted = false;
    report.listing.note = `listing failed (${describe(e)}); checking each object with HEAD`;
    return new Map<string, number>();
  });
  if (!listed) return undefined;
  for (const t of tasks) {
    const size = listed.get(t.key);
    if (size === t.size) t.listed = true;
    else if (size === undefined && !report.listing.trusted) t.head = true;
  }
  return tasks;
}

/**
 * Step 3 — upload: a bounded pool of workers confirms (HEAD) or PUTs each task, single or
 * multipart, and hands every object now known to be in the bucket to the recorder. Returns how many
 * tasks were taken (the rest were not attempted: the run was stopped).
 */
async function uploadTasks(run: SyncRun, tasks: Task[], recorder: UploadRecorder): Promise<number> {
  const { opts, report } = run;
  const { client, bucket } = opts;
  const total = tasks.length;
  let done = 0;
  let next = 0;
  const progress = () => opts.onProgress?.({ phase: 'upload', done, total, bytes: report.bytes });
  const present = (t: Task) => {
    if (t.marked) report.verify!.confirmed++; // recorded already: nothing to write
    else {
      report.present++;
      recorder.add(t);
    }
  };

  const work = async (t: Task) => {
    const counter = { n: 0 };
    try {
      if (t.listed) return present(t);
      if (t.head) {
        const size = await run.attempt('head', async () => {
          try {
            const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: t.key }));
            return h.ContentLength;
          } catch (e) {
            if (statusOf(e) === 404 || errorCode(e) === 'NotFound' || errorCode(e) === 'NoSuchKey') return undefined;
            throw e;
          }
        }, counter);
        if (size === t.size) return present(t);
      }
      if (t.marked) report.verify!.missing.push(t.key); // recorded, but not (or not so) in the bucket
      if (run.dryRun) {
        report.uploaded++;
        report.bytes += t.size;
        return;
      }
      await putObject(run, t, counter);
      report.uploaded++;
      report.bytes += t.size;
      recorder.add(t);
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

  await Promise.all(
    Array.from({ length: Math.min(run.concurrency, total) }, async () => {
      while (next < total && !run.stopping()) await work(tasks[next++]!);
    }),
  );
  return next;
}

/**
 * PUT one file through lib-storage's `Upload`: a single PutObject below the multipart threshold,
 * otherwise a multipart upload (create, `partSize` parts sent 4 at a time, complete; aborted here
 * when a part fails). Retried as a whole by `run.attempt` (the sync's client makes one attempt per
 * request, so a failure is classified once, here: fatal, retryable or not).
 */
async function putObject(run: SyncRun, t: Task, counter: { n: number }): Promise<void> {
  const multipart = t.size >= run.multipartThreshold;
  const contentType = CONTENT_TYPES[path.extname(t.key).toLowerCase()] ?? 'application/octet-stream';
  await run.attempt(
    'put',
    async () => {
      // Below the threshold the whole file is one part, so Upload sends one PutObject.
      let body: Buffer | fs.ReadStream;
      if (multipart) body = fs.createReadStream(t.abs);
      else {
        body = await fs.promises.readFile(t.abs);
        if (body.length !== t.size) throw new Error(`${t.abs} changed size while syncing (${t.size} → ${body.length} bytes)`);
      }
      const upload = new Upload({
        client: run.opts.client,
        params: { Bucket: run.opts.bucket, Key: t.key, Body: body, ContentType: contentType, ...(multipart ? {} : { ContentLength: t.size }) },
        partSize: multipart ? run.partSize : Math.max(run.partSize, t.size),
        queueSize: 4,
        // We abort a failed multipart upload ourselves: Upload's own abort lets a failing abort
        // (e.g. a server without AbortMultipartUpload) replace the part's error, which decides the retry.
        leavePartsOnError: true,
      });
      let parts = 0;
      let loaded = 0;
      upload.on('httpUploadProgress', (p) => {
        parts = Math.max(parts, p.part ?? 0);
        loaded = Math.max(loaded, p.loaded ?? 0);
      });
      try {
        await upload.done();
      } catch (e) {
        if (upload.uploadId) {
          const abort = new AbortMultipartUploadCommand({ Bucket: run.opts.bucket, Key: t.key, UploadId: upload.uploadId });
          await run.opts.client.send(abort).catch(() => {}); // best effort; a bucket lifecycle rule cleans the rest
        }
        throw e;
      } finally {
        if (body instanceof fs.ReadStream) body.destroy();
      }
      // A multipart upload also created and completed the upload: count its requests like PUTs.
      if (multipart) run.report.requests.put += parts + 1;
      if (multipart && loaded !== t.size) {
        // Stored, but not what was planned: not recorded, so the next run compares and sends it again.
        throw new Error(`${t.abs} changed size while syncing (${t.size} → ${loaded} bytes)`);
      }
    },
    counter,
  );
}

/**
 * Step 4 — record: upload records queued as objects are confirmed and written to the store in bulk
 * (`markUploaded`) every `flushEvery` records or `flushIntervalMs`, and at the end. Nothing is
 * queued before its object is in the bucket; a batch the store refuses stays queued for the next
 * flush, and `close()` throws SyncError when some could not be recorded at all.
 */
class UploadRecorder {
  readonly #run: SyncRun;
  readonly #queue: ImageUpload[] = [];
  readonly #flushEvery: number;
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();
  #error: unknown;

  constructor(run: SyncRun) {
    this.#run = run;
    this.#flushEvery = Math.max(1, Math.floor(run.opts.flushEvery ?? 256));
    this.#timer = setInterval(() => void this.flush(), Math.max(10, run.opts.flushIntervalMs ?? 1000));
    this.#timer.unref?.();
  }

  add(t: Task): void {
    if (this.#run.dryRun) return;
    this.#queue.push({ imageId: t.image.id, key: t.key, size: t.size, at: (this.#run.opts.now ?? (() => new Date()))().toISOString() });
    if (this.#queue.length >= this.#flushEvery) void this.flush();
  }

  flush(): Promise<void> {
    if (this.#queue.length === 0 || this.#run.dryRun) return this.#flushing;
    const batch = this.#queue.splice(0, this.#queue.length);
    this.#flushing = this.#flushing.then(async () => {
      try {
        const r = await this.#run.store.markUploaded(batch);
        this.#run.report.marked += r.images;
      } catch (e) {
        this.#error ??= e;
        this.#queue.unshift(...batch); // retried by the next flush; never lost, never marked early
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    if (this.#queue.length > 0 && !this.#run.dryRun) await this.flush(); // one more try for a batch the store refused
    if (this.#queue.length > 0 && !this.#run.dryRun) {
      throw new SyncError(
        `${this.#queue.length} uploads could not be recorded in the store (${describe(this.#error)}); they are in the bucket and the next sync records them without uploading again`,
      );
    }
  }
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
