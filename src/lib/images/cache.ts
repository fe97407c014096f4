/**
 * The derivative cache of the image server, on disk below `{CACHE_DIR}/iiif/`, with a size limit
 * and least-recently-used eviction; plus a small in-memory cache of hot response bodies in front.
 *
 * Keys are SHA-256 hex digests of everything that identifies an entry (the caller includes the
 * source's version — path, size, mtime, inode or the S3 ETag — so a changed source gets new keys
 * and its old entries simply age out). A key is the file name: nothing from a request ever becomes
 * part of a path.
 *
 * Writes go to `tmp/` and are renamed into place, so a reader never sees a partial file, also
 * when several processes share the directory (tests/images/cache-shared.test.ts).
 * `singleFlight(key, fn)` runs one producer per key at a time; concurrent callers share its
 * result. Entries in use (a pyramid being read by a render) are pinned and never evicted.
 *
 * The index lives in memory (a Map in LRU order) and is rebuilt from the directory on start, by
 * modification time; hits refresh a file's mtime at most every few minutes, so the order
 * survives a restart roughly.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LRUCache } from 'lru-cache';

export interface CacheEntry {
  path: string;
  size: number;
}

interface IndexEntry {
  file: string;
  size: number;
  touched: number;
}

export interface DiskCacheOptions {
  /** Directory of the cache (created when missing). */
  dir: string;
  /** Size limit in bytes; 0 keeps nothing once it is no longer in use. */
  maxBytes: number;
  log?: (message: string, err?: unknown) => void;
}

const TOUCH_EVERY_MS = 5 * 60_000;
/** Files in tmp/ untouched for this long are leftovers of a crashed writer. */
const STALE_TMP_MS = 60 * 60_000;
const KEY_RE = /^[0-9a-f]{64}$/;
const EXT_RE = /^\.[a-z0-9]{1,5}$/;

/** SHA-256 hex of the parts, separated so that ("ab","c") and ("a","bc") differ. */
export function cacheKey(...parts: Array<string | number>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(String(p)).update('\0');
  return h.digest('hex');
}

export class DiskCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #tmp: string;
  readonly #log: (message: string, err?: unknown) => void;
  readonly #index = new Map<string, IndexEntry>();
  readonly #flights = new Map<string, Promise<unknown>>();
  readonly #pins = new Map<string, number>();
  /** Entries removed while pinned: their files go when the last reader releases them. */
  readonly #doomed = new Map<string, string>();
  /**
   * Files of the cache whose deletion failed (a read-only or failing disk): they still take space,
   * so every later eviction pass tries them again before anything else.
   */
  readonly #undeleted = new Set<string>();
  #bytes = 0;
  #ready: Promise<void> | undefined;
  #evicting = false;
  /** An eviction was asked for while one ran (e.g. an entry was released meanwhile). */
  #evictAgain = false;
  /** The scan failed: when, and how long to wait before the next attempt. */
  #scanFailure: { at: number; backoff: number; err: unknown } | undefined;
  /** A write failed and no write has succeeded since (logged once per episode). */
  #writeFailing = false;
  #lastWriteComplaint = -Infinity;

  constructor(opts: DiskCacheOptions) {
    this.dir = path.resolve(opts.dir);
    this.maxBytes = Math.max(0, opts.maxBytes);
    this.#tmp = path.join(this.dir, 'tmp');
    this.#log = opts.log ?? ((m, e) => console.error(`[iiif cache] ${m}`, e ?? ''));
  }

  get bytes(): number {
    return this.#bytes;
  }

  get entries(): number {
    return this.#index.size;
  }

  /**
   * Create the directories, clear leftovers in tmp/, and index what is there. Idempotent once it
   * has succeeded; a failure (directory not writable, disk gone) is NOT kept: it is logged once,
   * and the next call after a back-off (1 s doubling to 10 s) scans again.
   */
  ready(): Promise<void> {
    if (this.#ready) return this.#ready;
    const f = this.#scanFailure;
    if (f && performance.now() - f.at < f.backoff) return Promise.reject(f.err);
    const p = this.#scan().then(
      () => {
        if (this.#scanFailure) this.#log(`the derivative cache at ${this.dir} is usable again`);
        this.#scanFailure = undefined;
      },
      (err: unknown) => {
        this.#ready = undefined;
        const failure = new CacheUnavailableError(this.dir, err);
        if (!this.#scanFailure) this.#log(failure.message);
        this.#scanFailure = { at: performance.now(), backoff: this.#scanFailure ? Math.min(10_000, this.#scanFailure.backoff * 2) : 1000, err: failure };
        throw failure;
      },
    );
    this.#ready = p;
    return p;
  }

  /** True once the directory has been scanned and no write failure is pending. */
  get usable(): boolean {
    return this.#scanFailure === undefined && !this.#writeFailing;
  }

  /**
   * A write into the cache failed (disk full, read-only, permissions): logged once until a write
   * succeeds again; a full disk also evicts down to half the current size to make room.
   */
  #writeFailed(err: unknown): CacheUnavailableError {
    const failure = err instanceof CacheUnavailableError ? err : new CacheUnavailableError(this.dir, err);
    // Once per episode, and at most once a minute (a nearly full disk flaps between the two).
    const now = performance.now();
    if (!this.#writeFailing && now - this.#lastWriteComplaint > 60_000) {
      this.#lastWriteComplaint = now;
      this.#log(`${failure.message}; answers are served without caching them until it works again`);
    }
    this.#writeFailing = true;
    if (failure.code === 'ENOSPC' || failure.code === 'EDQUOT') void this.#evict(Math.floor(this.#bytes / 2));
    return failure;
  }

  /**
   * For writers that produce a file in `tmpPath()` themselves (libvips): when `err` says the disk
   * is full, read-only or not permitted, record it like a failed write (logged once, eviction)
   * and return the CacheUnavailableError; otherwise null.
   */
  writeFailure(err: unknown): CacheUnavailableError | null {
    if (err instanceof CacheUnavailableError) return err;
    const code = (err as NodeJS.ErrnoException)?.code;
    const msg = String((err as Error)?.message ?? err);
    let inferred: string | undefined;
    if (code && ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM'].includes(code)) inferred = code;
    else if (/no space left on device/i.test(msg)) inferred = 'ENOSPC';
    else if (/read-only file system/i.test(msg)) inferred = 'EROFS';
    else if (/permission denied/i.test(msg)) inferred = 'EACCES';
    if (!inferred) return null;
    return this.#writeFailed(Object.assign(new Error(msg.split('\n')[0]), { code: inferred }));
  }

  #writeSucceeded(): void {
    if (this.#writeFailing) this.#log(`the derivative cache at ${this.dir} accepts writes again`);
    this.#writeFailing = false;
  }

  async #scan(): Promise<void> {
    await fs.mkdir(this.#tmp, { recursive: true });
    // Leftovers of a crashed writer. Only old ones: with a CACHE_DIR shared by several processes
    // (docs/scaling.md), a young file is another process's write in progress (a file being
    // written keeps its modification time fresh), and removing it would make that write fail.
    const staleBefore = Date.now() - STALE_TMP_MS;
    for (const f of await fs.readdir(this.#tmp)) {
      const file = path.join(this.#tmp, f);
      const st = await fs.stat(file).catch(() => null);
      if (st && st.mtimeMs < staleBefore) await fs.rm(file, { force: true, recursive: true });
    }
    const found: Array<[string, IndexEntry]> = [];
    for (const sub of await fs.readdir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      const subdir = path.join(this.dir, sub);
      for (const name of await fs.readdir(subdir).catch(() => [] as string[])) {
        const key = name.slice(0, 64);
        if (!KEY_RE.test(key)) continue;
        try {
          const st = await fs.stat(path.join(subdir, name));
          if (st.isFile()) found.push([key, { file: path.join(subdir, name), size: st.size, touched: st.mtimeMs }]);
        } catch {
          // vanished meanwhile
        }
      }
    }
    found.sort((a, b) => a[1].touched - b[1].touched);
    for (const [key, e] of found) {
      this.#index.set(key, e);
      this.#bytes += e.size;
    }
    await this.#evict();
  }

  /** A fresh path in the cache's tmp/ (same file system as the entries, so rename is atomic). */
  async tmpPath(ext = ''): Promise<string> {
    await this.ready();
    return path.join(this.#tmp, `${randomBytes(12).toString('hex')}${ext}`);
  }

  /**
   * The entry for `key`, refreshed as most recently used; null when absent (or gone from disk, or
   * while the cache directory cannot be used).
   */
  async lookup(key: string): Promise<CacheEntry | null> {
    try {
      await this.ready();
    } catch {
      return null;
    }
    const e = this.#index.get(key);
    if (!e) return null;
    this.#index.delete(key);
    this.#index.set(key, e);
    const now = Date.now();
    if (now - e.touched > TOUCH_EVERY_MS) {
      e.touched = now;
      const t = new Date(now);
      fs.utimes(e.file, t, t).catch(() => this.#forget(key));
    }
    return { path: e.file, size: e.size };
  }

  /**
   * The entry for `key`, pinned until `release()` is called: looked up and pinned in one step, so
   * no eviction or removal can come between finding a derivative and reading it (a render that
   * found a pyramid must not find it deleted when libvips opens it). Null when absent.
   */
  async acquire(key: string): Promise<(CacheEntry & { release: () => void }) | null> {
    try {
      await this.ready();
    } catch {
      return null; // an unusable cache holds nothing (logged once by ready(); retried after its back-off)
    }
    const e = this.#index.get(key);
    if (!e) return null;
    const release = this.pin(key);
    const found = await this.lookup(key);
    if (!found) {
      release();
      return null;
    }
    return { ...found, release };
  }

  /** Synchronous index check (no I/O): the entry if it is known. */
  peek(key: string): CacheEntry | null {
    const e = this.#index.get(key);
    return e ? { path: e.file, size: e.size } : null;
  }

  #target(key: string, ext: string): string {
    if (!KEY_RE.test(key)) throw new Error(`invalid cache key ${key.slice(0, 80)}`);
    if (ext !== '' && !EXT_RE.test(ext)) throw new Error(`invalid cache extension ${ext.slice(0, 20)}`);
    return path.join(this.dir, key.slice(0, 2), `${key}${ext}`);
  }

  /** Store bytes under `key`. */
  async put(key: string, ext: string, data: Uint8Array): Promise<CacheEntry> {
    const tmp = await this.tmpPath();
    try {
      await fs.writeFile(tmp, data);
    } catch (err) {
      await this.discard(tmp);
      throw this.#writeFailed(err);
    }
    return this.adopt(key, ext, tmp);
  }

  /** Move a finished file (written to a `tmpPath()`) into the cache under `key`. */
  async adopt(key: string, ext: string, tmpFile: string): Promise<CacheEntry> {
    await this.ready();
    const target = this.#target(key, ext);
    const st = await fs.stat(tmpFile);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(tmpFile, target);
    } catch (err) {
      await this.discard(tmpFile);
      throw this.#writeFailed(err);
    }
    this.#writeSucceeded();
    // A removed entry still being read was replaced by this file: nothing left to delete later.
    this.#doomed.delete(key);
    const old = this.#index.get(key);
    if (old) {
      this.#bytes -= old.size;
      this.#index.delete(key);
      if (old.file !== target) await this.discard(old.file);
    }
    this.#index.set(key, { file: target, size: st.size, touched: Date.now() });
    this.#bytes += st.size;
    void this.#evict();
    return { path: target, size: st.size };
  }

  /**
   * Remove an entry (e.g. found corrupt). New readers no longer find it at once; while readers
   * hold it (pinned), the file stays until the last one releases it.
   */
  async remove(key: string): Promise<void> {
    const e = this.#index.get(key);
    if (!e) return;
    this.#forget(key);
    if (this.#pins.has(key)) {
      this.#doomed.set(key, e.file);
      return;
    }
    await this.discard(e.file);
  }

  /**
   * Delete a file of the cache (an entry's, or a `tmpPath()` a writer gave up): when that fails
   * (read-only or failing disk), it is logged once and tried again at every later eviction pass,
   * so that the space comes back without a restart once the disk does.
   */
  async discard(file: string): Promise<boolean> {
    try {
      await fs.rm(file, { force: true });
      this.#undeleted.delete(file);
      return true;
    } catch (err) {
      if (!this.#undeleted.has(file)) this.#log(`cannot delete ${file} (tried again later)`, err);
      this.#undeleted.add(file);
      return false;
    }
  }

  #forget(key: string): void {
    const e = this.#index.get(key);
    if (!e) return;
    this.#index.delete(key);
    this.#bytes -= e.size;
  }

  /** Keep `key` from eviction until the returned function is called. */
  pin(key: string): () => void {
    this.#pins.set(key, (this.#pins.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.#pins.get(key) ?? 1) - 1;
      if (n <= 0) {
        this.#pins.delete(key);
        const doomed = this.#doomed.get(key);
        if (doomed !== undefined) {
          this.#doomed.delete(key);
          void this.discard(doomed);
        }
      } else this.#pins.set(key, n);
      if (this.#bytes > this.maxBytes) void this.#evict();
    };
  }

  /** One producer per key at a time: concurrent callers get the running producer's result. */
  singleFlight<T>(key: string, produce: () => Promise<T>): Promise<T> {
    const running = this.#flights.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = (async () => {
      try {
        return await produce();
      } finally {
        this.#flights.delete(key);
      }
    })();
    this.#flights.set(key, p);
    return p;
  }

  /** Delete least recently used, unpinned entries until the cache is within its limit. */
  async #evict(down?: number): Promise<void> {
    // What could not be deleted before, first (one refusal: the disk still refuses, stop there).
    if (!this.#evicting) for (const f of [...this.#undeleted]) if (!(await this.discard(f))) break;
    if (down === undefined && this.#bytes <= this.maxBytes) return;
    if (this.#evicting) {
      // A pass is running and may have skipped entries pinned then: run once more after it.
      this.#evictAgain = true;
      return;
    }
    this.#evicting = true;
    this.#evictAgain = false;
    try {
      // Down to 90 % of the limit, so eviction does not run on every write.
      const goal = down ?? Math.floor(this.maxBytes * 0.9);
      for (const [key, e] of [...this.#index]) {
        if (this.#bytes <= goal) break;
        if (this.#pins.has(key) || this.#flights.has(key)) continue;
        this.#forget(key);
        // A refused deletion: the disk refuses them all for now; the pass stops (tried again later).
        if (!(await this.discard(e.file))) break;
      }
    } finally {
      this.#evicting = false;
    }
    if (this.#evictAgain) await this.#evict();
  }
}

/** The cache directory cannot be used (scan or write failed); the reason names the cause. */
export class CacheUnavailableError extends Error {
  readonly code: string | undefined;
  constructor(dir: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'ENOSPC' || code === 'EDQUOT'
          ? 'no space left on the device'
          : code === 'EROFS'
            ? 'read-only file system'
            : String((cause as Error)?.message ?? cause).split('\n')[0];
    super(`the derivative cache at ${dir} cannot be used: ${why}${code ? ` (${code})` : ''}`, { cause });
    this.name = 'CacheUnavailableError';
    this.code = code;
  }
}

/** Response bodies kept in memory: small, hot, bounded in bytes, LRU (lru-cache, sized by bytes). */
export class MemoryCache {
  readonly #lru: LRUCache<string, Buffer> | undefined;

  constructor(maxBytes: number, maxEntryBytes = 1 << 20) {
    const max = Math.max(0, maxBytes);
    const maxEntry = Math.min(maxEntryBytes, max);
    // lru-cache refuses a zero size: a cache of 0 bytes keeps nothing.
    this.#lru = max > 0 && maxEntry > 0 ? new LRUCache({ maxSize: max, maxEntrySize: maxEntry, sizeCalculation: (b) => Math.max(1, b.byteLength) }) : undefined;
  }

  get bytes(): number {
    return this.#lru?.calculatedSize ?? 0;
  }

  get(key: string): Buffer | undefined {
    return this.#lru?.get(key);
  }

  /** Keep `body` (bodies over the entry limit are not kept; older entries make room). */
  set(key: string, body: Buffer): void {
    this.#lru?.set(key, body);
  }
}
