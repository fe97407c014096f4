/**
 * The embedded search backend: one SQLite file (node:sqlite), records + an FTS5 bigram index.
 *
 * Matching follows text.ts exactly. Every searchable field is indexed as its bigram tokens
 * (`bigrams()`), space-separated, so FTS5 token positions are bigram positions, and a query term is
 * an FTS5 phrase of its bigrams. The `ascii` tokenizer is used on purpose: it splits only on ASCII
 * non-alphanumerics (here: the spaces we put between tokens) and treats every non-ASCII byte as part
 * of a token, so each bigram (letters/digits only, already normalised and lower-cased) is exactly
 * one FTS5 token. `unicode61` is not safe: it folds with its own Unicode tables (e.g. "ας" becomes
 * "ασ"), so the index would no longer hold exactly the bigrams of text.ts.
 * Values of a multi-valued field are separated by GAP, a three-character token that can never
 * equal a two-code-point query bigram, so no phrase matches across two values.
 *
 * Layout, chosen for speed (bench/search-embedded.ts measures it):
 *
 *   items_fts  contentless FTS5 table with ONE ROW PER (record, field), rowid = d * 8 + field, one
 *              column. A single scan of a phrase's doclist then says in which fields of which
 *              records it occurs. (With one FTS column per field, the weighted score needs one
 *              column-filtered scan per field, and each of those costs as much as a full scan: eight
 *              full scans per term did not fit the latency budget.)
 *   items      one narrow row per record. d = batch code << 38 | type code << 28 | n, where n is
 *              the record's row number: batch and type ride in the high bits of the record's FTS
 *              rowids, so facet counts and batch/type filters need no table lookups. d changes
 *              when a record's batch or type changes (its FTS rows are rewritten then).
 *   records    the whole record as JSON, read only for the rows of the requested page.
 *   images     image id -> item, file, size, S3 upload state (getImage, markUploaded).
 *   batch_codes, type_codes   value <-> code dictionaries (codes are never reused or changed).
 *   facet_counts  records per (batch, type, s3_uploaded), kept by triggers on items: browsing
 *              reads its total and facets from here.
 *
 * A query runs one FTS5 scan per term, gets all matching rowids back as one group_concat string,
 * and collects scores (sum of field weights), the AND of the terms and the facet counts in typed
 * arrays indexed by n. Only the candidates for the requested page go back to SQL, to be put in
 * (score desc, id asc) order and read as JSON.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ACCESS_LEVELS, IMAGE_ID_RE } from '../domain.ts';
import {
  FIELD_WEIGHTS,
  filterList,
  searchableValues,
  startSearch,
  validateUploads,
  validateUpsert,
  StoreUnavailableError,
  UNIGRAM_WEIGHTS,
  WHOLE_WORD_BONUS,
  decadeBuckets,
  yearFilterOf,
  type AccessLevel,
  type FacetBucket,
  type ImageUpload,
  type MarkUploadedReport,
  type ImageEntry,
  type ImageListFilter,
  type ImageState,
  type ItemInput,
  type ItemRecord,
  type SearchField,
  type SearchHit,
  type SearchRequest,
  type SearchResponse,
  type SearchStore,
  type UnparsedDates,
  type UpsertReport,
  type WithdrawMark,
  type WithdrawnEntry,
} from './store.ts';
import { bigrams, isUnigramTerm, latinWordOf, latinWords, unigrams } from './text.ts';
import { withHighlights } from './highlight.ts';
import { parseDateRange } from '../dates/range.ts';

/** Searchable fields in FTS row order (the low bits of an FTS rowid). */
export const FTS_FIELDS = Object.keys(FIELD_WEIGHTS) as SearchField[];

/** Separator token between two values of one field: three characters, never a query bigram. */
const GAP = 'zzz';

const SCHEMA_VERSION = 1;

/**
 * Version of the date rules (src/lib/dates/range.ts) the items' year_from/year_to columns were
 * filled with. A store without the columns gets them (ALTER TABLE) and a store filled with other
 * rules is re-filled from the stored records on open (init), inside one write transaction.
 */
const DATE_RULES = 1;

/**
 * Version of the text rules the FTS rows were cut with (text.ts): 1 bigrams; 2 adds kana folding,
 * the Han unigram tail and the Latin word tail. A store cut with other rules rebuilds its FTS rows
 * from the stored records on open (init), inside one write transaction.
 */
const TEXT_RULES = 2;

/** Prefix of whole-word tokens: "w" + word is at least three characters, never a bigram or GAP. */
const WORD_PREFIX = 'w';

// Bit layout of d and of FTS rowids (d * 8 + field). Everything stays below 2^53, so JavaScript
// numbers hold them exactly.
const FIELD_BITS = 3;
const N_BITS = 28;
const TYPE_BITS = 10;
const BATCH_BITS = 10;
const MAX_N = 2 ** N_BITS - 1;
const MAX_TYPE_CODE = 2 ** TYPE_BITS - 1;
const MAX_BATCH_CODE = 2 ** BATCH_BITS - 1;
const TYPE_SHIFT = N_BITS;
const BATCH_SHIFT = N_BITS + TYPE_BITS;
if (FTS_FIELDS.length > 2 ** FIELD_BITS) throw new Error('sqlite store: too many searchable fields for FIELD_BITS');

const FIELD_SPAN = 2 ** FIELD_BITS;
const N_SPAN = 2 ** N_BITS;
const TYPE_SPAN = 2 ** TYPE_BITS;
const BATCH_SPAN = 2 ** BATCH_SHIFT;
/** Weight of the field with FTS row index i. */
const WEIGHTS = Int32Array.from({ length: FIELD_SPAN }, (_, i) => (i < FTS_FIELDS.length ? FIELD_WEIGHTS[FTS_FIELDS[i]!] : 0));
/** The same for a one-Han-character term (UNIGRAM_WEIGHTS). */
const UNI_WEIGHTS = Int32Array.from({ length: FIELD_SPAN }, (_, i) => (i < FTS_FIELDS.length ? UNIGRAM_WEIGHTS[FTS_FIELDS[i]!] : 0));

function makeD(batchCode: number, typeCode: number, n: number): number {
  return batchCode * BATCH_SPAN + typeCode * N_SPAN + n;
}

/** Binary string order (code points, as SQLite's BINARY collation compares UTF-8). */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
  }
  return x.length - y.length;
}

interface Filter {
  batchCodes: number[] | null;
  typeCodes: number[] | null;
  s3: 0 | 1 | null;
  /** Access levels a record must have; null when every level is allowed. */
  access: AccessLevel[] | null;
  /** Year filter: the record's year range must overlap [from, to]; null: no filter. */
  years: { from: number; to: number } | null;
}

/** One FTS5 phrase: each bigram double-quoted (internal quotes doubled), joined with `+`. */
export function ftsPhrase(grams: readonly string[]): string {
  return grams.map((g) => `"${g.replaceAll('"', '""')}"`).join(' + ');
}

/**
 * The text indexed for one field: its values' bigrams, values separated by GAP; then, after one
 * more GAP, the field's distinct Han characters (one-code-point tokens: the unigram field) and its
 * Latin words as "w<word>" tokens (the whole-word field). Neither kind of tail token can equal a
 * query bigram (two code points), so phrases still only match bigrams.
 */
export function ftsFieldText(values: readonly string[]): string {
  const parts: string[] = [];
  const tail = new Set<string>();
  for (const v of values) {
    if (typeof v !== 'string') continue;
    for (const u of unigrams(v)) tail.add(u);
    for (const w of latinWords(v)) tail.add(WORD_PREFIX + w);
    const grams = bigrams(v);
    if (grams.length === 0) continue;
    if (parts.length > 0) parts.push(GAP);
    parts.push(grams.join(' '));
  }
  if (tail.size > 0) {
    if (parts.length > 0) parts.push(GAP);
    parts.push([...tail].join(' '));
  }
  return parts.join(' ');
}

/** A record's type for filters and facets: absent or blank means none. */
function typeOf(item: ItemInput): string | null {
  return typeof item.type === 'string' && item.type.trim() !== '' ? item.type : null;
}



type Row = Record<string, unknown>;

export interface SqliteOpenOptions {
  /** Open without writing (no WAL switch, no schema creation). */
  readOnly?: boolean;
  /** SQLite's own busy wait, ms (blocks the thread; default 5000). */
  busyTimeoutMs?: number;
  /** With readOnly: the file cannot change at all (read-only media); no locks, no -shm file. */
  immutable?: boolean;
}

interface Existing {
  n: number;
  d: number;
  s3: number;
  fmask: number;
  indexed_at: string;
  json: string;
}

interface ImageRow {
  id: string;
  file: string;
  s3_key: string | null;
  s3_size: number | null;
  uploaded_at: string | null;
}

/** SQL expression: the weight of the field an FTS rowid belongs to. */
const WEIGHT_SQL = `CASE rowid & ${2 ** FIELD_BITS - 1} ${FTS_FIELDS.map((f, i) => `WHEN ${i} THEN ${FIELD_WEIGHTS[f]}`).join(' ')} ELSE 0 END`;

export class SqliteStore implements SearchStore {
  readonly backend = 'sqlite';
  readonly path: string;
  private db: DatabaseSync;
  private stmts = new Map<string, StatementSync>();
  private ready = false;
  /** value -> code; codes never change once assigned, so caching them is safe across processes. */
  private codeCache = { batch: new Map<string, number>(), type: new Map<string, number>() };
  /** code -> value, the same dictionaries read the other way. */
  private codeNames = { batch: new Map<number, string>(), type: new Map<number, string>() };

  /** Opened read-only (the file or its directory is not writable): reads work, writes fail. */
  readonly readOnly: boolean;

  constructor(file: string, opts: SqliteOpenOptions = {}) {
    this.path = file;
    const memory = file === ':memory:' || file === '';
    this.readOnly = !memory && (opts.readOnly ?? false);
    if (!memory && !this.readOnly) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // On read-only media a WAL database cannot get its -shm file: opened as immutable (nobody can
    // change it there anyway).
    const target = memory ? ':memory:' : opts.immutable ? Object.assign(pathToFileURL(path.resolve(file)), { search: '?immutable=1' }) : file;
    this.db = new DatabaseSync(target, this.readOnly ? { readOnly: true } : {});
    try {
      // The busy timeout blocks the event loop while it waits: the server keeps it short and
      // retries asynchronously (openSqliteStore); one-shot CLI callers may wait longer.
      this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.round(opts.busyTimeoutMs ?? 5000))}`);
      // WAL: readers never wait for the writer, so several processes can share one store.
      if (!memory && !this.readOnly) this.db.exec('PRAGMA journal_mode = WAL');
      this.db.exec(`
        PRAGMA synchronous = NORMAL;
        PRAGMA foreign_keys = ON;
        PRAGMA temp_store = MEMORY;
        PRAGMA cache_size = -131072;
        PRAGMA mmap_size = 1073741824;
      `);
    } catch (err) {
      this.db.close(); // not left open (a file descriptor per failed attempt)
      throw err;
    }
  }

  /** A prepared statement, prepared once per SQL text and reused. */
  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  async init(): Promise<void> {
    this.initSync();
  }

  initSync(): void {
    if (this.ready) return;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS batch_codes (code INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS type_codes (code INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS facet_counts (
        b INTEGER NOT NULL, t INTEGER NOT NULL, s3 INTEGER NOT NULL, cnt INTEGER NOT NULL,
        PRIMARY KEY (b, t, s3)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS items (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        d INTEGER NOT NULL,
        batch TEXT NOT NULL,
        type TEXT,
        access TEXT NOT NULL DEFAULT 'open',
        s3_uploaded INTEGER NOT NULL DEFAULT 0,
        fmask INTEGER NOT NULL DEFAULT 0,
        indexed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS items_d ON items (d, s3_uploaded);
      CREATE INDEX IF NOT EXISTS items_id_cover ON items (id, d, s3_uploaded);
      CREATE TRIGGER IF NOT EXISTS items_count_ins AFTER INSERT ON items BEGIN
        INSERT INTO facet_counts (b, t, s3, cnt)
        VALUES (NEW.d >> ${BATCH_SHIFT}, (NEW.d >> ${TYPE_SHIFT}) & ${MAX_TYPE_CODE}, NEW.s3_uploaded, 1)
        ON CONFLICT (b, t, s3) DO UPDATE SET cnt = cnt + 1;
      END;
      CREATE TRIGGER IF NOT EXISTS items_count_del AFTER DELETE ON items BEGIN
        UPDATE facet_counts SET cnt = cnt - 1
        WHERE b = OLD.d >> ${BATCH_SHIFT} AND t = (OLD.d >> ${TYPE_SHIFT}) & ${MAX_TYPE_CODE} AND s3 = OLD.s3_uploaded;
      END;
      CREATE TRIGGER IF NOT EXISTS items_count_upd AFTER UPDATE OF d, s3_uploaded ON items
      WHEN OLD.d != NEW.d OR OLD.s3_uploaded != NEW.s3_uploaded BEGIN
        UPDATE facet_counts SET cnt = cnt - 1
        WHERE b = OLD.d >> ${BATCH_SHIFT} AND t = (OLD.d >> ${TYPE_SHIFT}) & ${MAX_TYPE_CODE} AND s3 = OLD.s3_uploaded;
        INSERT INTO facet_counts (b, t, s3, cnt)
        VALUES (NEW.d >> ${BATCH_SHIFT}, (NEW.d >> ${TYPE_SHIFT}) & ${MAX_TYPE_CODE}, NEW.s3_uploaded, 1)
        ON CONFLICT (b, t, s3) DO UPDATE SET cnt = cnt + 1;
      END;
      CREATE TABLE IF NOT EXISTS records (n INTEGER PRIMARY KEY REFERENCES items (n) ON DELETE CASCADE, json TEXT NOT NULL);
      CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5 (
        text, content = '', contentless_delete = 1, tokenize = 'ascii'
      );
      CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY,
        item_n INTEGER NOT NULL REFERENCES items (n) ON DELETE CASCADE,
        item_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        file TEXT NOT NULL,
        label TEXT,
        width INTEGER,
        height INTEGER,
        s3_key TEXT,
        s3_size INTEGER,
        uploaded_at TEXT
      );
      CREATE INDEX IF NOT EXISTS images_item ON images (item_n, seq);
    `);
    // Read first: an existing store needs no write to open (a write would wait for another
    // process's transaction, and fails on a read-only store).
    let v = this.db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string } | undefined;
    if (!v) {
      this.db
        .prepare(`INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING`)
        .run(String(SCHEMA_VERSION));
      v = this.db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string };
    }
    if (Number(v.value) !== SCHEMA_VERSION) {
      throw new Error(`${this.path}: search store schema ${v.value}, this program expects ${SCHEMA_VERSION}`);
    }
    this.ensureTextRules();
    this.ensureDateColumns();
    this.ready = true;
  }

  /** Re-cuts every FTS row when the store was indexed with other text rules (see TEXT_RULES). */
  private ensureTextRules(): void {
    const current = () => (this.db.prepare(`SELECT value FROM meta WHERE key = 'text_rules'`).get() as Row | undefined)?.value;
    if (Number(current()) === TEXT_RULES) return;
    this.transaction('IMMEDIATE', () => {
      if (Number(current()) === TEXT_RULES) return; // another process did it meanwhile
      const rows = this.db.prepare(`SELECT i.n, i.d, r.json FROM items i JOIN records r ON r.n = i.n`).all() as Row[];
      if (rows.length > 0) {
        this.db.exec(`INSERT INTO items_fts (items_fts) VALUES ('delete-all')`);
        const insertFts = this.db.prepare(`INSERT INTO items_fts (rowid, text) SELECT value ->> 0, value ->> 1 FROM json_each(?)`);
        const setMask = this.db.prepare(`UPDATE items SET fmask = ? WHERE n = ?`);
        let batch: Array<[number, string]> = [];
        for (const r of rows) {
          const values = searchableValues(JSON.parse(r.json as string) as ItemInput);
          const texts = FTS_FIELDS.map((field) => ftsFieldText(values[field]));
          const d = r.d as number;
          texts.forEach((text, f) => text && batch.push([d * FIELD_SPAN + f, text]));
          setMask.run(texts.reduce((m, text, f) => (text ? m | (1 << f) : m), 0), r.n as number);
          if (batch.length >= 8000) {
            insertFts.run(JSON.stringify(batch));
            batch = [];
          }
        }
        if (batch.length) insertFts.run(JSON.stringify(batch));
      }
      this.db
        .prepare(`INSERT INTO meta (key, value) VALUES ('text_rules', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
        .run(String(TEXT_RULES));
    });
  }

  /** Whether items has the year columns (a read-only store from before them has not). */
  private hasYears = false;

  /** Adds year_from/year_to to an older store and (re-)fills them when DATE_RULES changed. */
  private ensureDateColumns(): void {
    const columns = () => (this.db.prepare(`PRAGMA table_info(items)`).all() as Row[]).map((r) => r.name as string);
    const rules = () => (this.db.prepare(`SELECT value FROM meta WHERE key = 'date_rules'`).get() as Row | undefined)?.value;
    this.hasYears = columns().includes('year_from');
    if (this.hasYears && Number(rules()) === DATE_RULES) return;
    if (this.readOnly) return; // served without date filters until a writer upgrades it
    this.transaction('IMMEDIATE', () => {
      if (!columns().includes('year_from')) {
        this.db.exec(`ALTER TABLE items ADD COLUMN year_from INTEGER; ALTER TABLE items ADD COLUMN year_to INTEGER;`);
      }
      this.db.exec(`CREATE INDEX IF NOT EXISTS items_years ON items (year_from, year_to)`);
      if (Number(rules()) !== DATE_RULES) {
        const set = this.db.prepare(`UPDATE items SET year_from = ?, year_to = ? WHERE n = ?`);
        for (const r of this.db.prepare(`SELECT n, json ->> '$.date' AS date FROM records`).all() as Row[]) {
          const range = parseDateRange(r.date as string | null);
          set.run(range?.from ?? null, range?.to ?? null, r.n as number);
        }
        this.db
          .prepare(`INSERT INTO meta (key, value) VALUES ('date_rules', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
          .run(String(DATE_RULES));
      }
    });
    this.hasYears = true;
  }

  private transaction<T>(mode: 'IMMEDIATE' | 'DEFERRED', fn: () => T): T {
    this.db.exec(`BEGIN ${mode}`);
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Codes

  /** The code of a batch or type value, creating it if asked (inside a write transaction). */
  private code(kind: 'batch' | 'type', value: string, create: boolean): number | null {
    const cache = this.codeCache[kind];
    const hit = cache.get(value);
    if (hit !== undefined) return hit;
    const table = kind === 'batch' ? 'batch_codes' : 'type_codes';
    let row = this.stmt(`SELECT code FROM ${table} WHERE value = ?`).get(value) as Row | undefined;
    if (!row && create) {
      row = this.stmt(`INSERT INTO ${table} (value) VALUES (?) RETURNING code`).get(value) as Row;
      const max = kind === 'batch' ? MAX_BATCH_CODE : MAX_TYPE_CODE;
      if ((row.code as number) > max) {
        throw new Error(`upsert: more than ${max} distinct ${kind} values; the embedded store cannot hold "${value}"`);
      }
    }
    if (!row) return null;
    cache.set(value, row.code as number);
    return row.code as number;
  }

  private codes(kind: 'batch' | 'type', values: string[]): number[] {
    return values.map((v) => this.code(kind, v, false)).filter((c): c is number => c !== null);
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  async upsert(items: ItemInput[], now: Date = new Date()): Promise<UpsertReport> {
    return this.upsertSync(items, now);
  }

  upsertSync(items: ItemInput[], now: Date = new Date()): UpsertReport {
    this.initSync();
    const stamp = now.toISOString();
    // Validate everything before touching the database; the last occurrence of an id wins.
    const list = validateUpsert(items);
    const CHUNK = 1000;

    try {
      return this.transaction('IMMEDIATE', () => {
        let inserted = 0;
        let updated = 0;
        let nextN = ((this.stmt(`SELECT max(n) AS n FROM items`).get() as Row).n as number | null ?? 0) + 1;
        const findItems = this.stmt(
          `SELECT i.n, i.id, i.d, i.s3_uploaded, i.fmask, i.indexed_at, r.json
           FROM json_each(?) j JOIN items i ON i.id = j.value JOIN records r ON r.n = i.n`,
        );
        const oldImagesOf = this.stmt(`SELECT id, file, s3_key, s3_size, uploaded_at FROM images WHERE item_n = ?`);
        const deleteImagesOf = this.stmt(`DELETE FROM images WHERE item_n = ?`);
        const findImage = this.stmt(`SELECT item_id FROM images WHERE id = ?`);
        const insertItem = this.stmt(
          `INSERT INTO items (n, id, d, batch, type, access, s3_uploaded, fmask, indexed_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
        );
        const updateItem = this.stmt(
          `UPDATE items SET d = ?, batch = ?, type = ?, access = ?, s3_uploaded = ?, fmask = ?, updated_at = ? WHERE n = ?`,
        );
        // Same d and upload state: leaves the indexes and the facet_counts trigger alone.
        const touchItem = this.stmt(`UPDATE items SET access = ?, fmask = ?, updated_at = ? WHERE n = ?`);
        const saveJson = this.stmt(
          `INSERT INTO records (n, json) VALUES (?, ?) ON CONFLICT (n) DO UPDATE SET json = excluded.json`,
        );
        const deleteFts = this.stmt(`DELETE FROM items_fts WHERE rowid = ?`);
        // Many FTS rows in one call: [[rowid, text], ...] as JSON.
        const insertFts = this.stmt(
          `INSERT INTO items_fts (rowid, text) SELECT value ->> 0, value ->> 1 FROM json_each(?)`,
        );
        const insertImage = this.stmt(
          `INSERT INTO images (id, item_n, item_id, seq, file, label, width, height, s3_key, s3_size, uploaded_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        // The year range of the record's date, at index time (src/lib/dates/range.ts).
        const setYears = this.stmt(`UPDATE items SET year_from = ?, year_to = ? WHERE n = ?`);

        // Phase 1, in chunks: find the records that exist and release their images, so an image
        // may move between two records of this upsert; keep their upload state to carry it over.
        const existing = new Map<string, Existing>();
        const previous = new Map<string, ImageRow & { item: string }>();
        for (let start = 0; start < list.length; start += CHUNK) {
          const chunk = list.slice(start, start + CHUNK);
          for (const r of findItems.all(JSON.stringify(chunk.map((i) => i.id))) as Row[]) {
            const n = r.n as number;
            existing.set(r.id as string, {
              n,
              d: r.d as number,
              s3: r.s3_uploaded as number,
              fmask: r.fmask as number,
              indexed_at: r.indexed_at as string,
              json: r.json as string,
            });
            for (const img of oldImagesOf.all(n) as unknown as ImageRow[]) previous.set(img.id, { ...img, item: r.id as string });
            deleteImagesOf.run(n);
          }
        }

        // Phase 2, in chunks: write records, images and FTS rows (the FTS rows of a chunk in one call).
        for (let start = 0; start < list.length; start += CHUNK) {
          const chunk = list.slice(start, start + CHUNK);
          const ftsRows: Array<[number, string]> = [];
          for (const item of chunk) {
            const ex = existing.get(item.id);
            // Upload state survives when the image keeps its id, record and file.
            const images = item.images.map((img) => {
              const old = previous.get(img.id);
              const keep = old && old.item === item.id && old.file === img.file && old.uploaded_at ? old : null;
              return { img, keep };
            });
            const uploaded = !!ex && images.length > 0 && images.every((x) => x.keep);
            const b = this.code('batch', item.batch, true)!;
            const type = typeOf(item);
            const t = type === null ? 0 : this.code('type', type, true)!;
            const n = ex ? ex.n : nextN++;
            if (n > MAX_N) throw new Error(`upsert: the embedded store holds at most ${MAX_N} records`);
            const d = makeD(b, t, n);
            const access = item.access ?? 'open';
            // The stored JSON: the record without the fields the store keeps in columns.
            const json = JSON.stringify({
              ...item,
              images: images.map(({ img, keep }) => (keep ? { ...img, s3Key: keep.s3_key! } : { ...img })),
            });
            const values = searchableValues(item);
            const texts = FTS_FIELDS.map((field) => ftsFieldText(values[field]));
            const fmask = texts.reduce((m, text, f) => (text ? m | (1 << f) : m), 0);
            if (!ex) {
              texts.forEach((text, f) => text && ftsRows.push([d * FIELD_SPAN + f, text]));
              insertItem.run(n, item.id, d, item.batch, type, access, fmask, stamp, stamp);
              saveJson.run(n, json);
              inserted++;
            } else {
              // Rewrite only the FTS rows that change: all of them when d changes, else the fields
              // whose text differs from the stored record's (deleting FTS rows is the slow part).
              if (d !== ex.d) {
                for (let f = 0; f < FTS_FIELDS.length; f++) if (ex.fmask & (1 << f)) deleteFts.run(ex.d * FIELD_SPAN + f);
                texts.forEach((text, f) => text && ftsRows.push([d * FIELD_SPAN + f, text]));
              } else if (json !== ex.json) {
                const old = searchableValues(JSON.parse(ex.json) as ItemInput);
                texts.forEach((text, f) => {
                  if (text === ftsFieldText(old[FTS_FIELDS[f]!])) return;
                  if (ex.fmask & (1 << f)) deleteFts.run(d * FIELD_SPAN + f);
                  if (text) ftsRows.push([d * FIELD_SPAN + f, text]);
                });
              }
              if (d === ex.d && (uploaded ? 1 : 0) === ex.s3) touchItem.run(access, fmask, stamp, n);
              else updateItem.run(d, item.batch, type, access, uploaded ? 1 : 0, fmask, stamp, n);
              if (json !== ex.json) saveJson.run(n, json);
              updated++;
            }
            const range = parseDateRange(item.date);
            setYears.run(range?.from ?? null, range?.to ?? null, n);
            images.forEach(({ img, keep }, seq) => {
              const owner = findImage.get(img.id) as Row | undefined;
              if (owner) throw new Error(`upsert: image ${img.id} of ${item.id} already belongs to ${String(owner.item_id)}`);
              insertImage.run(
                img.id,
                n,
                item.id,
                seq,
                img.file,
                img.label ? JSON.stringify(img.label) : null,
                typeof img.width === 'number' ? img.width : null,
                typeof img.height === 'number' ? img.height : null,
                keep ? keep.s3_key : typeof img.s3Key === 'string' ? img.s3Key : null,
                keep ? keep.s3_size : null,
                keep ? keep.uploaded_at : null,
              );
            });
          }
          if (ftsRows.length) insertFts.run(JSON.stringify(ftsRows));
        }
        return { inserted, updated };
      });
    } catch (err) {
      // Codes created by a rolled-back transaction are gone again.
      this.codeCache.batch.clear();
      this.codeCache.type.clear();
      throw err;
    }
  }

  /**
   * Records that images were uploaded to S3 (key, size, time). A record's `s3_uploaded` becomes
   * true once every one of its images is uploaded. Unknown image ids are reported, not fatal.
   */
  async deleteRecords(ids: string[]): Promise<number> {
    this.initSync();
    return this.transaction('IMMEDIATE', () => {
      let removed = 0;
      for (const id of new Set(ids)) if (this.deleteItemSync(id)) removed++;
      return removed;
    });
  }

  /** Deletes one record, its images and FTS rows (inside a write transaction); false when absent. */
  private deleteItemSync(id: string): boolean {
    const r = this.stmt(`SELECT n, d, fmask FROM items WHERE id = ?`).get(id) as Row | undefined;
    if (!r) return false;
    const n = r.n as number;
    const d = r.d as number;
    const deleteFts = this.stmt(`DELETE FROM items_fts WHERE rowid = ?`);
    for (let f = 0; f < FTS_FIELDS.length; f++) if ((r.fmask as number) & (1 << f)) deleteFts.run(d * FIELD_SPAN + f);
    this.stmt(`DELETE FROM images WHERE item_n = ?`).run(n);
    this.stmt(`DELETE FROM records WHERE n = ?`).run(n);
    this.stmt(`DELETE FROM items WHERE n = ?`).run(n); // facet_counts follow (trigger)
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Withdrawals (issue 12): a withdrawn record moves, whole, from items/records/images/items_fts to
  // the table `withdrawn` (id, withdrawn_batch, withdrawn_at, its timestamps, its JSON and its
  // images' rows), so no read path of the served store sees it — nothing to filter, no count or
  // facet to correct. The table is created when first needed (an older store migrates itself on
  // the first withdrawal; a read-only server never needs it).

  private withdrawnTable(create: boolean): boolean {
    const exists = () => !!this.stmt(`SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'withdrawn'`).get();
    if (exists()) return true;
    if (!create) return false;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS withdrawn (
        id TEXT PRIMARY KEY,
        withdrawn_batch TEXT NOT NULL,
        withdrawn_at TEXT NOT NULL,
        indexed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        s3_uploaded INTEGER NOT NULL,
        json TEXT NOT NULL,
        images TEXT NOT NULL
      ) WITHOUT ROWID`);
    this.stmts.clear(); // statements prepared before the table existed
    return true;
  }

  async withdraw(marks: WithdrawMark[]): Promise<number> {
    this.initSync();
    if (!Array.isArray(marks) || marks.length === 0) return 0;
    for (const m of marks) {
      if (typeof m?.id !== 'string' || typeof m.batch !== 'string' || typeof m.at !== 'string' || m.at === '') {
        throw new Error(`withdraw: invalid entry ${JSON.stringify(m)}`);
      }
    }
    this.withdrawnTable(true);
    return this.transaction('IMMEDIATE', () => {
      const find = this.stmt(
        `SELECT i.n, r.json, i.indexed_at, i.updated_at, i.s3_uploaded FROM items i JOIN records r ON r.n = i.n WHERE i.id = ?`,
      );
      const imagesOf = this.stmt(`SELECT id, file, s3_key, s3_size, uploaded_at FROM images WHERE item_n = ? ORDER BY seq`);
      const keep = this.stmt(
        `INSERT INTO withdrawn (id, withdrawn_batch, withdrawn_at, indexed_at, updated_at, s3_uploaded, json, images)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET withdrawn_batch = excluded.withdrawn_batch, withdrawn_at = excluded.withdrawn_at,
           indexed_at = excluded.indexed_at, updated_at = excluded.updated_at, s3_uploaded = excluded.s3_uploaded,
           json = excluded.json, images = excluded.images`,
      );
      let marked = 0;
      for (const m of marks) {
        const r = find.get(m.id) as Row | undefined;
        if (!r) continue;
        const images = imagesOf.all(r.n as number);
        keep.run(m.id, m.batch, m.at, r.indexed_at as string, r.updated_at as string, r.s3_uploaded as number, r.json as string, JSON.stringify(images));
        this.deleteItemSync(m.id);
        marked++;
      }
      return marked;
    });
  }

  async listWithdrawn(): Promise<WithdrawnEntry[]> {
    this.initSync();
    if (!this.withdrawnTable(false)) return [];
    // A record both live and withdrawn (a restore interrupted half-way) is live.
    const rows = this.stmt(
      `SELECT w.withdrawn_batch, w.withdrawn_at, w.indexed_at, w.updated_at, w.s3_uploaded, w.json FROM withdrawn w
       WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.id = w.id) ORDER BY w.id`,
    ).all() as Row[];
    return rows.map((r) => ({ record: this.toRecord(r), batch: r.withdrawn_batch as string, withdrawnAt: r.withdrawn_at as string }));
  }

  async restoreWithdrawn(ids: string[]): Promise<number> {
    this.initSync();
    if (!Array.isArray(ids) || ids.length === 0 || !this.withdrawnTable(false)) return 0;
    let restored = 0;
    for (const id of new Set(ids)) {
      const r = this.stmt(`SELECT indexed_at, updated_at, json, images FROM withdrawn WHERE id = ?`).get(id) as Row | undefined;
      if (!r) continue;
      if (!this.stmt(`SELECT 1 AS x FROM items WHERE id = ?`).get(id)) {
        // Back as it was: inserted with its own indexed_at, then its uploads recorded again.
        this.upsertSync([JSON.parse(r.json as string) as ItemInput], new Date(r.indexed_at as string));
        const uploads = (JSON.parse(r.images as string) as ImageRow[])
          .filter((g) => g.uploaded_at !== null && g.s3_key !== null)
          .map((g) => ({ imageId: g.id, key: g.s3_key!, size: g.s3_size ?? 0, at: g.uploaded_at! }));
        if (uploads.length) this.markUploadedSync(uploads);
        this.stmt(`UPDATE items SET updated_at = ? WHERE id = ?`).run(r.updated_at as string, id);
        restored++;
      }
      this.stmt(`DELETE FROM withdrawn WHERE id = ?`).run(id);
    }
    return restored;
  }

  async purgeWithdrawn(ids: string[]): Promise<number> {
    this.initSync();
    if (!Array.isArray(ids) || ids.length === 0 || !this.withdrawnTable(false)) return 0;
    return this.transaction('IMMEDIATE', () => {
      const del = this.stmt(`DELETE FROM withdrawn WHERE id = ? RETURNING id`);
      let n = 0;
      for (const id of new Set(ids)) if (del.get(id)) n++;
      return n;
    });
  }

  async markUploaded(updates: ImageUpload[]): Promise<MarkUploadedReport> {
    return this.markUploadedSync(updates);
  }

  markUploadedSync(updates: ImageUpload[]): MarkUploadedReport {
    this.initSync();
    validateUploads(updates);
    return this.transaction('IMMEDIATE', () => {
      const setImage = this.stmt(
        `UPDATE images SET s3_key = ?, s3_size = ?, uploaded_at = ? WHERE id = ? RETURNING item_n`,
      );
      const itemRow = this.stmt(
        `SELECT r.json, i.s3_uploaded FROM items i JOIN records r ON r.n = i.n WHERE i.n = ?`,
      );
      const imagesOf = this.stmt(`SELECT id, s3_key, uploaded_at FROM images WHERE item_n = ?`);
      const setItem = this.stmt(`UPDATE items SET s3_uploaded = ? WHERE n = ?`);
      const setJson = this.stmt(`UPDATE records SET json = ? WHERE n = ?`);
      const touched = new Set<number>();
      const unknown: string[] = [];
      let count = 0;
      for (const u of updates) {
        const r = setImage.get(u.key, u.size, u.at, u.imageId) as Row | undefined;
        if (!r) {
          unknown.push(u.imageId);
          continue;
        }
        count++;
        touched.add(r.item_n as number);
      }
      let completed = 0;
      for (const n of touched) {
        const item = itemRow.get(n) as Row;
        const record = JSON.parse(item.json as string) as ItemInput;
        const imgs = imagesOf.all(n) as Row[];
        const keys = new Map(imgs.map((r) => [r.id as string, r.s3_key as string | null]));
        for (const img of record.images) {
          const key = keys.get(img.id);
          if (key) img.s3Key = key;
        }
        const all = imgs.length > 0 && imgs.every((r) => r.uploaded_at !== null);
        if (all && !item.s3_uploaded) completed++;
        setItem.run(all ? 1 : 0, n);
        setJson.run(JSON.stringify(record), n);
      }
      return { images: count, unknown, completed };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** A stored record: its JSON plus the fields the store keeps in columns. */
  private toRecord(row: Row): ItemRecord {
    return {
      ...(JSON.parse(row.json as string) as ItemInput),
      indexed_at: row.indexed_at as string,
      updated_at: row.updated_at as string,
      s3_uploaded: row.s3_uploaded === 1,
    };
  }

  async get(id: string): Promise<ItemRecord | null> {
    this.initSync();
    if (typeof id !== 'string') return null;
    const row = this.stmt(
      `SELECT r.json, i.indexed_at, i.updated_at, i.s3_uploaded FROM items i JOIN records r ON r.n = i.n WHERE i.id = ?`,
    ).get(id) as Row | undefined;
    return row ? this.toRecord(row) : null;
  }

  async getAccessLevel(id: string): Promise<AccessLevel | null> {
    this.initSync();
    if (typeof id !== 'string') return null;
    const row = this.stmt(`SELECT access FROM items WHERE id = ?`).get(id) as { access: string | null } | undefined;
    return row ? (((row.access as AccessLevel | null) ?? 'open') as AccessLevel) : null;
  }

  async getImage(imageId: string): Promise<ImageEntry | null> {
    this.initSync();
    if (typeof imageId !== 'string' || !IMAGE_ID_RE.test(imageId)) return null;
    const r = this.stmt(
      `SELECT g.id, g.file, g.label, g.width, g.height, g.s3_key, g.item_id, i.access
       FROM images g JOIN items i ON i.n = g.item_n WHERE g.id = ?`,
    ).get(imageId) as Row | undefined;
    if (!r) return null;
    const entry: ImageEntry = {
      id: r.id as string,
      file: r.file as string,
      itemId: r.item_id as string,
      access: ((r.access as AccessLevel | null) ?? 'open') as AccessLevel,
    };
    if (r.label !== null) entry.label = JSON.parse(r.label as string);
    if (r.width !== null) entry.width = r.width as number;
    if (r.height !== null) entry.height = r.height as number;
    if (r.s3_key !== null) entry.s3Key = r.s3_key as string;
    return entry;
  }

  async listImages(filter: ImageListFilter = {}): Promise<ImageState[]> {
    return this.listImagesSync(filter);
  }

  listImagesSync(filter: ImageListFilter = {}): ImageState[] {
    this.initSync();
    const where: string[] = [];
    const params: Array<string | number> = [];
    const batches = filterList(filter?.batch);
    if (batches) {
      where.push(`i.batch IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(batches));
    }
    if (filter?.uploaded === true) where.push(`g.uploaded_at IS NOT NULL`);
    if (filter?.uploaded === false) where.push(`g.uploaded_at IS NULL`);
    const rows = this.stmt(
      `SELECT g.id, g.item_id, i.batch, g.file, g.s3_key, g.s3_size, g.uploaded_at
       FROM images g JOIN items i ON i.n = g.item_n ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY g.id`,
    ).all(...params) as Row[];
    return rows.map((r) => {
      const s: ImageState = { id: r.id as string, itemId: r.item_id as string, batch: r.batch as string, file: r.file as string };
      if (r.s3_key !== null) s.s3Key = r.s3_key as string;
      if (r.uploaded_at !== null) {
        s.uploadedAt = r.uploaded_at as string;
        if (r.s3_size !== null) s.s3Size = r.s3_size as number;
      }
      return s;
    });
  }

  async listUnparsedDates(limit: number): Promise<UnparsedDates> {
    this.initSync();
    if (!this.hasYears) return { total: 0, records: [] };
    const where = `i.year_from IS NULL AND trim(coalesce(r.json ->> '$.date', '')) != ''`;
    const total = (this.stmt(`SELECT count(*) AS c FROM items i JOIN records r ON r.n = i.n WHERE ${where}`).get() as Row).c as number;
    const rows = this.stmt(
      `SELECT i.id, i.batch, r.json ->> '$.date' AS date, r.json -> '$.source' AS source
       FROM items i JOIN records r ON r.n = i.n WHERE ${where} ORDER BY i.id LIMIT ?`,
    ).all(Math.max(0, Math.floor(limit))) as Row[];
    return {
      total,
      records: rows.map((r) => ({
        id: r.id as string,
        batch: r.batch as string,
        date: String(r.date),
        ...(typeof r.source === 'string' ? { source: JSON.parse(r.source) as UnparsedDates['records'][number]['source'] } : {}),
      })),
    };
  }

  async count(): Promise<number> {
    this.initSync();
    return (this.stmt(`SELECT count(*) AS c FROM items`).get() as Row).c as number;
  }

  async search(req: SearchRequest = {}): Promise<SearchResponse> {
    return this.searchSync(req);
  }

  searchSync(req: SearchRequest = {}): SearchResponse {
    this.initSync();
    const { raw, parsed, empty: out } = startSearch(req);
    const { page, pageSize } = out;
    const offset = (page - 1) * pageSize;
    if (parsed.terms.length === 0 && raw.trim() !== '') return { ...out, unsearchable: true };
    out.decades = [];

    // Filters: batch and type become code lists (bit tests on d), s3_uploaded a flag.
    const filters = req?.filters ?? {};
    const batchValues = filterList(filters.batch);
    const typeValues = filterList(filters.type);
    const s3 = typeof filters.s3_uploaded === 'boolean' ? (filters.s3_uploaded ? 1 : 0) : null;
    const batchCodes = batchValues ? this.codes('batch', batchValues) : null;
    const typeCodes = typeValues ? this.codes('type', typeValues) : null;
    if ((batchCodes && batchCodes.length === 0) || (typeCodes && typeCodes.length === 0)) return out;
    // Access levels (the access gate's per-user scope): an empty or unknown list matches nothing.
    const accessValues = Array.isArray(filters.access) ? ACCESS_LEVELS.filter((l) => filters.access!.includes(l)) : null;
    if (accessValues && accessValues.length === 0) return out;
    const access = accessValues && accessValues.length < ACCESS_LEVELS.length ? accessValues : null;
    const years = yearFilterOf(filters);
    if (years && (years.from > years.to || !this.hasYears)) return { ...out, decades: [] };
    const filter: Filter = { batchCodes, typeCodes, s3, access, years };
    const dateSort = req?.sort === 'oldest' || req?.sort === 'newest' ? req.sort : null;

    const res = this.transaction('DEFERRED', () =>
      parsed.terms.length === 0
        ? this.browse(out, filter, offset, dateSort)
        : this.query(out, parsed.terms, filter, offset, req?.sort === 'id', parsed.display.map(latinWordOf), dateSort),
    );
    // What matched, per field, computed from the stored text (highlight.ts; Elasticsearch's highlighter marks the same).
    return withHighlights(res, parsed.terms);
  }

  /** WHERE fragment + parameters restricting a d-valued SQL expression by the filters. */
  private filterSql(D: string, f: Filter): [string, Array<string | number>] {
    const sql: string[] = [];
    const params: Array<string | number> = [];
    if (f.batchCodes) {
      sql.push(`(${D} >> ${BATCH_SHIFT}) IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(f.batchCodes));
    }
    if (f.typeCodes) {
      sql.push(`((${D} >> ${TYPE_SHIFT}) & ${MAX_TYPE_CODE}) IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(f.typeCodes));
    }
    if (f.s3 !== null) {
      sql.push(`EXISTS (SELECT 1 FROM items x WHERE x.d = ${D} AND x.s3_uploaded = ?)`);
      params.push(f.s3);
    }
    return [sql.length ? sql.join(' AND ') : '1', params];
  }

  /** No query: every record passing the filters, by id; total and facets from facet_counts. */
  /** SQL conditions on items (alias `p`) for the access and year filters, with their parameters. */
  private itemConds(f: Filter, p: string): [string[], Array<string | number>] {
    const sql: string[] = [];
    const params: Array<string | number> = [];
    if (f.access) {
      sql.push(`${p}access IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(f.access));
    }
    if (f.years) {
      sql.push(`${p}year_to >= ? AND ${p}year_from <= ?`);
      params.push(f.years.from, f.years.to);
    }
    return [sql, params];
  }

  /** ORDER BY terms of a date sort over columns yf (year_from), yt (year_to), id of alias `p`. */
  private static dateOrder(sort: 'oldest' | 'newest', p: string): string {
    return sort === 'oldest'
      ? `${p}yf IS NULL, ${p}yf, ${p}yt, ${p}id`
      : `${p}yt IS NULL, ${p}yt DESC, ${p}yf DESC, ${p}id`;
  }

  /** The decade facet of the records `where` selects from items i (see SearchResponse.decades). */
  private decadeFacet(where: string, params: Array<string | number>): FacetBucket[] {
    const rows = this.stmt(
      `SELECT i.year_from / 10 AS a, i.year_to / 10 AS b, count(*) AS c FROM items i WHERE ${where} AND i.year_from IS NOT NULL GROUP BY 1, 2`,
    ).all(...params) as Row[];
    return decadeBuckets(rows.map((r) => ({ first: (r.a as number) * 10, last: (r.b as number) * 10, count: r.c as number })));
  }

  private browse(out: SearchResponse, f: Filter, offset: number, dateSort: 'oldest' | 'newest' | null = null): SearchResponse {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (f.batchCodes) {
      where.push(`b IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(f.batchCodes));
    }
    if (f.typeCodes) {
      where.push(`t IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(f.typeCodes));
    }
    if (f.s3 !== null) {
      where.push(`s3 = ?`);
      params.push(f.s3);
    }
    const w = where.length ? where.join(' AND ') : '1';
    // With an access or year filter the counts come from the items themselves, in facet_counts' shape.
    const [conds, condParams] = this.itemConds(f, '');
    const counts = conds.length
      ? `WITH fc AS (SELECT d >> ${BATCH_SHIFT} AS b, (d >> ${TYPE_SHIFT}) & ${MAX_TYPE_CODE} AS t, s3_uploaded AS s3, count(*) AS cnt
         FROM items WHERE ${conds.join(' AND ')} GROUP BY 1, 2, 3) `
      : '';
    const source = conds.length ? 'fc' : 'facet_counts';
    const rows = this.stmt(
      `${counts}SELECT 0 AS k, b AS code, sum(cnt) AS c FROM ${source} WHERE ${w} GROUP BY b
       UNION ALL SELECT 1, t, sum(cnt) FROM ${source} WHERE ${w} AND t != 0 GROUP BY t`,
    ).all(...condParams, ...params, ...params) as Row[];
    const batch = new Map<number, number>();
    const type = new Map<number, number>();
    for (const r of rows) {
      (r.k === 0 ? batch : type).set(r.code as number, r.c as number);
      if (r.k === 0) out.total += r.c as number;
    }
    out.facets = { batch: this.buckets('batch', batch), type: this.buckets('type', type) };
    if (out.total === 0) return out;
    const [fsql, fparams] = this.filterSql('i.d', f);
    const [iconds, iparams] = this.itemConds(f, 'i.');
    const accessSql = iconds.map((c) => ` AND ${c}`).join('');
    if (this.hasYears) out.decades = this.decadeFacet(`${fsql}${accessSql}`, [...fparams, ...iparams]);
    const page = dateSort
      ? (this.stmt(
          `SELECT r.json, i.indexed_at, i.updated_at, i.s3_uploaded
           FROM (SELECT n, id, year_from AS yf, year_to AS yt FROM items i WHERE ${fsql}${accessSql}
                 ORDER BY ${SqliteStore.dateOrder(dateSort, '')} LIMIT ? OFFSET ?) p
           CROSS JOIN items i ON i.n = p.n CROSS JOIN records r ON r.n = p.n ORDER BY ${SqliteStore.dateOrder(dateSort, 'p.')}`,
        ).all(...fparams, ...iparams, out.pageSize, offset) as Row[])
      : (this.stmt(
          `SELECT r.json, i.indexed_at, i.updated_at, i.s3_uploaded
       FROM (SELECT n, id FROM items i INDEXED BY items_id_cover WHERE ${fsql}${accessSql} ORDER BY id LIMIT ? OFFSET ?) p
       CROSS JOIN items i ON i.n = p.n CROSS JOIN records r ON r.n = p.n ORDER BY p.id`,
        ).all(...fparams, ...iparams, out.pageSize, offset) as Row[]);
    out.hits = page.map((r) => ({ record: this.toRecord(r), score: 0 }));
    return out;
  }

  /**
   * A query. For each term, one FTS5 scan returns the rowids of the (record, field) rows holding
   * its phrase (as one group_concat string: passing 30k rows one by one costs more than the scan);
   * scores, the AND of terms and the facet counts are then collected here, per record, in typed
   * arrays indexed by n. Only the page's candidates go back to SQL, to be ordered by id.
   */
  private query(
    out: SearchResponse,
    terms: string[][],
    f: Filter,
    offset: number,
    byId: boolean,
    words: ReadonlyArray<string | null> = [],
    dateSort: 'oldest' | 'newest' | null = null,
  ): SearchResponse {
    const acc = this.accumulator();
    const { gen, score, step, dv } = acc;
    const G = acc.gen_;
    const [fsql, fparams] = this.filterSql(`(items_fts.rowid >> ${FIELD_BITS})`, f);
    const first = this.stmt(`SELECT group_concat(rowid) AS r FROM items_fts WHERE items_fts MATCH ? AND ${fsql}`);
    const next = this.stmt(`SELECT group_concat(rowid) AS r FROM items_fts WHERE items_fts MATCH ?`);
    // Terms with more bigrams first: usually the rarest, so later terms only confirm candidates.
    const ordered = [...terms].sort((a, b) => b.length - a.length);
    let list: number[] = [];
    for (let k = 0; k < ordered.length; k++) {
      const phrase = ftsPhrase(ordered[k]!);
      // A one-Han-character term matches the unigram tail and scores the unigram weights.
      const table = isUnigramTerm(ordered[k]!) ? UNI_WEIGHTS : WEIGHTS;
      const text = ((k === 0 ? first.get(phrase, ...fparams) : next.get(phrase)) as Row).r as string | null;
      if (!text) return out;
      let cur = 0;
      for (let i = 0, len = text.length; i <= len; i++) {
        const c = i < len ? text.charCodeAt(i) : 44;
        if (c !== 44) {
          cur = cur * 10 + (c - 48);
          continue;
        }
        const d = Math.floor(cur / FIELD_SPAN);
        const w = table[cur - d * FIELD_SPAN]!;
        const n = d % N_SPAN;
        cur = 0;
        if (k === 0) {
          if (gen[n] !== G) {
            gen[n] = G;
            score[n] = 0;
            step[n] = 0;
            dv[n] = d;
            list.push(n);
          }
          score[n]! += w;
        } else if (gen[n] === G) {
          if (step[n] === k - 1) step[n] = k;
          if (step[n] === k) score[n]! += w;
        }
      }
      if (k > 0) list = list.filter((n) => step[n] === k);
      if (list.length === 0) return out;
    }
    if (f.access) {
      // Records outside the allowed access levels (usually few) leave the matches here.
      const excluded = this.stmt(`SELECT n FROM items WHERE access NOT IN (SELECT value FROM json_each(?))`).all(JSON.stringify(f.access)) as Row[];
      if (excluded.length > 0) {
        const gone = new Set(excluded.map((r) => r.n as number));
        list = list.filter((n) => !gone.has(n));
        if (list.length === 0) return out;
      }
    }
    if (f.years) {
      const inRange = this.stmt(
        `SELECT n FROM items WHERE n IN (SELECT value FROM json_each(?)) AND year_to >= ? AND year_from <= ?`,
      ).all(JSON.stringify(list), f.years.from, f.years.to) as Row[];
      const keep = new Set(inRange.map((r) => r.n as number));
      list = list.filter((n) => keep.has(n));
      if (list.length === 0) return out;
    }

    // Whole-word bonus: once per Latin-word term found as a whole word in any field of a match.
    for (const word of new Set(words.filter((w): w is string => !!w))) {
      const hits = (next.get(ftsPhrase([WORD_PREFIX + word])) as Row).r as string | null;
      if (!hits) continue;
      const bonusGen = new Set<number>();
      for (const part of hits.split(',')) {
        const n = Math.floor(Number(part) / FIELD_SPAN) % N_SPAN;
        if (gen[n] === G && step[n] === ordered.length - 1 && !bonusGen.has(n)) {
          bonusGen.add(n);
          score[n]! += WHOLE_WORD_BONUS;
        }
      }
    }

    out.total = list.length;
    const batchCounts = new Int32Array(MAX_BATCH_CODE + 1);
    const typeCounts = new Int32Array(MAX_TYPE_CODE + 1);
    const hist = new Map<number, number>();
    for (const n of list) {
      const d = dv[n]!;
      batchCounts[Math.floor(d / BATCH_SPAN)]!++;
      typeCounts[Math.floor(d / N_SPAN) % TYPE_SPAN]!++;
      hist.set(score[n]!, (hist.get(score[n]!) ?? 0) + 1);
    }
    const batch = new Map<number, number>();
    const type = new Map<number, number>();
    batchCounts.forEach((c, code) => c && batch.set(code, c));
    typeCounts.forEach((c, code) => c && code !== 0 && type.set(code, c));
    out.facets = { batch: this.buckets('batch', batch), type: this.buckets('type', type) };
    if (this.hasYears) out.decades = this.decadeFacet(`i.n IN (SELECT value FROM json_each(?))`, [JSON.stringify(list)]);
    const end = offset + out.pageSize;
    if (offset >= list.length) return out;

    let rows: Row[];
    if (dateSort) {
      // By date: every match is a candidate; scores are reported as 0, as for sort=id.
      rows = this.stmt(
        `SELECT 0 AS score, r.json, i.indexed_at, i.updated_at, i.s3_uploaded
         FROM (SELECT n, id, year_from AS yf, year_to AS yt FROM items WHERE n IN (SELECT value FROM json_each(?))
               ORDER BY ${SqliteStore.dateOrder(dateSort, '')} LIMIT ? OFFSET ?) p
         CROSS JOIN items i ON i.n = p.n CROSS JOIN records r ON r.n = p.n ORDER BY ${SqliteStore.dateOrder(dateSort, 'p.')}`,
      ).all(JSON.stringify(list), out.pageSize, offset) as Row[];
      out.hits = rows.map((r): SearchHit => ({ record: this.toRecord(r), score: 0 }));
      return out;
    }
    // Sorting by id: for many matches, walk the id index keeping the matches (SQLite builds an
    // ephemeral index of the JSON list) until the page is full, about end * records / total rows;
    // for few matches, look their ids up and sort them (the pairs path below, scores all 0).
    if (byId && end * acc.maxN < 5 * list.length * list.length) {
      rows = this.stmt(
        `SELECT 0 AS score, r.json, i.indexed_at, i.updated_at, i.s3_uploaded
         FROM (SELECT n, id FROM items INDEXED BY items_id_cover
               WHERE n IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ? OFFSET ?) p
         CROSS JOIN items i ON i.n = p.n CROSS JOIN records r ON r.n = p.n ORDER BY p.id`,
      ).all(JSON.stringify(list), out.pageSize, offset) as Row[];
    } else {
      // The page's candidates: by score, the records scoring at least the end-th best score (their
      // order among each other needs their ids, which SQL has); by id, all of them.
      let seen = 0;
      let threshold = 0;
      for (const s of [...hist.keys()].sort((a, b) => b - a)) {
        seen += hist.get(s)!;
        threshold = s;
        if (seen >= end) break;
      }
      const pairs = JSON.stringify(
        byId ? list.map((n) => [n, 0]) : list.filter((n) => score[n]! >= threshold).map((n) => [n, score[n]]),
      );
      rows = this.stmt(
        `SELECT p.s AS score, r.json, i.indexed_at, i.updated_at, i.s3_uploaded
         FROM (SELECT c.value ->> 0 AS n, c.value ->> 1 AS s, i.id FROM json_each(?) c JOIN items i ON i.n = c.value ->> 0
               ORDER BY s DESC, i.id LIMIT ? OFFSET ?) p
         CROSS JOIN items i ON i.n = p.n CROSS JOIN records r ON r.n = p.n ORDER BY p.s DESC, p.id`,
      ).all(pairs, out.pageSize, offset) as Row[];
    }
    out.hits = rows.map((r): SearchHit => ({ record: this.toRecord(r), score: r.score as number }));
    return out;
  }

  /** Per-record work arrays for `query`, indexed by n, reused between searches. */
  private acc = {
    gen: new Uint32Array(0),
    score: new Int32Array(0),
    step: new Int32Array(0),
    dv: new Float64Array(0),
    gen_: 0,
    maxN: 0,
  };

  private accumulator() {
    const maxN = ((this.stmt(`SELECT max(n) AS n FROM items`).get() as Row).n as number | null) ?? 0;
    if (this.acc.gen.length <= maxN) {
      let size = 1024;
      while (size <= maxN) size *= 2;
      this.acc = {
        gen: new Uint32Array(size),
        score: new Int32Array(size),
        step: new Int32Array(size),
        dv: new Float64Array(size),
        gen_: 0,
        maxN,
      };
    }
    const b = this.acc;
    b.maxN = maxN;
    b.gen_ = (b.gen_ + 1) >>> 0;
    if (b.gen_ === 0) {
      b.gen.fill(0);
      b.gen_ = 1;
    }
    return b;
  }

  /** Facet buckets from code counts: count desc, then value asc (code point order, like SQL). */
  private buckets(kind: 'batch' | 'type', counts: Map<number, number>): FacetBucket[] {
    const out: FacetBucket[] = [];
    for (const [code, count] of counts) if (count > 0) out.push({ value: this.codeName(kind, code), count });
    return out.sort((a, b) => b.count - a.count || compareCodePoints(a.value, b.value));
  }

  private codeName(kind: 'batch' | 'type', code: number): string {
    let name = this.codeNames[kind].get(code);
    if (name === undefined) {
      const table = kind === 'batch' ? 'batch_codes' : 'type_codes';
      for (const r of this.stmt(`SELECT code, value FROM ${table}`).all() as Row[]) {
        this.codeNames[kind].set(r.code as number, r.value as string);
      }
      name = this.codeNames[kind].get(code) ?? `#${code}`;
    }
    return name;
  }

  /**
   * `PRAGMA quick_check`: every page of every table and index (the full-text index's included) is
   * read and checked. [] when the database is sound, else what SQLite found (at most 20 lines).
   */
  async quickCheck(): Promise<string[]> {
    try {
      const rows = this.db.prepare('PRAGMA quick_check(20)').all() as Array<Record<string, unknown>>;
      const found = rows.map((r) => String(Object.values(r)[0]));
      return found.length === 1 && found[0] === 'ok' ? [] : found;
    } catch (err) {
      if (isBusy(err)) throw err;
      return [String((err as Error).message ?? err)];
    }
  }

  /** Merges the FTS5 index segments (after a bulk load); searches are faster afterwards. */
  async optimize(): Promise<void> {
    this.initSync();
    this.db.exec(`INSERT INTO items_fts (items_fts) VALUES ('optimize'); PRAGMA optimize;`);
  }

  async close(): Promise<void> {
    if (!this.db.isOpen) return;
    this.stmts.clear();
    this.db.close();
  }

  /**
   * The open connection, for the access layer's tables in the same file (grants, audit, token
   * revocations: src/lib/access/access-sqlite.ts), so that one module still opens the database.
   */
  connection(): DatabaseSync {
    return this.db;
  }
}

// -------------------------------------------------------------------------------------------------
// Opening for a long-running process: never blocks the event loop for long, never gives up for good

/** SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock; worth waiting for. */
export function isBusy(err: unknown): boolean {
  const e = err as { errcode?: number; message?: string };
  const primary = typeof e?.errcode === 'number' ? e.errcode & 0xff : undefined;
  return primary === 5 || primary === 6 || /database (table )?is locked|database is busy/i.test(String(e?.message ?? ''));
}

/** The file (or its directory, which WAL needs for -wal and -shm) cannot be written. */
function isReadOnlyError(err: unknown): boolean {
  const e = err as { errcode?: number; code?: string; message?: string };
  const primary = typeof e?.errcode === 'number' ? e.errcode & 0xff : undefined;
  return primary === 8 || e?.code === 'EACCES' || e?.code === 'EROFS' || /readonly database|read-only file system|permission denied|unable to open database/i.test(String(e?.message ?? ''));
}

function writable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    fs.accessSync(path.dirname(path.resolve(file)), fs.constants.W_OK);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SqliteServeOptions {
  /** SQLite's busy wait per attempt, ms (default 25: the event loop stays responsive). */
  busyTimeoutMs?: number;
  /** How long an operation keeps retrying a locked database before it gives up, ms (default 5 s). */
  retryForMs?: number;
  /**
   * How long opening keeps retrying, ms (default 2 s): a store still locked after that is
   * unavailable (503 at once), and the next request after a back-off tries again (runtime.ts).
   */
  openRetryForMs?: number;
  log?: (line: string) => void;
}

/**
 * Runs `fn`; while the database is locked by another process, waits WITHOUT blocking (a timer,
 * doubling from 10 ms to 500 ms) and tries again, for up to `retryForMs`; then the store is
 * unavailable (503 for the client, the reason in the log and /readyz).
 */
export async function retryBusy<T>(fn: () => Promise<T> | T, retryForMs: number, what = 'the search store'): Promise<T> {
  const started = performance.now();
  let wait = 10;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      const spent = performance.now() - started;
      if (spent >= retryForMs) {
        throw new StoreUnavailableError('sqlite', `${what} is locked by another process (waited ${Math.round(spent)} ms)`, { cause: err });
      }
      await sleep(Math.min(wait, Math.max(1, retryForMs - spent)));
      wait = Math.min(500, wait * 2);
    }
  }
}

/**
 * Opens the embedded store for a server process (and the CLI, through openStore):
 *  - a short busy timeout, and every operation retried asynchronously while another process holds
 *    the lock (`retryBusy`), so two processes on one DATA_DIR work together and a running
 *    `archive index` never freezes or breaks the server;
 *  - a store whose file or directory is not writable is opened read-only (searches and pages work;
 *    writes answer that the store is read-only);
 *  - any failure to open (locked for longer than `retryForMs`, unreadable, corrupt, another schema)
 *    is a StoreUnavailableError, so the caller serves 503 and tries again later.
 */
export async function openSqliteStore(file: string, opts: SqliteServeOptions = {}): Promise<SqliteStore> {
  const busyTimeoutMs = opts.busyTimeoutMs ?? 25;
  const retryForMs = opts.retryForMs ?? 5_000;
  const openRetryForMs = opts.openRetryForMs ?? Math.min(2_000, retryForMs);
  const memory = file === ':memory:' || file === '';
  const open = (readOnly: boolean) => {
    let store: SqliteStore;
    try {
      store = new SqliteStore(file, { readOnly, busyTimeoutMs });
    } catch (err) {
      // Read-only media: the WAL index (-shm) cannot be created; the file cannot change either.
      if (!readOnly || isBusy(err)) throw err;
      store = new SqliteStore(file, { readOnly, busyTimeoutMs, immutable: true });
    }
    try {
      store.initSync();
      return store;
    } catch (err) {
      void store.close();
      throw err;
    }
  };
  let store: SqliteStore;
  try {
    store = await retryBusy(() => {
      const readOnly = !memory && !writable(file);
      try {
        return open(readOnly);
      } catch (err) {
        if (readOnly || memory || !isReadOnlyError(err) || !fs.existsSync(file)) throw err;
        return open(true);
      }
    }, openRetryForMs, file);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    const e = err as NodeJS.ErrnoException & { errstr?: string };
    const why = e.code === 'EACCES' || isReadOnlyError(err) ? `permission denied (${e.message})` : String(e.message ?? err);
    throw new StoreUnavailableError('sqlite', `cannot open ${file}: ${why.split('\n')[0]}`, { cause: err });
  }
  if (store.readOnly) opts.log?.(`archive: ${file} is not writable: the search store is open read-only`);
  return withBusyRetry(store, retryForMs);
}

/**
 * The store with every asynchronous method retried while the database is locked (see retryBusy).
 * Methods that return promises are wrapped; synchronous ones and properties pass through.
 */
export function withBusyRetry<S extends object>(store: S, retryForMs: number): S {
  return new Proxy(store, {
    get(target, prop) {
      // Getters run on the store itself (not the proxy), so they may use #private fields.
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function' || prop === 'constructor' || prop === 'close') {
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      const fn = value as (...a: unknown[]) => unknown;
      return (...args: unknown[]) => {
        const first = fn.apply(target, args);
        if (!(first instanceof Promise)) return first;
        return first.catch((err: unknown) => {
          if (!isBusy(err)) throw err;
          return retryBusy(() => fn.apply(target, args) as Promise<unknown>, retryForMs);
        });
      };
    },
  });
}
