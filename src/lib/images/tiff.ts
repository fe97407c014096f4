/**
 * The tile size of a tiled TIFF (tags TileWidth 322 / TileLength 323 of the first IFD), which
 * sharp's metadata() does not report. Two small reads (header, first IFD); classic and BigTIFF,
 * both byte orders. Anything unexpected gives null, never an exception.
 */
import { promises as fs } from 'node:fs';

export interface TileSize {
  width: number;
  height: number;
}

const TAG_TILE_WIDTH = 322;
const TAG_TILE_LENGTH = 323;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;
const TYPE_LONG8 = 16;
const MAX_ENTRIES = 4096;

interface Header {
  little: boolean;
  big: boolean;
  ifdOffset: number;
}

/** Parse the first 16 bytes of a file as a TIFF header; null when it is not one. */
export function parseTiffHeader(buf: Uint8Array): Header | null {
  if (buf.length < 8) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const order = String.fromCharCode(buf[0]!, buf[1]!);
  if (order !== 'II' && order !== 'MM') return null;
  const little = order === 'II';
  const magic = view.getUint16(2, little);
  if (magic === 42) return { little, big: false, ifdOffset: view.getUint32(4, little) };
  if (magic === 43 && buf.length >= 16) {
    const offset = Number(view.getBigUint64(8, little));
    return Number.isSafeInteger(offset) ? { little, big: true, ifdOffset: offset } : null;
  }
  return null;
}

/** Read the tile tags from an IFD given as bytes (starting at the entry count). */
export function parseTileTags(ifd: Uint8Array, header: Pick<Header, 'little' | 'big'>): TileSize | null {
  const view = new DataView(ifd.buffer, ifd.byteOffset, ifd.byteLength);
  const { little, big } = header;
  const countSize = big ? 8 : 2;
  const entrySize = big ? 20 : 12;
  if (ifd.length < countSize) return null;
  const count = big ? Number(view.getBigUint64(0, little)) : view.getUint16(0, little);
  let width = 0;
  let height = 0;
  for (let i = 0; i < Math.min(count, MAX_ENTRIES); i++) {
    const at = countSize + i * entrySize;
    if (at + entrySize > ifd.length) break;
    const tag = view.getUint16(at, little);
    if (tag !== TAG_TILE_WIDTH && tag !== TAG_TILE_LENGTH) continue;
    const type = view.getUint16(at + 2, little);
    const valueAt = at + (big ? 12 : 8);
    let value = 0;
    if (type === TYPE_SHORT) value = view.getUint16(valueAt, little);
    else if (type === TYPE_LONG) value = view.getUint32(valueAt, little);
    else if (type === TYPE_LONG8 && big) value = Number(view.getBigUint64(valueAt, little));
    if (tag === TAG_TILE_WIDTH) width = value;
    else height = value;
  }
  return width > 0 && height > 0 ? { width, height } : null;
}

/** Tile size of the TIFF at `file`, or null (not a TIFF, striped, unreadable). */
export async function readTiffTileSize(file: string): Promise<TileSize | null> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const head = new Uint8Array(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    const header = parseTiffHeader(head.subarray(0, bytesRead));
    if (!header) return null;
    const { little, big } = header;
    const countBuf = new Uint8Array(big ? 8 : 2);
    await handle.read(countBuf, 0, countBuf.length, header.ifdOffset);
    const cv = new DataView(countBuf.buffer);
    const count = Math.min(big ? Number(cv.getBigUint64(0, little)) : cv.getUint16(0, little), MAX_ENTRIES);
    const ifd = new Uint8Array(countBuf.length + count * (big ? 20 : 12));
    const read = await handle.read(ifd, 0, ifd.length, header.ifdOffset);
    return parseTileTags(ifd.subarray(0, read.bytesRead), header);
  } catch {
    return null;
  } finally {
    await handle?.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// The tile layout of a tiled TIFF, for serving stored JPEG tiles as they are.

/** One image (IFD) of a TIFF, as far as the tile passthrough needs it. */
export interface TiffPage {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  compression: number;
  photometric: number;
  samplesPerPixel: number;
  bitsPerSample: number;
  planarConfig: number;
  /** Byte offset and length of each tile, row by row. */
  offsets: Float64Array;
  counts: Float64Array;
  /** JPEGTables (347): the quantisation and Huffman tables shared by the tiles (SOI ... EOI). */
  jpegTables?: Uint8Array;
  /** An ICC profile (34675) is embedded: pixels are not plain sRGB. */
  icc: boolean;
}

export interface TiffLayout {
  /** The IFD chain: page 0 is the full-resolution image. */
  pages: TiffPage[];
  /** SubIFDs of page 0 (OME-style pyramids), in order. */
  subifds: TiffPage[];
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };
const MAX_PAGES = 64;
const MAX_TILES = 16_000_000;
const MAX_TABLES = 1 << 20;

interface RawEntry {
  tag: number;
  type: number;
  count: number;
  /** The value bytes when inline, else null (then `offset` says where). */
  inline: Uint8Array | null;
  offset: number;
}

class TiffReader {
  readonly handle: fs.FileHandle;
  readonly little: boolean;
  readonly big: boolean;
  readonly size: number;

  constructor(handle: fs.FileHandle, header: Header, size: number) {
    this.handle = handle;
    this.little = header.little;
    this.big = header.big;
    this.size = size;
  }

  async bytes(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new Error('out of file');
    const buf = new Uint8Array(length);
    const { bytesRead } = await this.handle.read(buf, 0, length, offset);
    if (bytesRead !== length) throw new Error('short read');
    return buf;
  }

  /** Entries of the IFD at `offset`, and the offset of the next IFD (0 = none). */
  async ifd(offset: number): Promise<{ entries: Map<number, RawEntry>; next: number }> {
    const countSize = this.big ? 8 : 2;
    const entrySize = this.big ? 20 : 12;
    const cb = await this.bytes(offset, countSize);
    const cv = new DataView(cb.buffer);
    const count = this.big ? Number(cv.getBigUint64(0, this.little)) : cv.getUint16(0, this.little);
    if (count > MAX_ENTRIES) throw new Error('too many entries');
    const body = await this.bytes(offset + countSize, count * entrySize + (this.big ? 8 : 4));
    const v = new DataView(body.buffer);
    const entries = new Map<number, RawEntry>();
    const inlineMax = this.big ? 8 : 4;
    for (let i = 0; i < count; i++) {
      const at = i * entrySize;
      const tag = v.getUint16(at, this.little);
      const type = v.getUint16(at + 2, this.little);
      const n = this.big ? Number(v.getBigUint64(at + 4, this.little)) : v.getUint32(at + 4, this.little);
      const valueAt = at + (this.big ? 12 : 8);
      const bytes = (TYPE_SIZE[type] ?? 0) * n;
      if (bytes <= inlineMax) entries.set(tag, { tag, type, count: n, inline: body.subarray(valueAt, valueAt + bytes), offset: 0 });
      else {
        const off = this.big ? Number(v.getBigUint64(valueAt, this.little)) : v.getUint32(valueAt, this.little);
        entries.set(tag, { tag, type, count: n, inline: null, offset: off });
      }
    }
    const nextAt = count * entrySize;
    const next = this.big ? Number(v.getBigUint64(nextAt, this.little)) : v.getUint32(nextAt, this.little);
    return { entries, next };
  }

  async numbers(e: RawEntry | undefined, max: number): Promise<Float64Array> {
    if (!e) return new Float64Array(0);
    const size = TYPE_SIZE[e.type];
    if (!size || e.count > max) throw new Error('unusable entry');
    const raw = e.inline ?? (await this.bytes(e.offset, size * e.count));
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float64Array(e.count);
    for (let i = 0; i < e.count; i++) {
      if (e.type === TYPE_SHORT) out[i] = v.getUint16(i * 2, this.little);
      else if (e.type === TYPE_LONG || e.type === 13) out[i] = v.getUint32(i * 4, this.little);
      else if (e.type === TYPE_LONG8 || e.type === 18) out[i] = Number(v.getBigUint64(i * 8, this.little));
      else if (e.type === 1 || e.type === 7) out[i] = v.getUint8(i);
      else throw new Error('unexpected type');
    }
    return out;
  }

  async page(entries: Map<number, RawEntry>): Promise<TiffPage> {
    const one = async (tag: number, fallback: number) => {
      const e = entries.get(tag);
      if (!e) return fallback;
      const values = await this.numbers(e, 16);
      return values.length > 0 ? values[0]! : fallback;
    };
    const tables = entries.get(347);
    let jpegTables: Uint8Array | undefined;
    if (tables && tables.count <= MAX_TABLES) jpegTables = tables.inline ? tables.inline.slice() : await this.bytes(tables.offset, tables.count);
    return {
      width: await one(256, 0),
      height: await one(257, 0),
      tileWidth: await one(TAG_TILE_WIDTH, 0),
      tileHeight: await one(TAG_TILE_LENGTH, 0),
      compression: await one(259, 1),
      photometric: await one(262, -1),
      samplesPerPixel: await one(277, 1),
      bitsPerSample: await one(258, 1),
      planarConfig: await one(284, 1),
      offsets: await this.numbers(entries.get(324), MAX_TILES),
      counts: await this.numbers(entries.get(325), MAX_TILES),
      jpegTables,
      icc: entries.has(34675),
    };
  }
}

/**
 * Pages (and SubIFDs of the first page) of the TIFF at `file`, with their tile tables; null when
 * it is not a TIFF or anything looks wrong. Bounded: at most 64 pages, 16 M tiles a page.
 */
export async function readTiffLayout(file: string): Promise<TiffLayout | null> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const size = (await handle.stat()).size;
    const head = new Uint8Array(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    const header = parseTiffHeader(head.subarray(0, bytesRead));
    if (!header) return null;
    const r = new TiffReader(handle, header, size);
    const pages: TiffPage[] = [];
    const subifds: TiffPage[] = [];
    const seen = new Set<number>();
    let offset = header.ifdOffset;
    while (offset > 0 && pages.length < MAX_PAGES && !seen.has(offset)) {
      seen.add(offset);
      const { entries, next } = await r.ifd(offset);
      pages.push(await r.page(entries));
      if (pages.length === 1 && entries.has(330)) {
        for (const sub of await r.numbers(entries.get(330), MAX_PAGES)) subifds.push(await r.page((await r.ifd(sub)).entries));
      }
      offset = next;
    }
    return { pages, subifds };
  } catch {
    return null;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** SOI + JFIF APP0: the components are YCbCr (or one grey channel). */
const JFIF_HEAD = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
/** SOI + Adobe APP14 with transform 0: the three components are R, G, B (no colour transform). */
const ADOBE_RGB_HEAD = Uint8Array.from([0xff, 0xd8, 0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);

/**
 * Whether the tiles of `page` can be sent as they are stored: 8-bit baseline JPEG in YCbCr, RGB
 * (libvips writes RGB JPEG tiles from Q90 up) or greyscale, chunky, sRGB (no ICC profile).
 */
export function jpegTilesUsable(page: TiffPage): boolean {
  return (
    page.compression === 7 &&
    page.bitsPerSample === 8 &&
    page.planarConfig === 1 &&
    !page.icc &&
    (((page.photometric === 6 || page.photometric === 2) && page.samplesPerPixel === 3) || (page.photometric === 1 && page.samplesPerPixel === 1)) &&
    page.tileWidth > 0 &&
    page.tileHeight > 0 &&
    page.offsets.length === page.counts.length &&
    page.offsets.length === Math.ceil(page.width / page.tileWidth) * Math.ceil(page.height / page.tileHeight)
  );
}

/**
 * A complete JPEG file from a stored tile (an abbreviated stream) and the page's tables, with the
 * marker that tells decoders the colour space the TIFF's photometric declares.
 */
export function assembleJpeg(tile: Uint8Array, tables: Uint8Array | undefined, photometric: number): Buffer | null {
  if (tile.length < 4 || tile[0] !== 0xff || tile[1] !== 0xd8) return null;
  const parts: Uint8Array[] = [photometric === 2 ? ADOBE_RGB_HEAD : JFIF_HEAD];
  if (tables && tables.length >= 4) {
    if (tables[0] !== 0xff || tables[1] !== 0xd8) return null;
    const end = tables[tables.length - 2] === 0xff && tables[tables.length - 1] === 0xd9 ? tables.length - 2 : tables.length;
    parts.push(tables.subarray(2, end));
  }
  parts.push(tile.subarray(2));
  return Buffer.concat(parts);
}
