import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_FOLDERS, DEMO_MARKER, generateDemoCorpus } from '../../src/lib/demo/delivery.ts';
import { setUpDemo } from '../../src/lib/demo/setup.ts';
import { readBibliography } from '../../src/lib/ingest/excel.ts';
import { normalize, normalizeProblems, readBatchMeta } from '../../src/lib/ingest/normalize.ts';
import { IMAGE_ID_RE, type ItemInput } from '../../src/lib/domain.ts';
import type { SearchStore } from '../../src/lib/search/store.ts';
import { parseDateRange } from '../../src/lib/dates/range.ts';

const SCALE = 0.05;
let tmp: string;
let dataDir: string;
let delivery: string;
/** The revised bibliographies: what the archive must end up holding. */
let files: string[];
let records: ItemInput[];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-demo-'));
  dataDir = path.join(tmp, 'data');
  delivery = await generateDemoCorpus(dataDir, { scale: SCALE });
  files = [
    path.join(delivery, DEMO_FOLDERS.R01, '書誌データ_第1回_修正版.xlsx'),
    path.join(delivery, DEMO_FOLDERS.R02, 'R2_書誌_修正後.xlsx'),
  ];
  records = [];
  for (const f of files) {
    const r = await readBibliography(f, { imageDir: f.includes(DEMO_FOLDERS.R01) ? 'R01' : 'R02' });
    expect(r.errors).toEqual([]);
    records.push(...r.records);
  }
  const rep = await normalize({ deliveries: [delivery], cleanRoot: path.join(dataDir, 'images') });
  expect(normalizeProblems(rep)).toEqual([]);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** An image file below the clean tree (a symlink into the delivery). */
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
  it('writes two delivery rounds as a raw delivery that drifts, and a marker', async () => {
    expect(delivery).toBe(path.join(dataDir, 'delivery'));
    expect(existsSync(path.join(dataDir, DEMO_MARKER))).toBe(true);
    const r01 = (await readdir(path.join(delivery, '第１回納品'))).sort();
    expect(r01).toEqual(
      [
        'Thumbs.db',
        'アルバム－写真帖',
        'ガラス乾板',
        'メタデータ登録依頼書_第1回.xlsx',
        '写真',
        '参考資料',
        '書誌データ_第1回.xlsx',
        '書誌データ_第1回_ソート済.xlsx',
        '書誌データ_第1回_修正版.xlsx',
        '絵葉書',
        '鶏卵紙写真',
      ].sort(),
    );
    const r02 = await readdir(path.join(delivery, 'R2_20250329'));
    expect(r02).toEqual(expect.arrayContaining(['R2_書誌_修正前.xlsx', 'R2_書誌_修正後.xlsx', '~$R2_書誌_修正後.xlsx', 'R02-0001.JPG', 'R02-0003_スリーブ.JPG', 'colour chart.JPG']));
    expect(records).toHaveLength(40);
    expect(records.filter((r) => r.batch === 'R01')).toHaveLength(24);
    expect(records.filter((r) => r.batch === 'R02')).toHaveLength(16);
    // a title row sits above the header row
    expect(records[0]!.source).toEqual({ file: '書誌データ_第1回_修正版.xlsx', sheet: '書誌データ', row: 5 });
  });

  it('is normalized into the clean tree: the revised bibliographies, no reference shots, no request form', () => {
    const r01 = readBatchMeta(path.join(dataDir, 'images'), 'R01')!;
    expect(r01.sources.map((x) => [x.folder, x.rule])).toEqual([['第１回納品', 'kai']]);
    expect(r01.spreadsheets.map((x) => [x.link, x.reason])).toEqual([
      ['bibliography/書誌データ_第1回_修正版.xlsx', 'revised (修正版) outranks sorted, original'],
    ]);
    expect(r01.ignored.map((x) => [path.basename(x.path), x.reason])).toEqual([['メタデータ登録依頼書_第1回.xlsx', 'request form (依頼書)']]);
    expect(r01.dropped.map((x) => [path.basename(x.path), x.rule])).toEqual([
      ['カラーチャート.jpg', 'colour chart'],
      ['封筒_第1回.jpg', 'envelope'],
    ]);
    const r02 = readBatchMeta(path.join(dataDir, 'images'), 'R02')!;
    expect(r02.sources.map((x) => [x.folder, x.rule, x.date])).toEqual([['R2_20250329', 'round', '2025-03-29']]);
    expect(r02.spreadsheets.map((x) => [x.link, x.role])).toEqual([['bibliography/R2_書誌_修正後.xlsx', 'revised']]);
    expect(r02.dropped.map((x) => x.rule).sort()).toEqual(['colour chart', 'sleeve']);
    expect(r02.images.renamed).toBe(r02.images.count - 1); // every .JPG became .jpg; the panorama is a .tif
  });

  it('produces plausible bilingual records', () => {
    for (const r of records) {
      expect(r.title.ja && r.title.en, r.id).toBeTruthy();
      expect([...r.description!.ja!].length, r.id).toBeGreaterThanOrEqual(50);
      expect([...r.description!.ja!].length, r.id).toBeLessThanOrEqual(150);
      expect(r.description!.en, r.id).toBeTruthy();
      expect(r.creator?.ja && r.creator.en && r.place?.ja && r.place.en && r.date && r.rights, r.id).toBeTruthy();
      expect(r.subjects!.length, r.id).toBeGreaterThan(0);
      expect(r.date, r.id).toMatch(/明治|大正|昭和|\d{4}|不詳/);
    }
    // Dates in the forms bibliographies use (和暦 with a Western gloss, kanji numerals, era parts,
    // spans, a decade half) all give a year range, except the one written as unknown (issue 15.4).
    expect(records.filter((r) => parseDateRange(r.date) === null).map((r) => [r.id, r.date])).toEqual([['R02-0016', '年代不詳']]);
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
    const links = async (b: string) =>
      (await readdir(path.join(dataDir, 'images', b), { withFileTypes: true })).filter((e) => e.isSymbolicLink()).map((e) => `${b}/${e.name}`);
    const onDisk = [...(await links('R01')), ...(await links('R02'))].sort();
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
    // Every file of the delivery keeps its modification time: nothing is drawn or written again.
    const mtimes = async () => {
      const names = (await readdir(delivery, { recursive: true })).sort();
      return Promise.all(names.map(async (n) => [n, (await stat(path.join(delivery, n))).mtimeMs] as const));
    };
    const before = await mtimes();
    expect(before.length).toBeGreaterThan(40);
    expect(await generateDemoCorpus(dataDir, { scale: SCALE })).toBe(delivery);
    expect(await mtimes()).toEqual(before);
  });

  it('replaces a version-1 corpus (image files written into the image tree) by the delivery + symlinks', async () => {
    const old = path.join(tmp, 'v1');
    await mkdir(path.join(old, 'images', 'R01'), { recursive: true });
    await mkdir(path.join(old, 'bibliography'), { recursive: true });
    await writeFile(path.join(old, 'images', 'R01', 'R01-0001.jpg'), 'v1 image');
    await writeFile(path.join(old, 'bibliography', 'R01.xlsx'), 'v1 workbook');
    await writeFile(path.join(old, DEMO_MARKER), JSON.stringify({ version: 1, seed: 1902, scale: 0.05, bibliographies: ['bibliography/R01.xlsx'], imagesDir: 'images', images: 1 }));
    const d = await generateDemoCorpus(old, { scale: SCALE });
    expect(existsSync(path.join(old, 'bibliography'))).toBe(false);
    expect(existsSync(path.join(old, 'images', 'R01'))).toBe(false);
    const rep = await normalize({ deliveries: [d], cleanRoot: path.join(old, 'images') });
    expect(normalizeProblems(rep)).toEqual([]);
    expect(JSON.parse(await readFile(path.join(old, DEMO_MARKER), 'utf8'))).toMatchObject({ version: 2, delivery: 'delivery', images: 51 });
  });

  it('is deterministic', async () => {
    const other = path.join(tmp, 'again');
    const again = await generateDemoCorpus(other, { scale: SCALE, concurrency: 1 });
    const recs: ItemInput[] = [];
    for (const f of files) {
      const rel = path.relative(delivery, f);
      recs.push(...(await readBibliography(path.join(again, rel), { imageDir: rel.startsWith(DEMO_FOLDERS.R01) ? 'R01' : 'R02' })).records);
    }
    expect(recs).toEqual(records);
    const digest = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex');
    const list = async (dir: string): Promise<string[]> => {
      const out: string[] = [];
      for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
      return out.sort();
    };
    const names = await list(delivery);
    expect(await list(again)).toEqual(names);
    for (const f of names.filter((n) => /\.(jpe?g|tif)$/i.test(n))) {
      expect(await digest(path.join(again, f)), f).toBe(await digest(path.join(delivery, f)));
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

  it('loads every record through the pipeline (setUpDemo: normalize → index), idempotently', async () => {
    const cfg = { dataDir, images: { root: path.join(dataDir, 'images') }, s3: { prefix: 'photos/' } } as Parameters<typeof setUpDemo>[0];
    const setup = await setUpDemo(cfg, store, { scale: SCALE, now: new Date('2025-04-01T00:00:00Z') });
    expect(setup.generated).toBe(false);
    expect(setup.sync).toBeUndefined(); // no S3 configured
    expect(setup.normalize.totals).toEqual({ added: 0, changed: 0, removed: 0, unchanged: 49 });
    expect(setup.index).toMatchObject({ records: 40, errors: [], inserted: 40, updated: 0, superseded: 0, unknownHeaders: [], warnings: [] });
    expect(setup.index.dimensions).toEqual({ read: 47, unreadable: 0, differing: 0 });
    expect(await store.count()).toBe(40);
    const again = await setUpDemo(cfg, store, { scale: SCALE });
    expect(again.index).toMatchObject({ records: 40, errors: [], inserted: 0, updated: 40 });
    const rec = await store.get('R01-0001');
    expect(rec?.indexed_at).toBe('2025-04-01T00:00:00.000Z');
  });

  it('holds what the revised bibliographies say, not the earlier ones or the request form', async () => {
    expect((await store.get('R01-0001'))!.title.ja).toBe('東京駅丸ノ内口'); // the original has ロ for 口
    expect((await store.get('R01-0001'))!.source?.file).toBe('書誌データ_第1回_修正版.xlsx');
    // the original marks these 公開: choosing it would have published members-only items
    expect((await store.get('R01-0013'))!.access).toBe('members');
    expect((await store.get('R02-0008'))!.access).toBe('members');
    expect((await store.get('R02-0001'))!.source?.file).toBe('R2_書誌_修正後.xlsx');
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
    expect(await store.getImage('R02-0012')).toMatchObject({ itemId: 'R02-0012', file: 'R02/R02-0012.tif', width: 2000, height: 150 });
    expect(await store.getImage('R02-0001')).toMatchObject({ file: 'R02/R02-0001.jpg' }); // delivered as R02-0001.JPG
    expect(await store.getImage('R02-0008-03')).toMatchObject({ itemId: 'R02-0008', access: 'members' });
  });
});
