/**
 * The archive's vocabulary, at the ground floor: what a record and an image are, the access levels
 * and the shape of ids. It imports nothing, so every concern (config, search, access, ingest, iiif,
 * images, pages) can speak it without depending on one another.
 */

// --- Ids -----------------------------------------------------------------------------------------

/**
 * The one length limit of record (item) ids and image ids: safe in URLs, file names, S3 keys and
 * every store backend (Elasticsearch's 512-byte `_id` holds it with room to spare).
 */
export const ID_MAX_LENGTH = 128;

/**
 * Record and image ids: an ASCII letter or digit, then letters, digits, `.`, `_` or `-`, at most
 * ID_MAX_LENGTH characters. Ingest refuses a row whose id does not match; the web answers 404.
 */
export const ID_RE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${ID_MAX_LENGTH - 1}}$`);

/** A record (item) id. */
export const ITEM_ID_RE = ID_RE;

/** A IIIF image identifier, unique across the archive. */
export const IMAGE_ID_RE = ID_RE;

/** Whether `value` is a well-formed record or image id. */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_RE.test(value);
}

/** Batch (delivery round) ids, e.g. "R03": they name a directory below the image root. */
export const BATCH_ID_MAX_LENGTH = 32;
export const BATCH_ID_RE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${BATCH_ID_MAX_LENGTH - 1}}$`);

// --- Access levels -------------------------------------------------------------------------------

/**
 * Access levels of items and of users. Ordered: a user at a level sees every item at that level and
 * below (`staff` sees `members` and `open` items too). An item without a level is `open`.
 */
export type AccessLevel = 'open' | 'members' | 'staff';

export const ACCESS_LEVELS: readonly AccessLevel[] = ['open', 'members', 'staff'];

export function isAccessLevel(value: unknown): value is AccessLevel {
  return typeof value === 'string' && (ACCESS_LEVELS as readonly string[]).includes(value);
}

/** The levels a user at `level` may see, lowest first. */
export function levelsUpTo(level: AccessLevel): AccessLevel[] {
  return ACCESS_LEVELS.slice(0, ACCESS_LEVELS.indexOf(level) + 1);
}

/**
 * Whether an item at `itemLevel` is visible to someone who may see `levels`. An unknown item level
 * (a store holding a value this code does not know) is visible to nobody: closed by default.
 */
export function canSee(levels: readonly AccessLevel[], itemLevel: AccessLevel | undefined | null): boolean {
  const level = itemLevel ?? 'open';
  return isAccessLevel(level) && levels.includes(level);
}

// --- Access rules --------------------------------------------------------------------------------

/**
 * Who sees `members` and `staff` items (src/lib/access/rules.ts matches identities against them).
 * Written as JSON in ACCESS_RULES or ACCESS_RULES_FILE, e.g.
 * `{"staff": ["curator@example.org", "*@archive.example.org"], "members": ["*@example.ac.jp"]}`:
 * a pattern is an exact identity (e-mail address or Cloudflare service token id), `*@domain`, or `*`.
 */
export interface AccessRules {
  members: string[];
  staff: string[];
}

export const NO_RULES: AccessRules = { members: [], staff: [] };

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$/;
const IDENTITY_RE = /^[^\s@,;"<>]{1,128}@([a-z0-9.-]{1,253})$/;

/** A well-formed e-mail address (lower case), or undefined. Deliberately simple and strict. */
export function normalizeEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v.length > 254) return undefined;
  const m = IDENTITY_RE.exec(v);
  return m && DOMAIN_RE.test(m[1]!) ? v : undefined;
}

/** A validated, lower-cased pattern (module comment); throws an Error naming `where` and the problem. */
export function checkPattern(pattern: unknown, where: string): string {
  if (typeof pattern !== 'string' || pattern.trim() === '') throw new Error(`${where}: a pattern must be a non-empty string`);
  const p = pattern.trim().toLowerCase();
  if (p === '*') return p;
  if (p.startsWith('*@')) {
    if (!DOMAIN_RE.test(p.slice(2))) throw new Error(`${where}: "${pattern}" is not *@ followed by a domain name`);
    return p;
  }
  if (p.includes('*')) throw new Error(`${where}: "${pattern}": only "*" and "*@domain" may contain *`);
  if (p.includes('@')) {
    if (!normalizeEmail(p)) throw new Error(`${where}: "${pattern}" is not an e-mail address`);
    return p;
  }
  // A Cloudflare service token's client id (e.g. "0123abcd.access").
  if (!/^[a-z0-9._-]{1,128}$/.test(p)) throw new Error(`${where}: "${pattern}" is neither an e-mail address, *@domain, nor a service token id`);
  return p;
}

/** Parses and validates rules; throws an Error whose message names the problem. */
export function parseRules(text: string): AccessRules {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`is not valid JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('must be a JSON object like {"members": ["*@example.ac.jp"], "staff": ["curator@example.org"]}');
  const rules: AccessRules = { members: [], staff: [] };
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'open') throw new Error('"open" needs no rule: every authenticated user sees open items');
    if (key !== 'members' && key !== 'staff') throw new Error(`unknown level "${key}" (levels with rules: members, staff)`);
    if (!Array.isArray(value)) throw new Error(`"${key}" must be an array of patterns`);
    if (value.length > 10_000) throw new Error(`"${key}" has more than 10000 patterns`);
    rules[key] = value.map((p, i) => checkPattern(p, `${key}[${i}]`));
  }
  return rules;
}

// --- Records and images --------------------------------------------------------------------------

/** A text in one or more languages (IIIF language-map style, reduced to the two we serve). */
export interface LangText {
  ja?: string;
  en?: string;
}

/** One image (page) of an item, as recorded by the ingest pipeline. */
export interface ImageRef {
  /** IIIF image identifier (IMAGE_ID_RE), unique across the archive. */
  id: string;
  /** Path of the file below the clean image root, '/'-separated. */
  file: string;
  label?: LangText;
  /** Pixel size as given by the bibliography; a fallback only (the image itself is the truth). */
  width?: number;
  height?: number;
  /** S3 object key once synced (flat ASCII: photos/<name>.<ext>). */
  s3Key?: string;
}

/** A record as the ingest pipeline hands it to the store (`upsert`). */
export interface ItemInput {
  /** Record id (ITEM_ID_RE). */
  id: string;
  /** Canonical batch (delivery round) id, e.g. "R03". */
  batch: string;
  type?: string;
  title: LangText;
  description?: LangText;
  creator?: LangText;
  /** Date as written in the bibliography (e.g. "1935", "昭和10年頃"). */
  date?: string;
  place?: LangText;
  subjects?: string[];
  collection?: LangText;
  rights?: string;
  notes?: string;
  access?: AccessLevel;
  images: ImageRef[];
  /** Where the record came from (file, sheet, row), for provenance and error reports. */
  source?: { file: string; sheet?: string; row?: number };
}

/** A stored record: the input plus what the store maintains. */
export interface ItemRecord extends ItemInput {
  /** Set on first insert only. ISO 8601. */
  indexed_at: string;
  /** Set on every upsert. ISO 8601. */
  updated_at: string;
  s3_uploaded: boolean;
}

/** One image with the record it belongs to and that record's access level. */
export interface ImageEntry extends ImageRef {
  itemId: string;
  access: AccessLevel;
}
