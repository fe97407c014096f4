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
