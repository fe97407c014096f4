/**
 * Tiled pyramid TIFF derivatives of plain JPEG sources.
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
 */
import sharp from 'sharp';

/** Part of the cache key: bumped when the derivative's format changes. */
export const PYRAMID_REVISION = '2';
export const PYRAMID_QUALITY = 88;

/** Sources that get a derivative: plain (non-pyramid) JPEGs larger than a couple of tiles. */
export function pyramidWorthIt(facts: { format: string; levels: unknown[]; width: number; height: number; tileSize: number }): boolean {
  return facts.format === 'jpeg' && facts.levels.length === 0 && Math.max(facts.width, facts.height) > 2 * facts.tileSize;
}

export interface PyramidOptions {
  tileSize: number;
  maxInputPixels: number;
  autoOrient: boolean;
  quality?: number;
}

/**
 * Decode `input` once (sequentially: libvips streams the JPEG and builds every level as it goes,
 * so memory stays at a few strips per level) and write the pyramid to `output`.
 */
export async function buildPyramid(input: string, output: string, opts: PyramidOptions): Promise<void> {
  await sharp(input, { limitInputPixels: opts.maxInputPixels, failOn: 'error', sequentialRead: true, autoOrient: opts.autoOrient })
    .tiff({
      tile: true,
      pyramid: true,
      tileWidth: opts.tileSize,
      tileHeight: opts.tileSize,
      compression: 'jpeg',
      quality: opts.quality ?? PYRAMID_QUALITY,
    })
    .toFile(output);
}
