/**
 * The `SearchStore` port: the archive's source of truth for records, and its search engine.
 * Backends (embedded SQLite, Elasticsearch) implement it; nothing outside src/lib/search knows
 * which one is in use. `openStore()` (open.ts) is the factory.
 */
import { ACCESS_LEVELS, IMAGE_ID_RE, type AccessLevel, type ImageEntry, type ImageRef, type ItemInput, type ItemRecord, type LangText } from '../domain.ts';
import { parseQuery, type ParsedQuery } from './text.ts';

/** The records the port stores are the domain's (src/lib/domain.ts); named here too for its users. */
export type { AccessLevel, ImageEntry, ImageRef, ItemInput, ItemRecord, LangText };

export interface SearchFilters {
  batch?: string[];
  type?: string[];
  s3_uploaded?: boolean;
  /** Only records at one of these access levels (the access gate's per-user scope); [] matches nothing. */
  access?: AccessLevel[];
  /**
   * Year filter (Gregorian years, inclusive): only records whose year range (parsed from their date
   * at index time, src/lib/dates/range.ts) overlaps [yearFrom, yearTo]; records without a range are
   * left out as soon as either bound is set. An inverted filter (from > to) matches nothing.
   */
  yearFrom?: number;
  yearTo?: number;
}

/** oldest: by year range (from, then to) ascending; newest: by to, then from, descending; undated last, ties by id. */
export type SortOrder = 'relevance' | 'id' | 'oldest' | 'newest';

export interface SearchRequest {
  /** Raw user text; parsed with parseQuery(). Empty or absent: browse everything. */
  q?: string;
  filters?: SearchFilters;
  /** 1-based. */
  page?: number;
  pageSize?: number;
  /** Default: relevance when there is a query, id otherwise. */
  sort?: SortOrder;
}

export interface FacetBucket {
  value: string;
  count: number;
}

export interface SearchHit {
  record: ItemRecord;
  /** Sum of the weights of the fields each term matched (0 when browsing). */
  score: number;
  /** What the query matched, per field (absent when browsing); see highlight.ts. */
  highlight?: Highlight;
}

/** One field value holding a match: the matched ranges, UTF-16 offsets into the value as stored, sorted and merged. */
export interface MarkedValue {
  value: string;
  ranges: Array<[number, number]>;
}

/** Per searchable field, the values the query matched in (highlight.ts computes and renders them). */
export type Highlight = Partial<Record<SearchField, MarkedValue[]>>;

export interface SearchResponse {
  total: number;
  page: number;
  pageSize: number;
  hits: SearchHit[];
  facets: { batch: FacetBucket[]; type: FacetBucket[] };
  /** Terms ignored because they were shorter than two characters. */
  tooShort: string[];
  /** The query had text but nothing searchable in it (every term too short, or the query too long). */
  unsearchable: boolean;
  /** Set when the query was longer than MAX_QUERY_LENGTH characters: not searched (never cut). */
  tooLong?: { length: number; max: number };
  /**
   * The decade facet: matching records per decade ("1920" = 1920–1929), oldest first. A record
   * counts once in every decade its year range touches (1918–1931 counts in 1910, 1920 and 1930),
   * so the counts may add up to more than `total`. Absent when nothing was searched.
   */
  decades?: FacetBucket[];
}

export interface UpsertReport {
  inserted: number;
  updated: number;
}

/** One image's upload to S3, as the sync stage reports it. */
export interface ImageUpload {
  imageId: string;
  /** The S3 object key. */
  key: string;
  /** Bytes uploaded. */
  size: number;
  /** When, ISO 8601. */
  at: string;
}

export interface MarkUploadedReport {
  /** Images whose upload was recorded. */
  images: number;
  /** Image ids not in the store (ignored, not an error). */
  unknown: string[];
  /** Records that became fully uploaded (s3_uploaded false -> true) by this call. */
  completed: number;
}

/**
 * One image with its S3 upload state, as the sync and status stages read it (`listImages`).
 * `uploadedAt`, `s3Size` are present exactly when the image's upload is recorded (markUploaded,
 * kept by later upserts while the image keeps its id, record and file).
 */
export interface ImageState {
  /** Image id. */
  id: string;
  itemId: string;
  /** The owning record's batch. */
  batch: string;
  /** Path below the clean image root. */
  file: string;
  /** The recorded object key (set by markUploaded; an ItemInput may also carry one). */
  s3Key?: string;
  /** Bytes uploaded, as recorded by markUploaded. */
  s3Size?: number;
  /** When the upload was recorded (ISO 8601). */
  uploadedAt?: string;
}

export interface ImageListFilter {
  /** Only images of records in these batches. */
  batch?: string[];
  /** true: only images with a recorded upload; false: only images without one. */
  uploaded?: boolean;
}

export interface SearchStore {
  readonly backend: string;
  /** Create tables/indices if missing. Idempotent. */
  init(): Promise<void>;
  /** Insert or replace records by id; keeps indexed_at of existing ones, sets updated_at = now. */
  upsert(items: ItemInput[], now?: Date): Promise<UpsertReport>;
  get(id: string): Promise<ItemRecord | null>;
  /**
   * The access level of item `id` (null when there is no such item), from an indexed lookup that
   * reads nothing else: access is decided before the record is read, so a restricted item costs
   * what a missing one costs (src/lib/access/scope.ts). Optional for test doubles of the port.
   */
  getAccessLevel?(id: string): Promise<AccessLevel | null>;
  getImage(imageId: string): Promise<ImageEntry | null>;
  search(req: SearchRequest): Promise<SearchResponse>;
  count(): Promise<number>;
  close(): Promise<void>;
  /**
   * Records S3 uploads per image (the image's s3Key becomes `key`). A record's `s3_uploaded` is
   * true exactly when it has images and every one of them is uploaded; an upsert keeps an image's
   * upload while the image keeps its id, record and file. Optional only so that test doubles of
   * the port stay valid; every real backend implements it.
   */
  markUploaded?(updates: ImageUpload[]): Promise<MarkUploadedReport>;
  /**
   * Every image of every record (optionally filtered), with its upload state, ordered by image id
   * (code-point order). What the sync stage works from and the status page counts. Optional only
   * so that test doubles of the port stay valid; every real backend implements it.
   */
  listImages?(filter?: ImageListFilter): Promise<ImageState[]>;
  /**
   * Deletes records (and their images) from the store. Ids not in the store are ignored; resolves
   * to the number removed. Optional only so that test doubles of the port stay valid.
   */
  deleteRecords?(ids: string[]): Promise<number>;
  /**
   * Records whose date text could not be read as a year range (src/lib/dates/range.ts): the first
   * `limit` by id, and how many there are. They stay searchable by their text; `archive status`
   * lists them. Optional only so that test doubles of the port stay valid.
   */
  listUnparsedDates?(limit: number): Promise<UnparsedDates>;
  /**
   * Withdrawals (records a provider's later workbook no longer holds; src/lib/ingest/indexing.ts):
   * marks records withdrawn, with the batch and the date. A withdrawn record stays in the store,
   * whole (timestamps, images, upload state), but is no longer served, searched or counted: get,
   * getAccessLevel, getImage, search, count and listImages no longer see it. Ids not in the store,
   * or already withdrawn, are ignored; resolves to the number marked. Optional only so that test
   * doubles of the port stay valid; every real backend implements the four methods below.
   */
  withdraw?(marks: WithdrawMark[]): Promise<number>;
  /** Every withdrawn record, ordered by id (code-point order). */
  listWithdrawn?(): Promise<WithdrawnEntry[]>;
  /**
   * Brings withdrawn records back exactly as they were (indexed_at, images, upload state), before
   * the index stage upserts them again: a record delivered again keeps its indexed_at. Ids that are
   * not withdrawn are ignored; resolves to the number restored.
   */
  restoreWithdrawn?(ids: string[]): Promise<number>;
  /** Deletes withdrawn records for good (`archive prune`); other ids are ignored. */
  purgeWithdrawn?(ids: string[]): Promise<number>;
}

/** A withdrawal as the index stage decides it. */
export interface WithdrawMark {
  id: string;
  /** The batch whose chosen workbook no longer holds the record. */
  batch: string;
  /** When (ISO 8601). */
  at: string;
}

/** A withdrawn record as the store keeps it (`listWithdrawn`). */
export interface WithdrawnEntry {
  record: ItemRecord;
  /** The batch whose chosen workbook no longer held it. */
  batch: string;
  /** When it was withdrawn (ISO 8601). */
  withdrawnAt: string;
}

/** What listUnparsedDates answers. */
export interface UnparsedDates {
  total: number;
  records: Array<{ id: string; batch: string; date: string; source?: { file: string; sheet?: string; row?: number } }>;
}

/**
 * Searchable fields and their weights. A hit's score is the sum, over query terms, of the weights
 * of the fields the term occurs in; ties are broken by id. Both backends compute exactly this.
 */
export const FIELD_WEIGHTS = {
  id: 8,
  title: 10,
  creator: 5,
  subjects: 4,
  place: 3,
  collection: 2,
  description: 2,
  notes: 1,
} as const;

export type SearchField = keyof typeof FIELD_WEIGHTS;

/**
 * What a term of one Han character (searched in the unigram field, see text.ts) scores per field:
 * half the field's weight, rounded up, so it ranks below the longer terms of the same query.
 */
export const UNIGRAM_WEIGHTS: Readonly<Record<SearchField, number>> = Object.fromEntries(
  Object.entries(FIELD_WEIGHTS).map(([f, w]) => [f, Math.ceil(w / 2)]),
) as Record<SearchField, number>;

/**
 * Added once per Latin-word term that occurs as a whole word in any searchable field: more than any
 * sum of field weights, so whole-word matches rank above inner-word substrings ("port" finds
 * "Port of Yokohama" before "Sports day").
 */
export const WHOLE_WORD_BONUS = 100;

/**
 * The values of each searchable field of a record. A field may hold several values (both
 * languages, several subjects); a phrase never matches across two values (backends keep a gap
 * between them, as Elasticsearch's position_increment_gap does for arrays).
 */
export function searchableValues(item: ItemInput): Record<SearchField, string[]> {
  const lang = (t?: LangText) => [t?.ja, t?.en].filter((v): v is string => !!v);
  return {
    id: [item.id],
    title: lang(item.title),
    creator: lang(item.creator),
    subjects: item.subjects ?? [],
    place: lang(item.place),
    collection: lang(item.collection),
    description: lang(item.description),
    notes: item.notes ? [item.notes] : [],
  };
}

/** The year filter of a request as numbers (absent bounds open), or null when it has none. */
export function yearFilterOf(filters: SearchFilters | undefined): { from: number; to: number } | null {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : undefined);
  const from = num(filters?.yearFrom);
  const to = num(filters?.yearTo);
  if (from === undefined && to === undefined) return null;
  return { from: from ?? -1_000_000, to: to ?? 1_000_000 };
}

/** Decade buckets from counts per (first decade, last decade) pair: oldest first (see `decades`). */
export function decadeBuckets(spans: Iterable<{ first: number; last: number; count: number }>): FacetBucket[] {
  const counts = new Map<number, number>();
  for (const { first, last, count } of spans) {
    for (let d = first; d <= last; d += 10) counts.set(d, (counts.get(d) ?? 0) + count);
  }
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([d, count]) => ({ value: String(d), count }));
}

export const DEFAULT_PAGE_SIZE = 20;
/** Longest query searched, in characters (after NFC); a longer one is refused with a message, not cut. */
export const MAX_QUERY_LENGTH = 500;
export const MAX_PAGE_SIZE = 100;

// --- Rules every backend applies the same way (the shared query suite checks them) -------------

/** A whole number from untrusted input, clamped; non-numbers give the fallback. */
export function clampInt(v: unknown, fallback: number, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(n)));
}

/** A filter list: absent, empty or not a list of strings means "no filter". */
export function filterList(v: unknown): string[] | null {
  if (v === undefined || v === null) return null;
  const list = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
  return list.length > 0 ? list : null;
}

/** Page and page size of a request, clamped (page × size never passes 1e9). */
export function pageOf(req: SearchRequest | undefined): { page: number; pageSize: number } {
  const pageSize = clampInt(req?.pageSize, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
  return { page: clampInt(req?.page, 1, 1, Math.floor(1e9 / pageSize)), pageSize };
}

/** Checks the entries of a markUploaded call; throws on the first invalid one (nothing is written). */
export function validateUploads(updates: unknown): asserts updates is ImageUpload[] {
  if (!Array.isArray(updates)) throw new Error('markUploaded: expected a list of uploads');
  for (const u of updates as Array<Record<string, unknown> | null>) {
    if (
      typeof u?.imageId !== 'string' ||
      typeof u.key !== 'string' ||
      u.key === '' ||
      typeof u.size !== 'number' ||
      !Number.isFinite(u.size) ||
      u.size < 0 ||
      typeof u.at !== 'string' ||
      u.at === ''
    ) {
      throw new Error(`markUploaded: invalid entry ${JSON.stringify(u)}`);
    }
  }
}

/** The parsed query and the empty answer a search starts from (page, size, too-short terms). */
export function startSearch(req: SearchRequest | undefined): { raw: string; parsed: ParsedQuery; empty: SearchResponse } {
  const { page, pageSize } = pageOf(req);
  const raw = typeof req?.q === 'string' ? req.q.normalize('NFC') : '';
  const length = [...raw].length;
  if (length > MAX_QUERY_LENGTH) {
    // Cutting it would search for something else (false positives): nothing is searched.
    return {
      raw,
      parsed: { terms: [], display: [], tooShort: [] },
      empty: { total: 0, page, pageSize, hits: [], facets: { batch: [], type: [] }, tooShort: [], unsearchable: false, tooLong: { length, max: MAX_QUERY_LENGTH } },
    };
  }
  const parsed = parseQuery(raw);
  return {
    raw,
    parsed,
    empty: { total: 0, page, pageSize, hits: [], facets: { batch: [], type: [] }, tooShort: parsed.tooShort, unsearchable: false },
  };
}

/**
 * Checks a batch before anything is written and de-duplicates it (the last occurrence of an id
 * wins); throws on the first invalid record, so a rejected upsert writes nothing. `maxIdBytes` is a
 * backend's own limit on ids, if it has one.
 */
export function validateUpsert(items: ItemInput[], opts: { maxIdBytes?: number; backend?: string } = {}): ItemInput[] {
  if (!Array.isArray(items)) throw new Error('upsert: expected a list of records');
  const byId = new Map<string, ItemInput>();
  for (const item of items) {
    if (!item || typeof item.id !== 'string' || item.id.trim() === '') throw new Error('upsert: record without id');
    if (opts.maxIdBytes !== undefined && Buffer.byteLength(item.id) > opts.maxIdBytes) {
      throw new Error(`upsert: ${item.id.slice(0, 40)}…: ids longer than ${opts.maxIdBytes} bytes cannot be stored in ${opts.backend ?? 'this store'}`);
    }
    if (typeof item.batch !== 'string' || item.batch.trim() === '') throw new Error(`upsert: ${item.id}: no batch`);
    if (item.type !== undefined && item.type !== null && typeof item.type !== 'string') {
      throw new Error(`upsert: ${item.id}: type must be a string`);
    }
    if (item.access !== undefined && !ACCESS_LEVELS.includes(item.access)) {
      throw new Error(`upsert: ${item.id}: unknown access level "${String(item.access)}"`);
    }
    if (!Array.isArray(item.images)) throw new Error(`upsert: ${item.id}: images must be an array`);
    byId.delete(item.id);
    byId.set(item.id, item);
  }
  const imageOwner = new Map<string, string>();
  for (const item of byId.values()) {
    for (const img of item.images) {
      if (typeof img?.id !== 'string' || !IMAGE_ID_RE.test(img.id)) {
        throw new Error(`upsert: ${item.id}: invalid image id "${String(img?.id)}"`);
      }
      if (typeof img.file !== 'string' || img.file === '') throw new Error(`upsert: ${item.id}: image ${img.id} has no file`);
      const other = imageOwner.get(img.id);
      if (other !== undefined) throw new Error(`upsert: image ${img.id} is listed by both ${other} and ${item.id}`);
      imageOwner.set(img.id, item.id);
    }
  }
  return [...byId.values()];
}

/**
 * The store cannot be reached or used right now: connection refused, timeout, cluster unavailable,
 * credentials refused, index on another mapping version. Backends throw it from any operation; it
 * is not a bug in the request, so the site answers 503 with a log line (see unavailable.ts) and
 * /readyz shows `reason`. The server keeps running and the next operation tries again.
 */
export class StoreUnavailableError extends Error {
  readonly backend: string;
  /** What is wrong, for operators (no credentials in it). */
  readonly reason: string;
  constructor(backend: string, reason: string, options?: ErrorOptions) {
    super(`the ${backend} search store is unavailable: ${reason}`, options);
    this.name = 'StoreUnavailableError';
    this.backend = backend;
    this.reason = reason;
  }
}
