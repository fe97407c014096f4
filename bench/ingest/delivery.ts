/**
 * A generated raw delivery for the ingest benchmark: `files` empty files in BATCHES drifting batch
 * folders (full-width digits, round-NN, date suffixes, sub-batches with a full-width hyphen),
 * classification subfolders, upper-case extensions, reference-only shots, three bibliography
 * versions, a request form and junk per batch. Empty files: normalize never reads content.
 */
import fs from 'node:fs';
import path from 'node:path';

export const BATCHES = 20;

const FW = (n: number) => String(n).replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)));

export function batchFolder(i: number): string {
  switch (i % 4) {
    case 0:
      return `第${FW(i)}回`;
    case 1:
      return `round-${String(i).padStart(2, '0')}`;
    case 2:
      return `R${i}_2024${String((i % 12) + 1).padStart(2, '0')}15`;
    default:
      return `${FW(i)}－2`; // a sub-batch, full-width hyphen
  }
}

const touch = (file: string) => fs.closeSync(fs.openSync(file, 'w'));

/** Writes `count` files as one batch folder; returns the number of files written. */
export function writeBatch(root: string, i: number, count: number): number {
  const dir = path.join(root, batchFolder(i));
  const classes = ['写真', 'ガラス乾板', '絵葉書－カラー', ''];
  for (const c of classes) fs.mkdirSync(path.join(dir, c), { recursive: true });
  let n = 0;
  for (const name of [`書誌データ_第${i}回.xlsx`, `書誌データ_第${i}回_ソート済.xlsx`, `書誌データ_第${i}回_修正版.xlsx`, `メタデータ登録依頼書_第${i}回.xlsx`, 'Thumbs.db']) {
    touch(path.join(dir, name));
    n++;
  }
  for (let k = 1; n < count; k++, n++) {
    const id = `B${String(i).padStart(2, '0')}-${String(k).padStart(5, '0')}`;
    const sub = classes[k % classes.length]!;
    const name = k % 100 === 0 ? `${id}_スリーブ.jpg` : k % 7 === 0 ? `${id}.JPG` : `${id}.jpg`;
    touch(path.join(dir, sub, name));
  }
  return n;
}

export function writeDelivery(root: string, files: number): void {
  const per = Math.floor(files / BATCHES);
  let written = 0;
  for (let i = 1; i <= BATCHES; i++) written += writeBatch(root, i, i === BATCHES ? files - written : per);
}

