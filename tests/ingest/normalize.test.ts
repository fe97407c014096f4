import fs from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { normalize, normalizeProblems, readBatchMeta, type NormalizeReport } from '../../src/lib/ingest/normalize.ts';
import { DEFAULT_RULES, RulesError, compileRules, foldBatchName, loadRules } from '../../src/lib/ingest/rules.ts';
import { image, workbook, writeDelivery2024, writeDelivery2025 } from './fixtures/delivery.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-normalize-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Every entry below a folder: relative path → kind and (for links) target. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(path.join(d, e.name))}`;
      else if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out[r] = `file ${fs.statSync(path.join(d, e.name)).size}`;
    }
  };
  walk(dir, '');
  return out;
}

/** Fingerprint of a delivery (names, sizes, mtimes): it must never change. */
function fingerprint(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      parts.push(`${p} ${st.size} ${st.mtimeMs} ${st.mode}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return parts.sort().join('\n');
}

const cli = (argv: string[], env: Record<string, string>) => runCli(tmp, argv, env);

describe('normalize rules', () => {
  const rules = compileRules();

  it('maps every spelling of a batch to one canonical id (rules are data: each pattern carries its examples)', () => {
    const cases: Array<[string, string]> = [
      ['第３回', 'R03'],
      ['第3回', 'R03'],
      ['3回納品', 'R03'],
      ['round-03', 'R03'],
      ['Round 3', 'R03'],
      ['R3', 'R03'],
      ['r03', 'R03'],
      ['R3_20240115', 'R03'],
      ['R3-20240115', 'R03'],
      ['20240115_第3回', 'R03'],
      ['３－２', 'R03-2'],
      ['3-2', 'R03-2'],
      ['3ー2', 'R03-2'], // a long-vowel mark typed for a hyphen
      ['Ｒ０３－２', 'R03-2'],
      ['第３回－２', 'R03-2'],
      ['第2回納品-20250329', 'R02'],
      ['12', 'R12'],
      ['round-123', 'R123'],
    ];
    for (const [name, id] of cases) expect(rules.parseBatch(name)?.id, name).toBe(id);
    expect(rules.parseBatch('R3_20240115')).toEqual({ id: 'R03', round: 3, date: '2024-01-15', rule: 'round' });
    expect(rules.parseBatch('３－２')).toEqual({ id: 'R03-2', round: 3, sub: 2, rule: 'number' });
    for (const p of DEFAULT_RULES.batch.patterns) for (const ex of p.examples) expect(rules.parseBatch(ex), ex).toBeDefined();
    // not batch folders: classification folders, years, dates, free text
    for (const name of ['写真', '絵葉書', 'delivery-2024', '2024', '20240115', 'spring-2024', '参考', 'R3_20241399']) {
      expect(rules.parseBatch(name), name).toBeUndefined();
    }
    expect(foldBatchName('  第３回　－　２ ')).toBe('第3回 - 2');
  });

  it('reads a spreadsheet role, category and version from its name', () => {
    const roles = ['書誌データ_第3回.xlsx', '書誌データ_第3回_ソート済み.xlsx', '書誌データ_第3回_修正版.xlsx', '書誌_修正前.xlsx', 'Bibliography_REVISED.xlsx', '書誌 sorted.xlsx'].map(
      (n) => rules.role(n).role,
    );
    expect(roles).toEqual(['original', 'sorted', 'revised', 'original', 'revised', 'sorted']);
    expect(rules.role('書誌_修正前_ソート済.xlsx').role).toBe('sorted'); // the higher role wins
    const cats = ['書誌データ_第3回.xlsx', '書誌データ_第３回_修正版.xlsx', 'R3_20240115_書誌データ_ソート済.xlsx', '書誌データ (2).xlsx', '絵葉書_書誌_修正後.xlsx', '書誌_写真_1.xlsx', '書誌_写真_2.xlsx'].map(
      (n) => rules.category(n),
    );
    expect(cats).toEqual(['書誌データ', '書誌データ', '書誌データ', '書誌データ', '絵葉書書誌', '書誌写真1', '書誌写真2']);
    expect(rules.version('書誌データ_第3回_修正版2.xlsx')).toBe(2);
    expect(rules.version('R3_20240115_書誌_修正版.xlsx')).toBe(0);
    expect(rules.requestForm('メタデータ登録依頼書.xlsx')).toBe('依頼書');
    expect(rules.requestForm('Request Form R03.xlsx')).toBe('requestform');
    expect(rules.requestForm('書誌データ.xlsx')).toBeUndefined();
  });

  it('recognises reference-only images by file or folder name, in any width and case', () => {
    expect(rules.reference('封筒_001.jpg', [])?.rule).toBe('envelope');
    expect(rules.reference('R01-0005_SLEEVE.JPG', [])?.rule).toBe('sleeve');
    expect(rules.reference('ｶﾗｰﾁｬｰﾄ.tif', [])?.rule).toBe('colour chart');
    expect(rules.reference('Colour_Chart.jpg', [])?.rule).toBe('colour chart');
    expect(rules.reference('001.jpg', ['参考', 'スリーブ'])).toEqual({ rule: 'sleeve', keyword: 'スリーブ', in: 'folder スリーブ' });
    expect(rules.reference('R01-0001.jpg', ['写真'])).toBeUndefined();
  });

  it('takes a rules file whose sections replace the defaults, and names the file when it is bad', async () => {
    const file = path.join(tmp, 'rules.json');
    await writeFile(file, JSON.stringify({ referenceImages: [{ name: 'ruler', keywords: ['スケール'] }] }));
    const custom = loadRules(file);
    expect(custom.reference('スケール.jpg', [])?.rule).toBe('ruler');
    expect(custom.reference('封筒.jpg', [])).toBeUndefined();
    expect(custom.parseBatch('第３回')?.id).toBe('R03'); // other sections keep their defaults
    await writeFile(file, JSON.stringify({ batch: { patterns: [{ name: 'x', pattern: '^(?<round>\\d+', examples: [] }] } }));
    expect(() => loadRules(file)).toThrow(RulesError);
    expect(() => loadRules(file)).toThrow(/rules\.json: batch\.patterns\[0\] \(x\): invalid regular expression/);
    await writeFile(file, JSON.stringify({ batch: { patterns: [{ name: 'y', pattern: '^B(?<round>\\d+)$', examples: ['第3回'] }] } }));
    expect(() => loadRules(file)).toThrow(/its example "第3回" matches no pattern/);
    await writeFile(file, '{"nope": 1}');
    expect(() => loadRules(file)).toThrow(/unknown section "nope"/);
    expect(() => loadRules(path.join(tmp, 'absent.json'))).toThrow(/absent\.json: file not found/);
  });
});

describe('normalize a delivery', () => {
  let d2024: string;
  let d2025: string;
  let clean: string;
  let first: NormalizeReport;
  let print2024: string;

  beforeAll(async () => {
    d2024 = path.join(tmp, 'delivery-2024');
    d2025 = path.join(tmp, 'delivery-2025');
    await writeDelivery2024(d2024);
    await writeDelivery2025(d2025);
    clean = path.join(tmp, 'clean');
    print2024 = fingerprint(d2024);
    first = await normalize({ deliveries: [d2024], cleanRoot: clean });
  });

  it('finds every batch folder, however it is spelled and however deep', () => {
    expect(first.batches.map((b) => [b.batch, b.sources.map((s) => path.relative(d2024, s))])).toEqual([
      ['R03', ['第３回']],
      ['R03-2', ['３－２']],
      ['R04', ['round-04']],
      ['R05', ['納品物/R5_20240115']],
    ]);
    expect(normalizeProblems(first)).toEqual([]);
    expect(first.totals).toEqual({ added: 13, changed: 0, removed: 0, unchanged: 0 });
  });

  it('writes a tree of symlinks only: images flattened, chosen bibliographies, meta.json', () => {
    const t = tree(clean);
    const src = (p: string) => `-> ${path.join(d2024, p)}`;
    expect(t).toEqual({
      'R03/R03-0001.jpg': src('第３回/写真/R03-0001.JPG'),
      'R03/R03-0002.jpg': src('第３回/写真/R03-0002.jpg'),
      'R03/R03-0003_back.jpg': src('第３回/絵葉書/R03-0003_back.jpg'),
      'R03/R03-0003_front.jpg': src('第３回/絵葉書/R03-0003_front.jpg'),
      'R03/bibliography/書誌データ_第3回_修正版.xlsx': src('第３回/書誌データ_第3回_修正版.xlsx'),
      'R03/meta.json': expect.stringMatching(/^file \d+$/),
      'R03/ポジ_01.jpg': src('第３回/ポジ_01.jpg'.normalize('NFD')), // NFC link name, NFD target as delivered
      'R03-2/R032-0001.tif': src('３－２/ガラス乾板－Ａ/R032-0001.tif'),
      'R03-2/bibliography/書誌_３－２.xlsx': src('３－２/書誌_３－２.xlsx'),
      'R03-2/meta.json': expect.stringMatching(/^file \d+$/),
      'R04/R04-0001.jpg': src('round-04/R04-0001.jpg'),
      'R04/R04-0002.jpg': src('round-04/R04-0002.jpg'),
      'R04/bibliography/R4_書誌.xlsx': src('round-04/R4_書誌.xlsx'),
      'R04/meta.json': expect.stringMatching(/^file \d+$/),
      'R05/R05-0001.png': src('納品物/R5_20240115/R05-0001.png'),
      'R05/bibliography/R05_書誌_sorted.xlsx': src('納品物/R5_20240115/R05_書誌_sorted.xlsx'),
      'R05/meta.json': expect.stringMatching(/^file \d+$/),
    });
    expect(Object.keys(t).find((k) => k.normalize('NFC') !== k)).toBeUndefined();
  });

  it('records what was chosen, dropped and ignored, and why, in meta.json', () => {
    const meta = readBatchMeta(clean, 'R03')!;
    expect(meta.sources).toEqual([{ path: path.join(d2024, '第３回'), folder: '第３回', rule: 'kai', round: 3 }]);
    expect(meta.spreadsheets).toHaveLength(1);
    const s = meta.spreadsheets[0]!;
    expect(s).toMatchObject({ category: '書誌データ', link: 'bibliography/書誌データ_第3回_修正版.xlsx', role: 'revised' });
    expect(s.reason).toBe('revised (修正版) outranks sorted, original');
    expect(s.candidates.map((c) => [path.basename(c.path), c.role, c.decision])).toEqual([
      ['書誌データ_第3回_ソート済.xlsx', 'sorted', 'not chosen: revised (修正版) outranks sorted (ソート済)'],
      ['書誌データ_第3回.xlsx', 'original', 'not chosen: revised (修正版) outranks original'],
    ]);
    expect(meta.dropped.map((d) => [path.relative(d2024, d.path), d.rule, d.in])).toEqual([
      ['第３回/カラーチャート.tif', 'colour chart', 'file name'],
      ['第３回/写真/R03-0002_スリーブ.jpg', 'sleeve', 'file name'],
      ['第３回/参考/封筒.jpg', 'envelope', 'file name'],
    ]);
    expect(meta.ignored.map((i) => [path.basename(i.path), i.reason])).toEqual([
      ['readme.txt', 'not an image or a spreadsheet (.txt)'],
      ['メタデータ登録依頼書.xlsx', 'request form (依頼書)'],
    ]);
    expect(meta.junk).toBe(2); // Thumbs.db, the ~$ lock file
    expect(meta.images).toEqual({
      count: 5,
      folders: [
        { source: path.join(d2024, '第３回'), folder: '', count: 1 },
        { source: path.join(d2024, '第３回'), folder: '写真', count: 2 },
        { source: path.join(d2024, '第３回'), folder: '絵葉書', count: 2 },
      ],
      renamed: 2, // R03-0001.JPG → .jpg, the NFD name → NFC
    });
    const r05 = readBatchMeta(clean, 'R05')!;
    expect(r05.sources[0]).toMatchObject({ folder: 'R5_20240115', rule: 'round', round: 5, date: '2024-01-15' });
    expect(r05.dropped.map((d) => [path.basename(d.path), d.rule, d.in])).toEqual([
      ['Color Chart.jpg', 'colour chart', 'file name'],
      ['R05-0009.jpg', 'sleeve', 'folder sleeve'],
    ]);
    expect(r05.spreadsheets[0]).toMatchObject({ role: 'sorted', reason: 'the only 書誌 spreadsheet' });
    expect(readBatchMeta(clean, 'R03-2')!.sources[0]).toMatchObject({ folder: '３－２', rule: 'number', round: 3, sub: 2 });
  });

  it('is idempotent: the same input gives the same tree, byte-identical meta.json, untouched links', async () => {
    const before = tree(clean);
    const metas = Object.fromEntries(['R03', 'R03-2', 'R04', 'R05'].map((b) => [b, fs.readFileSync(path.join(clean, b, 'meta.json'))]));
    const stats = Object.fromEntries(Object.keys(before).map((k) => [k, fs.lstatSync(path.join(clean, k))]));
    const again = await normalize({ deliveries: [d2024], cleanRoot: clean });
    expect(again.totals).toEqual({ added: 0, changed: 0, removed: 0, unchanged: 13 });
    expect(again.batches.every((b) => !b.metaChanged)).toBe(true);
    expect(tree(clean)).toEqual(before);
    for (const [b, bytes] of Object.entries(metas)) expect(fs.readFileSync(path.join(clean, b, 'meta.json')).equals(bytes), b).toBe(true);
    for (const [k, st] of Object.entries(stats)) {
      const now = fs.lstatSync(path.join(clean, k));
      expect([now.ino, now.mtimeMs], k).toEqual([st.ino, st.mtimeMs]);
    }
    expect(fingerprint(d2024)).toBe(print2024); // the delivery is only ever read
  });

  it('plans without writing in a dry run', async () => {
    const other = path.join(tmp, 'clean-dry');
    const r = await normalize({ deliveries: [d2024, d2025], cleanRoot: other, dryRun: true });
    expect(r.totals.added).toBe(16);
    expect(fs.existsSync(other)).toBe(false);
    const inc = await normalize({ deliveries: [d2025], cleanRoot: clean, dryRun: true });
    expect(inc.totals).toEqual({ added: 4, changed: 1, removed: 1, unchanged: 4 });
    expect(readBatchMeta(clean, 'R03')!.sources).toHaveLength(1);
  });

  it('is incremental: a new delivery adds only what changed, and keeps what earlier deliveries gave', async () => {
    const untouched = ['R03-2', 'R04', 'R05'].map((b) => [b, fs.lstatSync(path.join(clean, b, 'meta.json')).mtimeMs] as const);
    const before = tree(clean);
    const r = await normalize({ deliveries: [d2025], cleanRoot: clean });
    expect(normalizeProblems(r)).toEqual([]);
    expect(r.batches.map((b) => [b.batch, b.links])).toEqual([
      ['R03', { added: 2, changed: 1, removed: 1, unchanged: 4 }],
      ['R06', { added: 2, changed: 0, removed: 0, unchanged: 0 }],
    ]);
    const after = tree(clean);
    const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k] && !k.endsWith('meta.json'));
    expect(changed.sort()).toEqual([
      'R03/R03-0001.jpg', // re-digitised: the later delivery's file
      'R03/R03-0005.jpg',
      'R03/bibliography/書誌データ_第3回_修正版.xlsx', // replaced by version 2
      'R03/bibliography/書誌データ_第3回_修正版2.xlsx',
      'R06/R06-0001.jpg',
      'R06/bibliography/R06_書誌.xlsx',
    ]);
    expect(after['R03/R03-0001.jpg']).toBe(`-> ${path.join(d2025, 'R3_20250301', 'R03-0001.jpg')}`);
    expect(after['R03/R03-0002.jpg']).toBe(before['R03/R03-0002.jpg']); // from the 2024 delivery, kept
    for (const [b, mtime] of untouched) expect(fs.lstatSync(path.join(clean, b, 'meta.json')).mtimeMs, b).toBe(mtime);
    const meta = readBatchMeta(clean, 'R03')!;
    expect(meta.sources.map((s) => [s.folder, s.date])).toEqual([
      ['第３回', undefined],
      ['R3_20250301', '2025-03-01'],
    ]);
    expect(meta.superseded).toEqual([
      { name: 'R03-0001.jpg', kept: path.join(d2025, 'R3_20250301', 'R03-0001.jpg'), replaced: path.join(d2024, '第３回', '写真', 'R03-0001.JPG') },
    ]);
    expect(meta.spreadsheets[0]!.candidates[0]!.decision).toBe('not chosen: version 2 is later than 0');

    // Both deliveries at once, from nothing, give exactly the same tree and meta.json.
    const fresh = path.join(tmp, 'clean-both');
    await normalize({ deliveries: [d2025, d2024], cleanRoot: fresh });
    expect(tree(fresh)).toEqual(tree(clean));
    for (const b of ['R03', 'R03-2', 'R04', 'R05', 'R06']) {
      expect(fs.readFileSync(path.join(fresh, b, 'meta.json'), 'utf8'), b).toBe(fs.readFileSync(path.join(clean, b, 'meta.json'), 'utf8'));
    }
    // and running everything again changes nothing
    const again = await normalize({ deliveries: [d2024, d2025], cleanRoot: clean });
    expect(again.totals).toEqual({ added: 0, changed: 0, removed: 0, unchanged: 16 });
  });
});

describe('normalize problems', () => {
  it('reports conflicts, ties, unreadable formats and loose files, links the rest, exit code 1', async () => {
    const d = path.join(tmp, 'bad-delivery');
    const b = path.join(d, '第8回');
    await image(path.join(b, '写真', '001.jpg'), 10, 10);
    await image(path.join(b, '絵葉書', '001.jpg'), 12, 12);
    await image(path.join(b, '002.jpg'), 10, 10);
    await workbook(path.join(b, '書誌_修正版.xlsx'), { 書誌: [{ id: 'X-1', images: '002.jpg' }] });
    await workbook(path.join(b, '書誌_最終版.xlsx'), { 書誌: [{ id: 'X-1', images: '002.jpg' }] });
    await writeFile(path.join(b, '絵葉書書誌.xls'), 'old binary workbook');
    await image(path.join(d, '未整理', 'loose.jpg'), 10, 10);
    await image(path.join(d, 'stray.jpg'), 10, 10);
    await image(path.join(d, 'a', 'b', 'c', 'R11', 'too-deep.jpg'), 10, 10); // a batch folder 4 levels down: not searched
    await mkdir(path.join(d, '第9回'), { recursive: true });
    await image(path.join(d, '第9回', 'only-images.jpg'), 10, 10);
    const env = { DATA_DIR: path.join(tmp, 'bad-data') };
    const r = await cli(['normalize', d], env);
    expect(r.code).toBe(1);
    const errs = r.err.split('\n');
    expect(errs).toEqual([
      `${path.join(d, 'a')}/: holds images or spreadsheets but is not a batch folder (no batch rule matches its name) and holds none; not used`,
      `${path.join(d, '未整理')}/: holds images or spreadsheets but is not a batch folder (no batch rule matches its name) and holds none; not used`,
      `${d}/: 1 image or spreadsheet file outside any batch folder (stray.jpg); not used`,
      `batch R08: ${path.join(b, '絵葉書書誌.xls')}: unsupported spreadsheet format .xls; save it as .xlsx`,
      `batch R08: 001.jpg: delivered 2 times in one source (${path.join(b, '写真', '001.jpg')}, ${path.join(b, '絵葉書', '001.jpg')}); linked ${path.join(b, '写真', '001.jpg')}. Rename the others.`,
      `batch R08: 書誌: ${path.join(b, '書誌_最終版.xlsx')} and ${path.join(b, '書誌_修正版.xlsx')} have the same role (revised) and version; chose ${path.join(b, '書誌_最終版.xlsx')}. Remove or rename the other.`,
      `batch R09: no bibliography spreadsheet in ${path.join(d, '第9回')}: its images cannot be indexed`,
    ]);
    const images = path.join(tmp, 'bad-data', 'images');
    expect(fs.readlinkSync(path.join(images, 'R08', '001.jpg'))).toBe(path.join(b, '写真', '001.jpg'));
    expect(fs.readlinkSync(path.join(images, 'R08', '002.jpg'))).toBe(path.join(b, '002.jpg'));
    expect(fs.readlinkSync(path.join(images, 'R09', 'only-images.jpg'))).toBe(path.join(d, '第9回', 'only-images.jpg'));
    expect(r.out).toMatch(/normalized 2 batches \(3 images, 7 files looked at\); links: 4 new, 0 changed, 0 removed, 0 unchanged; 7 problems$/);
  });

  it('never replaces a file it did not create, and leaves a batch alone when a recorded source is gone', async () => {
    const d = path.join(tmp, 'moving');
    await image(path.join(d, 'R10', 'A.jpg'), 10, 10);
    await workbook(path.join(d, 'R10', '書誌.xlsx'), { 書誌: [{ id: 'A', images: 'A.jpg' }] });
    const cleanRoot = path.join(tmp, 'moving-clean');
    await mkdir(path.join(cleanRoot, 'R10'), { recursive: true });
    await writeFile(path.join(cleanRoot, 'R10', 'A.jpg'), 'a real file someone put here');
    const r = await normalize({ deliveries: [d], cleanRoot });
    expect(normalizeProblems(r)).toEqual([
      `batch R10: ${path.join(cleanRoot, 'R10', 'A.jpg')}: a file that normalize did not create is in the way; not replaced`,
    ]);
    expect(fs.readFileSync(path.join(cleanRoot, 'R10', 'A.jpg'), 'utf8')).toBe('a real file someone put here');
    fs.rmSync(path.join(cleanRoot, 'R10', 'A.jpg'));
    expect(normalizeProblems(await normalize({ deliveries: [d], cleanRoot }))).toEqual([]);

    // A second delivery of R10 elsewhere; then the first one disappears.
    const d2 = path.join(tmp, 'moving-2');
    await image(path.join(d2, 'R10_20250101', 'B.jpg'), 10, 10);
    await normalize({ deliveries: [d2], cleanRoot });
    expect(fs.existsSync(path.join(cleanRoot, 'R10', 'A.jpg'))).toBe(true);
    const before = tree(cleanRoot);
    fs.renameSync(path.join(d, 'R10'), path.join(d, 'R10-moved'));
    const r2 = await normalize({ deliveries: [d2], cleanRoot });
    expect(normalizeProblems(r2)[0]).toMatch(/^batch R10: source .*moving\/R10 \(recorded in .*meta\.json\) is gone; batch left unchanged/);
    expect(r2.batches[0]!.written).toBe(false);
    expect(tree(cleanRoot)).toEqual(before);
  });

  it('refuses a missing delivery and a clean tree inside the delivery, exit code 2', async () => {
    const env = { DATA_DIR: path.join(tmp, 'refuse') };
    const missing = await cli(['normalize', path.join(tmp, 'nowhere')], env);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^archive normalize: delivery folder .*nowhere not found/);
    const nested = await cli(['normalize', tmp], env);
    expect(nested.code).toBe(2);
    expect(nested.err).toMatch(/must not contain each other/);
    const rules = await cli(['normalize', '--rules', path.join(tmp, 'nope.json')], env);
    expect(rules.code).toBe(2);
    expect(rules.err).toMatch(/^archive normalize: normalize rules: .*nope\.json: file not found/);
  });

  it('prints the effective rules as JSON', async () => {
    const r = await cli(['normalize', '--print-rules'], { DATA_DIR: path.join(tmp, 'print') });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(DEFAULT_RULES);
  });
});
