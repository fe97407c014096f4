/**
 * The Elasticsearch backend of the `SearchStore` port, at parity with the embedded store (sqlite.ts):
 * same matches, same scores, same order, same facets, same paging, same write rules. This module is
 * the one place that constructs an Elasticsearch client (`createEsClient`).
 *
 * Pieces (each pure one is tested on its own in tests/search/elasticsearch.mock.test.ts):
 *   es-settings.ts  index settings (bigram analysis built from WIDTH_MAPPINGS) and mappings
 *   es-query.ts     search request -> query body, response -> SearchResponse
 *   es-docs.ts      documents, the Painless upsert/markUploaded scripts, the upsert checks
 *   es-admin.ts     versioned indices behind the alias: status, migrate, rebuild (the CLI's `es`)
 *
 * Index lifecycle: readers and writers use the alias `<ES_INDEX>`, which points at one concrete
 * index `<ES_INDEX>-v<N>` (N = MAPPING_VERSION). On first use, if the alias is missing, the index is
 * created together with its alias (one request). If the alias points at another mapping version the
 * store refuses to work (StoreUnavailableError naming `archive es migrate`), rather than guess.
 * Nothing connects before the first operation, so the server starts while Elasticsearch is down, and
 * a failed first use is retried by the next one.
 *
 * Writes go through `_bulk` with `refresh: 'wait_for'` (a write is visible to search when the call
 * returns, like a committed SQLite transaction) and `require_alias` (a missing alias fails instead of
 * auto-creating an index with dynamic mappings). Per-document failures are retried when retryable
 * (429, 503, and the like, with backoff) and otherwise reported in a BulkWriteError that names every
 * record not written: never dropped silently.
 *
 * Errors: connection refused, timeouts, 401/403, 429 and 502-504 become StoreUnavailableError
 * (store.ts), which the site turns into a 503 page (unavailable.ts). Credentials never appear in
 * messages (the node URL is shown without them).
 */
import fs from 'node:fs';
import { Client, errors, type estypes } from '@elastic/elasticsearch';
import type { Config } from '../config.ts';
import { IMAGE_ID_RE } from '../domain.ts';
import {
  StoreUnavailableError,
  type AccessLevel,
  type ImageEntry,
  type ImageListFilter,
  type ImageState,
  type ImageUpload,
  type ItemInput,
  type ItemRecord,
  type MarkUploadedReport,
  type SearchRequest,
  type SearchResponse,
  type SearchStore,
  type UnparsedDates,
  type UpsertReport,
  filterList,
} from './store.ts';
import { MAPPING_VERSION, MAX_RESULT_WINDOW, indexBody, versionedIndexName } from './es-settings.ts';
import { listWithdrawnDocs, purgeWithdrawnDocs, restoreWithdrawnDocs, withdrawDocs } from './es-withdrawn.ts';
import {
  HIT_SOURCE,
  facetAggs,
  parseBuckets,
  parseHits,
  parseSearch,
  parseTotal,
  planSearch,
  searchBody,
  type FacetAggregates,
  type HitSource,
  type PlannedSearch,
} from './es-query.ts';
import { UNPARSED_QUERY, parseDecades } from './es-dates.ts';
import {
  MARK_UPLOADED_SCRIPT,
  MAX_ID_BYTES,
  UPSERT_SCRIPT,
  checkUploads,
  checkUpsert,
  docInput,
  firstInsertDoc,
  toImageEntry,
  toRecord,
  type StoredDoc,
  type UploadEntry,
} from './es-docs.ts';

export const DEFAULT_TIMEOUT_MS = 5000;
/** Bulk writes may wait for a refresh: they get at least this long. */
const BULK_TIMEOUT_MS = 60_000;
/** Records per bulk request. */
export const BULK_CHUNK = 1000;
/** Image ids per terms query (well below index.max_terms_count, 65536). */
const TERMS_CHUNK = 1000;
/** Bulk item statuses worth another attempt. 409: a version conflict left after retry_on_conflict. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([409, 429, 502, 503, 504]);

export interface RetryPolicy {
  /** Attempts per document, the first included. */
  attempts: number;
  /** Backoff before attempt k+1: baseMs * 2^(k-1). */
  baseMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 200 };

export interface EsStoreOptions {
  client: Client;
  /** The alias readers and writers use (ES_INDEX). */
  alias: string;
  /**
   * Work on this concrete index instead of the alias (a rebuild before the alias swap). The index
   * must exist: it is not created, and its mapping version is not checked.
   */
  index?: string;
  /** Refresh policy of writes (default 'wait_for': visible to search when the call returns). */
  refresh?: 'wait_for' | boolean;
  retry?: RetryPolicy;
  /** How the cluster is named in messages (no credentials). */
  where?: string;
  /** Request timeout in ms, for messages (the client enforces it). */
  timeoutMs?: number;
  /** Close the client with the store (default true). */
  ownsClient?: boolean;
  /** Waits between retries (tests pass a recorder). */
  sleep?: (ms: number) => Promise<void>;
}

export interface BulkFailure {
  id: string;
  status: number;
  type: string;
  reason: string;
  attempts: number;
}

/** Some documents of a bulk write failed for good (after retries); the others were written. */
export class BulkWriteError extends Error {
  readonly failures: BulkFailure[];
  /** Documents written by the same call (they stay written: Elasticsearch has no rollback). */
  readonly written: number;
  constructor(what: string, failures: BulkFailure[], total: number) {
    const list = failures
      .slice(0, 5)
      .map((f) => `${f.id} (${f.status} ${f.type}: ${f.reason}${f.attempts > 1 ? `; ${f.attempts} attempts` : ''})`)
      .join('; ');
    super(`${what}: ${failures.length} of ${total} records were not written: ${list}${failures.length > 5 ? '; …' : ''}`);
    this.name = 'BulkWriteError';
    this.failures = failures;
    this.written = total - failures.length;
  }
}

/** The node URL for messages: scheme, host, port, path; never user or password. */
export function describeNode(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'the Elasticsearch URL';
  }
}

/** Builds the client from the validated configuration (ES_URL and the ES_* settings). */
export function createEsClient(store: Config['store']): Client {
  if (!store.esUrl) throw new Error('ES_URL is not set');
  const auth = store.esApiKey
    ? { apiKey: store.esApiKey }
    : store.esUsername
      ? { username: store.esUsername, password: store.esPassword ?? '' }
      : undefined;
  return new Client({
    node: store.esUrl,
    ...(auth ? { auth } : {}),
    ...(store.esCaCert ? { tls: { ca: fs.readFileSync(store.esCaCert) } } : {}),
    requestTimeout: store.esTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    // No transport-level retries: the client would back off for up to seconds before retrying a
    // refused connection, and a page should answer 503 at once. Bulk writes retry by themselves
    // (429 and 502-504 responses, retryable items), reads are retried by the next request.
    maxRetries: 0,
  });
}

/** The store the site and the CLI use: the alias ES_INDEX on ES_URL. Connects on first use. */
export function openElasticsearchStore(cfg: Config): EsStore {
  return new EsStore({
    client: createEsClient(cfg.store),
    alias: cfg.store.esIndex,
    where: describeNode(cfg.store.esUrl!),
    timeoutMs: cfg.store.esTimeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Whether `e` is the client's error of that class. By name as well as by class: the client package
 * ships an ES module and a CommonJS build whose classes differ but whose errors carry the same names.
 */
function isClientError<C extends abstract new (...args: never[]) => Error>(e: unknown, cls: C): e is InstanceType<C> {
  return e instanceof cls || (e instanceof Error && e.name === cls.name);
}

function statusOf(e: unknown): number | undefined {
  return isClientError(e, errors.ResponseError) ? (e as { statusCode?: number }).statusCode : undefined;
}

function errorType(e: unknown): string | undefined {
  return isClientError(e, errors.ResponseError) ? ((e as { body?: { error?: { type?: string } } }).body?.error?.type) : undefined;
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** The body line of a bulk operation: a whole document (index) or an update (script or partial doc). */
type BulkBody = StoredDoc | estypes.BulkUpdateAction<StoredDoc, Partial<StoredDoc>>;

interface BulkOp {
  id: string;
  action: estypes.BulkOperationContainer;
  body?: BulkBody;
}

type BulkItem = estypes.BulkResponseItem;

export class EsStore implements SearchStore {
  readonly backend = 'elasticsearch';
  readonly client: Client;
  readonly alias: string;
  /** The alias, or the concrete index of a rebuild. */
  readonly target: string;
  private readonly concrete: boolean;
  private readonly refresh: 'wait_for' | boolean;
  private readonly retry: RetryPolicy;
  private readonly where: string;
  private readonly timeoutMs: number;
  private readonly ownsClient: boolean;
  private readonly sleep: (ms: number) => Promise<void>;
  private ready: Promise<void> | null = null;
  private closed = false;

  constructor(opts: EsStoreOptions) {
    this.client = opts.client;
    this.alias = opts.alias;
    this.target = opts.index ?? opts.alias;
    this.concrete = opts.index !== undefined;
    this.refresh = opts.refresh ?? 'wait_for';
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.where = opts.where ?? 'Elasticsearch';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.ownsClient = opts.ownsClient ?? true;
    this.sleep = opts.sleep ?? realSleep;
  }

  // ---------------------------------------------------------------------------------------------
  // Errors and the index

  /** The StoreUnavailableError an error stands for, or null when it is not about availability. */
  unavailable(e: unknown): StoreUnavailableError | null {
    if (e instanceof StoreUnavailableError) return e;
    const at = this.where;
    let reason: string | undefined;
    if (isClientError(e, errors.TimeoutError)) reason = `no answer from ${at} within ${this.timeoutMs} ms`;
    else if (isClientError(e, errors.ConnectionError)) reason = `cannot connect to ${at} (${e.message})`;
    else if (isClientError(e, errors.NoLivingConnectionsError)) reason = `no living connection to ${at}`;
    else if (isClientError(e, errors.ProductNotSupportedError)) reason = `${at} does not answer as Elasticsearch`;
    // A broken or truncated body (a proxy's error page, a dying node) is the cluster's fault, not the request's.
    else if (isClientError(e, errors.DeserializationError)) reason = `${at} answered something that is not JSON`;
    else if (isClientError(e, errors.RequestAbortedError)) reason = `the request to ${at} was aborted`;
    else if (isClientError(e, errors.ResponseError)) {
      const s = statusOf(e) ?? 0;
      const type = errorType(e);
      if (s === 401 || s === 403) {
        reason = `${at} refused the credentials (${s}${type ? ` ${type}` : ''}): check ES_API_KEY, ES_USERNAME/ES_PASSWORD or the user in ES_URL`;
      } else if (s === 429 || s >= 500) {
        // 429 and every 5xx: the cluster cannot answer now (a 500 is its own failure, not the request's).
        reason = `${at} answered ${s}${type ? ` ${type}` : ''}`;
      } else if (s === 404 && type === 'index_not_found_exception') {
        this.ready = null; // re-created (or re-checked) by the next call
        reason = `index ${this.target} does not exist on ${at}`;
      }
    }
    if (reason === undefined) return null;
    return new StoreUnavailableError('elasticsearch', reason.replace(/\/\/[^/@\s]*@/g, '//'), { cause: e });
  }

  /** Runs a client call, turning availability errors into StoreUnavailableError. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.unavailable(e) ?? e;
    }
  }

  async init(): Promise<void> {
    await this.ensure();
  }

  private ensure(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('elasticsearch store: closed'));
    this.ready ??= this.prepare().catch((e: unknown) => {
      this.ready = null;
      throw this.unavailable(e) ?? e;
    });
    return this.ready;
  }

  /** Checks the alias and its mapping version; creates `<alias>-v<N>` with the alias if missing. */
  private async prepare(): Promise<void> {
    if (this.concrete) return;
    const state = await inspectAlias(this.client, this.alias);
    if (state.kind === 'ok') {
      if (state.version !== MAPPING_VERSION) {
        throw new StoreUnavailableError(
          'elasticsearch',
          `index ${state.index} (alias ${this.alias}) has mapping version ${state.version ?? 'none'}, this program needs ${MAPPING_VERSION}: run \`archive es migrate\``,
        );
      }
      return;
    }
    if (state.kind === 'concrete') {
      throw new StoreUnavailableError(
        'elasticsearch',
        `${this.alias} is an index, not an alias: set ES_INDEX to another name, or move its data with \`archive es reindex\` after renaming it`,
      );
    }
    if (state.kind === 'several') {
      throw new StoreUnavailableError('elasticsearch', `alias ${this.alias} points at several indices (${state.indices.join(', ')})`);
    }
    const index = versionedIndexName(this.alias);
    try {
      const request: estypes.IndicesCreateRequest = { index, ...indexBody(), aliases: { [this.alias]: { is_write_index: true } } };
      await this.client.indices.create(request);
    } catch (e) {
      if (errorType(e) !== 'resource_already_exists_exception') throw e;
      // Another process created it in the meantime (then the alias is there now), or an index is
      // left without its alias (then an operator must decide).
      const again = await inspectAlias(this.client, this.alias);
      if (again.kind !== 'ok' || again.index !== index) {
        throw new StoreUnavailableError('elasticsearch', `index ${index} exists but alias ${this.alias} does not point at it: run \`archive es migrate\``);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  /**
   * Sends bulk operations; retries the retryable failures (per document, with backoff) and a whole
   * request answered 429 or 502-504. Returns the result of every operation that succeeded (undefined
   * for the others) and a failure entry for every one that failed for good; callers go on with their
   * next chunk and throw one BulkWriteError naming them all at the end.
   */
  private async bulk(ops: BulkOp[]): Promise<{ results: Array<BulkItem | undefined>; failures: BulkFailure[] }> {
    const results: Array<BulkItem | undefined> = new Array(ops.length);
    const failures: BulkFailure[] = [];
    let pending = ops.map((op, i) => ({ op, i }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      let res: estypes.BulkResponse;
      const request: estypes.BulkRequest<StoredDoc, Partial<StoredDoc>> = {
        index: this.target,
        refresh: this.refresh,
        ...(this.concrete ? {} : { require_alias: true }),
        operations: pending.flatMap(({ op }) => (op.body ? [op.action, op.body] : [op.action])),
      };
      try {
        res = await this.client.bulk(request, { requestTimeout: Math.max(this.timeoutMs, BULK_TIMEOUT_MS) });
      } catch (e) {
        if (RETRYABLE_STATUS.has(statusOf(e) ?? 0) && attempt < this.retry.attempts) {
          await this.sleep(this.retry.baseMs * 2 ** (attempt - 1));
          continue;
        }
        throw this.unavailable(e) ?? e;
      }
      const retry: typeof pending = [];
      res.items.forEach((entry, k) => {
        const p = pending[k]!;
        // One result per operation; an empty entry (not in the specification's answers) fails that record.
        const item: BulkItem = Object.values(entry)[0] ?? {
          _index: this.target,
          status: 500,
          error: { type: 'empty_bulk_item', reason: 'no result for this operation' },
        };
        if (!item.error && item.status < 300) {
          results[p.i] = item;
        } else if (RETRYABLE_STATUS.has(item.status) && attempt < this.retry.attempts) {
          retry.push(p);
        } else {
          const cause = item.error?.caused_by;
          failures.push({
            id: p.op.id,
            status: item.status,
            type: item.error?.type ?? 'unknown',
            reason: [item.error?.reason, cause?.reason && `caused by ${cause.type}: ${cause.reason}`].filter(Boolean).join(', ') || 'no reason given',
            attempts: attempt,
          });
        }
      });
      pending = retry;
      if (pending.length > 0) await this.sleep(this.retry.baseMs * 2 ** (attempt - 1));
    }
    return { results, failures };
  }

  /** Image id -> owning record (and its s3_uploaded) for the given image ids that are stored. */
  private async owners(imageIds: string[], exclude: string[] = []): Promise<Map<string, { id: string; s3: boolean }>> {
    const out = new Map<string, { id: string; s3: boolean }>();
    for (const chunk of chunks(imageIds, TERMS_CHUNK)) {
      const request: estypes.SearchRequest = {
        index: this.target,
        size: chunk.length,
        _source: ['id', 'image_ids', 's3_uploaded'],
        query: {
          bool: {
            filter: [{ terms: { image_ids: chunk } }],
            ...(exclude.length ? { must_not: [{ ids: { values: exclude } }] } : {}),
          },
        },
      };
      const res = await this.call(() => this.client.search<Partial<Pick<StoredDoc, 'id' | 'image_ids' | 's3_uploaded'>>>(request));
      const wanted = new Set(chunk);
      for (const hit of res.hits.hits) {
        const src = hit._source ?? {};
        const id = src.id ?? hit._id;
        if (id === undefined) continue;
        for (const img of src.image_ids ?? []) {
          if (wanted.has(img)) out.set(img, { id, s3: src.s3_uploaded === true });
        }
      }
    }
    return out;
  }

  async upsert(items: ItemInput[], now: Date = new Date()): Promise<UpsertReport> {
    const list = checkUpsert(items);
    if (list.length === 0) return { inserted: 0, updated: 0 };
    await this.ensure();
    // Image ownership against records outside this upsert (which may pass images among themselves).
    const imageIds = list.flatMap((i) => i.images.map((img) => img.id));
    const stored = await this.owners(imageIds, list.map((i) => i.id));
    if (stored.size > 0) {
      for (const item of list) {
        for (const img of item.images) {
          const owner = stored.get(img.id);
          if (owner) throw new Error(`upsert: image ${img.id} of ${item.id} already belongs to ${owner.id}`);
        }
      }
    }
    const stamp = now.toISOString();
    let inserted = 0;
    let updated = 0;
    const failures: BulkFailure[] = [];
    for (const chunk of chunks(list, BULK_CHUNK)) {
      const res = await this.bulk(
        chunk.map((item) => ({
          id: item.id,
          action: { update: { _id: item.id, retry_on_conflict: 3 } },
          body: {
            // A new record: this document, as is (indexed_at = now). An existing one: the script.
            upsert: firstInsertDoc(item, stamp),
            script: { source: UPSERT_SCRIPT, lang: 'painless', params: { doc: docInput(item), now: stamp } },
          },
        })),
      );
      for (const it of res.results) if (it) it.result === 'created' ? inserted++ : updated++;
      failures.push(...res.failures);
    }
    if (failures.length > 0) throw new BulkWriteError('upsert', failures, list.length);
    return { inserted, updated };
  }

  /**
   * Writes whole documents as they are (a rebuild copying records with their timestamps and upload
   * state). No scripts, no ownership check: the source was consistent.
   */
  async importDocs(docs: StoredDoc[]): Promise<number> {
    await this.ensure();
    let n = 0;
    const failures: BulkFailure[] = [];
    for (const chunk of chunks(docs, BULK_CHUNK)) {
      const res = await this.bulk(
        chunk.map((doc) => ({ id: doc.id, action: { index: { _id: doc.id } }, body: doc })),
      );
      n += res.results.filter(Boolean).length;
      failures.push(...res.failures);
    }
    if (failures.length > 0) throw new BulkWriteError('import', failures, docs.length);
    return n;
  }

  async deleteRecords(ids: string[]): Promise<number> {
    await this.ensure();
    const unique = [...new Set(ids)].filter((id) => typeof id === 'string' && id !== '');
    let removed = 0;
    const failures: BulkFailure[] = [];
    for (const chunk of chunks(unique, 500)) {
      const res = await this.bulk(chunk.map((id) => ({ id, action: { delete: { _id: id } } })));
      removed += res.results.filter((r) => r && r.result === 'deleted').length;
      // Already gone (404) is what was asked for.
      failures.push(...res.failures.filter((f) => f.status !== 404));
    }
    if (failures.length > 0) throw new BulkWriteError('deleteRecords', failures, unique.length);
    return removed;
  }

  async markUploaded(updates: ImageUpload[]): Promise<MarkUploadedReport> {
    checkUploads(updates);
    if (updates.length === 0) return { images: 0, unknown: [], completed: 0 };
    await this.ensure();
    const owners = await this.owners([...new Set(updates.map((u) => u.imageId).filter((id) => IMAGE_ID_RE.test(id)))]);
    const unknown: string[] = [];
    const byRecord = new Map<string, Array<{ image: string; key: string; size: number; at: string }>>();
    for (const u of updates) {
      const owner = owners.get(u.imageId);
      if (!owner) {
        unknown.push(u.imageId);
        continue;
      }
      let list = byRecord.get(owner.id);
      if (!list) byRecord.set(owner.id, (list = []));
      list.push({ image: u.imageId, key: u.key, size: u.size, at: u.at });
    }
    const before = new Map([...owners.values()].map((o) => [o.id, o.s3]));
    const ids = [...byRecord.keys()];
    let completed = 0;
    const failures: BulkFailure[] = [];
    for (const chunk of chunks(ids, BULK_CHUNK)) {
      const res = await this.bulk(
        chunk.map((id) => ({
          id,
          action: { update: { _id: id, retry_on_conflict: 3 } },
          body: {
            script: { source: MARK_UPLOADED_SCRIPT, lang: 'painless', params: { uploads: byRecord.get(id)! } },
            _source: ['s3_uploaded'],
          },
        })),
      );
      res.results.forEach((it, k) => {
        if (it?.get?._source?.s3_uploaded === true && before.get(chunk[k]!) === false) completed++;
      });
      failures.push(...res.failures);
    }
    if (failures.length > 0) throw new BulkWriteError('markUploaded', failures, ids.length);
    return { images: updates.length - unknown.length, unknown, completed };
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  async get(id: string): Promise<ItemRecord | null> {
    if (typeof id !== 'string' || id === '' || Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) return null;
    await this.ensure();
    const res = await this.getDoc<HitSource>({ index: this.target, id, _source_includes: HIT_SOURCE });
    return res?.found && res._source ? toRecord(res._source) : null;
  }

  /**
   * A realtime GET; null when the document does not exist (404 `found: false`). A missing index is
   * a 404 too, but with an index_not_found_exception: unavailable() makes it a StoreUnavailableError.
   */
  private async getDoc<T>(request: estypes.GetRequest): Promise<estypes.GetResponse<T> | null> {
    try {
      return await this.call(() => this.client.get<T>(request));
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw e;
    }
  }

  async getAccessLevel(id: string): Promise<AccessLevel | null> {
    if (typeof id !== 'string' || id === '' || Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) return null;
    await this.ensure();
    const res = await this.getDoc<{ access?: AccessLevel | null }>({ index: this.target, id, _source_includes: ['access'] });
    return res?.found ? (res._source?.access ?? 'open') : null;
  }

  async getImage(imageId: string): Promise<ImageEntry | null> {
    if (typeof imageId !== 'string' || !IMAGE_ID_RE.test(imageId)) return null;
    await this.ensure();
    const request: estypes.SearchRequest = { index: this.target, size: 1, _source: ['record', 'access'], query: { term: { image_ids: imageId } } };
    const res = await this.call(() => this.client.search<Pick<StoredDoc, 'record' | 'access'>>(request));
    const hit = res.hits.hits[0];
    return hit?._source ? toImageEntry(hit._source, imageId) : null;
  }

  async listUnparsedDates(limit: number): Promise<UnparsedDates> {
    await this.ensure();
    const res = await this.call(() =>
      this.client.search<Pick<StoredDoc, 'id' | 'batch' | 'record'>>({
        index: this.target,
        size: Math.max(0, Math.floor(limit)),
        sort: [{ id: { order: 'asc' } }],
        _source: ['id', 'batch', 'record.date', 'record.source'],
        track_total_hits: true,
        query: UNPARSED_QUERY,
      }),
    );
    const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? 0);
    const records: UnparsedDates['records'] = [];
    for (const h of res.hits.hits) {
      const src = h._source;
      if (!src) continue;
      records.push({
        id: src.id,
        batch: src.batch,
        date: String(src.record?.date),
        ...(src.record?.source ? { source: src.record.source } : {}),
      });
    }
    return { total, records };
  }

  async count(): Promise<number> {
    await this.ensure();
    const res = await this.call(() => this.client.count({ index: this.target }));
    return res.count;
  }

  async search(req: SearchRequest = {}): Promise<SearchResponse> {
    const plan = planSearch(req);
    if (plan.skip) return plan.base;
    await this.ensure();
    if (plan.from + plan.size <= MAX_RESULT_WINDOW) {
      const request: estypes.SearchRequest = { index: this.target, ...searchBody(plan) };
      const res = await this.call(() => this.client.search<HitSource, FacetAggregates>(request));
      return parseSearch(plan, res);
    }
    return this.deepSearch(plan);
  }

  /**
   * A page beyond index.max_result_window: total and facets first, then search_after hops of at
   * most max_result_window sort keys each (no _source) up to the page, then the page itself. Exact,
   * because the sort is a total order; it costs one request per 10,000 records skipped.
   */
  private async deepSearch(plan: PlannedSearch): Promise<SearchResponse> {
    const search = (body: Omit<estypes.SearchRequest, 'index'>) =>
      this.call(() => this.client.search<HitSource, FacetAggregates>({ index: this.target, ...body }));
    const head = await search({ query: plan.query, size: 0, track_total_hits: true, aggs: facetAggs() });
    const out: SearchResponse = {
      ...plan.base,
      total: parseTotal(head),
      facets: { batch: parseBuckets(head.aggregations?.batch), type: parseBuckets(head.aggregations?.type) },
      decades: parseDecades(head.aggregations?.decades),
    };
    if (plan.from >= out.total) return out;
    let after: estypes.SortResults | undefined;
    for (let skip = plan.from; skip > 0; ) {
      const n = Math.min(MAX_RESULT_WINDOW, skip);
      const res = await search({
        query: plan.query,
        sort: plan.sort,
        size: n,
        _source: false,
        track_total_hits: false,
        ...(after ? { search_after: after } : {}),
      });
      if (res.hits.hits.length < n) return out; // the index shrank meanwhile: nothing at this offset
      after = res.hits.hits[n - 1]!.sort ?? undefined;
      skip -= n;
    }
    const page = await search({
      query: plan.query,
      sort: plan.sort,
      size: plan.size,
      search_after: after,
      _source: HIT_SOURCE,
      track_total_hits: false,
      ...(plan.highlight ? { highlight: plan.highlight } : {}),
    });
    out.hits = parseHits(page.hits.hits, plan.byScore);
    return out;
  }

  /**
   * Every image with its upload state, ordered by image id (image ids are ASCII, so this is code
   * point order). Reads every matching document, SCAN_PAGE at a time.
   */
  async listImages(filter: ImageListFilter = {}): Promise<ImageState[]> {
    await this.ensure();
    const batches = filterList(filter?.batch);
    const query: estypes.QueryDslQueryContainer = batches ? { bool: { filter: [{ terms: { batch: batches } }] } } : { match_all: {} };
    const out: ImageState[] = [];
    const pages = scanDocs(this.client, this.target, { query, source: ['id', 'batch', 'record.images', 'uploads'] });
    for (;;) {
      const next = await this.call(() => pages.next());
      if (next.done) break;
      for (const doc of next.value) {
        const uploads = new Map<string, UploadEntry>((doc.uploads ?? []).map((u) => [u.image, u]));
        for (const img of doc.record?.images ?? []) {
          const u = uploads.get(img.id);
          if (filter?.uploaded === true && !u) continue;
          if (filter?.uploaded === false && u) continue;
          const state: ImageState = { id: img.id, itemId: doc.id!, batch: doc.batch!, file: img.file };
          if (typeof img.s3Key === 'string') state.s3Key = img.s3Key;
          if (u) {
            if (typeof u.at === 'string') state.uploadedAt = u.at;
            if (typeof u.size === 'number') state.s3Size = u.size;
          }
          out.push(state);
        }
      }
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // Withdrawals: the withdrawn records' documents live in <alias>-withdrawn (es-withdrawn.ts).
  async withdraw(marks: import('./store.ts').WithdrawMark[]): Promise<number> {
    await this.ensure();
    return withdrawDocs(this, marks);
  }

  async listWithdrawn(): Promise<import('./store.ts').WithdrawnEntry[]> {
    await this.ensure();
    return listWithdrawnDocs(this);
  }

  async restoreWithdrawn(ids: string[]): Promise<number> {
    await this.ensure();
    return restoreWithdrawnDocs(this, ids);
  }

  async purgeWithdrawn(ids: string[]): Promise<number> {
    await this.ensure();
    return purgeWithdrawnDocs(this, ids);
  }

  /** Makes everything written so far visible to search (rebuilds write with refresh off). */
  async refreshIndex(): Promise<void> {
    await this.call(() => this.client.indices.refresh({ index: this.target }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.close();
  }
}

/** Documents per page when reading a whole index. */
export const SCAN_PAGE = 1000;

/**
 * Every document of an index (matching `query`), in id order, SCAN_PAGE at a time: search_after
 * on the unique id, so no page is skipped or repeated while nothing writes.
 */
export async function* scanDocs(
  client: Client,
  index: string,
  opts: { query?: estypes.QueryDslQueryContainer; source?: string[] | true } = {},
): AsyncGenerator<Array<Partial<StoredDoc>>> {
  let after: estypes.SortResults | undefined;
  for (;;) {
    const request: estypes.SearchRequest = {
      index,
      size: SCAN_PAGE,
      sort: [{ id: { order: 'asc' } }],
      _source: opts.source ?? true,
      track_total_hits: false,
      query: opts.query ?? { match_all: {} },
      ...(after ? { search_after: after } : {}),
    };
    const res = await client.search<Partial<StoredDoc>>(request);
    const hits = res.hits.hits;
    if (hits.length === 0) return;
    yield hits.map((h) => h._source ?? {});
    if (hits.length < SCAN_PAGE) return;
    after = hits[hits.length - 1]!.sort;
  }
}

export type AliasState =
  | { kind: 'missing' }
  | { kind: 'concrete' }
  | { kind: 'several'; indices: string[] }
  | { kind: 'ok'; index: string; version: number | undefined };

/** What the alias name refers to: nothing, a concrete index, or one index (with its mapping version). */
export async function inspectAlias(client: Client, alias: string): Promise<AliasState> {
  let res: estypes.IndicesGetMappingResponse;
  try {
    res = await client.indices.getMapping({ index: alias });
  } catch (e) {
    // No index or alias of that name (index_not_found_exception).
    if (statusOf(e) === 404) return { kind: 'missing' };
    throw e;
  }
  const names = Object.keys(res);
  if (names.includes(alias)) return { kind: 'concrete' };
  if (names.length === 0) return { kind: 'missing' };
  if (names.length > 1) return { kind: 'several', indices: names.sort() };
  const index = names[0]!;
  const version: unknown = res[index]?.mappings?._meta?.mapping_version;
  return { kind: 'ok', index, version: typeof version === 'number' ? version : undefined };
}
