/**
 * The built-in IIIF Image API server (2.1 and 3.0), framework-free: `handle()` takes the path after
 * `/iiif/` and the request headers and returns status, headers and body. The only module that
 * renders with sharp (pyramid.ts builds derivatives with it too).
 *
 * Per request: parse (pure) -> locate the source (source.ts / s3source.ts; answers reused for a
 * couple of seconds) -> image facts from an LRU keyed by the source's version (one metadata()
 * per page on a miss, never again) -> resolve the request into a plan (pure) -> ETag / 304 / HEAD
 * -> rendered bytes from the memory cache, else the disk cache, else ONE render per key at a time
 * (single-flight), through the bounded processing queue (queue.ts: at most N renders, a bounded
 * wait, 503 + Retry-After beyond) -> stored in the derivative cache (cache.ts).
 *
 * Rendering reads from the FILE PATH (libvips reads only the tiles or strips it needs; a stream
 * would force a full decode):
 *  - pyramid TIFF (pages or SubIFDs): the smallest level that still has the output's resolution;
 *  - plain JPEG: a tiled pyramid TIFF derivative is built in the cache on first touch (info.json
 *    or a region request; pyramid.ts), single-flight, and every later request reads from it.
 *    Tile requests wait for the build (it takes about a second for 24 MP); full-image requests
 *    (thumbnails) meanwhile use JPEG shrink-on-load directly: "resize the whole image, then
 *    extract the region from the result" (libvips decodes at 1/2, 1/4 or 1/8 in the DCT); for a
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
import sharp, { type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { CacheUnavailableError, DiskCache, MemoryCache, cacheKey } from './cache.ts';
import { IiifError, busy } from './errors.ts';
import { etagMatches, headerOf as header, isNotModified } from '../iiif/conditional.ts';
import { buildInfo, canonicalLinkHeader, infoContentType, profileLinkHeader } from './info.ts';
import { derivativeName, type DerivativeStore } from './derivative-store.ts';
import { PYRAMID_REVISION, buildBytes, buildPyramid, decodedBytes, decodesWhole, derivativeTile, pyramidWorthIt } from './pyramid.ts';
import { RenderQueue, type QueueOptions } from './queue.ts';
import {
  FORMAT_MAX_SIDE,
  MEDIA_TYPES,
  parseRequest,
  resolveImageRequest,
  type Dimensions,
  type ImagePlan,
  type Limits,
  type Version,
} from './request.ts';
import { SourceChangedError, SourceResolver, type ImageLookup, type ImageSource, type SourceFile } from './source.ts';
import { assembleJpeg, jpegTilesUsable, readTiffLayout, type TiffLayout, type TiffPage } from './tiff.ts';

/*
 * libvips threads per image: 1. Requests run in parallel (the queue admits as many renders as
 * there are cores), each on a libuv pool thread driving one libvips worker; more threads per
 * 512 px tile only add contention. (This is also sharp's own default on glibc Linux without
 * jemalloc, set explicitly so it does not depend on the allocator.)
 *
 * libvips operation cache: off. It is keyed by file name, so a file replaced in place (a new
 * delivery) could be served stale, and tiles of different regions rarely repeat; measured on this
 * machine, tile throughput was no better with it on. The derivative cache is the cache here.
 */
sharp.concurrency(1);
sharp.cache(false);

/** Refuse to decode source images (or pyramid levels) with more pixels than this. */
export const DEFAULT_MAX_INPUT_PIXELS = 2 ** 30;
const CACHE_CONTROL = 'private, max-age=86400';
const REDIRECT_CACHE_CONTROL = 'private, max-age=3600';
/** Bumped when rendering changes, so old ETags stop matching and old cache entries age out. */
const RENDER_REVISION = '2';
const JPEG_QUALITY = 85;
const MAX_PYRAMID_PAGES = 32;
const MB = 1024 * 1024;
/** Outputs estimated above this are encoded to a file and streamed, not buffered. */
const STREAM_OVER_BYTES = 8 * MB;
/** Tile requests wait for a JPEG's pyramid when the source has at most this many pixels. */
const WAIT_FOR_PYRAMID_PIXELS = 120_000_000;
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
  /** IIIF Authorization Flow 2.0 services to advertise in info.json (probe per image; src/lib/access). */
  auth?: { context: string; services: (id: string) => Record<string, unknown>[] };
}

export interface IiifHttpRequest {
  method?: string;
  headers?: Headers | Record<string, string | string[] | undefined>;
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

export interface PyramidLevel {
  width: number;
  height: number;
  /** sharp input options selecting this level. */
  page?: number;
  subifd?: number;
}

/** What the server knows about one source file (cached per source version). */
export interface SourceFacts {
  width: number;
  height: number;
  format: string;
  /** EXIF orientation (1 = none); 5..8 swap width and height. */
  orientation: number;
  hasAlpha: boolean;
  /** Reduced-resolution levels, largest first, excluding the full-resolution image. */
  levels: PyramidLevel[];
  /** Tile edge for info.json. */
  tileSize: number;
  /** Bands of the decoded image (for memory estimates). */
  channels?: number;
  /** Pages and tile tables of a TIFF (for sending stored JPEG tiles as they are). */
  tiff?: TiffLayout;
}

class Lru<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();
  constructor(max: number) {
    this.#max = max;
  }
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }
  delete(key: K): void {
    this.#map.delete(key);
  }
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

/** A libvips/sharp error that the request's values provoked, as opposed to a bad source file. */
function isRequestCaused(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /bad extract area|extract_area|too large for the|Expected .* (integer|number)|Invalid (parameter|resize)|dimensions? (are|is) too large|exceeds .*(size|width|height) limit/i.test(
    m,
  );
}

/**
 * The pyramid level to read for a plan: the smallest whose copy of the region still has at least
 * the output's resolution (0.5 % slack for the rounding of odd sizes when levels are halved), or
 * undefined for the full-resolution image.
 */
export function chooseLevel(facts: Pick<SourceFacts, 'width' | 'height' | 'levels'>, plan: Pick<ImagePlan, 'region' | 'width' | 'height'>): PyramidLevel | undefined {
  let level: PyramidLevel | undefined;
  for (const l of facts.levels) {
    const rw = (plan.region.w * l.width) / facts.width;
    const rh = (plan.region.h * l.height) / facts.height;
    if (rw >= plan.width * 0.995 - 1e-6 && rh >= plan.height * 0.995 - 1e-6) level = l;
  }
  return level;
}

/**
 * The stored tile that IS the answer to `plan`, when there is one: a JPEG tile of a tiled TIFF
 * page whose pixels are exactly the requested region at the requested size (the one the renderer
 * would decode, not resize, and re-encode), requested as jpg in default or color quality without
 * rotation or mirroring, from an sRGB file. Then the server sends the stored bytes (with the shared
 * tables put back in front) instead of decoding and encoding: no pixel is changed, only the JPEG
 * quality is the file's own instead of the server's.
 */
export function storedTile(facts: SourceFacts, plan: ImagePlan): { page: TiffPage; index: number } | null {
  if (!facts.tiff || plan.format !== 'jpg' || plan.rotation !== 0 || plan.mirror || facts.orientation !== 1) return null;
  if (plan.quality !== 'default' && plan.quality !== 'color') return null;
  const level = chooseLevel(facts, plan);
  const page = level ? (level.page !== undefined ? facts.tiff.pages[level.page] : facts.tiff.subifds[level.subifd ?? -1]) : facts.tiff.pages[0];
  const lw = level?.width ?? facts.width;
  const lh = level?.height ?? facts.height;
  if (!page || page.width !== lw || page.height !== lh || !jpegTilesUsable(page)) return null;
  // The same region arithmetic as the renderer.
  const { region } = plan;
  const fx = lw / facts.width;
  const fy = lh / facts.height;
  const x0 = Math.min(lw - 1, Math.floor(region.x * fx));
  const y0 = Math.min(lh - 1, Math.floor(region.y * fy));
  const x1 = Math.max(x0 + 1, Math.min(lw, Math.round((region.x + region.w) * fx)));
  const y1 = Math.max(y0 + 1, Math.min(lh, Math.round((region.y + region.h) * fy)));
  const tw = page.tileWidth;
  const th = page.tileHeight;
  if (x1 - x0 !== plan.width || y1 - y0 !== plan.height) return null;
  if (plan.width !== tw || plan.height !== th || x0 % tw !== 0 || y0 % th !== 0) return null;
  const index = (y0 / th) * Math.ceil(page.width / tw) + x0 / tw;
  const length = page.counts[index] ?? 0;
  if (!(length > 0 && length <= 16 * MB)) return null;
  return { page, index };
}

/** Whether this libvips reads JPEG 2000 (sharp's prebuilt binaries do not include OpenJPEG). */
export const JP2_SUPPORTED = Boolean((sharp.format as unknown as Record<string, { input?: { file?: boolean } } | undefined>).jp2k?.input?.file);

/** JP2 box signature or a raw J2K codestream. */
async function isJpeg2000(file: string): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const b = Buffer.alloc(12);
    await handle.read(b, 0, 12, 0);
    return b.subarray(4, 8).toString('latin1') === 'jP  ' || (b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51);
  } catch {
    return false;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Encoded bytes per output pixel, pessimistic (noise), for deciding buffer vs file. */
const BYTES_PER_PIXEL: Record<string, number> = { jpg: 1, webp: 1, gif: 1.2, png: 3.2, tif: 3.2 };

/** Rough size of an encoded output. */
export function estimateOutputBytes(plan: Pick<ImagePlan, 'outputWidth' | 'outputHeight' | 'format' | 'quality'>): number {
  const px = plan.outputWidth * plan.outputHeight;
  const f = plan.quality === 'bitonal' || plan.quality === 'gray' ? 0.4 : 1;
  return px * (BYTES_PER_PIXEL[plan.format] ?? 3.2) * f;
}

/**
 * Working memory of one render, an estimate for the queue's budget: libvips buffers and the tile
 * or strip caches of the input (a few rows of tiles across the region), a rotation's whole image
 * (libvips must hold the scaled image, and its rotated copy, to turn it), and the output when it
 * is encoded to memory, and an EXIF-rotated source's whole decoded image.
 */
export function estimateRenderBytes(
  facts: Pick<SourceFacts, 'width' | 'height' | 'levels' | 'channels'> & { orientation?: number; format?: string; tiff?: unknown },
  plan: ImagePlan,
  toMemory: boolean,
): number {
  const bands = Math.max(3, facts.channels ?? 3);
  const level = chooseLevel(facts, plan);
  // An EXIF-rotated source is turned upright before anything else: libvips holds all of it.
  const orient = (facts.orientation ?? 1) !== 1 ? facts.width * facts.height * bands : 0;
  // PNG, GIF, WebP and striped TIFF have no random access: libvips decodes all of it.
  const whole = !level && facts.format !== undefined && decodesWhole({ format: facts.format, levels: facts.levels, tiff: facts.tiff }) ? facts.width * facts.height * bands : 0;
  const scale = (level?.width ?? facts.width) / facts.width;
  const readWidth = Math.min(plan.region.w * scale, level?.width ?? facts.width);
  // Three rows of 512 px tiles (or JPEG strips) across the region, and the scaled image's strips.
  const input = readWidth * 512 * bands * 3 + plan.width * 64 * bands;
  const rotate = plan.rotation !== 0 ? (plan.width * plan.height + plan.outputWidth * plan.outputHeight) * (bands + 1) : 0;
  const output = toMemory ? estimateOutputBytes(plan) * 2 : 4 * MB;
  return 8 * MB + input + rotate + output + Math.max(orient, whole);
}

interface HotEntry {
  key: string;
  checked: number;
  mtimeMs: number;
  headers: Record<string, string>;
}

type Rendered = { kind: 'buffer'; body: Buffer } | { kind: 'file'; path: string; size: number };

export class ImageServer {
  readonly #limits: Limits;
  readonly #base: string;
  readonly #sources: ImageSource;
  readonly #facts: Lru<string, Promise<SourceFacts>>;
  readonly #maxInputPixels: number;
  readonly #log: (message: string, err?: unknown) => void;
  readonly #disk: DiskCache | undefined;
  readonly #mem: MemoryCache;
  readonly #cacheRenders: boolean;
  readonly #pyramids: boolean;
  readonly #passthrough: boolean;
  readonly #queue: RenderQueue;
  /**
   * Source versions whose pyramid build failed: when it may be tried again (a back-off from 1 min
   * doubling to 1 h, so a passing fault does not disable deep zoom until restart) and the delay.
   */
  readonly #pyramidFailed = new Lru<string, { until: number; backoff: number }>(1000);
  readonly #flights = new Map<string, Promise<unknown>>();
  /** Raw request path -> its rendering in the memory cache (see #fromHot). */
  readonly #hot = new Lru<string, HotEntry>(20_000);
  readonly #hotTtlMs: number;
  /** Durations of the last pyramid builds (ms), for the benchmark and the operator. */
  readonly #buildMs: number[] = [];
  readonly #auth: ImageServerOptions['auth'];
  readonly #derivatives: DerivativeStore | undefined;
  /** Pyramids built here, and pyramids fetched from the shared derivative store instead. */
  #pyramidBuilds = 0;
  #pyramidsShared = 0;

  constructor(opts: ImageServerOptions) {
    this.#auth = opts.auth;
    this.#derivatives = opts.derivatives;
    this.#base = opts.publicBaseUrl.replace(/\/+$/, '');
    this.#log = opts.log ?? ((message, err) => console.error(`[iiif] ${message}`, err ?? ''));
    this.#limits = deliverableLimits({ maxWidth: opts.maxWidth, maxHeight: opts.maxHeight, maxArea: opts.maxArea }, (m) => this.#log(m));
    if (opts.source) this.#sources = opts.source;
    else {
      if (!opts.root || !opts.lookup) throw new Error('ImageServer needs a source, or root and lookup');
      this.#sources = new SourceResolver({ root: opts.root, lookup: opts.lookup, warn: (m) => this.#log(m), ttlMs: opts.sourceTtlMs });
    }
    this.#facts = new Lru(opts.metadataCacheSize ?? 2000);
    this.#maxInputPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
    this.#disk = opts.cache ?? (opts.cacheDir ? new DiskCache({ dir: opts.cacheDir, maxBytes: opts.cacheMaxBytes ?? 2 * 1024 * MB, log: this.#log }) : undefined);
    this.#mem = new MemoryCache(opts.memoryCacheBytes ?? 32 * MB);
    this.#cacheRenders = opts.cacheRenders ?? true;
    this.#pyramids = (opts.pyramids ?? true) && this.#disk !== undefined;
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
    return {
      pyramidBuilds: this.#pyramidBuilds,
      pyramidsShared: this.#pyramidsShared,
      queue: this.#queue.stats(),
      cacheBytes: this.#disk?.bytes ?? 0,
      cacheEntries: this.#disk?.entries ?? 0,
      memoryCacheBytes: this.#mem.bytes,
      pyramidBuildsMs: this.#buildMs.slice(-20),
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
    if (hot && performance.now() - hot.checked < this.#hotTtlMs) {
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
          const source = await this.#sources.resolve(parsed.id);
          const facts = await this.#factsOf(source);
          // A viewer opening a plain JPEG will ask for tiles next: start its pyramid (when idle).
          if (this.#wantsPyramid(facts)) this.#startPyramid(source, facts, true);
          return this.#info(parsed.version, parsed.id, source, facts, req);
        }
        case 'image': {
          const source = await this.#sources.resolve(parsed.id);
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
    this.#hot.set(path, { key, checked: performance.now(), mtimeMs: source.mtimeMs, headers: { ...headers } });
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
        const pyr = await this.#pyramidFor(source, facts, local, plan);
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
        if (tmp) await fs.rm(tmp, { force: true }).catch(() => {});
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

  // -------------------------------------------------------------------------------------------
  // Pyramid derivatives of plain JPEGs

  #wantsPyramid(facts: SourceFacts): boolean {
    return this.#pyramids && pyramidWorthIt(facts);
  }

  #pyramidBlocked(version: string): boolean {
    const f = this.#pyramidFailed.get(version);
    return f !== undefined && performance.now() < f.until;
  }

  #pyramidKey(source: SourceFile, facts: SourceFacts): string {
    return cacheKey('pyramid', PYRAMID_REVISION, source.version, facts.tileSize);
  }

  /**
   * The pyramid derivative to render `plan` from, pinned; or null to render from the source.
   * Missing: region requests wait for the build (single-flight) unless the source is very large;
   * whole-image requests (thumbnails) do not, they only start it when the server is idle.
   */
  async #pyramidFor(
    source: SourceFile,
    facts: SourceFacts,
    local: string,
    plan: ImagePlan,
  ): Promise<{ file: string; facts: SourceFacts; unpin: () => void } | null> {
    const disk = this.#disk!;
    const key = this.#pyramidKey(source, facts);
    if (this.#pyramidBlocked(source.version)) return null;
    // Found and pinned in one step (acquire): never evicted or deleted before the render reads it.
    let entry = await disk.acquire(key);
    if (!entry) {
      // A source that decodes whole (huge PNG, striped TIFF), or a JPEG so large that its build
      // and a render from the source together would exceed a small machine's memory: every
      // request waits for the pyramid, thumbnails too.
      const whole = facts.format !== 'jpeg' || facts.width * facts.height > WAIT_FOR_PYRAMID_PIXELS;
      const wait = whole || !plan.fullRegion;
      if (!wait) {
        // Thumbnails of a JPEG do not start a build (a search page would build one per result).
        return null;
      }
      const built = await this.#startPyramid(source, facts, false, local);
      if (!built) {
        if (whole && !this.#pyramidFailed.get(source.version)) throw busy('The image is being prepared; try again shortly', 5);
        return null;
      }
      entry = await disk.acquire(key);
      if (!entry) return null;
    }
    const unpin = entry.release;
    try {
      const pf = await this.#pyramidFacts(key, entry.path);
      return { file: entry.path, facts: pf, unpin };
    } catch (err) {
      unpin();
      this.#log(`unusable pyramid derivative for ${source.id}; rendering from the source`, err);
      await disk.remove(key);
      return null;
    }
  }

  #pyramidFacts(key: string, file: string): Promise<SourceFacts> {
    const fk = `pyramid\0${key}`;
    let f = this.#facts.get(fk);
    if (!f) {
      f = this.readFacts(file);
      this.#facts.set(fk, f);
      f.catch(() => this.#facts.delete(fk));
    }
    return f;
  }

  /**
   * Build the pyramid of `source` once (single-flight per source version). `background`: only when
   * the queue can start it at once, never waited for, errors only logged. Resolves true when built.
   */
  #startPyramid(source: SourceFile, facts: SourceFacts, background: boolean, local?: string): Promise<boolean> {
    const disk = this.#disk;
    if (!disk || this.#pyramidBlocked(source.version)) return Promise.resolve(false);
    const key = this.#pyramidKey(source, facts);
    if (disk.peek(key)) return Promise.resolve(true);
    const flightKey = `pyramid\0${key}`;
    const running = this.#flights.get(flightKey) as Promise<boolean> | undefined;
    if (running) return running;
    if (background && (this.#queue.stats().waiting > 0 || this.#queue.stats().running >= 1)) return Promise.resolve(false);
    const build = async (): Promise<boolean> => {
      const unpin = this.#sources.pin?.(source);
      let tmp = '';
      try {
        tmp = await disk.tmpPath('.tif');
        const tileSize = derivativeTile(facts);
        // Built by another process already (shared derivative store): fetched, checked like a build.
        const shared = this.#derivatives && derivativeName('pyramid', PYRAMID_REVISION, tileSize, source.version, source.size, '.tif');
        if (shared && (await this.#derivatives!.get(shared, tmp))) {
          const got = await this.readFacts(tmp).catch(() => null);
          if (got && got.width === facts.width && got.height === facts.height && got.levels.length > 0) {
            await disk.adopt(key, '.tif', tmp);
            this.#pyramidsShared++;
            return true;
          }
          this.#log(`the shared pyramid ${shared} for ${source.id} is unusable; building it here`);
          await fs.rm(tmp, { force: true });
        }
        const file = local ?? (await this.#sources.local(source));
        const t0 = performance.now();
        const upright = facts.orientation !== 1 ? decodedBytes(facts) : 0;
        // JPEG tiles for JPEG sources up to libjpeg's 65500 px; lossless deflate otherwise.
        const lossless = facts.format !== 'jpeg' || Math.max(facts.width, facts.height) > 65500;
        // Ahead of the waiting renders: the tiles waiting for this pyramid are not in the queue.
        await this.#queue.run(
          buildBytes({ ...facts, tileSize }) + upright,
          () => buildPyramid(file, tmp, { tileSize, maxInputPixels: this.#maxInputPixels, autoOrient: facts.orientation !== 1, lossless }),
          { first: !background },
        );
        await this.#sources.assertUnchanged?.(source);
        const built = await this.readFacts(tmp);
        if (built.width !== facts.width || built.height !== facts.height || built.levels.length === 0) {
          throw new Error(`derivative is ${built.width}x${built.height} with ${built.levels.length} levels, expected ${facts.width}x${facts.height}`);
        }
        // Pinned while it is uploaded to the shared store (eviction must not delete it first).
        const unpinBuilt = shared ? disk.pin(key) : undefined;
        try {
          const entry = await disk.adopt(key, '.tif', tmp);
          this.#buildMs.push(performance.now() - t0);
          this.#pyramidBuilds++;
          if (shared) await this.#derivatives!.put(shared, entry.path);
        } finally {
          unpinBuilt?.();
        }
        return true;
      } catch (err) {
        if (tmp) await fs.rm(tmp, { force: true });
        if (err instanceof IiifError && err.status === 503) return false; // busy, or the source changed: try again later
        if (disk.writeFailure(err)) return false; // logged once by the cache; tried again when it works
        const backoff = Math.min(3_600_000, (this.#pyramidFailed.get(source.version)?.backoff ?? 30_000) * 2);
        this.#pyramidFailed.set(source.version, { until: performance.now() + backoff, backoff });
        this.#log(`cannot build a pyramid for ${source.id}; rendering from the source (next try in ${Math.round(backoff / 60_000)} min)`, err);
        return false;
      } finally {
        unpin?.();
      }
    };
    const p = this.#singleFlight(flightKey, build);
    if (background) p.catch(() => {});
    return p;
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
  async readFacts(file: string): Promise<SourceFacts> {
    let meta: Metadata;
    try {
      meta = await sharp(file).metadata();
    } catch (err) {
      if (!JP2_SUPPORTED && (await isJpeg2000(file))) {
        throw new Error(`cannot read image ${file}: JPEG 2000, which the libvips bundled with sharp cannot decode (no OpenJPEG); convert it to a tiled pyramid TIFF`);
      }
      // Not an image libvips can read (e.g. a symlink to a text file): the source's fault, not the
      // server's — the operator learns which file, the client a 422 without paths.
      this.#log(`cannot read image ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      throw new IiifError(422, 'The source of this image cannot be read as an image');
    }
    const orientation = meta.orientation ?? 1;
    const swap = orientation >= 5 && orientation <= 8;
    const width = swap ? meta.height : meta.width;
    const height = swap ? meta.width : meta.height;
    let levels: PyramidLevel[] = [];
    let tileSize = 512;
    let tiff: TiffLayout | undefined;
    if (meta.format === 'tiff') {
      if (orientation === 1) levels = await this.#tiffLevels(file, meta);
      tiff = (await readTiffLayout(file)) ?? undefined;
      const first = tiff?.pages[0];
      if (first && first.tileWidth === first.tileHeight && first.tileWidth >= 256 && first.tileWidth <= 1024) tileSize = first.tileWidth;
    }
    return { width, height, format: meta.format, orientation, hasAlpha: meta.hasAlpha, levels, tileSize, channels: meta.channels, ...(tiff ? { tiff } : {}) };
  }

  async #tiffLevels(file: string, meta: Metadata): Promise<PyramidLevel[]> {
    const W = meta.width;
    const H = meta.height;
    // A level keeps the aspect ratio (within the rounding of repeated halving) and is smaller.
    const isLevel = (w: number, h: number, prevW: number) =>
      w < prevW && Math.abs(w * H - h * W) <= 2 * Math.max(W, H) && Math.abs(w / W - h / H) < 0.02;
    const levels: PyramidLevel[] = [];
    const collect = async (count: number, opts: (i: number) => SharpOptions, start: number) => {
      let prevW = W;
      for (let i = start; i < Math.min(count, MAX_PYRAMID_PAGES); i++) {
        let m: Metadata;
        try {
          m = await sharp(file, opts(i)).metadata();
        } catch {
          break;
        }
        if (!isLevel(m.width, m.height, prevW)) break;
        const o = opts(i);
        levels.push({ width: m.width, height: m.height, ...(o.page !== undefined ? { page: i } : { subifd: i }) });
        prevW = m.width;
      }
    };
    if (meta.subifds && meta.subifds > 0) {
      await collect(meta.subifds, (i) => ({ tiff: { subifd: i } }), 0);
    } else if (meta.pages && meta.pages > 1) {
      await collect(meta.pages, (i) => ({ page: i }), 1);
    }
    return levels;
  }

  // -------------------------------------------------------------------------------------------
  // Rendering

  /** Render a resolved plan from the file at `file` into memory. Errors: IiifError 400 or a server fault. */
  async render(file: string, facts: SourceFacts, plan: ImagePlan): Promise<Buffer> {
    try {
      return await this.#pipeline(file, facts, plan).toBuffer();
    } catch (err) {
      throw this.#renderError(err);
    }
  }

  /** Render a resolved plan straight into the file `target` (large outputs: no buffer). */
  async renderToFile(file: string, facts: SourceFacts, plan: ImagePlan, target: string): Promise<void> {
    try {
      await this.#pipeline(file, facts, plan).toFile(target);
    } catch (err) {
      throw this.#renderError(err);
    }
  }

  #renderError(err: unknown): unknown {
    if (err instanceof IiifError) return err;
    if (isRequestCaused(err)) {
      return new IiifError(400, `Cannot produce this image: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    return err;
  }

  #pipeline(file: string, facts: SourceFacts, plan: ImagePlan): Sharp {
    const { region, width: ow, height: oh } = plan;
    const level = chooseLevel(facts, plan);
    const inputPixels = (level?.width ?? facts.width) * (level?.height ?? facts.height);
    if (inputPixels > this.#maxInputPixels) {
      throw new IiifError(
        400,
        `This request needs the image at ${level ? 'a resolution' : 'full resolution'} of ${inputPixels} pixels, more than this server decodes (${this.#maxInputPixels}); request a smaller size`,
      );
    }
    const opts: SharpOptions = { limitInputPixels: this.#maxInputPixels, failOn: 'error' };
    if (level?.page !== undefined) opts.page = level.page;
    if (level?.subifd !== undefined) opts.tiff = { subifd: level.subifd };
    if (facts.orientation !== 1) opts.autoOrient = true;
    const img = sharp(file, opts);

    const lw = level?.width ?? facts.width;
    const lh = level?.height ?? facts.height;
    const shrink = Math.min(region.w / ow, region.h / oh);
    const simple = !plan.mirror && plan.rotation === 0 && facts.orientation === 1;

    if (!level && facts.format === 'jpeg' && !plan.fullRegion && shrink >= 2 && simple) {
      // Shrink-on-load: resize the whole image, then cut the region out of the result.
      const sx = ow / region.w;
      const sy = oh / region.h;
      const fw = Math.max(ow, Math.round(facts.width * sx));
      const fh = Math.max(oh, Math.round(facts.height * sy));
      const left = Math.min(Math.max(0, Math.round(region.x * sx)), fw - ow);
      const top = Math.min(Math.max(0, Math.round(region.y * sy)), fh - oh);
      img.resize(fw, fh, { fit: 'fill' }).extract({ left, top, width: ow, height: oh });
    } else {
      // Region in the level's pixels.
      const fx = lw / facts.width;
      const fy = lh / facts.height;
      const x0 = Math.min(lw - 1, Math.floor(region.x * fx));
      const y0 = Math.min(lh - 1, Math.floor(region.y * fy));
      const x1 = Math.max(x0 + 1, Math.min(lw, Math.round((region.x + region.w) * fx)));
      const y1 = Math.max(y0 + 1, Math.min(lh, Math.round((region.y + region.h) * fy)));
      const ew = x1 - x0;
      const eh = y1 - y0;
      if (x0 !== 0 || y0 !== 0 || ew !== lw || eh !== lh) img.extract({ left: x0, top: y0, width: ew, height: eh });
      if (ew !== ow || eh !== oh) img.resize(ow, oh, { fit: 'fill' });
    }

    const transparent = plan.format !== 'jpg';
    if (facts.hasAlpha && !transparent) img.flatten({ background: '#ffffff' });
    if (plan.mirror) img.flop();
    if (plan.rotation !== 0) {
      img.rotate(plan.rotation, { background: transparent ? { r: 0, g: 0, b: 0, alpha: 0 } : '#ffffff' });
    }
    // grayscale()/threshold() alone still write three sRGB channels in sharp 0.35; b-w writes one.
    if (plan.quality === 'gray') img.grayscale().toColourspace('b-w');
    else if (plan.quality === 'bitonal') img.threshold(128, { grayscale: true }).toColourspace('b-w');

    switch (plan.format) {
      case 'jpg':
        return img.jpeg({ quality: JPEG_QUALITY, mozjpeg: false, optimiseCoding: false });
      case 'png':
        return img.png({ compressionLevel: 6 });
      case 'webp':
        return img.webp({ quality: 80, effort: 2 });
      case 'tif':
        return img.tiff({ compression: 'lzw' });
      case 'gif':
        return img.gif();
    }
  }
}

