/**
 * Withdrawn records on Elasticsearch (issue 12; the port's withdraw / listWithdrawn /
 * restoreWithdrawn / purgeWithdrawn). A withdrawn record's whole stored document moves from the
 * records index to a small index of its own, `<ES_INDEX>-withdrawn`, with `withdrawn_batch` and
 * `withdrawn_at`: so no query of the records index (get, image lookup, search, facets, counts,
 * the image listing) sees it, and nothing there needs a filter or a mapping change. The document
 * is kept whole (`doc`, stored, not indexed: timestamps, images, upload records), so a restore puts
 * it back exactly as it was and the next upsert keeps its indexed_at. As on SQLite.
 *
 * Order of writes: the copy is written (and refreshed) before the record leaves the records index,
 * and put back before it leaves the withdrawn index, so an interruption never loses a record.
 */
import type { Client } from '@elastic/elasticsearch';
import type { StoredDoc } from './es-docs.ts';
import { docFromRecord, toRecord } from './es-docs.ts';
import type { WithdrawMark, WithdrawnEntry } from './store.ts';

/** The index of withdrawn records next to the records alias. */
export function withdrawnIndexName(alias: string): string {
  return `${alias}-withdrawn`;
}

/** What the withdrawn index holds per record. */
export interface WithdrawnDoc {
  id: string;
  withdrawn_batch: string;
  withdrawn_at: string;
  doc: StoredDoc;
}

/** Its mapping: the three fields it is queried by; the record itself only stored. */
export const WITHDRAWN_MAPPINGS = {
  dynamic: false as const,
  properties: {
    id: { type: 'keyword' as const },
    withdrawn_batch: { type: 'keyword' as const },
    withdrawn_at: { type: 'date' as const },
    doc: { type: 'object' as const, enabled: false },
  },
};

/** What of the EsStore these functions use. */
export interface WithdrawnHost {
  readonly client: Client;
  readonly alias: string;
  /** The records index (the alias, or a rebuild's concrete index). */
  readonly target: string;
  importDocs(docs: StoredDoc[]): Promise<number>;
  deleteRecords(ids: string[]): Promise<number>;
  /** Availability errors as StoreUnavailableError (null for others). */
  unavailable(e: unknown): Error | null;
}

const PAGE = 1000;

async function call<T>(host: Pick<WithdrawnHost, 'unavailable'>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw host.unavailable(e) ?? e;
  }
}

const unique = (ids: string[]) => [...new Set(ids)].filter((id) => typeof id === 'string' && id !== '');

/** Stored documents of `ids` in `index` that exist (missing index: none). */
async function fetchDocs<T>(host: WithdrawnHost, index: string, ids: string[]): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += PAGE) {
    const res = await call(host, () => host.client.mget<T>({ index, ids: ids.slice(i, i + PAGE) }, { ignore: [404] }));
    for (const d of res.docs ?? []) if ('found' in d && d.found && d._source) out.push(d._source);
  }
  return out;
}

/** Sends bulk operations to `index` (refreshed when done); throws naming the first failure. */
async function bulkTo(host: Pick<WithdrawnHost, 'client' | 'unavailable'>, index: string, operations: object[], what: string): Promise<number> {
  if (operations.length === 0) return 0;
  const res = await call(host, () => host.client.bulk({ index, refresh: 'wait_for', operations }));
  let done = 0;
  for (const entry of res.items) {
    const item = Object.values(entry)[0];
    if (!item) continue;
    if (item.status < 300) done += item.result === 'not_found' ? 0 : 1;
    else if (item.status !== 404) throw new Error(`${what}: ${item._id}: ${item.status} ${item.error?.type ?? ''} ${item.error?.reason ?? ''}`.trim());
  }
  return done;
}

async function ensureIndex(host: Pick<WithdrawnHost, 'client' | 'unavailable'>, index: string): Promise<void> {
  const exists = await call(host, () => host.client.indices.exists({ index }));
  if (exists) return;
  try {
    await call(host, () => host.client.indices.create({ index, mappings: WITHDRAWN_MAPPINGS }));
  } catch (e) {
    const type = (e as { body?: { error?: { type?: string } } }).body?.error?.type;
    if (type !== 'resource_already_exists_exception') throw e; // another process created it
  }
}

export async function withdrawDocs(host: WithdrawnHost, marks: WithdrawMark[]): Promise<number> {
  const byId = new Map<string, WithdrawMark>();
  for (const m of marks ?? []) {
    if (typeof m?.id !== 'string' || typeof m.batch !== 'string' || typeof m.at !== 'string' || m.at === '') {
      throw new Error(`withdraw: invalid entry ${JSON.stringify(m)}`);
    }
    byId.set(m.id, m);
  }
  if (byId.size === 0) return 0;
  const docs = await fetchDocs<StoredDoc>(host, host.target, [...byId.keys()]);
  if (docs.length === 0) return 0;
  const index = withdrawnIndexName(host.alias);
  await ensureIndex(host, index);
  const operations = docs.flatMap((doc) => {
    const m = byId.get(doc.id)!;
    const body: WithdrawnDoc = { id: doc.id, withdrawn_batch: m.batch, withdrawn_at: m.at, doc };
    return [{ index: { _id: doc.id } }, body];
  });
  await bulkTo(host, index, operations, 'withdraw');
  await host.deleteRecords(docs.map((d) => d.id));
  return docs.length;
}

export async function listWithdrawnDocs(host: WithdrawnHost): Promise<WithdrawnEntry[]> {
  const index = withdrawnIndexName(host.alias);
  const out: WithdrawnEntry[] = [];
  let after: string | undefined;
  for (;;) {
    const res = await call(host, () =>
      host.client.search<WithdrawnDoc>(
        { index, size: PAGE, sort: [{ id: 'asc' }], query: { match_all: {} }, ...(after !== undefined ? { search_after: [after] } : {}) },
        { ignore: [404] },
      ),
    );
    const hits = res.hits?.hits ?? [];
    for (const h of hits) {
      const w = h._source;
      if (w?.doc) out.push({ record: toRecord(w.doc), batch: w.withdrawn_batch, withdrawnAt: w.withdrawn_at });
    }
    if (hits.length < PAGE) return out;
    after = hits[hits.length - 1]!._source?.id;
    if (after === undefined) return out;
  }
}

export async function restoreWithdrawnDocs(host: WithdrawnHost, ids: string[]): Promise<number> {
  const wanted = unique(ids ?? []);
  if (wanted.length === 0) return 0;
  const index = withdrawnIndexName(host.alias);
  const found = await fetchDocs<WithdrawnDoc>(host, index, wanted);
  if (found.length === 0) return 0;
  // A record already live again (a restore interrupted after its copy went back) is not overwritten.
  const live = new Set((await fetchDocs<StoredDoc>(host, host.target, found.map((w) => w.id))).map((d) => d.id));
  const back = found.filter((w) => !live.has(w.id)).map((w) => w.doc);
  if (back.length) await host.importDocs(back);
  await bulkTo(host, index, found.map((w) => ({ delete: { _id: w.id } })), 'restoreWithdrawn');
  return back.length;
}

export async function purgeWithdrawnDocs(host: WithdrawnHost, ids: string[]): Promise<number> {
  const wanted = unique(ids ?? []);
  if (wanted.length === 0) return 0;
  const index = withdrawnIndexName(host.alias);
  if (!(await call(host, () => host.client.indices.exists({ index })))) return 0;
  return bulkTo(host, index, wanted.map((id) => ({ delete: { _id: id } })), 'purgeWithdrawn');
}

/**
 * Writes withdrawn records of another store (the embedded one, `es reindex --from store`) straight
 * into `<alias>-withdrawn`, so moving to Elasticsearch keeps them (withdrawn, not served) until
 * prune. Their upload state is what the records carry (s3Key; see docFromRecord).
 */
export async function copyWithdrawn(host: Pick<WithdrawnHost, 'client' | 'alias' | 'unavailable'>, entries: WithdrawnEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const index = withdrawnIndexName(host.alias);
  await ensureIndex(host, index);
  let n = 0;
  for (let i = 0; i < entries.length; i += PAGE) {
    const operations = entries.slice(i, i + PAGE).flatMap((w) => {
      const body: WithdrawnDoc = { id: w.record.id, withdrawn_batch: w.batch, withdrawn_at: w.withdrawnAt, doc: docFromRecord(w.record) };
      return [{ index: { _id: w.record.id } }, body];
    });
    n += await bulkTo(host, index, operations, 'copy withdrawn records');
  }
  return n;
}
