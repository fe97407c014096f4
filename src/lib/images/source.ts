/**
 * From an image identifier to a file below the image root.
 *
 * The identifier is looked up (the store's `getImage`); the record's `file` is a '/'-separated
 * path below the root. The clean image tree is made of symbolic links into the delivery folders,
 * so the rule is about where the *link* is, not where it points:
 *
 *  - `file` must be relative, without `..` or `.` segments, backslashes or NUL: anything else is
 *    refused before the file system is touched;
 *  - the directory holding the entry, with every symlink in it resolved (fs.realpath), must be the
 *    root or below it: a directory link inside the tree that leads out of it is refused;
 *  - the entry itself may be a symlink to a file anywhere (that is how the tree is built); what it
 *    points to must be a regular file.
 *
 * Refusals and missing files are 404 for the client (the reason is logged for the operator).
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import type { AccessLevel } from '../domain.ts';
import { IiifError, noSuchImage, quote } from './errors.ts';

export interface ImageRecord {
  file: string;
  /**
   * The access level of the image's item (the store's `ImageEntry.access`); absent = open. The
   * image server decides with it, once per resolved source, who may see the image.
   */
  access?: AccessLevel;
  /** S3 object key once synced (the store's `ImageRef.s3Key`). */
  s3Key?: string;
}

export type ImageLookup = (id: string) => Promise<ImageRecord | null>;

export interface SourceFile {
  id: string;
  /**
   * A local file to read: the entry below the root (fs), or '' until `ImageSource.local()` has
   * fetched a copy (S3).
   */
  path: string;
  size: number;
  mtimeMs: number;
  /**
   * What identifies this version of the source, for cache keys and ETags: a changed file or object
   * gets a new version (fs: path, device, inode, size, mtime; S3: bucket, key, ETag).
   */
  version: string;
  /**
   * The item's access level as the record said when the source was resolved: reused with the
   * source (for its TTL, `ImageSource.ttlMs`), so a changed level takes effect within that TTL.
   */
  access: AccessLevel;
}

/** Where images come from: the file system (this module) or S3 (s3source.ts). */
export interface ImageSource {
  /** Identifier to source facts (existence, size, version); IiifError 404 when unavailable. */
  resolve(id: string): Promise<SourceFile>;
  /** A local path with the source's bytes (fetched and cached first if remote). */
  local(source: SourceFile): Promise<string>;
  /** Keep the local copy from eviction while it is read (remote sources only). */
  pin?(source: SourceFile): () => void;
  /** How long a resolved source is reused (ms): the server reuses whole answers no longer. */
  readonly ttlMs?: number;
  /**
   * After reading `source` (a render, a pyramid build): throws SourceChangedError when the file
   * changed meanwhile (size or mtime differ), so the result is discarded instead of cached.
   */
  assertUnchanged?(source: SourceFile): Promise<void>;
}

/** The source file changed while it was read: what was produced from it is discarded. */
export class SourceChangedError extends IiifError {
  constructor(id: string) {
    super(503, `The image ${quote(id)} changed while it was being read; try again`, { 'Retry-After': '1' });
    this.name = 'SourceChangedError';
  }
}

export interface SourceResolverOptions {
  root: string;
  lookup: ImageLookup;
  warn?: (message: string) => void;
  /**
   * How long (ms) a resolved identifier is reused without looking it up and stat-ing it again
   * (default 2000; 0 = every request). Bounds how late a replaced file is noticed.
   */
  ttlMs?: number;
}

/**
 * Resolved sources, revalidated: an entry is fresh for `ttlMs` counted from the END of its lookup
 * (a slow lookup does not shorten it). After that the next request starts one lookup
 * (single-flight per key) and waits for it at most `waitMs` (with `ttlMs` 0: until it ends); when
 * it is slower, or fails because a dependency is unavailable (`keepStale(err)`), the last known
 * value is answered, so what is cached from it (derivatives, tiles) keeps being served while the
 * store or S3 is down or slow. An answer that the source is gone (e.g. 404) replaces the entry.
 *
 * The entries live in an lru-cache (bounded, least recently used dropped first); the freshness
 * rule above is this class's own, because lru-cache's stale-while-revalidate (`allowStale` with
 * `fetchMethod`) answers stale at once instead of waiting up to `waitMs` for the fresh value, and
 * cannot keep a stale value for some failures (outage) while dropping it for others (404).
 */
export class RevalidatingCache<V> {
  readonly #ttl: number;
  readonly #wait: number;
  readonly #load: (key: string) => Promise<V>;
  readonly #keepStale: (err: unknown) => boolean;
  readonly #map: LRUCache<string, { at: number; value: V }>;
  readonly #flights = new Map<string, Promise<V>>();

  constructor(ttlMs: number, waitMs: number, load: (key: string) => Promise<V>, keepStale: (err: unknown) => boolean, max = 10_000) {
    this.#ttl = ttlMs;
    this.#wait = waitMs;
    this.#load = load;
    this.#keepStale = keepStale;
    this.#map = new LRUCache({ max });
  }

  get(key: string): Promise<V> {
    const e = this.#map.get(key);
    if (e && performance.now() - e.at < this.#ttl) return Promise.resolve(e.value);
    const flight = this.#refresh(key);
    if (!e) return flight;
    const stale = e.value;
    const settled = flight.catch((err: unknown) => {
      if (this.#keepStale(err)) return stale;
      throw err;
    });
    if (this.#ttl <= 0) return settled;
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([settled, new Promise<V>((resolve) => (timer = setTimeout(() => resolve(stale), this.#wait)))]).finally(() => clearTimeout(timer));
  }

  #refresh(key: string): Promise<V> {
    const running = this.#flights.get(key);
    if (running) return running;
    const p = this.#load(key).then(
      (value) => {
        this.#map.set(key, { at: performance.now(), value });
        return value;
      },
      (err: unknown) => {
        if (!this.#keepStale(err)) this.#map.delete(key);
        throw err;
      },
    );
    const tracked = p.finally(() => this.#flights.delete(key));
    tracked.catch(() => {}); // a background revalidation nobody waits for must not be unhandled
    this.#flights.set(key, tracked);
    return tracked;
  }

  delete(key: string): void {
    this.#map.delete(key);
  }
}

/**
 * `lookup(id)`, with a store that cannot be reached (StoreUnavailableError, recognised by name so
 * that this module does not depend on the search store) turned into 503 + Retry-After.
 */
export async function lookupOr503(lookup: ImageLookup, id: string): Promise<ImageRecord | null> {
  try {
    return await lookup(id);
  } catch (err) {
    if ((err as Error)?.name === 'StoreUnavailableError') {
      throw new IiifError(503, 'The archive cannot reach its search store; try again shortly', { 'Retry-After': '30' });
    }
    throw err;
  }
}

/** True when `file` is a plain relative path of non-dot segments. */
export function isSafeRelativePath(file: string): boolean {
  if (file === '' || file.length > 4096) return false;
  if (file.includes('\0') || file.includes('\\')) return false;
  if (file.startsWith('/') || /^[A-Za-z]:/.test(file)) return false;
  return file.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

function within(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export class SourceResolver implements ImageSource {
  readonly #root: string;
  readonly #lookup: ImageLookup;
  readonly #warn: (message: string) => void;
  readonly #recent: RevalidatingCache<SourceFile>;
  readonly ttlMs: number;
  #realRoot: string | undefined;

  constructor(opts: SourceResolverOptions) {
    this.#root = path.resolve(opts.root);
    this.#lookup = opts.lookup;
    this.#warn = opts.warn ?? ((m) => console.warn(`[iiif] ${m}`));
    this.ttlMs = opts.ttlMs ?? 2000;
    this.#recent = new RevalidatingCache(this.ttlMs, 200, (id) => this.#resolve(id), (err) => err instanceof IiifError && err.status === 503);
  }

  async local(source: SourceFile): Promise<string> {
    return source.path;
  }

  async assertUnchanged(source: SourceFile): Promise<void> {
    const st = await fs.stat(source.path).catch(() => null);
    if (!st || st.size !== source.size || st.mtimeMs !== source.mtimeMs) {
      this.#recent.delete(source.id);
      this.#warn(`image ${source.id}: the file changed while it was read; the result is discarded`);
      throw new SourceChangedError(source.id);
    }
  }

  /** Resolve an identifier to a readable file; 404 otherwise. Answers are reused for ttlMs. */
  resolve(id: string): Promise<SourceFile> {
    return this.#recent.get(id);
  }

  async #rootReal(): Promise<string> {
    if (this.#realRoot) return this.#realRoot;
    try {
      this.#realRoot = await fs.realpath(this.#root);
    } catch {
      throw new IiifError(404, 'The image store is empty or not mounted');
    }
    return this.#realRoot;
  }

  async #resolve(id: string): Promise<SourceFile> {
    const record = await lookupOr503(this.#lookup, id);
    if (!record) throw noSuchImage(id);
    const unavailable = () => new IiifError(404, `The image ${quote(id)} is not available`);

    if (typeof record.file !== 'string' || !isSafeRelativePath(record.file)) {
      this.#warn(`image ${id}: refusing file path ${quote(String(record.file), 200)} (must be relative, without . or ..)`);
      throw unavailable();
    }
    const root = await this.#rootReal();
    const entry = path.join(root, ...record.file.split('/'));
    if (!within(root, entry) || entry === root) {
      this.#warn(`image ${id}: file path ${quote(record.file, 200)} leaves the image root`);
      throw unavailable();
    }

    let dirReal: string;
    try {
      dirReal = await fs.realpath(path.dirname(entry));
    } catch {
      this.#warn(`image ${id}: directory of ${quote(record.file, 200)} is missing`);
      throw unavailable();
    }
    if (!within(root, dirReal)) {
      this.#warn(`image ${id}: directory of ${quote(record.file, 200)} resolves outside the image root (${dirReal})`);
      throw unavailable();
    }
    const located = path.join(dirReal, path.basename(entry));

    let st;
    try {
      st = await fs.stat(located);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.#warn(`image ${id}: file ${quote(record.file, 200)} ${code === 'EACCES' || code === 'EPERM' ? 'cannot be read: permission denied' : 'is missing'}`);
      throw unavailable();
    }
    if (!st.isFile()) {
      this.#warn(`image ${id}: ${quote(record.file, 200)} is not a regular file`);
      throw unavailable();
    }
    try {
      await fs.access(located, fsConstants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.#warn(`image ${id}: file ${quote(record.file, 200)} cannot be read: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : String(code)}`);
      throw unavailable();
    }
    return { id, path: located, size: st.size, mtimeMs: st.mtimeMs, version: `fs:${located}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`, access: record.access ?? 'open' };
  }
}
