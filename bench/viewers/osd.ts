/**
 * IIIF tile arithmetic as OpenSeadragon builds it from an info.json — a port of
 * `OpenSeadragon.IIIFTileSource` (openseadragon 5.0.1, the version Mirador 4 bundles here:
 * node_modules/openseadragon/build/openseadragon/openseadragon.js, `IIIFTileSource` constructor,
 * `getNumTiles`, `getTileUrl`), reduced to what a single `tiles` entry needs.
 *
 * What the port keeps exactly:
 *  - levels: `maxLevel = log2(max scaleFactor)`, level `l` has scale `2^-(maxLevel - l)`;
 *  - level sizes: `sizes` are used as the exact level sizes when there are maxLevel or maxLevel+1
 *    of them (smallest first), otherwise `ceil(width * scale)`;
 *  - region: `x * round(tileWidth / scale)`, clipped to the image; `full` when the tile is the
 *    whole image; a level smaller than one tile is requested as `full`;
 *  - size: v3 `w,h` (or `max` when that is the full size), v2 `w,` (or `full` when w = width).
 *    (IIIF Image 3.0 accepts `w,` too, but OpenSeadragon 5 sends `w,h` to a v3 service.)
 */

export interface InfoJson {
  '@context'?: string | string[];
  id?: string;
  '@id'?: string;
  width: number;
  height: number;
  sizes?: { width: number; height: number }[];
  tiles?: { width: number; height?: number; scaleFactors: number[] }[];
}

export interface TileSource {
  /** Service base URI (the `id` / `@id` of info.json), as OSD joins it with `/`. */
  id: string;
  version: 2 | 3;
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  scaleFactors: number[];
  maxLevel: number;
  /** Exact level sizes (index = level), when info.json `sizes` matches the levels. */
  levelSizes?: { width: number; height: number }[];
}

function versionOf(ctx: InfoJson['@context']): 2 | 3 {
  const list = Array.isArray(ctx) ? ctx : [ctx];
  if (list.includes('http://iiif.io/api/image/3/context.json')) return 3;
  if (list.includes('http://iiif.io/api/image/2/context.json')) return 2;
  throw new Error(`unsupported IIIF context ${JSON.stringify(ctx)}`);
}

export function tileSourceOf(info: InfoJson): TileSource {
  const id = info.id ?? info['@id'];
  if (!id || !info.width || !info.height) throw new Error('info.json without id, width or height');
  const t = info.tiles?.[0];
  if (!t || info.tiles!.length !== 1) throw new Error('info.json must have exactly one tiles entry');
  const maxLevel = Math.round(Math.log(Math.max(...t.scaleFactors)) * Math.LOG2E);
  const ts: TileSource = {
    id,
    version: versionOf(info['@context']),
    width: info.width,
    height: info.height,
    tileWidth: t.width,
    tileHeight: t.height ?? t.width,
    scaleFactors: [...t.scaleFactors].sort((a, b) => a - b),
    maxLevel,
  };
  const sizes = info.sizes ?? [];
  if (sizes.length === maxLevel || sizes.length === maxLevel + 1) {
    ts.levelSizes = [...sizes].sort((a, b) => a.width - b.width);
    if (sizes.length === maxLevel) ts.levelSizes.push({ width: info.width, height: info.height });
  }
  return ts;
}

export const levelOfScaleFactor = (ts: TileSource, sf: number) => ts.maxLevel - Math.round(Math.log2(sf));

export function levelSize(ts: TileSource, level: number): { width: number; height: number } {
  if (ts.levelSizes) return ts.levelSizes[level]!;
  const scale = 0.5 ** (ts.maxLevel - level);
  return { width: Math.ceil(ts.width * scale), height: Math.ceil(ts.height * scale) };
}

export function numTiles(ts: TileSource, level: number): { x: number; y: number } {
  if (ts.levelSizes) {
    const s = ts.levelSizes[level]!;
    return { x: Math.ceil(s.width / ts.tileWidth), y: Math.ceil(s.height / ts.tileHeight) };
  }
  const scale = 0.5 ** (ts.maxLevel - level);
  return { x: Math.ceil((scale * ts.width) / ts.tileWidth), y: Math.ceil((scale * ts.height) / ts.tileHeight) };
}

/** The tile URL OpenSeadragon requests for tile (x, y) of `level`. */
export function tileUrl(ts: TileSource, level: number, x: number, y: number): string {
  const scale = 0.5 ** (ts.maxLevel - level);
  const { width: levelWidth, height: levelHeight } = levelSize(ts, level);
  const tw = ts.tileWidth;
  const th = ts.tileHeight;
  const regionW = Math.round(tw / scale);
  const regionH = Math.round(th / scale);
  let region: string;
  let size: string;
  if (levelWidth < tw && levelHeight < th) {
    if (ts.version === 2 && levelWidth === ts.width) size = 'full';
    else if (ts.version === 3 && levelWidth === ts.width && levelHeight === ts.height) size = 'max';
    else if (ts.version === 3) size = `${levelWidth},${levelHeight}`;
    else size = `${levelWidth},`;
    region = 'full';
  } else {
    const rx = x * regionW;
    const ry = y * regionH;
    const rw = Math.min(regionW, ts.width - rx);
    const rh = Math.min(regionH, ts.height - ry);
    region = x === 0 && y === 0 && rw === ts.width && rh === ts.height ? 'full' : `${rx},${ry},${rw},${rh}`;
    const sw = Math.min(tw, levelWidth - x * tw);
    const sh = Math.min(th, levelHeight - y * th);
    if (ts.version === 2 && sw === ts.width) size = 'full';
    else if (ts.version === 3 && sw === ts.width && sh === ts.height) size = 'max';
    else if (ts.version === 3) size = `${sw},${sh}`;
    else size = `${sw},`;
  }
  return [ts.id, region, size, '0', 'default.jpg'].join('/');
}

/**
 * The tiles of the level for scale factor `sf` that intersect a viewport showing the full-resolution
 * rectangle (x0, y0)–(x1, y1), row by row (OSD loads them in about this order, centre first aside).
 */
export function visibleTiles(ts: TileSource, sf: number, x0: number, y0: number, x1: number, y1: number): string[] {
  const level = levelOfScaleFactor(ts, sf);
  const n = numTiles(ts, level);
  const regionW = Math.round(ts.tileWidth * sf);
  const regionH = Math.round(ts.tileHeight * sf);
  const tx0 = Math.max(0, Math.floor(Math.max(0, x0) / regionW));
  const ty0 = Math.max(0, Math.floor(Math.max(0, y0) / regionH));
  const tx1 = Math.min(n.x - 1, Math.floor((Math.min(ts.width, x1) - 1) / regionW));
  const ty1 = Math.min(n.y - 1, Math.floor((Math.min(ts.height, y1) - 1) / regionH));
  const out: string[] = [];
  for (let y = ty0; y <= ty1; y++) for (let x = tx0; x <= tx1; x++) out.push(tileUrl(ts, level, x, y));
  return out;
}
