/**
 * The demo corpus's delivery writer: two delivery rounds of a fictional provider's historical
 * photographs (data.ts), written as a RAW DELIVERY that drifts the way real ones do — folders,
 * image files (drawn by draw.ts) and bibliography workbooks. setup.ts then puts it through the real
 * pipeline (normalize → index, and sync when S3 is configured). Nothing is loaded by a shortcut:
 * what the archive shows is what the pipeline made of the delivery.
 *
 *   <dataDir>/delivery/第１回納品/             round 1: full-width digit in the folder name;
 *       写真/ ガラス乾板/ 鶏卵紙写真/ 絵葉書/      images in classification subfolders (one with a
 *       アルバム－写真帖/                        full-width hyphen),
 *       参考資料/封筒_第1回.jpg, カラーチャート.jpg   reference-only shots,
 *       書誌データ_第1回.xlsx                    before revision (wrong texts, a members-only item marked 公開),
 *       書誌データ_第1回_ソート済.xlsx             the same, sorted,
 *       書誌データ_第1回_修正版.xlsx               the revised bibliography (the one to use),
 *       メタデータ登録依頼書_第1回.xlsx            a request form (has an id column; must be ignored),
 *       Thumbs.db
 *   <dataDir>/delivery/R2_20250329/           round 2: another naming scheme with a date; flat,
 *       R02-0001.JPG …                         upper-case extensions, a sleeve and a colour chart,
 *       R2_書誌_修正前.xlsx, R2_書誌_修正後.xlsx   before and after revision, an Excel lock file
 *   <dataDir>/.demo-corpus.json               marker: present = delivery complete
 *
 * normalize links it into the clean tree (IMAGE_ROOT/R01, R02) and index loads the revised
 * bibliographies into the store.
 *
 * Everything is deterministic: record texts are fixed data, every other choice (creators, rights,
 * notes, image sizes, what each picture shows) comes from a seeded PRNG keyed by record id, so the
 * same options give the same corpus on every run. No network.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { COLLECTIONS, CREATORS, NOTES, R01, R02, RIGHTS, hash, rng, type Bi, type DemoEntry } from './data.ts';
import { dims, referenceImage, renderImage, sceneFor, type ImagePlan } from './draw.ts';

export interface DemoOptions {
  /** PRNG seed (default 1902). */
  seed?: number;
  /** Multiplies every image dimension (default 1; e.g. 0.05 for fast tests). */
  scale?: number;
  /** Where the raw delivery goes (default `<dataDir>/delivery`). */
  deliveryDir?: string;
  /** Images rendered at once (default: the number of CPUs + 1). */
  concurrency?: number;
  /** Regenerate even when the marker says the corpus exists. */
  force?: boolean;
  /** Called after each image file is written. */
  onImage?: (file: string, done: number, total: number) => void;
}

export const DEMO_MARKER = '.demo-corpus.json';
const DEMO_VERSION = 2;

/** Delivery folder of each round: two naming schemes, a full-width digit, a date suffix. */
export const DEMO_FOLDERS = { R01: '第１回納品', R02: 'R2_20250329' } as const;

/** Classification subfolder of a round-1 image, by the record's type. */
const R01_SUBFOLDERS: Record<string, string> = {
  写真: '写真',
  ガラス乾板: 'ガラス乾板',
  鶏卵紙写真: '鶏卵紙写真',
  アルバム: 'アルバム－写真帖',
  絵葉書: '絵葉書',
};

// ------------------------------------------------------------------------------------------------
// Workbooks

const HEADERS = {
  R01: [
    '資料番号', '回次', '資料種別', '題名', '題名（英）', '撮影者', '作成者（英）', '撮影年', '撮影地', '撮影地（英）',
    '解説', '解説（英）', 'キーワード', 'コレクション', 'コレクション（英）', '権利', '備考', '公開区分', '画像ファイル', '幅', '高さ',
  ],
  // The second round's spreadsheet drifted, as real ones do: other wordings, half-width brackets.
  R02: [
    '資料番号', '回次', '資料種別', 'タイトル', 'タイトル(英)', '作成者', '作成者 (英)', '年代', '撮影地', '撮影地(英)',
    '解説', '解説 (英)', 'キーワード', 'コレクション', 'コレクション(英)', '権利', '備考', '公開区分', '画像ファイル', '幅', '高さ',
  ],
} as const;

interface Planned {
  entry: DemoEntry;
  batch: 'R01' | 'R02';
  images: ImagePlan[];
  creator: Bi;
  collection: Bi;
  rights: string;
  notes?: string;
}

function plan(seed: number, scale: number, deliveryDir: string): Planned[] {
  const out: Planned[] = [];
  for (const [batch, entries] of [['R01', R01], ['R02', R02]] as const) {
    for (const e of entries) {
      const r = rng(seed, e.id);
      const pages = e.files?.length ?? e.pages ?? 1;
      const names =
        e.files ??
        (e.panorama
          ? [`${e.id}.tif`]
          : pages === 1
            ? [`${e.id}.jpg`]
            : Array.from({ length: pages }, (_, i) => `${e.id}-${String(i + 1).padStart(2, '0')}.jpg`));
      const sepia = e.panorama || e.type === '鶏卵紙写真' || e.type === '絵葉書' || r.chance(0.55);
      const first = dims(r, e, scale);
      const images = names.map((name, i): ImagePlan => {
        const d = i === 0 ? first : e.type === '絵葉書' ? first : dims(r, e, scale);
        return {
          recordId: e.id,
          batch,
          name,
          path: deliveredPath(deliveryDir, batch, e, name),
          ...d,
          page: i + 1,
          pages,
          caption: `${e.id}  ${e.title.en}${pages > 1 ? `  (${i + 1}/${pages})` : ''}`,
          scene: sceneFor(e),
          sepia,
          panorama: !!e.panorama,
          seed: hash(`${seed}:${e.id}:${i}`),
          corpusSeed: seed,
        };
      });
      out.push({
        entry: e,
        batch,
        images,
        creator: e.id === 'R01-0012' ? CREATORS[7]! : r.pick(CREATORS.slice(0, 7)),
        collection: e.type === '絵葉書' ? COLLECTIONS[1]! : r.pick([COLLECTIONS[0]!, COLLECTIONS[2]!]),
        rights: r.pick(RIGHTS),
        notes: e.type === 'ガラス乾板' ? NOTES[0] : r.chance(0.35) ? r.pick(NOTES.slice(1)) : undefined,
      });
    }
  }
  return out;
}

/** Where a delivered image file lies: round 1 in subfolders by type, round 2 flat with ".JPG". */
function deliveredPath(deliveryDir: string, batch: 'R01' | 'R02', e: DemoEntry, name: string): string {
  const folder = path.join(deliveryDir, DEMO_FOLDERS[batch]);
  if (batch === 'R01') return path.join(folder, R01_SUBFOLDERS[e.type] ?? 'その他', name);
  return path.join(folder, name.replace(/\.jpg$/, '.JPG'));
}

/**
 * The state of a bibliography: `revised` is the correct one; `original` (before revision) has
 * errors the revision fixed — a wrong character in a title, members-only items marked 公開 — and
 * `sorted` is the original sorted by type.
 */
type Variant = 'revised' | 'original' | 'sorted';

const ORIGINAL_ERRORS: Record<string, Partial<Pick<DemoEntry, 'title' | 'access'>>> = {
  'R01-0001': { title: { ja: '東京駅丸ノ内ロ', en: 'Tokyo Station, Marunouchi entrance' } },
  'R01-0013': { access: '公開' },
  'R02-0008': { access: '公開' },
};

async function writeWorkbook(file: string, batch: 'R01' | 'R02', planned: Planned[], variant: Variant = 'revised'): Promise<void> {
  let items = planned;
  if (variant !== 'revised') {
    items = planned.map((it) => (ORIGINAL_ERRORS[it.entry.id] ? { ...it, entry: { ...it.entry, ...ORIGINAL_ERRORS[it.entry.id] } } : it));
    if (variant === 'sorted') items = [...items].sort((a, b) => (a.entry.type < b.entry.type ? -1 : a.entry.type > b.entry.type ? 1 : a.entry.id < b.entry.id ? -1 : 1));
  }
  const wb = new ExcelJS.Workbook();
  const stamp = new Date(Date.UTC(batch === 'R01' ? 2024 : 2025, 2, 29));
  wb.creator = '写真資料整理委員会';
  wb.created = stamp;
  wb.modified = stamp;
  const ws = wb.addWorksheet('書誌データ', { views: [{ state: 'frozen', ySplit: 4 }] });
  const headers = HEADERS[batch];
  const round = batch === 'R01' ? 1 : 2;
  ws.getCell('A1').value = `写真資料 書誌データ 第${round}回納品（${batch}）`;
  ws.getCell('A1').font = { bold: true, size: 14 };
  ws.mergeCells(1, 1, 1, headers.length);
  ws.getCell('A2').value = `納品日：${stamp.toISOString().slice(0, 10)}　件数：${items.length}件`;
  const header = ws.getRow(4);
  header.values = [undefined, ...headers];
  header.font = { bold: true };
  header.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFDDE5F0' } };
  const sep = batch === 'R01' ? '；' : '、';
  items.forEach((it, i) => {
    const e = it.entry;
    const list = (xs: readonly (string | number)[]) => xs.join(batch === 'R01' ? '；' : ';');
    const pages = it.images.length;
    const row = ws.getRow(5 + i);
    row.values = [
      undefined,
      e.id,
      batch === 'R01' ? batch : String(round), // R02 writes the round as a plain number
      e.type,
      e.title.ja,
      e.title.en,
      it.creator.ja,
      it.creator.en,
      e.date,
      e.place.ja,
      e.place.en,
      e.description.ja,
      e.description.en,
      e.subjects.join(sep),
      it.collection.ja,
      it.collection.en,
      it.rights,
      it.notes ?? null,
      e.access ?? '公開',
      pages > 1 ? it.images.map((p) => p.name).join('\n') : it.images[0]!.name,
      pages > 1 ? list(it.images.map((p) => p.width)) : it.images[0]!.width,
      pages > 1 ? list(it.images.map((p) => p.height)) : it.images[0]!.height,
    ];
    row.alignment = { vertical: 'top', wrapText: true };
  });
  headers.forEach((hd, i) => {
    ws.getColumn(i + 1).width = /解説/.test(hd) ? 60 : /題名|タイトル|画像/.test(hd) ? 30 : 14;
  });
  // A second sheet explaining the codes, as providers like to include.
  const legend = wb.addWorksheet('凡例');
  legend.addRow(['公開区分']);
  legend.addRow(['公開', '一般に公開']);
  legend.addRow(['会員', '会員のみ閲覧可']);
  legend.addRow(['職員', '職員のみ閲覧可']);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.from(await wb.xlsx.writeBuffer()));
}

// ------------------------------------------------------------------------------------------------
// The marker

interface Marker {
  version: number;
  seed: number;
  scale: number;
  /** The raw delivery, relative to dataDir. */
  delivery: string;
  /** Image files written (archive images and reference-only shots). */
  images: number;
}

/** Version-1 marker: workbooks in <dataDir>/bibliography, image files written into the image tree. */
interface MarkerV1 {
  version: 1;
  bibliographies: string[];
  imagesDir: string;
}

async function readMarker(dataDir: string): Promise<Marker | MarkerV1 | undefined> {
  const marker = path.join(dataDir, DEMO_MARKER);
  if (!existsSync(marker)) return undefined;
  try {
    return JSON.parse(await readFile(marker, 'utf8')) as Marker | MarkerV1;
  } catch {
    return undefined;
  }
}

/** The marker of a complete demo delivery below `dataDir`, or undefined when there is none. */
export async function existingDemoCorpus(dataDir: string): Promise<Marker | undefined> {
  const m = await readMarker(dataDir);
  return m && m.version === DEMO_VERSION ? (m as Marker) : undefined;
}

/**
 * A version-1 demo corpus wrote its images as regular files into the image tree, where normalize
 * now puts symlinks (and never replaces a file it did not create): remove exactly what it wrote.
 */
async function removeV1Corpus(dataDir: string, m: MarkerV1): Promise<void> {
  const images = path.resolve(dataDir, m.imagesDir);
  for (const b of ['R01', 'R02']) await rm(path.join(images, b), { recursive: true, force: true });
  for (const f of m.bibliographies ?? []) await rm(path.resolve(dataDir, f), { force: true });
  await rmdir(path.join(dataDir, 'bibliography')).catch(() => {}); // only when empty
}

/** Run `fn` over `items` with at most `n` in flight, in order of start. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

/** A request form: metadata-management paperwork with an id column, never a bibliography. */
async function writeRequestForm(file: string, ids: string[]): Promise<void> {
  const wb = new ExcelJS.Workbook();
  const stamp = new Date(Date.UTC(2024, 2, 1));
  wb.created = stamp;
  wb.modified = stamp;
  const ws = wb.addWorksheet('登録依頼');
  ws.addRow(['メタデータ登録依頼書']);
  ws.addRow(['資料番号', '依頼内容', '担当']);
  for (const id of ids) ws.addRow([id, '新規登録', '整理係']);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.from(await wb.xlsx.writeBuffer()));
}

/**
 * Write the raw demo delivery below `<dataDir>/delivery` (see the module comment) and return its
 * folder. If the marker says a complete delivery is there, nothing is written.
 */
export async function generateDemoCorpus(dataDir: string, opts: DemoOptions = {}): Promise<string> {
  const seed = opts.seed ?? 1902;
  const scale = opts.scale ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`demo scale must be in (0, 1], got ${scale}`);
  const deliveryDir = path.resolve(opts.deliveryDir ?? path.join(dataDir, 'delivery'));
  const previous = await readMarker(dataDir);
  if (!opts.force && previous?.version === DEMO_VERSION && path.resolve(dataDir, (previous as Marker).delivery) === deliveryDir) {
    return deliveryDir;
  }
  if (previous?.version === 1) await removeV1Corpus(dataDir, previous as MarkerV1);
  await rm(path.join(dataDir, DEMO_MARKER), { force: true });
  for (const b of ['R01', 'R02'] as const) await rm(path.join(deliveryDir, DEMO_FOLDERS[b]), { recursive: true, force: true });
  const items = plan(seed, scale, deliveryDir);

  const r01 = path.join(deliveryDir, DEMO_FOLDERS.R01);
  const r02 = path.join(deliveryDir, DEMO_FOLDERS.R02);
  const of = (b: 'R01' | 'R02') => items.filter((it) => it.batch === b);
  await writeWorkbook(path.join(r01, '書誌データ_第1回.xlsx'), 'R01', of('R01'), 'original');
  await writeWorkbook(path.join(r01, '書誌データ_第1回_ソート済.xlsx'), 'R01', of('R01'), 'sorted');
  await writeWorkbook(path.join(r01, '書誌データ_第1回_修正版.xlsx'), 'R01', of('R01'), 'revised');
  await writeRequestForm(path.join(r01, 'メタデータ登録依頼書_第1回.xlsx'), of('R01').map((it) => it.entry.id));
  await writeFile(path.join(r01, 'Thumbs.db'), Buffer.alloc(64));
  await writeWorkbook(path.join(r02, 'R2_書誌_修正前.xlsx'), 'R02', of('R02'), 'original');
  await writeWorkbook(path.join(r02, 'R2_書誌_修正後.xlsx'), 'R02', of('R02'), 'revised');
  await writeFile(path.join(r02, '~$R2_書誌_修正後.xlsx'), Buffer.alloc(165));

  const references = [
    path.join(r01, '参考資料', '封筒_第1回.jpg'),
    path.join(r01, '参考資料', 'カラーチャート.jpg'),
    path.join(r02, 'R02-0003_スリーブ.JPG'),
    path.join(r02, 'colour chart.JPG'),
  ];
  // Biggest first, so the panorama overlaps with the rest instead of finishing last.
  const images = items.flatMap((it) => it.images).sort((a, b) => b.width * b.height - a.width * a.height);
  const total = images.length + references.length;
  let done = 0;
  // One more job than CPUs: each job waits on I/O between its two sharp pipelines.
  await pool(images, opts.concurrency ?? os.availableParallelism() + 1, async (p) => {
    await renderImage(p);
    opts.onImage?.(p.path, ++done, total);
  });
  for (const [i, file] of references.entries()) {
    await referenceImage(file, scale, 200 - i * 20);
    opts.onImage?.(file, ++done, total);
  }

  const marker: Marker = { version: DEMO_VERSION, seed, scale, delivery: path.relative(dataDir, deliveryDir) || '.', images: total };
  await writeFile(path.join(dataDir, DEMO_MARKER), JSON.stringify(marker, null, 2) + '\n');
  return deliveryDir;
}
