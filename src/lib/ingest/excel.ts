/**
 * Reading a provider's bibliography workbook (.xlsx) into `ItemInput` records.
 *
 * The whole workbook is read with exceljs' document reader (not the streaming one): bibliographies
 * are at most tens of thousands of rows, and the document model is the one that reliably exposes
 * merged cells, rich text and formula results.
 *
 * Per sheet: the header row is the first row with a cell naming the id column (so title rows above
 * it are skipped); each later row becomes one record. A bad row never stops the file: its problems
 * are collected as a `RowError` (file, sheet, Excel row number, message) and the row is skipped.
 * A file that cannot be read at all yields one error naming the file, never a throw.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { ID_MAX_LENGTH, IMAGE_ID_RE, ITEM_ID_RE, type AccessLevel, type ImageRef, type ItemInput, type LangText } from '../domain.ts';
import {
  ACCESS_WORDS,
  DEFAULT_COLUMNS,
  LIST_SEPARATORS,
  SUBJECT_SEPARATORS,
  canonicalBatch,
  headerLookup,
  normalizeHeader,
  normalizeValue,
  type ColumnMapping,
  type FieldKey,
} from './columns.ts';

export interface RowError {
  /** The file as it was given to the reader. */
  file: string;
  /** Worksheet name; absent when the whole file failed. */
  sheet?: string;
  /** 1-based Excel row number; absent for file- and sheet-level errors. */
  row?: number;
  message: string;
}

export interface ReadOptions {
  /** Header mapping (default DEFAULT_COLUMNS). */
  columns?: ColumnMapping;
  /**
   * Batch for rows whose 回次 cell is empty or absent. Default: an "R<digits>" token in the file
   * name ("R03.xlsx", "書誌_r3.xlsx" → R03).
   */
  batch?: string;
  /** What `source.file` of each record says (default: the file's base name). */
  sourceName?: string;
  /** What errors name as the file (default: `file` as given), e.g. the delivered file behind a link. */
  displayName?: string;
  /**
   * Folder (below the image root) that image file names are relative to. Default: each record's
   * batch. The index stage passes the clean batch folder the workbook was delivered in.
   */
  imageDir?: string;
  /** Canonical form of a 回次 cell (default `canonicalBatch`, the default normalize rules). */
  canonicalBatch?: (raw: string) => string | undefined;
}

export interface BibliographyResult {
  file: string;
  records: ItemInput[];
  errors: RowError[];
  /** Sheets that had a header row and were read. */
  sheets: string[];
  /** Every id a data row names, good or bad row (what the workbook still holds, for withdrawals). */
  rowIds: string[];
  /** Hidden and veryHidden sheets: never read as data (stale rows are often kept in them). */
  skippedSheets: Array<{ sheet: string; state: 'hidden' | 'veryHidden' }>;
  /** Header cells that matched no field (normalised spelling), per sheet; for warnings. */
  unknownHeaders: Array<{ sheet: string; header: string }>;
}

/** `file:sheet:row: message`, leaving out the parts the error does not have. */
export function formatRowError(e: RowError): string {
  const where = [e.file, e.sheet, e.row].filter((p) => p !== undefined && p !== '').join(':');
  return `${where}: ${e.message}`;
}

/** The "R<n>" batch a file name carries, canonicalised, if any. */
export function batchFromFileName(file: string): string | undefined {
  const m = /(?:^|[^A-Za-z0-9])[Rr](\d{1,4})(?![0-9])/.exec(path.basename(file));
  return m ? canonicalBatch(`R${m[1]}`) : undefined;
}

class CellProblem extends Error {}

/** The text of a cell value of any exceljs kind, trimmed; undefined when blank. */
export function cellText(value: ExcelJS.CellValue, address = ''): string | undefined {
  if (value === null || value === undefined) return undefined;
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'number') s = Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(12)));
  else if (typeof value === 'boolean') s = value ? 'TRUE' : 'FALSE';
  else if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new CellProblem(`${address}: invalid date`);
    s = value.toISOString().slice(0, 10);
  } else if ('error' in value) {
    throw new CellProblem(`${address}: cell holds the error value ${String(value.error)}`);
  } else if ('richText' in value) {
    s = value.richText.map((r) => r.text).join('');
  } else if ('hyperlink' in value) {
    const t = (value as { text?: unknown }).text;
    s = typeof t === 'string' ? t : cellText(t as ExcelJS.CellValue, address) ?? '';
  } else if ('formula' in value || 'sharedFormula' in value) {
    const result = (value as { result?: ExcelJS.CellValue }).result;
    if (result === undefined) {
      const f = (value as { formula?: string; sharedFormula?: string }).formula ?? (value as { sharedFormula?: string }).sharedFormula ?? '';
      throw new CellProblem(
        `${address}: formula ${f ? `=${f} ` : ''}has no stored result (the file was not saved by a spreadsheet program); open and save it in Excel, or type the value`,
      );
    }
    return cellText(result, address);
  } else {
    return undefined;
  }
  // Excel escapes CR as _x000D_ in shared strings; exceljs sometimes hands it through.
  const cleaned = s.replace(/_x000D_/g, '').replace(/\r\n?/g, '\n').normalize('NFC').trim();
  return cleaned === '' ? undefined : cleaned;
}

/** Split a list cell (image files, widths) on ; ； and newlines. */
function splitList(text: string | undefined): string[] {
  return (text ?? '').split(LIST_SEPARATORS).map((s) => s.trim()).filter(Boolean);
}

/** A positive whole number from "3000", "３，０００", "3000px", 3000. */
function parseDimension(text: string): number | undefined {
  const v = normalizeValue(text).replace(/,/g, '').replace(/px$/, '');
  if (!/^\d+(\.0+)?$/.test(v)) return undefined;
  const n = Number(v);
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

/**
 * IIIF image id for the `page`-th (1-based) file of record `recordId`: the file's base name
 * without extension when it is ASCII (characters outside [A-Za-z0-9._-] become "_"); otherwise,
 * or when nothing usable is left, `<recordId>_p<page, 3 digits>`.
 */
export function imageIdFor(fileName: string, recordId: string, page: number): string {
  const base = path.posix.basename(fileName.replace(/\\/g, '/'));
  const stem = base.includes('.') && !base.startsWith('.') ? base.slice(0, base.lastIndexOf('.')) : base;
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(stem)) {
    const safe = stem.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, ID_MAX_LENGTH);
    if (IMAGE_ID_RE.test(safe)) return safe;
  }
  const suffix = `_p${String(page).padStart(3, '0')}`;
  return `${recordId.slice(0, ID_MAX_LENGTH - suffix.length)}${suffix}`;
}

/** `<batch>/<name>` with '/' separators; undefined when the name escapes the batch directory. */
function imagePath(batch: string, name: string): string | undefined {
  const rel = name.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) return undefined;
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return `${batch}/${rel}`;
}

interface Columns {
  /** field → columns (1-based), in sheet order; the first non-empty one wins. */
  byField: Map<FieldKey, number[]>;
  all: number[];
}

function findHeader(
  ws: ExcelJS.Worksheet,
  lookup: Map<string, FieldKey>,
): { row: number; columns: Columns; unknown: string[] } | undefined {
  let found: { row: number; columns: Columns; unknown: string[] } | undefined;
  ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    if (found) return;
    const byField = new Map<FieldKey, number[]>();
    const unknown: string[] = [];
    const all: number[] = [];
    row.eachCell({ includeEmpty: false }, (cell, col) => {
      if (cell.type === ExcelJS.ValueType.Merge) return; // the master cell carries the header
      let text: string | undefined;
      try {
        text = cellText(cell.value);
      } catch {
        return;
      }
      if (!text) return;
      const field = lookup.get(normalizeHeader(text));
      if (!field) {
        unknown.push(text);
        return;
      }
      byField.set(field, [...(byField.get(field) ?? []), col]);
      all.push(col);
    });
    if (byField.has('id')) found = { row: rowNumber, columns: { byField, all }, unknown };
  });
  return found;
}

interface SheetState {
  file: string;
  sheet: string;
  source: string;
  defaultBatch?: string;
  imageDir?: string;
  canonicalBatch: (raw: string) => string | undefined;
  seenIds: Map<string, string>; // id → "sheet:row" of its first occurrence
  seenImages: Map<string, string>; // image id → "record id (sheet:row)"
}

function readRow(
  row: ExcelJS.Row,
  cols: Columns,
  st: SheetState,
): { record?: ItemInput; problems: string[]; empty: boolean; id?: string } {
  const problems: string[] = [];
  const merged = cols.all.filter((c) => row.getCell(c).isMerged).map((c) => row.getCell(c).address);
  const values = new Map<FieldKey, string>();
  const addresses = new Map<FieldKey, string>();
  for (const [field, columns] of cols.byField) {
    for (const c of columns) {
      const cell = row.getCell(c);
      try {
        const t = cellText(cell.value, cell.address);
        if (t !== undefined) {
          values.set(field, t);
          addresses.set(field, cell.address);
          break;
        }
      } catch (e) {
        if (!(e instanceof CellProblem)) throw e;
        problems.push(e.message);
      }
    }
  }
  if (values.size === 0 && problems.length === 0 && merged.length === 0) return { problems, empty: true };
  if (merged.length > 0) problems.push(`merged cells (${merged.join(', ')}); unmerge them and repeat the value in each row`);

  const get = (f: FieldKey) => values.get(f);
  const rawId = get('id');
  // Width is folded (ＲＯ１ → R01) and the ends trimmed; anything else that is not part of an id
  // (a space inside, a slash) is a row error rather than silently dropped: "R01 0018" is not R010018.
  const id = rawId?.normalize('NFKC').trim();
  if (!id) problems.push('missing id (資料番号)');
  else if (!ITEM_ID_RE.test(id)) {
    const bad = [...new Set([...id].filter((c) => !/[A-Za-z0-9._-]/.test(c)))].map((c) => (/\s/.test(c) ? 'a space' : `"${c}"`));
    problems.push(
      `${addresses.get('id')}: id "${rawId}" is not a valid id${bad.length ? ` (it contains ${bad.join(', ')})` : ''}; ids are letters, digits, . _ - (at most ${ID_MAX_LENGTH} characters)`,
    );
  }
  else {
    const first = st.seenIds.get(id);
    if (first) problems.push(`duplicate id ${id} (first at ${first})`);
  }

  let batch = st.defaultBatch;
  const rawBatch = get('batch');
  if (rawBatch !== undefined) {
    batch = st.canonicalBatch(rawBatch);
    if (!batch) problems.push(`batch (回次) "${rawBatch}" is not a valid batch id`);
  } else if (!batch) {
    problems.push('missing batch (回次), and the file name carries none');
  }

  let access: AccessLevel | undefined;
  const rawAccess = get('access');
  if (rawAccess !== undefined) {
    access = ACCESS_WORDS[normalizeValue(rawAccess)];
    if (!access) problems.push(`unknown access value (公開区分) "${rawAccess}"; use 公開, 会員 or 職員`);
  }

  const dims: Record<'width' | 'height', Array<number | undefined>> = { width: [], height: [] };
  for (const f of ['width', 'height'] as const) {
    const raw = get(f);
    if (raw === undefined) continue;
    const parts = splitList(raw);
    const nums = parts.map(parseDimension);
    const bad = parts.filter((_, i) => nums[i] === undefined);
    if (bad.length > 0) problems.push(`${f === 'width' ? 'width (幅)' : 'height (高さ)'} "${raw}" is not a whole number of pixels`);
    else dims[f] = nums;
  }

  const names = splitList(get('images'));
  const images: ImageRef[] = [];
  for (const f of ['width', 'height'] as const) {
    const n = dims[f].length;
    if (n > 1 && n !== names.length) problems.push(`${f} lists ${n} values for ${names.length} image files`);
  }
  if (id && batch && problems.length === 0) {
    const localImages = new Set<string>();
    names.forEach((name, i) => {
      const page = i + 1;
      const file = imagePath(st.imageDir ?? batch, name.normalize('NFC'));
      if (!file) {
        problems.push(`image file "${name}" must be a relative path inside the batch folder`);
        return;
      }
      const imageId = imageIdFor(name, id, page);
      const other = st.seenImages.get(imageId);
      if (other || localImages.has(imageId)) {
        problems.push(`image id ${imageId} (from "${name}") is already used by ${other ?? 'this record'}`);
        return;
      }
      localImages.add(imageId);
      const ref: ImageRef = { id: imageId, file };
      if (names.length > 1) ref.label = { ja: `${page}枚目`, en: `Image ${page}` };
      const w = dims.width.length === 1 ? dims.width[0] : dims.width[i];
      const h = dims.height.length === 1 ? dims.height[0] : dims.height[i];
      if (w !== undefined) ref.width = w;
      if (h !== undefined) ref.height = h;
      images.push(ref);
    });
  }
  if (problems.length > 0 || !id || !batch) return { problems, empty: false, id };

  const lang = (ja?: string, en?: string): LangText | undefined => {
    if (ja === undefined && en === undefined) return undefined;
    const t: LangText = {};
    if (ja !== undefined) t.ja = ja;
    if (en !== undefined) t.en = en;
    return t;
  };
  const record: ItemInput = { id, batch, title: lang(get('title.ja'), get('title.en')) ?? {}, images };
  const optional: Partial<ItemInput> = {
    type: get('type'),
    description: lang(get('description.ja'), get('description.en')),
    creator: lang(get('creator.ja'), get('creator.en')),
    date: get('date'),
    place: lang(get('place.ja'), get('place.en')),
    subjects: get('subjects')
      ?.split(SUBJECT_SEPARATORS)
      .map((s) => s.trim())
      .filter(Boolean),
    collection: lang(get('collection.ja'), get('collection.en')),
    rights: get('rights'),
    notes: get('notes'),
    access,
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) (record as unknown as Record<string, unknown>)[k] = v;
  }
  record.source = { file: st.source, sheet: st.sheet, row: row.number };
  st.seenIds.set(id, `${st.sheet}:${row.number}`);
  for (const img of images) st.seenImages.set(img.id, `${id} (${st.sheet}:${row.number})`);
  return { record, problems, empty: false, id };
}

function describeReadError(e: Error, file: string): string {
  if (/central directory|zip/i.test(e.message)) {
    return /\.xls$/i.test(file) ? 'an old .xls workbook; save it as .xlsx' : 'not a zip archive';
  }
  return e.message.split('\n')[0]!;
}

/** Read one bibliography workbook. Never throws for bad input; see `errors`. */
export async function readBibliography(input: string, opts: ReadOptions = {}): Promise<BibliographyResult> {
  const file = opts.displayName ?? input;
  const result: BibliographyResult = { file, records: [], errors: [], sheets: [], rowIds: [], skippedSheets: [], unknownHeaders: [] };
  const lookup = headerLookup(opts.columns ?? DEFAULT_COLUMNS);
  const idHeader = (opts.columns ?? DEFAULT_COLUMNS).id[0] ?? 'id';

  const wb = new ExcelJS.Workbook();
  try {
    const st = await stat(input);
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    await wb.xlsx.readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : `not a readable .xlsx workbook (${describeReadError(e as Error, file)})`;
    result.errors.push({ file, message: why });
    return result;
  }

  const defaultBatch = opts.batch !== undefined ? canonicalBatch(opts.batch) : batchFromFileName(input);
  if (opts.batch !== undefined && !defaultBatch) {
    result.errors.push({ file, message: `batch "${opts.batch}" is not a valid batch id` });
    return result;
  }
  const seenIds = new Map<string, string>();
  const seenImages = new Map<string, string>();
  const headerless: RowError[] = [];

  for (const ws of wb.worksheets) {
    if (ws.state === 'hidden' || ws.state === 'veryHidden') {
      result.skippedSheets.push({ sheet: ws.name, state: ws.state });
      continue;
    }
    if (ws.actualRowCount === 0) {
      headerless.push({ file, sheet: ws.name, message: 'sheet is empty' });
      continue;
    }
    const header = findHeader(ws, lookup);
    if (!header) {
      headerless.push({ file, sheet: ws.name, message: `no header row: no cell names the id column (${idHeader})` });
      continue;
    }
    result.sheets.push(ws.name);
    for (const h of header.unknown) result.unknownHeaders.push({ sheet: ws.name, header: h });
    const st: SheetState = {
      file,
      sheet: ws.name,
      source: opts.sourceName ?? path.basename(input),
      defaultBatch,
      imageDir: opts.imageDir,
      canonicalBatch: opts.canonicalBatch ?? canonicalBatch,
      seenIds,
      seenImages,
    };
    const rows: ExcelJS.Row[] = [];
    ws.eachRow({ includeEmpty: false }, (row, n) => {
      if (n > header.row) rows.push(row);
    });
    for (const row of rows) {
      const r = readRow(row, header.columns, st);
      if (r.id) result.rowIds.push(r.id);
      if (r.record) result.records.push(r.record);
      else if (!r.empty) result.errors.push({ file, sheet: ws.name, row: row.number, message: r.problems.join('; ') });
    }
  }

  // Explanatory sheets (凡例, lists) next to a data sheet are normal; only report headerless
  // sheets when nothing in the workbook could be read.
  if (result.sheets.length === 0) {
    if (wb.worksheets.length === 0) result.errors.push({ file, message: 'workbook has no sheets' });
    else result.errors.push(...headerless);
  }
  return result;
}
