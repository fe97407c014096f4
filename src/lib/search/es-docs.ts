/**
 * Elasticsearch documents of the archive (mapping version 1, see es-settings.ts), the Painless
 * scripts that write them, and the checks every upsert passes before anything is sent. Pure.
 *
 * The rules are the embedded store's (sqlite.ts), restated for a store without transactions:
 *
 *  - `indexed_at` is set on the first insert only, `updated_at` on every upsert. Each record is ONE
 *    bulk `update` with an `upsert` body (firstInsertDoc: the whole new document, carrying
 *    `indexed_at`), which Elasticsearch indexes as is when the document does not exist; no script
 *    runs then (no `scripted_upsert`). When it exists, UPSERT_SCRIPT runs, and it never writes
 *    `indexed_at`. So a bulk request needs no prior read and two writers cannot lose a first-insert
 *    time (the second one's `upsert` body is ignored).
 *  - An image's S3 upload survives an upsert while the image keeps its id, record and file (the
 *    script compares the stored `uploads` with the new image list); `s3_uploaded` is true exactly
 *    when the record existed before, has images, and every image is uploaded.
 *  - The checks (ids, batch, access, image ids, an image listed by two records) are the embedded
 *    store's, with the same messages; ownership against stored records is checked with one search
 *    before the bulk request (elasticsearch.ts).
 */
import { searchableValues, validateUploads, validateUpsert, type AccessLevel, type ImageEntry, type ItemInput, type ItemRecord, type SearchField } from './store.ts';
import { SEARCH_FIELDS } from './es-settings.ts';


/** Elasticsearch refuses document ids longer than 512 bytes (UTF-8). */
export const MAX_ID_BYTES = 512;

/** One image's S3 upload as kept in a document (the `uploads` array, not indexed). */
export interface UploadEntry {
  image: string;
  /** The image's file when it was uploaded: a changed file means a new upload is needed. */
  file: string;
  key: string;
  size: number | null;
  at: string | null;
}

/** What the upsert script receives for one record (everything but the store-maintained fields). */
export interface DocInput {
  id: string;
  batch: string;
  type: string | null;
  access: AccessLevel;
  image_ids: string[];
  search: Record<SearchField, string[]>;
  record: ItemInput;
}

/** A whole stored document (_source). */
export interface StoredDoc extends DocInput {
  indexed_at: string;
  updated_at: string;
  uploads: UploadEntry[];
  s3_uploaded: boolean;
}

/** A record's type for filters and facets: absent or blank means none (as in the embedded store). */
export function typeOf(item: ItemInput): string | null {
  return typeof item.type === 'string' && item.type.trim() !== '' ? item.type : null;
}

/** The searchable values of a record, strings only (the embedded store skips anything else). */
export function searchFields(item: ItemInput): Record<SearchField, string[]> {
  const values = searchableValues(item);
  return Object.fromEntries(SEARCH_FIELDS.map((f) => [f, values[f].filter((v) => typeof v === 'string' && v !== '')])) as Record<
    SearchField,
    string[]
  >;
}

/** The script input of one record. `record` is the input as given (a JSON copy, as SQLite keeps it). */
export function docInput(item: ItemInput): DocInput {
  return {
    id: item.id,
    batch: item.batch,
    type: typeOf(item),
    access: item.access ?? 'open',
    image_ids: item.images.map((i) => i.id),
    search: searchFields(item),
    record: JSON.parse(JSON.stringify(item)) as ItemInput,
  };
}

/**
 * The document a record's first upsert inserts (the bulk update's `upsert` body): the only place
 * `indexed_at` is written. Nothing is uploaded yet, so `s3_uploaded` is false (as in SQLite, a new
 * record is never complete).
 */
export function firstInsertDoc(item: ItemInput, now: string): StoredDoc {
  return { ...docInput(item), indexed_at: now, updated_at: now, uploads: [], s3_uploaded: false };
}

/**
 * The upsert of an EXISTING document (a new one is firstInsertDoc, no script). Kept as a script
 * because a partial update (`doc`) cannot express it:
 *  - `record` must be replaced whole, and a partial `doc` merges objects recursively: a field or a
 *    language removed from the record would survive in the stored one;
 *  - an image's upload is carried over only while the image keeps its id and file, and
 *    `s3_uploaded` is computed from those kept uploads: both depend on the stored document, which a
 *    partial `doc` cannot read (the alternative, a read before every bulk write, could lose a
 *    markUploaded running in between).
 * params.doc is a DocInput, params.now the ISO time of this upsert (updated_at). `indexed_at` is
 * copied from the stored document, never from params. Params are never mutated (they may be
 * read-only): image maps are copied before s3Key is set on them.
 */
export const UPSERT_SCRIPT = [
  'Map s = ctx._source;',
  'Map kept = new HashMap();',
  'if (s.uploads != null) { for (def u : s.uploads) { kept.put(u.image, u); } }',
  'Map d = params.doc;',
  'List images = new ArrayList();',
  'List uploads = new ArrayList();',
  'boolean all = d.record.images.size() > 0;',
  'for (def img : d.record.images) {',
  '  Map copy = new LinkedHashMap(img);',
  '  def u = kept.get(img.id);',
  '  if (u != null && u.file == img.file) { uploads.add(u); copy.s3Key = u.key; } else { all = false; }',
  '  images.add(copy);',
  '}',
  'Map rec = new LinkedHashMap(d.record);',
  'rec.images = images;',
  'def indexedAt = s.indexed_at;',
  's.clear();',
  's.putAll(d);',
  's.record = rec;',
  's.indexed_at = indexedAt;',
  's.updated_at = params.now;',
  's.uploads = uploads;',
  's.s3_uploaded = all;',
].join('\n');

/**
 * markUploaded for one record: params.uploads = [{image, key, size, at}] (in call order, the last
 * one for an image wins). Images the record does not hold (any more) are left alone. A script
 * because a partial update cannot express it: it sets `s3Key` on the elements of the stored
 * `record.images` chosen by image id and recomputes `uploads` and `s3_uploaded` from them, and a
 * partial `doc` replaces arrays whole, so it would need the stored images read first (and would
 * then undo an upsert that changed them in between).
 */
export const MARK_UPLOADED_SCRIPT = [
  'Map s = ctx._source;',
  'Map byImage = new HashMap();',
  'if (s.uploads != null) { for (def u : s.uploads) { byImage.put(u.image, u); } }',
  'List images = s.record.images;',
  'for (def u : params.uploads) {',
  '  for (def img : images) {',
  '    if (img.id == u.image) {',
  "      byImage.put(u.image, ['image': u.image, 'file': img.file, 'key': u.key, 'size': u.size, 'at': u.at]);",
  '      img.s3Key = u.key;',
  '    }',
  '  }',
  '}',
  'List uploads = new ArrayList();',
  'boolean all = images.size() > 0;',
  'for (def img : images) { def u = byImage.get(img.id); if (u == null) { all = false; } else { uploads.add(u); } }',
  's.uploads = uploads;',
  's.s3_uploaded = all;',
].join('\n');

/** A stored document as the port's ItemRecord. */
export function toRecord(src: Pick<StoredDoc, 'record' | 'indexed_at' | 'updated_at' | 's3_uploaded'>): ItemRecord {
  return { ...src.record, indexed_at: src.indexed_at, updated_at: src.updated_at, s3_uploaded: src.s3_uploaded === true };
}

/** An image of a stored document as the port's ImageEntry (fields present as SQLite returns them). */
export function toImageEntry(src: Pick<StoredDoc, 'record' | 'access'>, imageId: string): ImageEntry | null {
  const img = src.record.images?.find((i) => i.id === imageId);
  if (!img) return null;
  const entry: ImageEntry = { id: img.id, file: img.file, itemId: src.record.id, access: src.access ?? 'open' };
  if (img.label) entry.label = img.label;
  if (typeof img.width === 'number') entry.width = img.width;
  if (typeof img.height === 'number') entry.height = img.height;
  if (typeof img.s3Key === 'string') entry.s3Key = img.s3Key;
  return entry;
}

/**
 * A whole document for a stored record copied from elsewhere (the embedded store, an older index):
 * timestamps and upload state as the source has them. The port exposes uploads only as s3Key, so an
 * image with an s3Key counts as uploaded (size and time unknown): see docs/elasticsearch.md.
 */
export function docFromRecord(rec: ItemRecord, uploads?: UploadEntry[]): StoredDoc {
  const { indexed_at, updated_at, s3_uploaded, ...input } = rec;
  const base = docInput(input);
  return {
    ...base,
    indexed_at,
    updated_at,
    uploads:
      uploads ??
      base.record.images
        .filter((i) => typeof i.s3Key === 'string' && i.s3Key !== '')
        .map((i) => ({ image: i.id, file: i.file, key: i.s3Key!, size: null, at: null })),
    s3_uploaded: s3_uploaded === true,
  };
}

/** UTF-8 length of a string. */
/**
 * The embedded store's upsert checks (shared in store.ts), plus Elasticsearch's id length limit.
 * Returns the records to write (the last occurrence of an id wins, in that order).
 */
export function checkUpsert(items: ItemInput[]): ItemInput[] {
  return validateUpsert(items, { maxIdBytes: MAX_ID_BYTES, backend: 'Elasticsearch' });
}

export function checkUploads(updates: unknown): void {
  validateUploads(updates);
}
