/**
 * Derivatives shared between processes (docs/scaling.md): a pyramid built by one web process is
 * put here, and another process (a second replica, a new container, the other process on the same
 * VPS) fetches it instead of copying the source and building it again.
 *
 * Two places:
 *  - `FsDerivativeStore`: a directory every process can see (a shared CACHE_DIR volume, NFS). Files
 *    are written to `tmp/` below it and renamed into place, so no process ever reads a torn file.
 *  - `S3DerivativeStore`: the image bucket, below a prefix (default `derivatives/`), through the
 *    same client, deadlines and circuit breaker as the S3 image source.
 *
 * Names are flat ASCII (`derivativeName()`): the kind, the derivative's format revision and tile
 * edge, and a SHA-256 of the source's version (for S3: bucket, object key and ETag) and size. A
 * replaced source has a new ETag or size, hence a new name; old derivatives are simply no longer
 * asked for.
 *
 * The store is an optimisation, never a dependency: every failure (missing, unreachable, breaker
 * open, short or torn download) reads as "not there" and the caller builds the derivative itself;
 * a failed upload is logged and forgotten. The caller checks what it got like a derivative it
 * built (size and levels), so a damaged object costs a rebuild, not a wrong image.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CircuitBreaker, CircuitOpenError } from '../storage/breaker.ts';
import { describeS3Error, isS3Unavailable } from '../storage/s3.ts';
import { cacheKey } from './cache.ts';

export interface DerivativeStore {
  /** Where it is, for logs and /readyz ("s3://bucket/derivatives/", "/shared/derivatives"). */
  readonly where: string;
  /**
   * Copy the derivative `name` to `dest` (a fresh path on the caller's disk, e.g. the cache's
   * tmpPath()). Resolves true when `dest` now holds it completely; false when there is none or the
   * store cannot answer (nothing is left at `dest` then).
   */
  get(name: string, dest: string): Promise<boolean>;
  /** Store `file` as `name` (a finished file; it is not moved). Never throws: failures are logged. */
  put(name: string, file: string): Promise<void>;
}

/** Lower-case ASCII letters, digits, `.`, `_`, `-`; at most 200 characters. */
const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;
const validName = (name: string) => name.length <= 200 && NAME_RE.test(name) && !name.includes('..');

/**
 * The flat ASCII name of a derivative: `{kind}-r{revision}-t{tile}-{sha256(version, size)}{ext}`,
 * e.g. `pyramid-r2-t512-3f…e1.tif`.
 */
export function derivativeName(kind: string, revision: string, tile: number, version: string, size: number, ext: string): string {
  const name = `${kind}-r${revision}-t${tile}-${cacheKey(version, size)}${ext}`;
  checkName(name);
  return name;
}

function checkName(name: string): void {
  if (!validName(name)) throw new Error(`invalid derivative name ${name.slice(0, 80)}`);
}

/** A directory shared by the processes (atomic rename in, hard link or copy out). */
export class FsDerivativeStore implements DerivativeStore {
  readonly where: string;
  readonly #dir: string;
  readonly #warn: (message: string) => void;

  constructor(opts: { dir: string; warn?: (message: string) => void }) {
    this.#dir = path.resolve(opts.dir);
    this.where = this.#dir;
    this.#warn = opts.warn ?? ((m) => console.warn(`[iiif derivatives] ${m}`));
  }

  async get(name: string, dest: string): Promise<boolean> {
    checkName(name);
    const file = path.join(this.#dir, name);
    try {
      // A hard link when both are on one file system (no copy; the shared file stays when the
      // local cache evicts its link), else a copy to a temporary name beside dest.
      await fs.link(file, dest);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') {
        this.#warn(`cannot read ${file}: ${(err as Error).message}`);
        return false;
      }
    }
    try {
      await fs.copyFile(file, dest);
      return true;
    } catch (err) {
      await fs.rm(dest, { force: true }).catch(() => {});
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#warn(`cannot copy ${file}: ${(err as Error).message}`);
      return false;
    }
  }

  async put(name: string, file: string): Promise<void> {
    checkName(name);
    const target = path.join(this.#dir, name);
    const tmpDir = path.join(this.#dir, 'tmp');
    const tmp = path.join(tmpDir, `${randomBytes(12).toString('hex')}-${process.pid}`);
    try {
      await fs.mkdir(tmpDir, { recursive: true });
      try {
        await fs.link(file, tmp);
      } catch {
        await fs.copyFile(file, tmp);
      }
      // rename(2) replaces atomically: a reader sees the old file or the new one, never a part.
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      this.#warn(`cannot store ${target}: ${(err as Error).message}`);
    }
  }
}

export interface S3DerivativeStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, e.g. `derivatives/` (empty or ASCII segments ending in `/`). */
  prefix: string;
  /** The breaker in front of the bucket: the image source's, so both see one state of the bucket. */
  breaker?: CircuitBreaker;
  /** Overall deadline of a GetObject including the body, ms: this plus 1 ms per kB (default 15 s). */
  getDeadlineMs?: number;
  /** Overall deadline of a PutObject, ms: this plus 1 ms per kB (default 30 s). */
  putDeadlineMs?: number;
  warn?: (message: string) => void;
}

/** The image bucket, below a prefix. */
export class S3DerivativeStore implements DerivativeStore {
  readonly where: string;
  readonly breaker: CircuitBreaker;
  readonly #o: S3DerivativeStoreOptions;
  readonly #warn: (message: string) => void;

  constructor(opts: S3DerivativeStoreOptions) {
    if (!/^([A-Za-z0-9._-]+\/)*$/.test(opts.prefix)) throw new Error(`invalid derivative prefix ${opts.prefix.slice(0, 80)}`);
    this.#o = opts;
    this.where = `s3://${opts.bucket}/${opts.prefix}`;
    this.#warn = opts.warn ?? ((m) => console.warn(`[iiif derivatives] ${m}`));
    this.breaker = opts.breaker ?? new CircuitBreaker({ service: `S3 bucket ${opts.bucket}`, describe: describeS3Error });
  }

  async get(name: string, dest: string): Promise<boolean> {
    checkName(name);
    const key = this.#o.prefix + name;
    try {
      await this.breaker.run(async () => {
        // The deadline grows with the body once its size is known (at least 1 MB/s).
        const controller = new AbortController();
        let timer = setTimeout(() => controller.abort(new Error('GetObject deadline')), this.#o.getDeadlineMs ?? 15_000);
        try {
          const res = await this.#o.client.send(new GetObjectCommand({ Bucket: this.#o.bucket, Key: key }), { abortSignal: controller.signal });
          if (!res.Body) throw new Error('empty body');
          const expected = Number(res.ContentLength ?? -1);
          clearTimeout(timer);
          timer = setTimeout(() => controller.abort(new Error('GetObject deadline')), Math.round((this.#o.getDeadlineMs ?? 15_000) + Math.max(0, expected) / 1000));
          await pipeline(res.Body as Readable, createWriteStream(dest, { flags: 'wx' }), { signal: controller.signal });
          const st = await fs.stat(dest);
          if (expected >= 0 && st.size !== expected) throw new Error(`got ${st.size} bytes, expected ${expected}`);
        } finally {
          clearTimeout(timer);
        }
      }, isS3Unavailable);
      return true;
    } catch (err) {
      await fs.rm(dest, { force: true }).catch(() => {});
      if (err instanceof CircuitOpenError) return false;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === 'NoSuchKey' || (err as Error).name === 'NotFound') return false;
      this.#warn(`GetObject ${this.#o.bucket}/${key} failed (building it here instead): ${describeS3Error(err)}`);
      return false;
    }
  }

  async put(name: string, file: string): Promise<void> {
    checkName(name);
    const key = this.#o.prefix + name;
    try {
      const { size } = await fs.stat(file);
      await this.breaker.run(
        () =>
          this.#o.client.send(
            new PutObjectCommand({ Bucket: this.#o.bucket, Key: key, Body: createReadStream(file), ContentLength: size, ContentType: name.endsWith('.tif') ? 'image/tiff' : 'application/octet-stream' }),
            { abortSignal: AbortSignal.timeout(Math.round((this.#o.putDeadlineMs ?? 30_000) + size / 1000)) },
          ),
        isS3Unavailable,
      );
    } catch (err) {
      if (err instanceof CircuitOpenError) return;
      this.#warn(`PutObject ${this.#o.bucket}/${key} failed (other processes will build it themselves): ${describeS3Error(err)}`);
    }
  }
}
