/**
 * Symlinks inside a delivery (issue 12, item 1): normalize resolves each once, follows it only when
 * the target stays inside the same batch folder and was not taken yet, and reports every other
 * link with its path and reason. The rest of the batch normalizes exactly as without the links.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalize, normalizeProblems, readBatchMeta } from '../../src/lib/ingest/normalize.ts';
import { image, workbook } from './fixtures/delivery.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-symlinks-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A small batch R01: two images in a subfolder, one flat, one bibliography. */
async function writeBatch(root: string): Promise<string> {
  const dir = path.join(root, 'R01');
  await image(path.join(dir, '写真', 'R01-0001.jpg'), 40, 30);
  await image(path.join(dir, '写真', 'R01-0002.jpg'), 40, 30);
  await image(path.join(dir, 'R01-0003.jpg'), 40, 30);
  await workbook(path.join(dir, '書誌_R01.xlsx'), {
    書誌: [
      { id: 'R01-0001', title: '一', images: 'R01-0001.jpg' },
      { id: 'R01-0002', title: '二', images: 'R01-0002.jpg' },
    ],
  });
  return dir;
}

/** Link names of a clean batch folder with their targets made relative to `root`. */
function cleanLinks(cleanBatch: string, root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out[r] = path.relative(root, fs.readlinkSync(path.join(d, e.name)));
      else if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(cleanBatch, '');
  return out;
}

describe('normalize: symlinks inside a delivery', () => {
  it('never loops, never leaves the batch, reports every skipped link, and links the rest as without them', async () => {
    // The same batch twice: plain, and with every kind of bad link inside.
    const plainRoot = path.join(tmp, 'plain', 'delivery');
    await writeBatch(plainRoot);
    const linkedRoot = path.join(tmp, 'linked', 'delivery');
    const batchDir = await writeBatch(linkedRoot);
    // another delivery, with images and a workbook of its own
    const other = path.join(tmp, 'linked', 'other-delivery');
    await image(path.join(other, 'X-0001.jpg'), 20, 20);
    await workbook(path.join(other, '書誌_R09.xlsx'), { 書誌: [{ id: 'X-0001', images: 'X-0001.jpg' }] });

    fs.symlinkSync('.', path.join(batchDir, 'loop')); // ln -s . R01/loop
    fs.symlinkSync('..', path.join(batchDir, '写真', 'up')); // a folder containing the link
    fs.symlinkSync(other, path.join(batchDir, 'other')); // another delivery
    fs.symlinkSync(path.join(other, 'X-0001.jpg'), path.join(batchDir, 'X-0001.jpg')); // a file outside
    fs.symlinkSync('nowhere.jpg', path.join(batchDir, 'dangling.jpg'));
    fs.symlinkSync('self-a', path.join(batchDir, 'self-b'));
    fs.symlinkSync('self-b', path.join(batchDir, 'self-a')); // a two-link cycle: ELOOP
    fs.symlinkSync('写真/R01-0001.jpg', path.join(batchDir, 'R01-0001-copy.jpg')); // a file already taken

    const plain = await normalize({ deliveries: [plainRoot], cleanRoot: path.join(tmp, 'plain', 'clean') });
    const linked = await normalize({ deliveries: [linkedRoot], cleanRoot: path.join(tmp, 'linked', 'clean') });

    // The rest of the batch is exactly as without the links.
    expect(cleanLinks(path.join(tmp, 'linked', 'clean', 'R01'), linkedRoot)).toEqual(cleanLinks(path.join(tmp, 'plain', 'clean', 'R01'), plainRoot));
    expect(linked.batches.map((b) => [b.batch, b.images])).toEqual([['R01', 3]]);
    expect(normalizeProblems(plain)).toEqual([]);
    // Few files were looked at: 4 files + 8 links, not a walk 40 levels deep.
    expect(linked.files).toBeLessThanOrEqual(plain.files + 8);

    // Every skipped link is reported with its path and reason, in meta.json and as a problem.
    const meta = readBatchMeta(path.join(tmp, 'linked', 'clean'), 'R01')!;
    const reasons = Object.fromEntries((meta.skippedLinks ?? []).map((l) => [path.relative(batchDir, l.path), l.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['R01-0001-copy.jpg', 'X-0001.jpg', 'dangling.jpg', 'loop', 'other', 'self-a', 'self-b', '写真/up'].sort());
    expect(reasons['loop']).toMatch(/loop/);
    expect(reasons['写真/up']).toMatch(/loop/);
    expect(reasons['self-a']).toMatch(/loop/);
    expect(reasons['other']).toMatch(/outside the batch folder/);
    expect(reasons['X-0001.jpg']).toMatch(/outside the batch folder/);
    expect(reasons['dangling.jpg']).toMatch(/dangling/);
    expect(reasons['R01-0001-copy.jpg']).toMatch(/already included/);
    const problems = normalizeProblems(linked);
    expect(problems.filter((p) => /symlink/.test(p))).toHaveLength(8);
    expect(problems.every((p) => /symlink/.test(p))).toBe(true);
    expect(JSON.stringify(meta).length).toBeLessThan(10_000);

    // A second run changes nothing.
    const again = await normalize({ deliveries: [linkedRoot], cleanRoot: path.join(tmp, 'linked', 'clean') });
    expect(again.totals).toMatchObject({ added: 0, changed: 0, removed: 0 });
    expect(again.batches[0]!.metaChanged).toBe(false);
  });

  it('follows a link to a folder inside the same batch that is not otherwise walked', async () => {
    const root = path.join(tmp, 'inside', 'delivery');
    const dir = await writeBatch(root);
    // __MACOSX is junk and not walked; a link to a folder inside it is inside the batch and new.
    await image(path.join(dir, '__MACOSX', 'extra', 'R01-0009.jpg'), 20, 20);
    fs.symlinkSync('__MACOSX/extra', path.join(dir, '追加'));
    const rep = await normalize({ deliveries: [root], cleanRoot: path.join(tmp, 'inside', 'clean') });
    expect(normalizeProblems(rep)).toEqual([]);
    expect(fs.readlinkSync(path.join(tmp, 'inside', 'clean', 'R01', 'R01-0009.jpg'))).toBe(path.join(dir, '追加', 'R01-0009.jpg'));
  });

  it('at the delivery level, a loop is reported and the same batch folder reached twice is used once', async () => {
    const root = path.join(tmp, 'top', 'delivery');
    await writeBatch(root);
    fs.symlinkSync('.', path.join(root, 'again'));
    fs.symlinkSync('R01', path.join(root, 'R1'));
    const rep = await normalize({ deliveries: [root], cleanRoot: path.join(tmp, 'top', 'clean') });
    expect(rep.batches.map((b) => [b.batch, b.sources.length, b.images])).toEqual([['R01', 1, 3]]);
    const problems = normalizeProblems(rep);
    expect(problems.some((p) => p.includes(path.join(root, 'again')) && /loop/.test(p))).toBe(true);
    expect(problems.some((p) => p.includes(path.join(root, 'R1')) && /same folder/.test(p))).toBe(true);
  });
});
