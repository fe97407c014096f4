/**
 * The factory of the `AccessStore` port: the access store that lives beside the search store.
 * Apart from the port (access-store.ts) so that the port does not import its own adapters.
 */
import type { SearchStore } from '../search/store.ts';
import type { AccessStore } from './access-store.ts';

interface SqliteLike {
  readonly backend: string;
  connection?(): import('node:sqlite').DatabaseSync;
}
interface EsLike {
  readonly backend: string;
  readonly client?: import('@elastic/elasticsearch').Client;
  readonly alias?: string;
  unavailable?(e: unknown): Error | null;
}

/** The access store that lives beside `store` (same SQLite file, or same cluster); null for a store that has none (test doubles). */
export async function accessStoreFor(store: SearchStore): Promise<AccessStore | null> {
  if (store.backend === 'sqlite' && typeof (store as SqliteLike).connection === 'function') {
    const { SqliteAccessStore } = await import('./access-sqlite.ts');
    const s = new SqliteAccessStore((store as SqliteLike).connection!());
    await s.init();
    return s;
  }
  const es = store as EsLike;
  if (store.backend === 'elasticsearch' && es.client && es.alias) {
    const { EsAccessStore } = await import('./access-elasticsearch.ts');
    return new EsAccessStore({ client: es.client, prefix: es.alias, ...(es.unavailable ? { unavailable: (e) => es.unavailable!(e) } : {}) });
  }
  return null;
}
