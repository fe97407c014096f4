import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MARKER, generateDemoCorpus } from '../../src/lib/ingest/demo.ts';
import { readBibliography } from '../../src/lib/ingest/excel.ts';
import { loadBibliographies } from '../../src/lib/ingest/load.ts';
import { IMAGE_ID_RE, type ItemInput, type SearchStore } from '../../src/lib/search/store.ts';

const SCALE = 0.05;
let tmp: string;
let dataDir: string;
let files: string[];
let records: ItemInput[];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-demo-'));
  dataDir = path.join(tmp, 'data');
  files = await generateDemoCorpus(dataDir, { scale: SCALE });
  records = [];
  for (const f of files) {
    const r = await readBibliography(f);
    expect(r.errors).toEqual([]);
    records.push(...r.records);
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const imagePath = (file: string) => path.join(dataDir, 'images', file);
const allImages = () => records.flatMap((r) => r.images);
const texts = (r: ItemInput) =>
  [r.title, r.description, r.creator, r.place, r.collection].flatMap((t) => [t?.ja, t?.en]).concat(r.subjects ?? [], r.notes ?? '');

/** TIFF tags of the first IFD (enough to see tiling and compression). */
async function tiffTags(file: string): Promise<Map<number, number>> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const le = head.toString('latin1', 0, 2) === 'II';
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    expect(u16(head, 2)).toBe(42); // classic TIFF, not BigTIFF
    const ifd = u32(head, 4);
    const cnt = Buffer.alloc(2);
    await fh.read(cnt, 0, 2, ifd);
    const n = u16(cnt, 0);
    const entries = Buffer.alloc(n * 12);
    await fh.read(entries, 0, n * 12, ifd + 2);
    const tags = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const o = i * 12;
      const type = u16(entries, o + 2);
      tags.set(u16(entries, o), type === 3 ? u16(entries, o + 8) : u32(entries, o + 8));
    }
    return tags;
  } finally {
    await fh.close();
  }
}

describe('generateDemoCorpus', () => {
  it('writes two delivery rounds and a marker', async () => {
    expect(files).toEqual([path.join(dataDir, 'bibliography', 'R01.xlsx'), path.join(dataDir, 'bibliography', 'R02.xlsx')]);
    expect(existsSync(path.join(dataDir, DEMO_MARKER))).toBe(true);
    expect(records).toHaveLength(40);
    expect(records.filter((r) => r.batch === 'R01')).toHaveLength(24);
    expect(records.filter((r) => r.batch === 'R02')).toHaveLength(16);
    // a title row sits above the header row
    expect(records[0]!.source).toEqual({ file: 'R01.xlsx', sheet: '書誌データ', row: 5 });
  });

  it('produces plausible bilingual records', () => {
    for (const r of records) {
      expect(r.title.ja && r.title.en, r.id).toBeTruthy();
      expect([...r.description!.ja!].length, r.id).toBeGreaterThanOrEqual(50);
      expect([...r.description!.ja!].length, r.id).toBeLessThanOrEqual(150);
      expect(r.description!.en, r.id).toBeTruthy();
      expect(r.creator?.ja && r.creator.en && r.place?.ja && r.place.en && r.date && r.rights, r.id).toBeTruthy();
      expect(r.subjects!.length, r.id).toBeGreaterThan(0);
      expect(r.date, r.id).toMatch(/(明治|大正|昭和).*（\d{4}/);
    }
    expect(records.filter((r) => r.access === 'members').map((r) => r.id)).toEqual(['R01-0013', 'R02-0008']);
    expect(records.filter((r) => r.access !== 'members').every((r) => r.access === 'open')).toBe(true);
    for (const s of ['祭礼', '港湾', '鉄道', '商店街', '学校', '寺社', '農村', '震災復興']) {
      expect(records.some((r) => r.subjects!.includes(s)), s).toBe(true);
    }
  });

  it('contains the texts the search tests rely on', () => {
    const has = (re: RegExp) => records.filter((r) => texts(r).some((t) => t && re.test(t))).map((r) => r.id);
    expect(has(/東京/).length).toBeGreaterThanOrEqual(5);
    expect(has(/東京駅/).length).toBeGreaterThanOrEqual(2);
    expect(has(/東京・浅草/).length).toBeGreaterThanOrEqual(2);
    expect(has(/東京[・、]大阪/)).toEqual(['R01-0010']);
    expect(has(/[\uff66-\uff9f]/)).toEqual(['R01-0018']); // half-width katakana (ﾎﾃﾙ)
    expect(has(/[Ａ-Ｚａ-ｚ]/)).toEqual(['R02-0002']); // full-width Latin (ＮＨＫ)
    const harbour = records.filter((r) => texts(r).some((t) => t && /harbour/i.test(t)));
    expect(harbour.length).toBeGreaterThan(0);
    for (const r of harbour) expect([r.title.ja, r.description?.ja].join(' ')).not.toMatch(/harbour/i);
  });

  it('writes one image per page, with unique IIIF-safe ids and sizes matching the bibliography', async () => {
    const images = allImages();
    expect(images.length).toBeGreaterThanOrEqual(44);
    expect(new Set(images.map((i) => i.id)).size).toBe(images.length);
    for (const img of images) expect(img.id).toMatch(IMAGE_ID_RE);
    expect(records.some((r) => r.images.length >= 3 && r.images.length <= 5)).toBe(true);
    // delivered with Japanese file names: ids derived from record id + page
    expect(records.find((r) => r.id === 'R01-0021')!.images.map((i) => [i.id, i.file])).toEqual([
      ['R01-0021_p001', 'R01/浅草寺_本堂.jpg'],
      ['R01-0021_p002', 'R01/浅草寺_境内.jpg'],
    ]);
    let portrait = 0;
    let landscape = 0;
    for (const img of images) {
      const meta = await sharp(imagePath(img.file)).metadata();
      expect([meta.width, meta.height], img.file).toEqual([img.width, img.height]);
      if (img.file.endsWith('.tif')) continue;
      expect(meta.format).toBe('jpeg');
      const long = Math.max(meta.width, meta.height);
      expect(long).toBeGreaterThanOrEqual(3000 * SCALE);
      expect(long).toBeLessThanOrEqual(6000 * SCALE);
      if (meta.height > meta.width) portrait++;
      else landscape++;
    }
    expect(portrait).toBeGreaterThan(3);
    expect(landscape).toBeGreaterThan(3);
    const onDisk = [
      ...(await readdir(path.join(dataDir, 'images', 'R01'))).map((f) => `R01/${f}`),
      ...(await readdir(path.join(dataDir, 'images', 'R02'))).map((f) => `R02/${f}`),
    ].sort();
    expect(onDisk).toEqual(images.map((i) => i.file).sort());
  });

  it('stores the panorama as a tiled, pyramidal, JPEG-compressed TIFF', async () => {
    const pano = allImages().filter((i) => i.file.endsWith('.tif'));
    expect(pano).toHaveLength(1);
    const file = imagePath(pano[0]!.file);
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('tiff');
    expect([meta.width, meta.height]).toEqual([40000 * SCALE, 3000 * SCALE]);
    expect(meta.pages).toBeGreaterThan(1); // the pyramid's reduced levels
    const tags = await tiffTags(file);
    expect(tags.get(322)).toBe(512); // TileWidth
    expect(tags.get(323)).toBe(512); // TileLength
    expect(tags.get(259)).toBe(7); // Compression: JPEG
  });

  it('does nothing when the corpus exists', async () => {
    const before = (await stat(files[0]!)).mtimeMs;
    const t = Date.now();
    expect(await generateDemoCorpus(dataDir, { scale: SCALE })).toEqual(files);
    expect(Date.now() - t).toBeLessThan(1000);
    expect((await stat(files[0]!)).mtimeMs).toBe(before);
  });

  it('is deterministic', async () => {
    const other = path.join(tmp, 'again');
    const again = await generateDemoCorpus(other, { scale: SCALE, concurrency: 1 });
    const recs: ItemInput[] = [];
    for (const f of again) recs.push(...(await readBibliography(f)).records);
    expect(recs).toEqual(records);
    const digest = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex');
    for (const img of allImages()) {
      expect(await digest(path.join(other, 'images', img.file)), img.file).toBe(await digest(imagePath(img.file)));
    }
  });
});

const SQLITE = path.resolve(import.meta.dirname, '../../src/lib/search/sqlite.ts');

describe.skipIf(!existsSync(SQLITE))('loading the demo corpus into the SQLite store', () => {
  let store: SearchStore;
  beforeAll(async () => {
    const { SqliteStore } = (await import(SQLITE)) as typeof import('../../src/lib/search/sqlite.ts');
    const s = new SqliteStore(path.join(tmp, 'archive.sqlite'));
    await s.init();
    store = s;
  });
  afterAll(async () => {
    await store?.close();
  });

  const ids = async (q: string) => (await store.search({ q, pageSize: 100 })).hits.map((h) => h.record.id).sort();

  it('loads every record', async () => {
    const rep = await loadBibliographies(store, files, { batchSize: 16, now: new Date('2025-04-01T00:00:00Z') });
    expect(rep).toEqual({ records: 40, errors: [], inserted: 40, updated: 0, superseded: 0, unknownHeaders: [] });
    expect(await store.count()).toBe(40);
    const again = await loadBibliographies(store, files);
    expect(again).toMatchObject({ records: 40, errors: [], inserted: 0, updated: 40 });
    const rec = await store.get('R01-0001');
    expect(rec?.indexed_at).toBe('2025-04-01T00:00:00.000Z');
  });

  it('finds the expected items', async () => {
    const tokyo = await ids('東京');
    expect(tokyo).toEqual(expect.arrayContaining(['R01-0001', 'R01-0002', 'R01-0010', 'R02-0001', 'R02-0012']));
    expect(tokyo.length).toBeGreaterThanOrEqual(8);
    expect(await ids('東京・大阪')).toEqual(['R01-0010']);
    expect(await ids('東京駅')).toEqual(expect.arrayContaining(['R01-0001', 'R02-0001']));
    expect(await ids('ホテル')).toEqual(['R01-0018']);
    expect(await ids('ﾎﾃﾙ')).toEqual(['R01-0018']);
    expect(await ids('nhk')).toEqual(['R02-0002']);
    expect(await ids('harbour')).toContain('R01-0007');
    expect(await ids('浅草')).toEqual(['R01-0002', 'R01-0003', 'R01-0021']);
  });

  it('resolves image ids to files', async () => {
    expect(await store.getImage('R01-0021_p002')).toMatchObject({ itemId: 'R01-0021', file: 'R01/浅草寺_境内.jpg' });
    expect(await store.getImage('R02-0012')).toMatchObject({ itemId: 'R02-0012', file: 'R02/R02-0012.tif', width: 2000 });
    expect(await store.getImage('R02-0008-03')).toMatchObject({ itemId: 'R02-0008', access: 'members' });
  });
});
