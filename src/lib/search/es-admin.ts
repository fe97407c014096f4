/**
 * Operations on the Elasticsearch index behind the alias (the CLI's `archive es …`):
 *
 *   status                 what the alias points at, its mapping version and record count
 *   migrate                create `<alias>-v<N>` if nothing exists yet; if the alias points at an
 *                          older mapping version, build `<alias>-v<N>` next to it from the old
 *                          index's records (re-analysed with the current settings), then swap the
 *                          alias in one atomic request
 *   reindex --from store   build a new index from the embedded SQLite store (SQLITE_PATH), swap
 *   reindex --from tree    build a new index by re-running the ingest index stage on the clean
 *                          tree (or the loader on given bibliographies), after copying the current
 *                          records so that indexed_at and S3 upload state carry over through the
 *                          normal upsert (`--fresh` starts empty), swap
 *
 * Readers keep using the old index until the swap (`_aliases` with remove + add is atomic), so
 * there is no downtime. Writes made to the old index while a copy runs are not in the new one: stop
 * the ingest pipeline while migrating or reindexing (the command compares record counts and
 * refuses to swap when the copy is short). The old index is kept; the command prints how to
 * delete it.
 */
import fs from 'node:fs';
import type { Client, estypes } from '@elastic/elasticsearch';
import type { Config } from '../config.ts';
import type { ImageState, ItemRecord, SearchStore } from './store.ts';
import { MAPPING_VERSION, indexBody, versionedIndexName } from './es-settings.ts';
import { docFromRecord, toRecord, type StoredDoc, type UploadEntry } from './es-docs.ts';
import { EsStore, createEsClient, describeNode, inspectAlias, scanDocs, type AliasState } from './elasticsearch.ts';
import { copyWithdrawn } from './es-withdrawn.ts';

export interface AdminIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** A usage mistake (exit 2) rather than a failure. */
export class EsUsageError extends Error {}

/**
 * Fills a store from the clean tree (the CLI passes the ingest index stage, or the loader when
 * files are given); resolves to an exit code.
 */
export type TreeLoader = (store: SearchStore, files: string[]) => Promise<number>;

async function createIndex(client: Client, index: string, alias?: string): Promise<void> {
  const request: estypes.IndicesCreateRequest = { index, ...indexBody(), ...(alias ? { aliases: { [alias]: { is_write_index: true } } } : {}) };
  await client.indices.create(request);
}

async function indexExists(client: Client, index: string): Promise<boolean> {
  return (await client.indices.exists({ index })) === true;
}

/** A name for a new index of the current mapping version that does not exist yet. */
async function newIndexName(client: Client, alias: string, now: Date): Promise<string> {
  const plain = versionedIndexName(alias);
  if (!(await indexExists(client, plain))) return plain;
  const stamped = versionedIndexName(alias, MAPPING_VERSION, now);
  if (await indexExists(client, stamped)) throw new Error(`index ${stamped} already exists: try again in a second`);
  return stamped;
}

/**
 * A stored document of an older (or the current) mapping version, rewritten for the current one:
 * the record, its timestamps and its upload state are kept; everything derived (search fields,
 * image ids, type) is computed again with the current rules.
 */
export function upgradeDoc(src: Partial<StoredDoc>): StoredDoc {
  if (!src.record || typeof src.indexed_at !== 'string' || typeof src.updated_at !== 'string') {
    throw new Error(`document ${String(src.id ?? src.record?.id)} has no record or timestamps: cannot be carried over`);
  }
  return docFromRecord(toRecord(src as StoredDoc), Array.isArray(src.uploads) ? src.uploads : undefined);
}

async function countOf(client: Client, index: string): Promise<number> {
  return (await client.count({ index })).count;
}

/** Points the alias at `to` (removing it from `from`) in one atomic request. */
export async function swapAlias(client: Client, alias: string, to: string, from?: string): Promise<void> {
  await client.indices.updateAliases({
    actions: [...(from ? [{ remove: { index: from, alias } }] : []), { add: { index: to, alias, is_write_index: true } }],
  });
}

function describeState(alias: string, s: AliasState): string {
  switch (s.kind) {
    case 'missing':
      return `alias ${alias}: does not exist yet (created on first use or by \`archive es migrate\`)`;
    case 'concrete':
      return `${alias} is a concrete index, not an alias`;
    case 'several':
      return `alias ${alias} points at several indices: ${s.indices.join(', ')}`;
    case 'ok':
      return `alias ${alias} -> ${s.index} (mapping version ${s.version ?? 'none'}; this program: ${MAPPING_VERSION})`;
  }
}

export async function status(client: Client, alias: string, io: AdminIO): Promise<number> {
  const s = await inspectAlias(client, alias);
  io.out(describeState(alias, s));
  if (s.kind === 'ok') io.out(`records: ${await countOf(client, s.index)}`);
  return s.kind === 'ok' && s.version === MAPPING_VERSION ? 0 : s.kind === 'missing' ? 0 : 1;
}

/** Copies every document of `from` into `store` (converted for the current mapping). */
async function copyDocs(client: Client, from: string, store: EsStore, io: AdminIO): Promise<number> {
  let n = 0;
  for await (const page of scanDocs(client, from)) {
    n += await store.importDocs(page.map(upgradeDoc));
    io.err(`  copied ${n} records from ${from}`);
  }
  return n;
}

/**
 * Builds a new index with `fill`, checks it, and swaps the alias to it. On failure the new index is
 * deleted and the alias is left alone.
 */
async function buildAndSwap(
  client: Client,
  alias: string,
  io: AdminIO,
  now: Date,
  fill: (store: EsStore, old: string | undefined) => Promise<{ code: number; expected?: number }>,
): Promise<number> {
  const state = await inspectAlias(client, alias);
  if (state.kind === 'concrete' || state.kind === 'several') throw new Error(describeState(alias, state));
  const old = state.kind === 'ok' ? state.index : undefined;
  const index = await newIndexName(client, alias, now);
  await createIndex(client, index);
  io.err(`created index ${index}`);
  const store = new EsStore({ client, alias, index, refresh: true, ownsClient: false });
  let result: { code: number; expected?: number };
  try {
    result = await fill(store, old);
    await store.refreshIndex();
    const got = await countOf(client, index);
    if (result.expected !== undefined && got !== result.expected) {
      throw new Error(`${index} holds ${got} records, ${result.expected} expected: alias not swapped (was the ingest pipeline running?)`);
    }
    if (got === 0 && old && (await countOf(client, old)) > 0) {
      throw new Error(`${index} is empty while ${old} holds records: alias not swapped (nothing was loaded)`);
    }
    await swapAlias(client, alias, index, old);
    io.out(`alias ${alias} -> ${index} (${got} records, mapping version ${MAPPING_VERSION})${old ? `; was ${old}` : ''}`);
  } catch (e) {
    io.err(`removing the unfinished index ${index}`);
    await client.indices.delete({ index }).catch(() => {});
    throw e;
  }
  if (old) io.out(`the previous index ${old} is kept; once satisfied, delete it: curl -X DELETE '<ES_URL>/${old}'`);
  return result.code;
}

export async function migrate(client: Client, alias: string, io: AdminIO, now = new Date()): Promise<number> {
  const state = await inspectAlias(client, alias);
  if (state.kind === 'missing') {
    const index = versionedIndexName(alias);
    await createIndex(client, index, alias);
    io.out(`created ${index} behind alias ${alias} (mapping version ${MAPPING_VERSION})`);
    return 0;
  }
  if (state.kind !== 'ok') throw new Error(describeState(alias, state));
  if (state.version === MAPPING_VERSION) {
    io.out(`${describeState(alias, state)}: up to date`);
    return 0;
  }
  if (state.version !== undefined && state.version > MAPPING_VERSION) {
    throw new Error(`${state.index} has mapping version ${state.version}, newer than this program's ${MAPPING_VERSION}: upgrade the program`);
  }
  io.err(`migrating ${state.index} (mapping version ${state.version ?? 'none'}) to mapping version ${MAPPING_VERSION}`);
  return buildAndSwap(client, alias, io, now, async (store, old) => {
    const expected = await countOf(client, old!);
    await copyDocs(client, old!, store, io);
    return { code: 0, expected };
  });
}

/** Every record of a store, through the port (browsing by id, 100 at a time). */
export async function* storeRecords(src: SearchStore): AsyncGenerator<ItemRecord[]> {
  for (let page = 1; ; page++) {
    const res = await src.search({ page, pageSize: 100 });
    if (res.hits.length === 0) return;
    yield res.hits.map((h) => h.record);
    if (res.hits.length < 100) return;
  }
}

export async function reindexFromStore(client: Client, alias: string, src: SearchStore, io: AdminIO, now = new Date()): Promise<number> {
  const expected = await src.count();
  // Per-image upload state (key, size, time) when the store lists it; otherwise docFromRecord
  // falls back to the images' s3Key.
  const states = src.listImages ? new Map((await src.listImages()).map((s) => [s.id, s])) : undefined;
  const uploadsOf = (r: ItemRecord): UploadEntry[] | undefined =>
    states &&
    r.images.flatMap((img) => {
      const s: ImageState | undefined = states.get(img.id);
      return s?.uploadedAt ? [{ image: img.id, file: img.file, key: s.s3Key ?? '', size: s.s3Size ?? null, at: s.uploadedAt }] : [];
    });
  return buildAndSwap(client, alias, io, now, async (store) => {
    let n = 0;
    let batch: ItemRecord[] = [];
    const flush = async () => {
      n += await store.importDocs(batch.map((r) => docFromRecord(r, uploadsOf(r))));
      batch = [];
      io.err(`  copied ${n} of ${expected} records from the ${src.backend} store`);
    };
    for await (const records of storeRecords(src)) {
      batch.push(...records);
      if (batch.length >= 1000) await flush();
    }
    if (batch.length > 0) await flush();
    // Withdrawn records (kept until archive prune) go to <alias>-withdrawn, not to the records.
    const withdrawn = (await src.listWithdrawn?.()) ?? [];
    if (withdrawn.length) {
      const n = await copyWithdrawn({ client, alias, unavailable: () => null }, withdrawn);
      io.err(`  copied ${n} withdrawn records from the ${src.backend} store`);
    }
    return { code: 0, expected };
  });
}

export async function reindexFromTree(
  client: Client,
  alias: string,
  files: string[],
  load: TreeLoader,
  io: AdminIO,
  opts: { fresh?: boolean; now?: Date } = {},
): Promise<number> {
  return buildAndSwap(client, alias, io, opts.now ?? new Date(), async (store, old) => {
    if (old && !opts.fresh) await copyDocs(client, old, store, io);
    const code = await load(store, files);
    return { code };
  });
}

/**
 * `archive es <sub>`: parses the sub-command and runs it against ES_URL/ES_INDEX. Throws
 * EsUsageError for usage mistakes; prints StoreUnavailableError as one sentence (exit 3).
 */
export async function runEsCommand(
  cfg: Config,
  args: string[],
  values: Record<string, string | boolean | undefined>,
  io: AdminIO,
  loadTree: TreeLoader,
): Promise<number> {
  const [sub, ...rest] = args;
  if (!cfg.store.esUrl) throw new EsUsageError('ES_URL is not set (the cluster to work on)');
  const from = values.from;
  if (sub === 'status' || sub === 'migrate') {
    if (rest.length > 0 || from !== undefined || values.fresh) throw new EsUsageError(`es ${sub} takes no arguments`);
  } else if (sub === 'reindex') {
    if (from !== 'store' && from !== 'tree') throw new EsUsageError('es reindex needs --from store or --from tree');
    if (from === 'store' && (rest.length > 0 || values.fresh)) throw new EsUsageError('es reindex --from store takes no files and no --fresh');
  } else {
    throw new EsUsageError(sub === undefined ? 'missing sub-command' : `unknown sub-command "${sub}"`);
  }
  const client = createEsClient(cfg.store);
  const alias = cfg.store.esIndex;
  const where = describeNode(cfg.store.esUrl);
  io.err(`elasticsearch: ${where}, alias ${alias}`);
  const probe = new EsStore({ client, alias, where, timeoutMs: cfg.store.esTimeoutMs, ownsClient: false });
  try {
    if (sub === 'status') return await status(client, alias, io);
    if (sub === 'migrate') return await migrate(client, alias, io);
    if (from === 'store') {
      const { SqliteStore } = await import('./sqlite.ts');
      if (!fs.existsSync(cfg.store.sqlitePath)) throw new EsUsageError(`no embedded store at ${cfg.store.sqlitePath} (SQLITE_PATH)`);
      const src = new SqliteStore(cfg.store.sqlitePath);
      try {
        await src.init();
        return await reindexFromStore(client, alias, src, io);
      } finally {
        await src.close();
      }
    }
    return await reindexFromTree(client, alias, rest, loadTree, io, { fresh: values.fresh === true });
  } catch (e) {
    const down = probe.unavailable(e);
    if (down) {
      io.err(`archive es ${sub}: ${down.message}`);
      return 3;
    }
    throw e;
  } finally {
    await client.close();
  }
}
