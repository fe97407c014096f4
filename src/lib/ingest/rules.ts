/**
 * The normalize rules, as data.
 *
 * Every way a delivery drifts that `normalize` absorbs is described here, not in code paths:
 * how a folder name becomes a canonical batch id, which files are images or bibliographies, how a
 * bibliography's role (revised / sorted / before revision) and category are read from its file
 * name, which files are request forms, and which images are reference-only shots (envelopes,
 * sleeves, colour charts). `DEFAULT_RULES` is the built-in set; an archivist can print it
 * (`archive normalize --print-rules`), edit a copy and point NORMALIZE_RULES at it. A rules file
 * is JSON of the same shape; each top-level section given in the file replaces that section of
 * the defaults (see `mergeRules`).
 *
 * Matching is done on *folded* text: NFKC (full-width letters, digits and punctuation become ASCII,
 * half-width katakana full-width), lower case, and — for keywords — without spaces, underscores,
 * hyphens, dots and middle dots, so "Colour_Chart", "colour chart" and "ＣＯＬＯＵＲ－ＣＨＡＲＴ" all
 * match the keyword "colour chart".
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface BatchPattern {
  /** Shown in meta.json: which rule made this folder batch R03. */
  name: string;
  /**
   * Regular expression source, matched case-insensitively against the WHOLE folded folder name
   * (see `foldBatchName`). Named groups: `round` (required), `sub`, `date` (8 digits or
   * YYYY-MM-DD).
   */
  pattern: string;
  /** Folder names this pattern must accept (checked by the tests and by `compileRules`). */
  examples: string[];
}

export interface SpreadsheetRole {
  /** `revised`, `sorted`, `original`, … (free text, shown in meta.json). */
  role: string;
  /** Higher wins. */
  priority: number;
  /** File-name keywords that give a spreadsheet this role. */
  keywords: string[];
}

export interface ReferenceRule {
  /** Shown in meta.json as the reason an image was dropped. */
  name: string;
  /** Keywords matched against the image's file name and every folder name above it in the batch. */
  keywords: string[];
}

export interface NormalizeRules {
  batch: {
    /** Tried in order; the first that matches names the batch. */
    patterns: BatchPattern[];
    /** Canonical id: prefix + round zero-padded to `pad` digits + (subSeparator + sub). */
    prefix: string;
    pad: number;
    subSeparator: string;
    /** How many folder levels below a delivery root are searched for batch folders. */
    searchDepth: number;
  };
  images: {
    /** Lower-case extensions, with the dot. */
    extensions: string[];
    /** Write the clean link's extension in lower case (".JPG" → ".jpg"). */
    lowercaseExtension: boolean;
  };
  spreadsheets: {
    /** Bibliography workbooks the reader can open. */
    extensions: string[];
    /** Spreadsheet formats that are reported (save as .xlsx), never read. */
    unsupported: string[];
    /** Role of a file whose name has none of the keywords below. */
    defaultRole: string;
    roles: SpreadsheetRole[];
    /** File-name keywords of request forms and other metadata-management artifacts: ignored. */
    requestForms: string[];
    /**
     * Regular expression sources removed from a file name (NFKC, lower case) to get its
     * category: batch ids, dates, version marks. Role keywords are removed too. Files of one
     * batch with the same category compete; the one with the highest role priority is chosen.
     */
    categoryNoise: string[];
    /** Category of a file whose name is nothing but noise. */
    defaultCategory: string;
  };
  /** Reference-only images (not archive items): dropped. */
  referenceImages: ReferenceRule[];
  /** File names never looked at (folded, exact); names starting with "." or "~$" are always junk. */
  junkFiles: string[];
  /** Folder names never descended into (folded, exact); names starting with "." always. */
  junkFolders: string[];
}

const DATE = String.raw`(?<date>\d{8}|\d{4}-\d{2}-\d{2})`;
const SUB = String.raw`(?<sub>\d{1,2})(?!\d)`;

export const DEFAULT_RULES: NormalizeRules = {
  batch: {
    patterns: [
      {
        name: 'kai',
        pattern: String.raw`^第?\s?(?<round>\d{1,3})\s?回(?:\s?納品)?(?:\s?-\s?${SUB})?(?:\s?[-_ ]\s?${DATE})?(?:\s?納品)?$`,
        examples: ['第３回', '第3回', '3回納品', '第３回－２', '第2回納品-20250329', '第１回 納品'],
      },
      {
        name: 'round',
        pattern: String.raw`^(?:round|rd|r|batch|delivery|納品)\s?[-_ ]?\s?(?<round>\d{1,3})(?:\s?-\s?${SUB})?(?:\s?[-_ ]\s?${DATE})?$`,
        examples: ['round-03', 'R3_20240115', 'R03', 'r3', 'Ｒ０３－２', 'Round 4', 'batch_05', 'R3-20240115'],
      },
      {
        name: 'date-first',
        pattern: String.raw`^${DATE}\s?[-_ ]\s?(?:第\s?)?(?<round>\d{1,3})\s?回?(?:\s?納品)?$`,
        examples: ['20240115_第3回', '2024-01-15 第３回納品'],
      },
      {
        name: 'number',
        pattern: String.raw`^(?<round>\d{1,3})(?:\s?-\s?${SUB})?$`,
        examples: ['３－２', '3', '03', '3ー2'],
      },
    ],
    prefix: 'R',
    pad: 2,
    subSeparator: '-',
    searchDepth: 3,
  },
  images: {
    extensions: ['.jpg', '.jpeg', '.tif', '.tiff', '.png', '.jp2', '.webp'],
    lowercaseExtension: true,
  },
  spreadsheets: {
    extensions: ['.xlsx', '.xlsm'],
    unsupported: ['.xls', '.xlsb', '.ods', '.csv', '.numbers'],
    defaultRole: 'original',
    roles: [
      {
        role: 'revised',
        priority: 3,
        keywords: ['修正版', '修正後', '修正済', '訂正版', '訂正後', '改訂版', '最終版', 'revised', 'revision', 'corrected', 'fixed', 'final'],
      },
      { role: 'sorted', priority: 2, keywords: ['ソート済', 'ソート後', '並べ替え済', '並び替え済', '並替済', '整列済', 'sorted'] },
      { role: 'original', priority: 1, keywords: ['修正前', '訂正前', '元データ', '原本', 'オリジナル', 'original', 'before'] },
    ],
    requestForms: ['依頼書', '依頼票', '依頼', '申請書', '申込書', '申請票', 'request form', 'request'],
    categoryNoise: [
      String.raw`第\s*\d+\s*回(?:\s*納品)?`,
      String.raw`(?<![a-z])(?:round|rd|r|batch)[-_ ]?\d+(?:-\d{1,2}(?!\d))?`,
      String.raw`\d{4}-\d{2}-\d{2}`,
      String.raw`\d{8}`,
      String.raw`(?<![a-z])v(?:er)?\.?\s?\d+`,
      String.raw`第\s*\d+\s*版`,
      String.raw`\(\s*\d+\s*\)`,
      String.raw`(?<![a-z])(?:copy|コピー)(?![a-z])`,
    ],
    defaultCategory: 'bibliography',
  },
  referenceImages: [
    { name: 'envelope', keywords: ['封筒', 'envelope'] },
    { name: 'sleeve', keywords: ['スリーブ', 'ネガ袋', 'sleeve'] },
    { name: 'colour chart', keywords: ['カラーチャート', 'カラーチェッカー', 'グレースケール', 'colour chart', 'color chart', 'colorchecker', 'grey scale', 'gray scale', 'grey card', 'gray card'] },
  ],
  junkFiles: ['thumbs.db', 'desktop.ini', 'icon\r'],
  junkFolders: ['__macosx', '$recycle.bin', 'system volume information'],
};

// ------------------------------------------------------------------------------------------------
// Folding

/** Dash-like characters that stand for "-" in folder names (NFKC leaves most of them alone). */
const DASHES = /[\u2010-\u2015\u2212\u2043\u2E3A\u2E3B\uFE58\uFE63\uFF0D]/g;

/** A folder name as batch patterns see it: NFKC, dashes as "-", "ー" between digits as "-", trimmed. */
export function foldBatchName(raw: string): string {
  return raw
    .normalize('NFKC')
    .replace(DASHES, '-')
    .replace(/(?<=\d)\s*[ーｰ]\s*(?=\d)/g, '-')
    .replace(/[\s\u3000]+/g, ' ')
    .trim();
}

/** Keyword form: NFKC, lower case, without spaces, underscores, hyphens, dots, middle dots. */
export function foldKeyword(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(DASHES, '-')
    .replace(/[\s_\-.・･]+/g, '');
}

/** Extension of a file name, NFKC and lower case ("写真．ＪＰＧ" → ".jpg"); "" when none. */
export function extensionOf(name: string): string {
  const n = name.normalize('NFKC');
  const dot = n.lastIndexOf('.');
  return dot > 0 ? n.slice(dot).toLowerCase() : '';
}

// ------------------------------------------------------------------------------------------------
// Compiled rules

export interface ParsedBatch {
  /** Canonical id, e.g. "R03" or "R03-2". */
  id: string;
  round: number;
  sub?: number;
  /** Delivery date from the folder name, YYYY-MM-DD. */
  date?: string;
  /** Name of the pattern that matched. */
  rule: string;
}

export interface CompiledRules {
  rules: NormalizeRules;
  /** Short hash of the rules, recorded in meta.json. */
  hash: string;
  parseBatch(folderName: string): ParsedBatch | undefined;
  isImage(ext: string): boolean;
  isSpreadsheet(ext: string): boolean;
  isUnsupportedSpreadsheet(ext: string): boolean;
  isJunkFile(name: string): boolean;
  isJunkFolder(name: string): boolean;
  /** The request-form keyword a file name contains, if any. */
  requestForm(name: string): string | undefined;
  /** The reference rule (and the keyword, and where it matched) that drops an image, if any. */
  reference(name: string, folders: readonly string[]): { rule: string; keyword: string; in: string } | undefined;
  /** Role of a spreadsheet from its name: the highest-priority role whose keyword occurs. */
  role(name: string): { role: string; priority: number; keywords: string[] };
  /** Category of a spreadsheet (files of one batch and category compete). */
  category(name: string): string;
  /** Version number for ties between two files of the same role: the last number left in the name. */
  version(name: string): number;
  /** The clean file name of an image: NFC, extension in lower case when the rules say so. */
  cleanImageName(name: string): string;
}

export class RulesError extends Error {}

function compile(source: string, flags: string, where: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (e) {
    throw new RulesError(`${where}: invalid regular expression ${JSON.stringify(source)}: ${(e as Error).message}`);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** Validate and compile a rule set. Throws RulesError naming the bad entry. */
export function compileRules(rules: NormalizeRules = DEFAULT_RULES): CompiledRules {
  const b = rules.batch;
  if (!b || !Array.isArray(b.patterns) || b.patterns.length === 0) throw new RulesError('batch.patterns: at least one pattern is needed');
  if (typeof b.prefix !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(b.prefix)) throw new RulesError('batch.prefix: letters and digits, starting with a letter');
  if (!Number.isInteger(b.pad) || b.pad < 1 || b.pad > 6) throw new RulesError('batch.pad: a whole number from 1 to 6');
  if (!/^[-_.]$/.test(b.subSeparator)) throw new RulesError('batch.subSeparator: one of - _ .');
  if (!Number.isInteger(b.searchDepth) || b.searchDepth < 0 || b.searchDepth > 10) throw new RulesError('batch.searchDepth: a whole number from 0 to 10');
  const patterns = b.patterns.map((p, i) => {
    const where = `batch.patterns[${i}] (${p?.name})`;
    if (typeof p?.name !== 'string' || typeof p.pattern !== 'string') throw new RulesError(`${where}: needs a name and a pattern`);
    const re = compile(p.pattern, 'iu', where);
    if (!/\(\?<round>/.test(p.pattern)) throw new RulesError(`${where}: the pattern has no (?<round>…) group`);
    return { name: p.name, re, examples: p.examples ?? [] };
  });
  const lists = (v: unknown, where: string): string[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new RulesError(`${where}: a list of strings is needed`);
    return v as string[];
  };
  const imageExt = new Set(lists(rules.images?.extensions, 'images.extensions').map((e) => e.toLowerCase()));
  const sheetExt = new Set(lists(rules.spreadsheets?.extensions, 'spreadsheets.extensions').map((e) => e.toLowerCase()));
  const unsupported = new Set(lists(rules.spreadsheets?.unsupported, 'spreadsheets.unsupported').map((e) => e.toLowerCase()));
  const roles = (rules.spreadsheets?.roles ?? []).map((r, i) => {
    if (typeof r?.role !== 'string' || typeof r.priority !== 'number') throw new RulesError(`spreadsheets.roles[${i}]: needs a role and a priority`);
    return { role: r.role, priority: r.priority, keywords: lists(r.keywords, `spreadsheets.roles[${i}].keywords`).map(foldKeyword).filter(Boolean) };
  });
  const defaultRole = rules.spreadsheets.defaultRole;
  const defaultPriority = roles.find((r) => r.role === defaultRole)?.priority ?? 0;
  const requestForms = lists(rules.spreadsheets.requestForms, 'spreadsheets.requestForms').map(foldKeyword).filter(Boolean);
  const noise = lists(rules.spreadsheets.categoryNoise, 'spreadsheets.categoryNoise').map((s, i) => compile(s, 'gu', `spreadsheets.categoryNoise[${i}]`));
  const roleWords = roles
    .flatMap((r) => r.keywords)
    .sort((x, y) => y.length - x.length);
  const references = (rules.referenceImages ?? []).map((r, i) => ({
    rule: String(r?.name ?? `rule ${i}`),
    keywords: lists(r?.keywords, `referenceImages[${i}].keywords`).map((k) => ({ raw: k, folded: foldKeyword(k) })).filter((k) => k.folded),
  }));
  const junkFiles = new Set(lists(rules.junkFiles, 'junkFiles').map((s) => s.normalize('NFKC').toLowerCase()));
  const junkFolders = new Set(lists(rules.junkFolders, 'junkFolders').map((s) => s.normalize('NFKC').toLowerCase()));
  const hash = createHash('sha256').update(JSON.stringify(rules)).digest('hex').slice(0, 12);

  const compiled: CompiledRules = {
    rules,
    hash,
    parseBatch(folderName) {
      const folded = foldBatchName(folderName);
      for (const p of patterns) {
        const m = p.re.exec(folded);
        if (!m?.groups?.round) continue;
        const round = Number(m.groups.round);
        const sub = m.groups.sub !== undefined ? Number(m.groups.sub) : undefined;
        let date: string | undefined;
        if (m.groups.date) {
          const d = m.groups.date.replace(/-/g, '');
          date = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
          const month = Number(d.slice(4, 6));
          const day = Number(d.slice(6, 8));
          if (month < 1 || month > 12 || day < 1 || day > 31) continue; // not a date: try the next pattern
        }
        const id = `${b.prefix}${String(round).padStart(b.pad, '0')}${sub !== undefined ? `${b.subSeparator}${sub}` : ''}`;
        const out: ParsedBatch = { id, round, rule: p.name };
        if (sub !== undefined) out.sub = sub;
        if (date) out.date = date;
        return out;
      }
      return undefined;
    },
    isImage: (ext) => imageExt.has(ext),
    isSpreadsheet: (ext) => sheetExt.has(ext),
    isUnsupportedSpreadsheet: (ext) => unsupported.has(ext),
    isJunkFile(name) {
      const n = name.normalize('NFKC').toLowerCase();
      return n.startsWith('.') || n.startsWith('~$') || junkFiles.has(n);
    },
    isJunkFolder(name) {
      const n = name.normalize('NFKC').toLowerCase();
      return n.startsWith('.') || junkFolders.has(n);
    },
    requestForm(name) {
      const f = foldKeyword(stemOf(name));
      return requestForms.find((k) => f.includes(k));
    },
    reference(name, folders) {
      const targets = [{ text: foldKeyword(stemOf(name)), in: 'file name' }, ...folders.map((d) => ({ text: foldKeyword(d), in: `folder ${d}` }))];
      for (const r of references) {
        for (const k of r.keywords) {
          const t = targets.find((x) => x.text.includes(k.folded));
          if (t) return { rule: r.rule, keyword: k.raw, in: t.in };
        }
      }
      return undefined;
    },
    role(name) {
      const f = foldKeyword(stemOf(name));
      let best: { role: string; priority: number; keywords: string[] } | undefined;
      for (const r of roles) {
        const hits = r.keywords.filter((k) => f.includes(k));
        if (hits.length && (!best || r.priority > best.priority)) best = { role: r.role, priority: r.priority, keywords: hits };
      }
      return best ?? { role: defaultRole, priority: defaultPriority, keywords: [] };
    },
    category(name) {
      let s = stemOf(name.normalize('NFKC')).toLowerCase().replace(DASHES, '-');
      for (const re of noise) s = s.replace(re, ' ');
      let folded = foldKeyword(s).replace(/[()（）[\]【】「」]/g, '');
      // a role keyword and the version number right after it ("修正版2")
      for (const w of roleWords) folded = folded.replace(new RegExp(`${escapeRegExp(w)}\\d*`, 'gu'), '');
      return folded || rules.spreadsheets.defaultCategory;
    },
    version(name) {
      let s = stemOf(name.normalize('NFKC')).toLowerCase().replace(DASHES, '-');
      // batch ids and dates are not versions
      for (const re of noise.slice(0, 4)) s = s.replace(re, ' ');
      const nums = s.match(/\d+/g);
      return nums ? Number(nums[nums.length - 1]) : 0;
    },
    cleanImageName(name) {
      const nfc = name.normalize('NFC');
      if (!rules.images.lowercaseExtension) return nfc;
      const dot = nfc.lastIndexOf('.');
      const fdot = nfc.lastIndexOf('．');
      const at = Math.max(dot, fdot);
      return at > 0 ? nfc.slice(0, at) + extensionOf(nfc) : nfc;
    },
  };

  for (const p of patterns) {
    for (const ex of p.examples) {
      if (!compiled.parseBatch(ex)) throw new RulesError(`batch.patterns (${p.name}): its example "${ex}" matches no pattern`);
    }
  }
  return compiled;
}

/** Overlay a rules file's sections on the defaults: a section given replaces the default section. */
export function mergeRules(base: NormalizeRules, overrides: Partial<NormalizeRules>): NormalizeRules {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in base)) throw new RulesError(`unknown section "${k}" (known: ${Object.keys(base).join(', ')})`);
    const def = (base as unknown as Record<string, unknown>)[k];
    out[k] = def && typeof def === 'object' && !Array.isArray(def) && v && typeof v === 'object' && !Array.isArray(v) ? { ...def, ...v } : v;
  }
  return out as unknown as NormalizeRules;
}

/** Read a rules file (JSON, sections overriding DEFAULT_RULES) and compile it. */
export function loadRules(file?: string): CompiledRules {
  if (!file) return compileRules(DEFAULT_RULES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RulesError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RulesError(`${file}: a JSON object is needed`);
  try {
    return compileRules(mergeRules(DEFAULT_RULES, parsed as Partial<NormalizeRules>));
  } catch (e) {
    if (e instanceof RulesError) throw new RulesError(`${file}: ${e.message}`);
    throw e;
  }
}

/** Order of canonical batch ids: by round, then sub-number (none first), then text. */
export function compareBatchIds(a: string, b: string, rules: CompiledRules = compileRules()): number {
  const pa = rules.parseBatch(a);
  const pb = rules.parseBatch(b);
  if (pa && pb) return pa.round - pb.round || (pa.sub ?? -1) - (pb.sub ?? -1) || (a < b ? -1 : a > b ? 1 : 0);
  if (pa) return -1;
  if (pb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
