/**
 * The built-in IIIF Image API server (2.1 and 3.0), framework-free: `handle()` takes the path after
 * `/iiif/` and the request headers and returns status, headers and body. The only module that
 * imports sharp.
 *
 * Per request: parse (pure) -> look the id up and locate the file (source.ts) -> image facts from
 * an LRU keyed by path + mtime + size (one sharp metadata() per page on a miss, never again) ->
 * resolve the request into a plan (pure) -> ETag / 304 -> render from the FILE PATH (libvips reads
 * only the tiles or strips it needs; a stream would force a full decode) -> encode.
 *
 * Pyramids: sharp writes a pyramid TIFF as one page (IFD) per level, so metadata() of the file only
 * reports `pages`; the size of each level is `metadata()` with `{ page: n }`. OME-style pyramids
 * keep their levels in SubIFDs instead (`metadata().subifds`, opened with `{ tiff: { subifd: n } }`).
 * `metadata().levels` exists only for OpenSlide formats, which the prebuilt libvips does not
 * include. Both TIFF layouts are read here; the renderer picks the smallest level that still has at
 * least the requested output resolution and scales the region into it.
 *
 * Large JPEGs: sharp's shrink-on-load (decoding at 1/2, 1/4 or 1/8 in the DCT) only applies when
 * there is no extract before the resize, so a reduced region of a JPEG is rendered as "resize the
 * whole image, then extract the region from the result" (libvips is demand-driven: only the rows
 * down to the region are decoded, at the reduced scale).
 *
 * Errors: malformed requests, unknown ids and sizes over the limits are 400/404 with a sentence; a
 * libvips error caused by the request's values is 400; anything else is 500 and logged.
 */
import { createHash } from 'node:crypto';
import sharp, { type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { IiifError } from './errors.ts';
import { buildInfo, canonicalLinkHeader, infoContentType, profileLinkHeader } from './info.ts';
import {
  MEDIA_TYPES,
  parseRequest,
  resolveImageRequest,
  type Dimensions,
  type ImagePlan,
  type Limits,
  type Version,
} from './request.ts';
import { SourceResolver, type ImageLookup, type SourceFile } from './source.ts';
import { readTiffTileSize } from './tiff.ts';

/*
 * libvips threads per image: 1. Requests run in parallel on libuv's thread pool (4 threads by
 * default, UV_THREADPOOL_SIZE), which already keeps both cores of a small machine busy with tiles;
 * more threads per 512 px tile only add contention. (This is also sharp's own default on glibc
 * Linux without jemalloc, set explicitly so it does not depend on the allocator.)
 *
 * libvips operation cache: off. It is keyed by file name, so a file replaced in place (a new
 * delivery) could be served stale, and tiles of different regions rarely repeat; measured on this
 * machine, tile throughput was no better with it on. HTTP caching (ETag) is the cache here.
 */
sharp.concurrency(1);
sharp.cache(false);

/** Refuse to decode source images (or pyramid levels) with more pixels than this. */
export const DEFAULT_MAX_INPUT_PIXELS = 2 ** 30;
const CACHE_CONTROL = 'private, max-age=86400';
const REDIRECT_CACHE_CONTROL = 'private, max-age=3600';
/** Bumped when rendering changes, so old ETags stop matching. */
const RENDER_REVISION = '1';
const JPEG_QUALITY = 85;
const MAX_PYRAMID_PAGES = 32;

export interface ImageServerOptions {
  /** Root of the clean image tree. */
  root: string;
  maxWidth: number;
  maxHeight: number;
  maxArea: number;
  /** Identifier to record (`file` below the root), e.g. `(id) => store.getImage(id)`. */
  lookup: ImageLookup;
  /** Public base URL without trailing slash; ids are `${publicBaseUrl}/iiif/{2|3}/{id}`. */
  publicBaseUrl: string;
  maxInputPixels?: number;
  /** Entries of the image-facts cache. */
  metadataCacheSize?: number;
  log?: (message: string, err?: unknown) => void;
}

export interface IiifHttpRequest {
  method?: string;
  headers?: Headers | Record<string, string | undefined>;
}

export interface IiifResponse {
  status: number;
  headers: Record<string, string>;
  body?: Buffer | string;
}

export interface PyramidLevel {
  width: number;
  height: number;
  /** sharp input options selecting this level. */
  page?: number;
  subifd?: number;
}

/** What the server knows about one source file (cached per path + mtime + size). */
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

function header(headers: IiifHttpRequest['headers'], name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const rec = headers as Record<string, string | undefined>;
  const hit = Object.keys(rec).find((k) => k.toLowerCase() === name);
  return hit ? (rec[hit] ?? null) : null;
}

/** RFC 9110 If-None-Match (weak comparison). */
export function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  const mine = strip(etag);
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || strip(t) === mine);
}

function hashTag(...parts: Array<string | number>): string {
  return `"${createHash('sha1').update(parts.join('\0')).digest('base64url').slice(0, 27)}"`;
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

export class ImageServer {
  readonly #limits: Limits;
  readonly #base: string;
  readonly #sources: SourceResolver;
  readonly #facts: Lru<string, Promise<SourceFacts>>;
  readonly #maxInputPixels: number;
  readonly #log: (message: string, err?: unknown) => void;

  constructor(opts: ImageServerOptions) {
    this.#limits = { maxWidth: opts.maxWidth, maxHeight: opts.maxHeight, maxArea: opts.maxArea };
    this.#base = opts.publicBaseUrl.replace(/\/+$/, '');
    this.#log = opts.log ?? ((message, err) => console.error(`[iiif] ${message}`, err ?? ''));
    this.#sources = new SourceResolver({ root: opts.root, lookup: opts.lookup, warn: (m) => this.#log(m) });
    this.#facts = new Lru(opts.metadataCacheSize ?? 2000);
    this.#maxInputPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  }

  get limits(): Limits {
    return { ...this.#limits };
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
          return this.#info(parsed.version, parsed.id, source, facts, req);
        }
        case 'image': {
          const source = await this.#sources.resolve(parsed.id);
          const facts = await this.#factsOf(source);
          const resolved = resolveImageRequest(parsed, facts, this.#limits);
          if (resolved.kind === 'error') return this.#error(resolved.status, resolved.message);
          if (resolved.kind === 'redirect') return this.#redirect(resolved.location);
          return await this.#image(resolved.plan, source, facts, req);
        }
      }
    } catch (err) {
      if (err instanceof IiifError) return this.#error(err.status, err.message);
      this.#log(`internal error for /iiif/${path.slice(0, 300)}`, err);
      return this.#error(500, 'Internal server error');
    }
  }

  #error(status: number, message: string): IiifResponse {
    return {
      status,
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        'Access-Control-Allow-Origin': '*',
        'Cache-Control': 'no-store',
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
    const inm = header(req.headers, 'if-none-match');
    if (inm !== null) return etagMatches(inm, etag);
    const ims = header(req.headers, 'if-modified-since');
    if (ims) {
      const t = Date.parse(ims);
      if (!Number.isNaN(t) && Math.floor(mtimeMs / 1000) * 1000 <= t) return true;
    }
    return false;
  }

  #info(version: Version, id: string, source: SourceFile, facts: SourceFacts, req: IiifHttpRequest): IiifResponse {
    const doc = buildInfo(version, {
      id: this.serviceId(version, id),
      width: facts.width,
      height: facts.height,
      limits: this.#limits,
      tileSize: facts.tileSize,
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

  async #image(plan: ImagePlan, source: SourceFile, facts: SourceFacts, req: IiifHttpRequest): Promise<IiifResponse> {
    const canonical = `${this.serviceId(plan.version, plan.id)}/${plan.canonical}`;
    const etag = hashTag('image', RENDER_REVISION, plan.version, plan.id, source.mtimeMs, source.size, plan.canonical);
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
    const body = await this.render(source.path, facts, plan);
    return { status: 200, headers, body };
  }

  // -------------------------------------------------------------------------------------------
  // Source facts

  #factsOf(source: SourceFile): Promise<SourceFacts> {
    const key = `${source.path}\0${source.mtimeMs}\0${source.size}`;
    let facts = this.#facts.get(key);
    if (!facts) {
      facts = this.readFacts(source.path);
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
      throw new Error(`cannot read image ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const orientation = meta.orientation ?? 1;
    const swap = orientation >= 5 && orientation <= 8;
    const width = swap ? meta.height : meta.width;
    const height = swap ? meta.width : meta.height;
    let levels: PyramidLevel[] = [];
    let tileSize = 512;
    if (meta.format === 'tiff') {
      if (orientation === 1) levels = await this.#tiffLevels(file, meta);
      const tiles = await readTiffTileSize(file);
      if (tiles && tiles.width === tiles.height && tiles.width >= 256 && tiles.width <= 1024) tileSize = tiles.width;
    }
    return { width, height, format: meta.format, orientation, hasAlpha: meta.hasAlpha, levels, tileSize };
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

  /** Render a resolved plan from the file at `file`. Errors: IiifError 400 or a server fault. */
  async render(file: string, facts: SourceFacts, plan: ImagePlan): Promise<Buffer> {
    try {
      return await this.#pipeline(file, facts, plan).toBuffer();
    } catch (err) {
      if (err instanceof IiifError) throw err;
      if (isRequestCaused(err)) {
        throw new IiifError(400, `Cannot produce this image: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      throw err;
    }
  }

  #pipeline(file: string, facts: SourceFacts, plan: ImagePlan): Sharp {
    const { region, width: ow, height: oh } = plan;
    const level = chooseLevel(facts, plan);
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
        return img.jpeg({ quality: JPEG_QUALITY, mozjpeg: false });
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

