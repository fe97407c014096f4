/**
 * The built-in IIIF Image API server (2.1 and 3.0), framework-free: `handle()` takes the path after
 * `/iiif/`, the request headers and the user's access levels and returns status, headers and
 * body. It orchestrates; the
 * parts are apart: request.ts (pure parse, plan, region arithmetic), render.ts (the only user of
 * sharp), pyramids.ts (derivative lifecycle), cache.ts (disk and memory caches), source.ts /
 * s3source.ts (locating the source), queue.ts (bounded processing), estimates.ts (memory).
 *
 * Per request: a repeated path within the source TTL is answered from the hot cache (no parse, no
 * lookup; its entry keeps the item's access level, checked against the user's levels). Otherwise:
 * parse (pure) -> locate the source (source.ts / s3source.ts: one store lookup per image, reused for
 * the source TTL, a couple of seconds; it carries the item's access level) -> access: an image the
 * user may not see is answered exactly like an unknown id (404, same headers and body) -> image facts from an LRU keyed by the source's version (one metadata()
 * per page on a miss, never again) -> resolve the request into a plan (pure) -> ETag / 304 / HEAD
 * -> rendered bytes from the memory cache, else the disk cache, else ONE render per key at a time
 * (single-flight), through the bounded processing queue (queue.ts: at most N renders, a bounded
 * wait, 503 + Retry-After beyond) -> stored in the derivative cache (cache.ts).
 *
 * What is read for a render (render.ts reads from the file path):
 *  - pyramid TIFF (pages or SubIFDs): the smallest level that still has the output's resolution;
 *  - plain JPEG: a tiled pyramid TIFF derivative is built in the cache on first touch (info.json
 *    or a region request; pyramid.ts), single-flight, and every later request reads from it.
 *    Full-resolution tiles wait for the build (it takes about a second for 24 MP); full-image
 *    requests (thumbnails) and the tiles of zoomed-out views meanwhile use JPEG shrink-on-load
 *    directly: "resize the whole image, then extract the region from the result" (libvips decodes
 *    at 1/2, 1/4 or 1/8 in the DCT; a tile is rendered so when it decodes at 1/4 or 1/8); for a
 *    JPEG over 120 MP every request waits for the pyramid (a build and a render from the source
 *    together would not fit a small machine);
 *  - PNG, GIF, WebP, striped TIFF whose whole decode exceeds 48 MB: a pyramid the same way, every
 *    request waiting for it (libvips would decode these sources whole for any region);
 *  - anything else (small PNG, WebP, striped TIFF): directly.
 *
 * Memory: inputs are limited to `maxInputPixels`; outputs to the IIIF limits; encoders to their
 * format's largest side (request.ts); each render declares an estimate of its working memory to the
 * queue, whose budget bounds the sum; outputs estimated above a few MB are encoded straight to a
 * file in the cache and streamed from there, never held in memory.
 *
 * Errors: malformed requests, unknown ids and sizes over the limits are 400/404 with a sentence; a
 * libvips error caused by the request's values is 400; overload is 503; anything else is 500 and
 * logged.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import { LRUCache } from 'lru-cache';
import { CacheUnavailableError, DiskCache, MemoryCache, cacheKey } from './cache.ts';
import { canSee, type AccessLevel } from '../domain.ts';
import { IiifError, noSuchImage } from './errors.ts';
import { estimateOutputBytes, estimateRenderBytes } from './estimates.ts';
import { etagMatches, headerOf as header, isNotModified } from '../http/conditional.ts';
import { buildInfo, canonicalLinkHeader, infoContentType, profileLinkHeader } from './info.ts';
import type { DerivativeStore } from './derivative-store.ts';
import { Pyramids } from './pyramids.ts';
import { RenderQueue, type QueueOptions } from './queue.ts';
import { DEFAULT_MAX_INPUT_PIXELS, JP2_SUPPORTED, readFacts, render, renderToFile } from './render.ts';
import {
  FORMAT_MAX_SIDE,
  MEDIA_TYPES,
  chooseLevel,
  parseRequest,
  resolveImageRequest,
  storedTile,
  type Dimensions,
  type ImagePlan,
  type Limits,
  type PyramidLevel,
  type SourceFacts,
  type Version,
} from './request.ts';
import { SourceChangedError, SourceResolver, type ImageLookup, type ImageSource, type SourceFile } from './source.ts';
import { assembleJpeg, type TiffPage } from './tiff.ts';

/**
 * Kept for the modules and tests that import them from here; they live in the part they belong to.
 */
export { DEFAULT_MAX_INPUT_PIXELS, JP2_SUPPORTED, chooseLevel, estimateOutputBytes, estimateRenderBytes, storedTile };
export type { PyramidLevel, SourceFacts };

const CACHE_CONTROL = 'private, max-age=86400';
const REDIRECT_CACHE_CONTROL = 'private, max-age=3600';
/** Bumped when rendering changes, so old ETags stop matching and old cache entries age out. */
const RENDER_REVISION = '2';
const MB = 1024 * 1024;
/** Outputs estimated above this are encoded to a file and streamed, not buffered. */
const STREAM_OVER_BYTES = 8 * MB;
/** Cached files up to this size are read into memory (and the memory cache) to be served. */
const READ_CACHED_UP_TO = 1 * MB;

export interface ImageServerOptions {
  /** Root of the clean image tree (file-system source). */
  root?: string;
  /** Identifier to record (`file` below the root), e.g. `(id) => store.getImage(id)`. */
  lookup?: ImageLookup;
  /** Another source (S3); replaces root + lookup. */
  source?: ImageSource;
  maxWidth: number;
  maxHeight: number;
  maxArea: number;
  /** Public base URL without trailing slash; ids are `${publicBaseUrl}/iiif/{2|3}/{id}`. */
  publicBaseUrl: string;
  maxInputPixels?: number;
  /** Entries of the image-facts cache. */
  metadataCacheSize?: number;
  /** Derivative cache (rendered images, JPEG pyramids, S3 copies): a directory, or a shared instance. */
  cacheDir?: string;
  cache?: DiskCache;
  /** Size limit of the disk cache when `cacheDir` is given (default 2 GiB). */
  cacheMaxBytes?: number;
  /** Bytes of hot response bodies kept in memory (default 32 MiB; 0 = none). */
  memoryCacheBytes?: number;
  /** Store rendered images in the caches (default true; the benchmark turns it off to measure renders). */
  cacheRenders?: boolean;
  /** Build tiled pyramid derivatives of plain JPEGs (default true when there is a disk cache). */
  pyramids?: boolean;
  /** Pyramids shared with other processes (bucket or shared directory; derivative-store.ts). */
  derivatives?: DerivativeStore;
  /** Send stored JPEG tiles of tiled TIFFs as they are when they are the answer (default true). */
  passthrough?: boolean;
  /** The processing queue, or its settings (default: renders = cores, 256 waiting, 512 MiB). */
  queue?: RenderQueue | Partial<QueueOptions>;
  /** How long a located source is reused before it is looked up and stat-ed again (ms, default 2000). */
  sourceTtlMs?: number;
  log?: (message: string, err?: unknown) => void;
  /**
   * Refuse requests that carry no `levels` (as if the user may see nothing). The composition root
   * (src/lib/runtime.ts) sets it, so a caller that forgets the user's levels fails closed; without
   * it (tests, the benchmark, the validator's stand-alone server) such requests are unrestricted.
   */
  enforceAccess?: boolean;
  /** IIIF Authorization Flow 2.0 services to advertise in info.json (probe per image; src/lib/access). */
  auth?: { context: string; services: (id: string) => Record<string, unknown>[] };
}

export interface IiifHttpRequest {
  method?: string;
  headers?: Headers | Record<string, string | string[] | undefined>;
  /**
   * The access levels of the user asking (the gate's `User.levels`). An image whose item's level
   * is not among them is answered exactly like an image that does not exist. Undefined: see
   * `ImageServerOptions.enforceAccess`.
   */
  levels?: readonly AccessLevel[];
  /** Set on the one internal retry after the source changed during a render. */
  retried?: boolean;
}

export interface IiifResponse {
  status: number;
  headers: Record<string, string>;
  body?: Buffer | string;
  /**
   * A file to send as the body instead (large renders), already open: the adapter streams it and
   * MUST close the handle (also when it does not send it, e.g. for HEAD).
   */
  file?: { handle: fs.FileHandle; size: number };
}

/** RFC 9110 If-None-Match (weak comparison); the shared helper of every IIIF route. */
export { etagMatches };

function hashTag(...parts: Array<string | number>): string {
  return `"${createHash('sha1').update(parts.join('\0')).digest('base64url').slice(0, 27)}"`;
}

/**
 * The limits as served: maxWidth and maxHeight at most what the default format (jpg) can write, so
 * that info.json's `maxWidth`/`maxHeight`, its `sizes` and `max` are always deliverable as jpg.
 * Limits above are clamped with a message (src/lib/config.ts refuses them already).
 */
export function deliverableLimits(limits: Limits, warn?: (message: string) => void): Limits {
  const side = FORMAT_MAX_SIDE.jpg;
  if (limits.maxWidth <= side && limits.maxHeight <= side) return { ...limits };
  warn?.(`maxWidth ${limits.maxWidth} / maxHeight ${limits.maxHeight} clamped to ${side}: the largest side a JPEG (the default format) can have`);
  return { maxWidth: Math.min(limits.maxWidth, side), maxHeight: Math.min(limits.maxHeight, side), maxArea: limits.maxArea };
}

interface HotEntry {
  key: string;
  /** The item's access level as resolved with the source (checked against every request's levels). */
  access: AccessLevel;
  checked: number;
  mtimeMs: number;
  headers: Record<string, string>;
}

type Rendered = { kind: 'buffer'; body: Buffer } | { kind: 'file'; path: string; size: number };

export class ImageServer {
  readonly #limits: Limits;
  readonly #base: string;
  readonly #sources: ImageSource;
  readonly #facts: LRUCache<string, Promise<SourceFacts>>;
  readonly #maxInputPixels: number;
  readonly #log: (message: string, err?: unknown) => void;
  readonly #disk: DiskCache | undefined;
  readonly #mem: MemoryCache;
  readonly #cacheRenders: boolean;
  /** Pyramid derivatives (when there is a disk cache and they are not turned off). */
  readonly #pyramids: Pyramids | undefined;
  readonly #passthrough: boolean;
  readonly #queue: RenderQueue;
  readonly #flights = new Map<string, Promise<unknown>>();
  /** Raw request path -> its rendering in the memory cache (see #fromHot). */
  readonly #hot = new LRUCache<string, HotEntry>({ max: 20_000 });
  readonly #hotTtlMs: number;
  readonly #auth: ImageServerOptions['auth'];
  readonly #enforceAccess: boolean;

  constructor(opts: ImageServerOptions) {
    this.#auth = opts.auth;
    this.#enforceAccess = opts.enforceAccess ?? false;
    this.#base = opts.publicBaseUrl.replace(/\/+$/, '');
    this.#log = opts.log ?? ((message, err) => console.error(`[iiif] ${message}`, err ?? ''));
    this.#limits = deliverableLimits({ maxWidth: opts.maxWidth, maxHeight: opts.maxHeight, maxArea: opts.maxArea }, (m) => this.#log(m));
    if (opts.source) this.#sources = opts.source;
    else {
      if (!opts.root || !opts.lookup) throw new Error('ImageServer needs a source, or root and lookup');
      this.#sources = new SourceResolver({ root: opts.root, lookup: opts.lookup, warn: (m) => this.#log(m), ttlMs: opts.sourceTtlMs });
    }
    this.#facts = new LRUCache({ max: opts.metadataCacheSize ?? 2000 });
    this.#maxInputPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
    this.#disk = opts.cache ?? (opts.cacheDir ? new DiskCache({ dir: opts.cacheDir, maxBytes: opts.cacheMaxBytes ?? 2 * 1024 * MB, log: this.#log }) : undefined);
    this.#mem = new MemoryCache(opts.memoryCacheBytes ?? 32 * MB);
    this.#cacheRenders = opts.cacheRenders ?? true;
    this.#passthrough = opts.passthrough ?? true;
    this.#hotTtlMs = this.#sources.ttlMs ?? 0;
    this.#queue =
      opts.queue instanceof RenderQueue
        ? opts.queue
        : new RenderQueue({
            concurrency: opts.queue?.concurrency ?? os.availableParallelism(),
            maxWaiting: opts.queue?.maxWaiting ?? 256,
            memoryBudget: opts.queue?.memoryBudget ?? 512 * MB,
            maxWaitMs: opts.queue?.maxWaitMs,
          });
    this.#pyramids =
      (opts.pyramids ?? true) && this.#disk
        ? new Pyramids({
            disk: this.#disk,
            queue: this.#queue,
            sources: this.#sources,
            maxInputPixels: this.#maxInputPixels,
            readFacts: (file) => this.readFacts(file),
            derivatives: opts.derivatives,
            factsCacheSize: opts.metadataCacheSize,
            log: this.#log,
          })
        : undefined;
  }

  get limits(): Limits {
    return { ...this.#limits };
  }

  get queue(): RenderQueue {
    return this.#queue;
  }

  get cache(): DiskCache | undefined {
    return this.#disk;
  }

  /** Counters for the operator and the benchmark. */
  stats(): {
    queue: ReturnType<RenderQueue['stats']>;
    cacheBytes: number;
    cacheEntries: number;
    memoryCacheBytes: number;
    pyramidBuildsMs: number[];
    pyramidBuilds: number;
    pyramidsShared: number;
  } {
    const counts = this.#pyramids?.counts ?? { builds: 0, shared: 0 };
    return {
      pyramidBuilds: counts.builds,
      pyramidsShared: counts.shared,
      queue: this.#queue.stats(),
      cacheBytes: this.#disk?.bytes ?? 0,
      cacheEntries: this.#disk?.entries ?? 0,
      memoryCacheBytes: this.#mem.bytes,
      pyramidBuildsMs: this.#pyramids?.buildsMs ?? [],
    };
  }

  /** Base URI of an image service, as used for `id` / `@id`. */
  serviceId(version: Version, id: string): string {
    return `${this.#base}/iiif/${version}/${encodeURIComponent(id)}`;
  }

  /** Pixel size of an image (for manifests), or undefined when it cannot be read. */
  async sizeOf(id: string): Promise<Dimensions | undefined> {
    try {
      const facts = await this.#factsOf(await this.#sources.resolve(id));
      return { width: facts.width, height: facts.height };
    } catch {
      return undefined;
    }
  }

  /** Answer one request for `/iiif/{path}`. Never throws. */
  async handle(path: string, req: IiifHttpRequest = {}): Promise<IiifResponse> {
    const hot = this.#hot.get(path);
    // A warm answer: no parse, no lookup; the access level came with it. (A user who may not see
    // it takes the full path, which answers as for a missing image.)
    if (hot && performance.now() - hot.checked < this.#hotTtlMs && this.#may(req, hot.access)) {
      const r = this.#fromHot(hot, req);
      if (r) return r;
    }
    try {
      const parsed = parseRequest(path);
      switch (parsed.kind) {
        case 'error':
          return this.#error(parsed.status, parsed.message);
        case 'redirect':
          return this.#redirect(parsed.location);
        case 'info': {
          const source = this.#authorized(req, await this.#sources.resolve(parsed.id));
          const facts = await this.#factsOf(source);
          // A viewer opening a plain JPEG will ask for tiles next: start its pyramid (when idle).
          if (this.#wantsPyramid(facts)) void this.#pyramids!.ensure(source, facts, { background: true });
          return this.#info(parsed.version, parsed.id, source, facts, req);
        }
        case 'image': {
          const source = this.#authorized(req, await this.#sources.resolve(parsed.id));
          const facts = await this.#factsOf(source);
          const resolved = resolveImageRequest(parsed, facts, this.#limits);
          if (resolved.kind === 'error') return this.#error(resolved.status, resolved.message);
          if (resolved.kind === 'redirect') return this.#redirect(resolved.location);
          return await this.#image(resolved.plan, source, facts, req, path);
        }
      }
    } catch (err) {
      // The file changed under a render: that result was discarded; try once more with the new file.
      if (err instanceof SourceChangedError && !req.retried) return this.handle(path, { ...req, retried: true });
      if (err instanceof IiifError) return this.#error(err.status, err.message, err.headers);
      this.#log(`internal error for /iiif/${path.slice(0, 300)}`, err);
      return this.#error(500, 'Internal server error');
    }
  }

  /** Whether the user asking may see an item at `level`. */
  #may(req: IiifHttpRequest, level: AccessLevel): boolean {
    const levels = req.levels ?? (this.#enforceAccess ? [] : undefined);
    return levels === undefined || canSee(levels, level);
  }

  /**
   * `source` when the user may see it; otherwise the error of a missing identifier — decided here,
   * right after the lookup and before anything else about the image (its size, a 304), so that
   * status, headers and body are those of an id the store does not know.
   */
  #authorized(req: IiifHttpRequest, source: SourceFile): SourceFile {
    if (!this.#may(req, source.access)) throw noSuchImage(source.id);
    return source;
  }

  #error(status: number, message: string, extra?: Record<string, string>): IiifResponse {
    return {
      status,
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        'Access-Control-Allow-Origin': '*',
        'Cache-Control': 'no-store',
        ...extra,
      },
      body: `${message}\n`,
    };
  }

  #redirect(location: string): IiifResponse {
    return {
      status: 303,
      headers: {
        Location: `${this.#base}/iiif/${location}`,
        'Access-Control-Allow-Origin': '*',
        'Cache-Control': REDIRECT_CACHE_CONTROL,
      },
    };
  }

  #notModified(req: IiifHttpRequest, etag: string, mtimeMs: number): boolean {
    return isNotModified(req.method, req.headers, { etag, lastModified: mtimeMs });
  }

  #info(version: Version, id: string, source: SourceFile, facts: SourceFacts, req: IiifHttpRequest): IiifResponse {
    const doc = buildInfo(version, {
      id: this.serviceId(version, id),
      width: facts.width,
      height: facts.height,
      limits: this.#limits,
      tileSize: facts.tileSize,
      ...(this.#auth ? { auth: { context: this.#auth.context, services: this.#auth.services(id) } } : {}),
    });
    const body = JSON.stringify(doc);
    const contentType = infoContentType(version, header(req.headers, 'accept'));
    const etag = hashTag('info', RENDER_REVISION, contentType, body);
    const lastModified = new Date(source.mtimeMs).toUTCString();
    const headers: Record<string, string> = {
      'Content-Type': contentType,
      'Access-Control-Allow-Origin': '*',
      Link: profileLinkHeader(version),
      'Cache-Control': CACHE_CONTROL,
      ETag: etag,
      'Last-Modified': lastModified,
      Vary: 'Accept',
    };
    if (this.#notModified(req, etag, source.mtimeMs)) {
      delete headers['Content-Type'];
      return { status: 304, headers };
    }
    return { status: 200, headers, body };
  }

  /**
   * The hot path for a repeated image request: the same raw path, answered from the memory cache
   * without parsing, hashing or looking the source up again — for at most the source TTL, after
   * which the full path re-checks the source (and refreshes this entry). Null: take the full path.
   */
  #fromHot(hot: HotEntry, req: IiifHttpRequest): IiifResponse | null {
    const method = (req.method ?? 'GET').toUpperCase();
    if (this.#notModified(req, hot.headers.ETag!, hot.mtimeMs)) {
      const { 'Content-Type': _, ...rest } = hot.headers;
      return { status: 304, headers: rest };
    }
    if (method === 'HEAD') return { status: 200, headers: { ...hot.headers } };
    const body = this.#mem.get(hot.key);
    return body ? { status: 200, headers: { ...hot.headers }, body } : null;
  }

  #remember(path: string | undefined, key: string, source: SourceFile, headers: Record<string, string>): void {
    if (path === undefined || !this.#cacheRenders) return;
    this.#hot.set(path, { key, access: source.access, checked: performance.now(), mtimeMs: source.mtimeMs, headers: { ...headers } });
  }

  async #image(plan: ImagePlan, source: SourceFile, facts: SourceFacts, req: IiifHttpRequest, path?: string): Promise<IiifResponse> {
    const canonical = `${this.serviceId(plan.version, plan.id)}/${plan.canonical}`;
    const etag = hashTag('image', RENDER_REVISION, plan.version, plan.id, source.version, plan.canonical);
    const lastModified = new Date(source.mtimeMs).toUTCString();
    const headers: Record<string, string> = {
      'Content-Type': MEDIA_TYPES[plan.format],
      'Access-Control-Allow-Origin': '*',
      Link: `${canonicalLinkHeader(canonical)}, ${profileLinkHeader(plan.version)}`,
      'Cache-Control': CACHE_CONTROL,
      ETag: etag,
      'Last-Modified': lastModified,
    };
    if (this.#notModified(req, etag, source.mtimeMs)) {
      delete headers['Content-Type'];
      return { status: 304, headers };
    }
    if ((req.method ?? 'GET').toUpperCase() === 'HEAD') return { status: 200, headers };

    const key = cacheKey('render', RENDER_REVISION, source.version, plan.version, plan.canonical);
    const served = await this.#fromCache(key);
    if (served) {
      if ('body' in served) this.#remember(path, key, source, headers);
      return { status: 200, headers, ...served };
    }
    const out = await this.#singleFlight(key, () => this.#produce(key, source, facts, plan));
    if (out.kind === 'buffer') {
      this.#remember(path, key, source, headers);
      return { status: 200, headers, body: out.body };
    }
    const opened = await this.#open(out.path);
    if (opened) return { status: 200, headers, file: opened };
    // Evicted between render and open (a tiny cache under pressure): render again into memory.
    const again = await this.#produce(key, source, facts, plan, true);
    if (again.kind !== 'buffer') throw new Error('render to memory returned a file');
    return { status: 200, headers, body: again.body };
  }

  #singleFlight<T>(key: string, produce: () => Promise<T>): Promise<T> {
    const running = this.#flights.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = produce().finally(() => this.#flights.delete(key));
    this.#flights.set(key, p);
    return p;
  }

  async #open(file: string): Promise<{ handle: fs.FileHandle; size: number } | null> {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, 'r');
      const st = await handle.stat();
      return { handle, size: st.size };
    } catch {
      await handle?.close().catch(() => {});
      return null;
    }
  }

  /** A cached rendering: from memory, or from disk (small files are read and kept in memory). */
  async #fromCache(key: string): Promise<{ body: Buffer } | { file: { handle: fs.FileHandle; size: number } } | null> {
    if (!this.#cacheRenders) return null;
    const mem = this.#mem.get(key);
    if (mem) return { body: mem };
    if (!this.#disk) return null;
    const hit = await this.#disk.lookup(key);
    if (!hit) return null;
    if (hit.size <= READ_CACHED_UP_TO) {
      // open + one read of the known size + close (readFile would also fstat and read in chunks).
      let handle: fs.FileHandle | undefined;
      try {
        handle = await fs.open(hit.path, 'r');
        const body = Buffer.allocUnsafe(hit.size);
        const { bytesRead } = await handle.read(body, 0, hit.size, 0);
        if (bytesRead !== hit.size) throw new Error('short read');
        this.#mem.set(key, body);
        return { body };
      } catch {
        await this.#disk.remove(key);
        return null;
      } finally {
        await handle?.close().catch(() => {});
      }
    }
    const opened = await this.#open(hit.path);
    if (!opened) await this.#disk.remove(key);
    return opened ? { file: opened } : null;
  }

  /** Render `plan` (through the queue) and store the result in the caches. */
  async #produce(key: string, source: SourceFile, facts: SourceFacts, plan: ImagePlan, forceMemory = false): Promise<Rendered> {
    const unpinSource = this.#sources.pin?.(source);
    let unpinPyramid: (() => void) | undefined;
    try {
      const local = await this.#sources.local(source);
      let input = { file: local, facts };
      if (this.#wantsPyramid(facts)) {
        const pyr = await this.#pyramids!.forPlan(source, facts, local, plan);
        if (pyr) {
          input = { file: pyr.file, facts: pyr.facts };
          unpinPyramid = pyr.unpin;
        }
      }
      const stored = this.#passthrough ? storedTile(input.facts, plan) : null;
      if (stored) {
        const body = await this.#readStoredTile(input.file, stored.page, stored.index);
        if (body) {
          // Cheap to produce again: kept in memory only, never written to the disk cache.
          if (this.#cacheRenders) this.#mem.set(key, body);
          return { kind: 'buffer', body };
        }
      }
      const toFile = !forceMemory && this.#disk !== undefined && estimateOutputBytes(plan) > STREAM_OVER_BYTES;
      const cost = estimateRenderBytes(input.facts, plan, !toFile);
      if (!toFile) {
        const body = await this.#unchanged(source, () => this.#queue.run(cost, () => this.render(input.file, input.facts, plan)));
        if (this.#cacheRenders) {
          this.#mem.set(key, body);
          // A cache that cannot be written logs that once itself (cache.ts); the answer is served anyway.
          if (this.#disk) void this.#disk.put(key, '', body).catch((err: unknown) => err instanceof CacheUnavailableError || this.#log('cannot write to the cache', err));
        }
        return { kind: 'buffer', body };
      }
      const disk = this.#disk!;
      let tmp = '';
      try {
        tmp = await disk.tmpPath();
        await this.#unchanged(source, () => this.#queue.run(cost, () => this.renderToFile(input.file, input.facts, plan, tmp)));
        const entry = await disk.adopt(key, '', tmp);
        return { kind: 'file', path: entry.path, size: entry.size };
      } catch (err) {
        if (tmp) await disk.discard(tmp);
        // The cache is full, read-only or gone (logged once by the cache): render into memory instead.
        if (disk.writeFailure(err)) return this.#produce(key, source, facts, plan, true);
        throw err;
      }
    } finally {
      unpinPyramid?.();
      unpinSource?.();
    }
  }

  /**
   * `work` reads the source: afterwards (also when it failed, e.g. on a half-written file) the
   * source must be as it was, else its result is discarded (SourceChangedError: retried once).
   */
  async #unchanged<T>(source: SourceFile, work: () => Promise<T>): Promise<T> {
    let out: T;
    try {
      out = await work();
    } catch (err) {
      await this.#sources.assertUnchanged?.(source);
      throw err;
    }
    await this.#sources.assertUnchanged?.(source);
    return out;
  }

  /** The stored JPEG tile `index` of `page` in `file`, as a complete JPEG; null if unusable. */
  async #readStoredTile(file: string, page: TiffPage, index: number): Promise<Buffer | null> {
    const offset = page.offsets[index]!;
    const length = page.counts[index]!;
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, 'r');
      const tile = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(tile, 0, length, offset);
      if (bytesRead !== length) return null;
      return assembleJpeg(tile, page.jpegTables, page.photometric);
    } catch {
      return null;
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  #wantsPyramid(facts: SourceFacts): boolean {
    return this.#pyramids !== undefined && this.#pyramids.wanted(facts);
  }

  /**
   * Build the pyramid derivative of image `id` ahead of any viewer (the `archive pyramids` stage,
   * src/lib/ingest/pyramids.ts): the same builder, key and cache as a first touch, which stays the
   * fallback. 'present' when the cache holds it already, 'not-needed' for a source that has random
   * access (a pyramid TIFF, a small JPEG); throws with the reason when it cannot be built (a source
   * that is missing or unreadable, a failed build: its message went to the server's log too).
   */
  async preparePyramid(id: string): Promise<'built' | 'present' | 'not-needed'> {
    const source = await this.#sources.resolve(id);
    const facts = await this.#factsOf(source);
    if (!this.#wantsPyramid(facts)) return 'not-needed';
    return this.#pyramids!.prepare(source, facts);
  }

  // -------------------------------------------------------------------------------------------
  // Source facts

  #factsOf(source: SourceFile): Promise<SourceFacts> {
    const key = source.version;
    let facts = this.#facts.get(key);
    if (!facts) {
      facts = (async () => {
        const unpin = this.#sources.pin?.(source);
        try {
          return await this.readFacts(await this.#sources.local(source));
        } finally {
          unpin?.();
        }
      })();
      this.#facts.set(key, facts);
      facts.catch(() => this.#facts.delete(key));
    }
    return facts;
  }

  /** Read size, orientation and pyramid levels of a file (uncached; see #factsOf). */
  readFacts(file: string): Promise<SourceFacts> {
    return readFacts(file, (m) => this.#log(m));
  }

  /** Render a resolved plan from the file at `file` into memory. Errors: IiifError 400 or a server fault. */
  render(file: string, facts: SourceFacts, plan: ImagePlan): Promise<Buffer> {
    return render(file, facts, plan, this.#maxInputPixels);
  }

  /** Render a resolved plan straight into the file `target` (large outputs: no buffer). */
  renderToFile(file: string, facts: SourceFacts, plan: ImagePlan, target: string): Promise<void> {
    return renderToFile(file, facts, plan, target, this.#maxInputPixels);
  }
}
