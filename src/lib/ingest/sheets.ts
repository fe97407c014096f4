/**
 * The sheets of an .xlsx/.xlsm workbook and their visibility, read without loading the workbook:
 * the ZIP's central directory is read from the end of the file, then only the one small entry
 * `xl/workbook.xml` (stored or deflated) is inflated. Normalize uses it to list, in meta.json, the
 * hidden and very hidden sheets of each chosen bibliography (index never reads them as data,
 * excel.ts), at the cost of a few kilobytes read per chosen workbook.
 *
 * Written from the ZIP application note (APPNOTE.TXT: end of central directory record 0x06054b50,
 * central directory header 0x02014b50, local file header 0x04034b50) and ECMA-376 Part 1 §18.2.19
 * (`<sheet name state>`; state is visible, hidden or veryHidden).
 */
import fs from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface SheetState {
  sheet: string;
  state: 'visible' | 'hidden' | 'veryHidden';
}

/** Largest workbook.xml inflated (a workbook part lists sheets, names and settings: kilobytes). */
const MAX_PART = 8 * 1024 * 1024;

function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The bytes of one entry of a ZIP file, or undefined when it is not there or cannot be read. */
export function zipEntry(file: string, name: string): Buffer | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = readAt(fd, size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) return undefined;
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset + cdSize > size) return undefined;
    const cd = readAt(fd, cdOffset, cdSize);
    let p = 0;
    for (let k = 0; k < entries && p + 46 <= cd.length; k++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) return undefined;
      const method = cd.readUInt16LE(p + 10);
      const compressed = cd.readUInt32LE(p + 20);
      const uncompressed = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const local = cd.readUInt32LE(p + 42);
      const entryName = cd.toString('utf8', p + 46, p + 46 + nameLen);
      p += 46 + nameLen + extraLen + commentLen;
      if (entryName !== name) continue;
      if (compressed > MAX_PART || uncompressed > MAX_PART) return undefined;
      const lh = readAt(fd, local, 30);
      if (lh.length < 30 || lh.readUInt32LE(0) !== 0x04034b50) return undefined;
      const start = local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
      const data = readAt(fd, start, compressed);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data, { maxOutputLength: MAX_PART });
      return undefined;
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

const unescapeXml = (s: string) =>
  s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : e === 'apos' ? "'" : String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );

/** Every sheet of a workbook, in workbook order, with its state; undefined when it cannot be read. */
export function sheetStates(file: string): SheetState[] | undefined {
  let xml: Buffer | undefined;
  try {
    xml = zipEntry(file, 'xl/workbook.xml');
  } catch {
    return undefined;
  }
  if (!xml) return undefined;
  const out: SheetState[] = [];
  for (const m of xml.toString('utf8').matchAll(/<(?:\w+:)?sheet\s([^>]*?)\/?>/g)) {
    const attrs = m[1]!;
    const name = /(?:^|\s)name="([^"]*)"/.exec(attrs)?.[1];
    if (name === undefined) continue;
    const state = /(?:^|\s)state="([^"]*)"/.exec(attrs)?.[1];
    out.push({ sheet: unescapeXml(name), state: state === 'hidden' || state === 'veryHidden' ? state : 'visible' });
  }
  return out;
}
