/**
 * Rendering with sharp (libvips): the ONE module of the image server that touches sharp. It reads
 * a file's facts (size, orientation, pyramid levels), renders a resolved plan into memory or into a
 * file, and writes pyramid derivatives. Everything it is told (which file, which level, which
 * region) was decided elsewhere: the plan by request.ts, the level and the region in the level's
 * pixels by request.ts (`chooseLevel`, `levelRegion`), whether and when to build a pyramid by
 * pyramid.ts / pyramids.ts.
 *
 * Rendering reads from the FILE PATH (libvips reads only the tiles or strips it needs; a stream
 * would force a full decode).
 *
 * Errors: a libvips error caused by the request's values is IiifError 400; a file that is not an
 * image libvips can read is 422 (the operator learns which file); anything else is passed on.
 */
import { promises as fs } from 'node:fs';
import sharp, { type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { IiifError } from './errors.ts';
import { PYRAMID_QUALITY } from './pyramid.ts';
import { chooseLevel, jpegShrinkOnLoad, levelRegion, type ImagePlan, type PyramidLevel, type SourceFacts } from './request.ts';
import { readTiffLayout, type TiffLayout } from './tiff.ts';

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
const JPEG_QUALITY = 85;
const MAX_PYRAMID_PAGES = 32;

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

/** A libvips/sharp error that the request's values provoked, as opposed to a bad source file. */
function isRequestCaused(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /bad extract area|extract_area|too large for the|Expected .* (integer|number)|Invalid (parameter|resize)|dimensions? (are|is) too large|exceeds .*(size|width|height) limit/i.test(
    m,
  );
}

/** Read size, orientation and pyramid levels of a file (uncached). */
export async function readFacts(file: string, log: (message: string) => void): Promise<SourceFacts> {
  let meta: Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (err) {
    if (!JP2_SUPPORTED && (await isJpeg2000(file))) {
      throw new Error(`cannot read image ${file}: JPEG 2000, which the libvips bundled with sharp cannot decode (no OpenJPEG); convert it to a tiled pyramid TIFF`);
    }
    // Not an image libvips can read (e.g. a symlink to a text file): the source's fault, not the
    // server's — the operator learns which file, the client a 422 without paths.
    log(`cannot read image ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
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
    if (orientation === 1) levels = await tiffLevels(file, meta);
    tiff = (await readTiffLayout(file)) ?? undefined;
    const first = tiff?.pages[0];
    if (first && first.tileWidth === first.tileHeight && first.tileWidth >= 256 && first.tileWidth <= 1024) tileSize = first.tileWidth;
  }
  return { width, height, format: meta.format, orientation, hasAlpha: meta.hasAlpha, levels, tileSize, channels: meta.channels, ...(tiff ? { tiff } : {}) };
}

async function tiffLevels(file: string, meta: Metadata): Promise<PyramidLevel[]> {
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

/** Render a resolved plan from the file at `file` into memory. Errors: IiifError 400 or a server fault. */
export async function render(file: string, facts: SourceFacts, plan: ImagePlan, maxInputPixels: number): Promise<Buffer> {
  try {
    return await pipeline(file, facts, plan, maxInputPixels).toBuffer();
  } catch (err) {
    throw renderError(err);
  }
}

/** Render a resolved plan straight into the file `target` (large outputs: no buffer). */
export async function renderToFile(file: string, facts: SourceFacts, plan: ImagePlan, target: string, maxInputPixels: number): Promise<void> {
  try {
    await pipeline(file, facts, plan, maxInputPixels).toFile(target);
  } catch (err) {
    throw renderError(err);
  }
}

function renderError(err: unknown): unknown {
  if (err instanceof IiifError) return err;
  if (isRequestCaused(err)) {
    return new IiifError(400, `Cannot produce this image: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  return err;
}

function pipeline(file: string, facts: SourceFacts, plan: ImagePlan, maxInputPixels: number): Sharp {
  const { region, width: ow, height: oh } = plan;
  const level = chooseLevel(facts, plan);
  const inputPixels = (level?.width ?? facts.width) * (level?.height ?? facts.height);
  if (inputPixels > maxInputPixels) {
    throw new IiifError(
      400,
      `This request needs the image at ${level ? 'a resolution' : 'full resolution'} of ${inputPixels} pixels, more than this server decodes (${maxInputPixels}); request a smaller size`,
    );
  }
  const opts: SharpOptions = { limitInputPixels: maxInputPixels, failOn: 'error' };
  if (level?.page !== undefined) opts.page = level.page;
  if (level?.subifd !== undefined) opts.tiff = { subifd: level.subifd };
  if (facts.orientation !== 1) opts.autoOrient = true;
  const img = sharp(file, opts);

  const lw = level?.width ?? facts.width;
  const lh = level?.height ?? facts.height;

  const onLoad = level ? undefined : jpegShrinkOnLoad(facts, plan);
  if (onLoad && onLoad.decode >= 2) {
    // Shrink-on-load: resize the whole image, then cut the region out of the result; its size is
    // rounded down so that libjpeg's shrink applies (1428 for 5710 / 4 would be a shrink of 3.999).
    const { sx, sy } = onLoad;
    const fw = Math.max(ow, Math.floor(facts.width * sx));
    const fh = Math.max(oh, Math.floor(facts.height * sy));
    const left = Math.min(Math.max(0, Math.round(region.x * sx)), fw - ow);
    const top = Math.min(Math.max(0, Math.round(region.y * sy)), fh - oh);
    img.resize(fw, fh, { fit: 'fill' }).extract({ left, top, width: ow, height: oh });
  } else {
    // Region in the level's pixels.
    const r = levelRegion(facts, region, lw, lh);
    if (r.x !== 0 || r.y !== 0 || r.w !== lw || r.h !== lh) img.extract({ left: r.x, top: r.y, width: r.w, height: r.h });
    if (r.w !== ow || r.h !== oh) img.resize(ow, oh, { fit: 'fill' });
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

export interface PyramidOptions {
  tileSize: number;
  maxInputPixels: number;
  autoOrient: boolean;
  quality?: number;
  /**
   * Lossless deflate tiles instead of JPEG: for lossless sources (PNG, TIFF), and for images wider
   * or taller than 65500 px, which libjpeg cannot take even tile by tile.
   */
  lossless?: boolean;
}

/**
 * Decode `input` once (sequentially: libvips streams the JPEG and builds every level as it goes,
 * so memory stays at a few strips per level) and write the pyramid TIFF to `output`.
 */
export async function writePyramid(input: string, output: string, opts: PyramidOptions): Promise<void> {
  await sharp(input, { limitInputPixels: opts.maxInputPixels, failOn: 'error', sequentialRead: true, autoOrient: opts.autoOrient })
    .tiff({
      tile: true,
      pyramid: true,
      tileWidth: opts.tileSize,
      tileHeight: opts.tileSize,
      ...(opts.lossless ? { compression: 'deflate', predictor: 'horizontal' } : { compression: 'jpeg', quality: opts.quality ?? PYRAMID_QUALITY }),
    })
    .toFile(output);
}
