/**
 * IIIF Image API 2.1 and 3.0 requests, without any I/O: the path after `/iiif/` is parsed into an
 * information request, an image request or a redirect (`parseRequest`), and an image request is
 * resolved against the image's pixel size and the server's limits into an exact rendering plan
 * (`resolveImageRequest`): source region, output size, mirroring, rotation, quality, format and
 * the canonical form of the request (for the `Link: rel="canonical"` header and the ETag).
 *
 * Neither function throws: every outcome, errors included, is a value, and every error is a 400
 * (bad syntax, out-of-range values, sizes over the limits), a 404 (unknown version or an
 * identifier that cannot exist) or a 501.
 *
 * What comes from `iiif-processor/calculator` and what does not:
 *  - its grammar (`Calculator._validator`) is the syntax check for region, size and rotation of
 *    each version: v3 drops `full` from the sizes and allows the `^` prefix, v2 does not;
 *  - its region arithmetic (`full`, `square` centred, `pct:` floored, `x,y,w,h`, cropped at the
 *    image edge, 400 for zero widths and for an origin beyond the image) and its rotation parser
 *    (`!` = mirror first) are used as they are;
 *  - the size is computed here, because the calculator's does not fit: it leaves `!w,h` unresolved
 *    (no output size to check against the limits or to put in a canonical URL), it floors where
 *    the aspect ratio is derived, v3 `max`/`^max` ignore the limits unless given its `max` option,
 *    and that option scales every size by the ratio of the *whole image* to the limits, which
 *    would shrink each full-resolution tile of a large image.
 *
 * The region arithmetic on the source's pyramid levels lives here too (`chooseLevel`,
 * `levelRegion`, `storedTile`): which level a plan reads, and which pixels of that level it covers.
 */
import Calculators from 'iiif-processor/calculator';
import { IMAGE_ID_RE } from '../domain.ts';
import { IiifError, badRequest, noSuchImage, notFound, quote } from './errors.ts';
import { jpegTilesUsable, type TiffLayout, type TiffPage } from './tiff.ts';

export type Version = 2 | 3;

export const QUALITIES = ['default', 'color', 'gray', 'bitonal'] as const;
export type Quality = (typeof QUALITIES)[number];

/** Output formats this server writes (libvips as bundled with sharp writes all of them). */
export const FORMATS = ['jpg', 'png', 'webp', 'tif', 'gif'] as const;
export type Format = (typeof FORMATS)[number];

export const MEDIA_TYPES: Record<Format, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  tif: 'image/tiff',
  gif: 'image/gif',
};

/**
 * Largest side each encoder can write: libjpeg refuses more than 65500 (JPEG_MAX_DIMENSION), GIF
 * has 16-bit sizes, WebP 14-bit. Checked before rendering (400 naming the limit); the server's
 * maxWidth/maxHeight are clamped to the default format's (jpg) so info.json never advertises a
 * size or a `max` that the default format cannot deliver.
 */
export const FORMAT_MAX_SIDE: Record<Format, number> = {
  jpg: 65500,
  png: 2 ** 31 - 1,
  webp: 16383,
  tif: 2 ** 31 - 1,
  gif: 65535,
};

/** Formats the specifications name that this server does not write. */
const UNSUPPORTED_FORMATS = new Set(['jp2', 'pdf', 'jpeg', 'tiff']);

/** Longest path after `/iiif/` worth looking at (an id is at most 128 characters). */
export const MAX_PATH_LENGTH = 1024;

export interface Limits {
  maxWidth: number;
  maxHeight: number;
  maxArea: number;
}

export interface Dimensions {
  width: number;
  height: number;
}

/** The five image-request parameters, percent-decoded and syntactically valid. */
export interface ImageParams {
  region: string;
  size: string;
  rotation: string;
  quality: Quality;
  format: Format;
}

export interface ErrorResult {
  kind: 'error';
  status: number;
  message: string;
}

export interface RedirectResult {
  kind: 'redirect';
  status: 303;
  /** Target below the `/iiif/` prefix, already percent-encoded, e.g. `3/abc/info.json`. */
  location: string;
}

export interface InfoRequest {
  kind: 'info';
  version: Version;
  id: string;
}

export interface ImageRequest {
  kind: 'image';
  version: Version;
  id: string;
  params: ImageParams;
}

export type ParsedRequest = InfoRequest | ImageRequest | RedirectResult | ErrorResult;

export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Everything the renderer needs, in pixels of the full image and of the output. */
export interface ImagePlan {
  version: Version;
  id: string;
  region: Region;
  /** The region is the whole image. */
  fullRegion: boolean;
  /** Scaled size, before rotation. */
  width: number;
  height: number;
  mirror: boolean;
  /** Clockwise degrees, 0 <= rotation < 360. */
  rotation: number;
  quality: Quality;
  format: Format;
  /** Size of the returned image (the bounding box after rotation). */
  outputWidth: number;
  outputHeight: number;
  /** Canonical `{region}/{size}/{rotation}/{quality}.{format}` for this image and version. */
  canonical: string;
}

export type Resolution = { kind: 'image'; plan: ImagePlan } | RedirectResult | ErrorResult;

type CalculatorClass = (typeof Calculators)[Version];

/** Anchored grammar of one parameter, taken from the calculator of that version. */
const GRAMMAR: Record<Version, Record<'region' | 'size' | 'rotation', RegExp>> = {
  2: grammarOf(Calculators[2]),
  3: grammarOf(Calculators[3]),
};

function grammarOf(calc: CalculatorClass): Record<'region' | 'size' | 'rotation', RegExp> {
  const re = (key: 'region' | 'size' | 'rotation') => new RegExp(`^${calc._validator(key)}$`);
  return { region: re('region'), size: re('size'), rotation: re('rotation') };
}

function decodeOnce(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`The ${what} is not correctly percent-encoded: ${quote(segment)}`);
  }
}

function fail(err: unknown): ErrorResult {
  if (err instanceof IiifError) return { kind: 'error', status: err.status, message: err.message };
  // Anything else is a bug in this module; still an answer, never a throw.
  return { kind: 'error', status: 400, message: `Invalid request: ${err instanceof Error ? err.message : String(err)}` };
}

/**
 * Parse the path after `/iiif/` (as it appeared in the URL, still percent-encoded), e.g.
 * `3/abc/info.json`, `2/abc/full/max/0/default.jpg` or `3/abc`.
 */
export function parseRequest(path: string): ParsedRequest {
  try {
    return parse(path);
  } catch (err) {
    return fail(err);
  }
}

function parse(rawPath: string): ParsedRequest {
  if (rawPath.length > MAX_PATH_LENGTH) throw badRequest('Request path is too long');
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  const [versionSeg, idSeg, ...rest] = path.split('/');
  if (versionSeg !== '2' && versionSeg !== '3') {
    throw notFound(`Unknown IIIF Image API version ${quote(versionSeg ?? '')}: use /iiif/2/ or /iiif/3/`);
  }
  const version: Version = versionSeg === '2' ? 2 : 3;
  if (idSeg === undefined || idSeg === '') throw notFound('No image identifier in the request');
  const id = decodeOnce(idSeg, 'identifier');
  if (!IMAGE_ID_RE.test(id)) throw noSuchImage(id);
  const encodedId = encodeURIComponent(id);

  if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
    return { kind: 'redirect', status: 303, location: `${version}/${encodedId}/info.json` };
  }
  if (rest.length === 1 && rest[0] === 'info.json') return { kind: 'info', version, id };
  if (rest.length > 4 || (rest.length > 1 && rest[rest.length - 1] === 'info.json')) {
    // More segments than a request has: the identifier contained an unescaped "/" (a/b/info.json,
    // a/b/full/max/0/default.jpg). No identifier can contain one, so there is no such image.
    throw notFound(`No image with identifier ${quote(`${id}/${rest.slice(0, rest.length > 4 ? rest.length - 4 : rest.length - 1).join('/')}`)}: identifiers never contain an unescaped "/"`);
  }
  if (rest.length !== 4) {
    throw badRequest('Expected {identifier}/info.json or {identifier}/{region}/{size}/{rotation}/{quality}.{format}');
  }
  const [regionSeg, sizeSeg, rotationSeg, lastSeg] = rest as [string, string, string, string];
  return { kind: 'image', version, id, params: parseParams(version, regionSeg, sizeSeg, rotationSeg, lastSeg) };
}

function parseParams(version: Version, regionSeg: string, sizeSeg: string, rotationSeg: string, lastSeg: string): ImageParams {
  const grammar = GRAMMAR[version];
  const region = decodeOnce(regionSeg, 'region');
  if (!grammar.region.test(region)) {
    throw badRequest(`Invalid region ${quote(region)}: use full, square, x,y,w,h or pct:x,y,w,h`);
  }
  const size = decodeOnce(sizeSeg, 'size');
  if (!grammar.size.test(size)) {
    if (version === 2 && size.startsWith('^')) {
      throw badRequest(`Invalid size ${quote(size)}: the ^ (upscaling) prefix is Image API 3.0 syntax; version 2 upscales without it`);
    }
    if (version === 3 && /^\^?full$/.test(size)) throw badRequest('Invalid size "full": Image API 3.0 uses max');
    const forms = version === 2 ? 'full, max, w,, ,h, pct:n, w,h or !w,h' : 'max, w,, ,h, pct:n, w,h or !w,h, each optionally prefixed with ^';
    throw badRequest(`Invalid size ${quote(size)}: use ${forms}`);
  }
  const rotation = decodeOnce(rotationSeg, 'rotation');
  if (!grammar.rotation.test(rotation) || Number(rotation.replace(/^!/, '')) > 360) {
    throw badRequest(`Invalid rotation ${quote(rotation)}: use a number of degrees from 0 to 360, optionally prefixed with ! to mirror`);
  }
  const last = decodeOnce(lastSeg, 'quality and format');
  const dot = last.lastIndexOf('.');
  if (dot < 0) throw badRequest(`Missing format in ${quote(last)}: use {quality}.{format}, e.g. default.jpg`);
  const quality = last.slice(0, dot);
  const format = last.slice(dot + 1);
  if (!(QUALITIES as readonly string[]).includes(quality)) {
    throw badRequest(`Unknown quality ${quote(quality)}: use ${QUALITIES.join(', ')}`);
  }
  if (!(FORMATS as readonly string[]).includes(format)) {
    const known = UNSUPPORTED_FORMATS.has(format) ? 'Unsupported' : 'Unknown';
    throw badRequest(`${known} format ${quote(format)}: this server writes ${FORMATS.join(', ')}`);
  }
  return { region, size, rotation, quality: quality as Quality, format: format as Format };
}

// ---------------------------------------------------------------------------------------------
// Resolution against the image size and the limits

/**
 * The largest size of a `rw` x `rh` region within the limits, keeping its aspect ratio (width
 * first, height derived from it as `w,` would). Without `upscale` it is at most the region.
 */
export function maxSize(rw: number, rh: number, limits: Limits, upscale: boolean): Dimensions {
  let scale = Math.min(limits.maxWidth / rw, limits.maxHeight / rh, Math.sqrt(limits.maxArea / (rw * rh)));
  if (!upscale) scale = Math.min(scale, 1);
  if (scale === 1) return { width: rw, height: rh };
  let width = Math.floor(rw * scale + 1e-9);
  let height = Math.round((width * rh) / rw);
  for (let i = 0; i < 1000 && width > 0 && !withinLimits(width, height, limits); i++) {
    width -= 1;
    height = Math.round((width * rh) / rw);
  }
  if (!withinLimits(width, height, limits)) {
    width = Math.min(width, limits.maxWidth);
    height = Math.min(height, limits.maxHeight, Math.floor(limits.maxArea / Math.max(width, 1)));
  }
  return { width, height };
}

export function withinLimits(width: number, height: number, limits: Limits): boolean {
  return width <= limits.maxWidth && height <= limits.maxHeight && width * height <= limits.maxArea;
}

function limitsText(limits: Limits): string {
  return `maxWidth ${limits.maxWidth}, maxHeight ${limits.maxHeight}, maxArea ${limits.maxArea}`;
}

interface SizeResult {
  width: number;
  height: number;
  canonical: string;
}

/** Size of the scaled region, or a redirect (v2 `full` over the limits) via a thrown marker. */
class FullOverLimits {}

function computeSize(version: Version, spec: string, rw: number, rh: number, limits: Limits): SizeResult {
  const upscale = version === 3 && spec.startsWith('^');
  const body = upscale ? spec.slice(1) : spec;
  let width: number;
  let height: number;
  let capped = false; // forms already fitted within the limits

  if (body === 'full') {
    // v2 only (the v3 grammar has no full).
    if (!withinLimits(rw, rh, limits)) throw new FullOverLimits();
    width = rw;
    height = rh;
  } else if (body === 'max') {
    ({ width, height } = maxSize(rw, rh, limits, upscale));
    capped = true;
  } else if (body.startsWith('pct:')) {
    const pct = Number(body.slice(4));
    if (!(pct > 0)) throw badRequest(`Invalid size ${quote(spec)}: the percentage must be greater than 0`);
    width = Math.round((rw * pct) / 100);
    height = Math.round((rh * pct) / 100);
  } else if (body.startsWith('!')) {
    // Image API 3.0 §4.2 (and 2.1 read the same way): the region scaled to fit the w x h box,
    // keeping its aspect ratio, "as large as possible but not larger than the extracted region, w
    // or h" — a box larger than the region gives the region's own size, not a 400 (the IIIF
    // validator's size_noup expects 400 for !2000,3000 on its 1000 px image: the spec text wins).
    // v3 ^!w,h may upscale. The result is then reduced to the server's limits rather than refused.
    const [w, h] = body.slice(1).split(',').map(Number) as [number, number];
    if (w === 0 || h === 0) throw badRequest(`Invalid size ${quote(spec)}: width and height must be greater than 0`);
    if (w / rw <= h / rh) {
      width = w;
      height = Math.round((rh * w) / rw);
    } else {
      width = Math.round((rw * h) / rh);
      height = h;
    }
    if (!upscale && (width > rw || height > rh)) {
      width = rw;
      height = rh;
    }
    if (!withinLimits(width, height, limits)) ({ width, height } = maxSize(rw, rh, limits, upscale));
    capped = true;
  } else {
    const [ws, hs] = body.split(',') as [string, string];
    if (ws !== '' && hs !== '') {
      width = Number(ws);
      height = Number(hs);
    } else if (ws !== '') {
      width = Number(ws);
      height = Math.round((rh * width) / rw);
    } else {
      height = Number(hs);
      width = Math.round((rw * height) / rh);
    }
  }

  if (!(width >= 1 && height >= 1)) {
    throw badRequest(`Size ${quote(spec)} of a ${rw}x${rh} region gives an image of ${width}x${height} pixels; both sides must be at least 1`);
  }
  if (version === 3 && !upscale && (width > rw || height > rh)) {
    throw badRequest(
      `Size ${quote(spec)} (${width}x${height}) is larger than the ${rw}x${rh} region; prefix it with ^ to allow upscaling`,
    );
  }
  if (!capped && !withinLimits(width, height, limits)) {
    throw badRequest(`Size ${quote(spec)} (${width}x${height}) exceeds the limits of this server (${limitsText(limits)}); use max`);
  }
  return { width, height, canonical: canonicalSize(version, width, height, rw, rh, limits) };
}

function canonicalSize(version: Version, width: number, height: number, rw: number, rh: number, limits: Limits): string {
  if (version === 2) {
    if (width === rw && height === rh) return 'full';
    return height === Math.round((rh * width) / rw) ? `${width},` : `${width},${height}`;
  }
  const up = width > rw || height > rh;
  const max = maxSize(rw, rh, limits, up);
  if (width === max.width && height === max.height) return up ? '^max' : 'max';
  return `${up ? '^' : ''}${width},${height}`;
}

/** `22.50` -> `22.5`, `090` -> `90`, `0.0` -> `0` (the canonical number form of both versions). */
export function canonicalNumber(text: string): string {
  const [int = '0', frac = ''] = text.split('.');
  const i = int.replace(/^0+(?=\d)/, '');
  const f = frac.replace(/0+$/, '');
  return f ? `${i}.${f}` : i;
}

/** Bounding box of a w x h image rotated clockwise by `degrees`, rounded as libvips rounds it. */
export function rotatedSize(width: number, height: number, degrees: number): Dimensions {
  if (degrees === 0 || degrees === 180) return { width, height };
  if (degrees === 90 || degrees === 270) return { width: height, height: width };
  const rad = (degrees * Math.PI) / 180;
  const c = Math.abs(Math.cos(rad));
  const s = Math.abs(Math.sin(rad));
  return { width: Math.max(1, Math.round(width * c + height * s)), height: Math.max(1, Math.round(width * s + height * c)) };
}

/**
 * Resolve a parsed image request against the full image's size and the limits: a plan, a
 * redirect (v2 `full` over the limits goes to `max`) or a 400.
 */
export function resolveImageRequest(req: ImageRequest, dims: Dimensions, limits: Limits): Resolution {
  try {
    return resolve(req, dims, limits);
  } catch (err) {
    if (err instanceof FullOverLimits) {
      const p = req.params;
      return {
        kind: 'redirect',
        status: 303,
        location: `2/${encodeURIComponent(req.id)}/${p.region}/max/${p.rotation}/${p.quality}.${p.format}`,
      };
    }
    if (err instanceof IiifError) return fail(err);
    // The calculator's own errors (IIIFError with statusCode 400) and anything else from it.
    const message = err instanceof Error ? err.message : String(err);
    return { kind: 'error', status: 400, message: `Invalid request: ${message}` };
  }
}

function resolve(req: ImageRequest, dims: Dimensions, limits: Limits): Resolution {
  const { version, id, params } = req;
  const calc = new Calculators[version]({ width: dims.width, height: dims.height });
  calc.region(params.region);
  calc.rotation(params.rotation);
  const info = calc.info();
  const r = info.region;
  const region: Region = { x: r.left, y: r.top, w: r.width, h: r.height };
  if (!(region.w >= 1 && region.h >= 1) || !Number.isSafeInteger(region.x + region.w) || !Number.isSafeInteger(region.y + region.h)) {
    throw badRequest(`Region ${quote(params.region)} lies outside the ${dims.width}x${dims.height} image`);
  }
  const fullRegion = region.x === 0 && region.y === 0 && region.w === dims.width && region.h === dims.height;

  const size = computeSize(version, params.size, region.w, region.h, limits);

  const mirror = info.rotation.flop;
  const rotation = info.rotation.degree % 360;
  const out = rotatedSize(size.width, size.height, rotation);
  const maxSide = FORMAT_MAX_SIDE[params.format];
  if (out.width > maxSide || out.height > maxSide) {
    throw badRequest(`A ${out.width}x${out.height} image cannot be written as ${params.format} (at most ${maxSide} pixels a side)`);
  }

  const canonicalRegion = fullRegion ? 'full' : `${region.x},${region.y},${region.w},${region.h}`;
  const rotationText = rotation === 0 ? '0' : canonicalNumber(params.rotation.replace(/^!/, ''));
  const canonical = `${canonicalRegion}/${size.canonical}/${mirror ? '!' : ''}${rotationText}/${params.quality}.${params.format}`;

  return {
    kind: 'image',
    plan: {
      version,
      id,
      region,
      fullRegion,
      width: size.width,
      height: size.height,
      mirror,
      rotation,
      quality: params.quality,
      format: params.format,
      outputWidth: out.width,
      outputHeight: out.height,
      canonical,
    },
  };
}

// -------------------------------------------------------------------------------------------
// Pyramid levels: which level a plan reads, and which of its pixels

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

/**
 * How render.ts reads a plain JPEG source for this plan with shrink-on-load ("resize the whole
 * image, then cut the region out of the result"): `decode`, the scale libjpeg decodes at (1/2,
 * 1/4 or 1/8 in the DCT: 2, 4 or 8), and `sx`, `sy`, output pixels per source pixel for the
 * whole image. `decode` is 1 (no shrink-on-load) for full resolution, for pyramid sources, for rotated,
 * mirrored or EXIF-turned requests, and for full-region requests (libvips shrinks those on load
 * by itself). A tile at exactly 1/k of the source (a viewer's zoom level; its edge tiles' sizes
 * rounded, 1614 x 1759 -> 404 x 440) is read at 1/k exactly, so that libjpeg's 1/k applies;
 * pyramids.ts lets such tiles be rendered from the source while the pyramid is still to be built.
 */
export function jpegShrinkOnLoad(
  facts: Pick<SourceFacts, 'format' | 'levels' | 'orientation'>,
  plan: Pick<ImagePlan, 'region' | 'width' | 'height' | 'fullRegion' | 'mirror' | 'rotation'>,
): { decode: 1 | 2 | 4 | 8; sx: number; sy: number } {
  const none = { decode: 1 as const, sx: 1, sy: 1 };
  if (facts.format !== 'jpeg' || facts.levels.length > 0 || facts.orientation !== 1) return none;
  if (plan.fullRegion || plan.mirror || plan.rotation !== 0) return none;
  const { region, width, height } = plan;
  for (const k of [8, 4, 2] as const) {
    if (Math.abs(region.w / k - width) <= 1 && Math.abs(region.h / k - height) <= 1) return { decode: k, sx: 1 / k, sy: 1 / k };
  }
  const shrink = Math.min(region.w / width, region.h / height);
  const decode = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  return decode === 1 ? none : { decode, sx: width / region.w, sy: height / region.h };
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
 * The plan's region in the pixels of a level `lw` x `lh` of the image (at least one pixel, within
 * the level): what the renderer extracts, and what a stored tile must be to be the answer.
 */
export function levelRegion(facts: Pick<SourceFacts, 'width' | 'height'>, region: Region, lw: number, lh: number): Region {
  const fx = lw / facts.width;
  const fy = lh / facts.height;
  const x0 = Math.min(lw - 1, Math.floor(region.x * fx));
  const y0 = Math.min(lh - 1, Math.floor(region.y * fy));
  const x1 = Math.max(x0 + 1, Math.min(lw, Math.round((region.x + region.w) * fx)));
  const y1 = Math.max(y0 + 1, Math.min(lh, Math.round((region.y + region.h) * fy)));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Largest stored tile sent as it is (a tile table gone wrong must not allocate gigabytes). */
const MAX_STORED_TILE_BYTES = 16 * 1024 * 1024;

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
  const r = levelRegion(facts, plan.region, lw, lh);
  const tw = page.tileWidth;
  const th = page.tileHeight;
  if (r.w !== plan.width || r.h !== plan.height) return null;
  if (plan.width !== tw || plan.height !== th || r.x % tw !== 0 || r.y % th !== 0) return null;
  const index = (r.y / th) * Math.ceil(page.width / tw) + r.x / tw;
  const length = page.counts[index] ?? 0;
  if (!(length > 0 && length <= MAX_STORED_TILE_BYTES)) return null;
  return { page, index };
}
