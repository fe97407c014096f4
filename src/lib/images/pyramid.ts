/**
 * Tiled pyramid TIFF derivatives of plain JPEG sources, and of large sources that libvips can only
 * decode whole (PNG, GIF, WebP, striped TIFF): those are converted by one sequential, streaming
 * read, so that no request ever decodes the whole source (lossless deflate tiles for them).
 *
 * A baseline JPEG cannot be read by region: every tile of a 6000 x 4000 JPEG means decoding the
 * file down to that tile's rows (shrink-on-load helps only at reduced scales). So the first time a
 * JPEG is opened for deep zoom, the whole image is decoded once and written as a tiled (same tile
 * edge as info.json announces), JPEG-compressed (Q88, YCbCr 4:2:0 like the source; libvips would
 * switch to RGB without chroma subsampling from Q90, twice the size) pyramid TIFF in the
 * derivative cache; later tiles decode only the one or two stored tiles they cover.
 *
 * The derivative is upright (EXIF orientation applied) and in sRGB, so it has exactly the size
 * info.json announces. It is lossy on lossy (Q88 over the source's own JPEG): invisible in
 * practice, and the price of tiles that cost milliseconds instead of a full decode.
 *
 * This module holds the decisions (which sources, what tile edge, how much memory), without I/O;
 * the build itself is `Pyramids.ensure()` (pyramids.ts), the libvips write `writePyramid()`
 * (render.ts).
 */
/** Part of the cache key: bumped when the derivative's format changes. */
export const PYRAMID_REVISION = '2';
export const PYRAMID_QUALITY = 88;

/** What the derivative decisions need to know about a source. */
export interface PyramidSourceFacts {
  format: string;
  levels: unknown[];
  width: number;
  height: number;
  tileSize: number;
  channels?: number;
  /** Tile layout of a TIFF; absent for a striped TIFF. */
  tiff?: unknown;
}

/**
 * Sources without random access beyond this decoded size become pyramids too: libvips decodes a
 * PNG, GIF, WebP or striped TIFF WHOLE for any region or rotation (a 79508 x 3082 PNG: 735 MB).
 */
export const HUGE_DECODE_BYTES = 48 * 1024 * 1024;

/** Bytes of the whole decoded image. */
export function decodedBytes(facts: Pick<PyramidSourceFacts, 'width' | 'height' | 'channels'>): number {
  return facts.width * facts.height * Math.max(3, facts.channels ?? 3);
}

/** Whether libvips must decode the whole source to read a region of it (no tiles, no DCT scaling). */
export function decodesWhole(facts: Pick<PyramidSourceFacts, 'format' | 'levels' | 'tiff'>): boolean {
  if (facts.levels.length > 0) return false;
  if (facts.format === 'tiff') {
    const first = (facts.tiff as { pages?: Array<{ tileWidth: number }> } | undefined)?.pages?.[0];
    return !(first && first.tileWidth > 0);
  }
  return facts.format === 'png' || facts.format === 'gif' || facts.format === 'webp' || facts.format === 'heif';
}

/**
 * Sources that get a derivative: plain (non-pyramid) JPEGs larger than a couple of tiles, and
 * sources that decode whole (PNG, striped TIFF, ...) when that whole is large.
 */
export function pyramidWorthIt(facts: PyramidSourceFacts): boolean {
  if (facts.levels.length > 0) return false;
  if (facts.format === 'jpeg') return Math.max(facts.width, facts.height) > 2 * facts.tileSize;
  return decodesWhole(facts) && decodedBytes(facts) > HUGE_DECODE_BYTES;
}

/**
 * Tile edge of the derivative: the announced one, halved for very wide images so that the writer's
 * buffers (about one row of tiles per level, twice the full-resolution row in all) stay small.
 */
export function derivativeTile(facts: Pick<PyramidSourceFacts, 'width' | 'tileSize' | 'channels'>): number {
  let tile = facts.tileSize;
  while (tile > 128 && buildBytes({ ...facts, tileSize: tile }) > 96 * 1024 * 1024) tile /= 2;
  return tile;
}

/** Working memory of a sequential pyramid build: a row of tiles per level, plus libvips' own. */
export function buildBytes(facts: Pick<PyramidSourceFacts, 'width' | 'tileSize' | 'channels'>): number {
  return 2 * facts.width * facts.tileSize * Math.max(3, facts.channels ?? 3) + 32 * 1024 * 1024;
}
