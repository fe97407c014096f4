/**
 * The factory of the `SearchStore` port: picks the configured backend. Apart from the port
 * (store.ts) so that the port does not import its own implementations.
 */
import type { Config } from '../config.ts';
import type { SearchStore } from './store.ts';

/**
 * Builds the configured store. SQLite is opened and initialised here; Elasticsearch connects on
 * first use (so the server starts while the cluster is down, and a failed first use is retried).
 */
export async function openStore(cfg: Config): Promise<SearchStore> {
  if (cfg.store.backend === 'sqlite') {
    // Short busy waits retried asynchronously, read-only when not writable, StoreUnavailableError
    // when it cannot be opened (sqlite.ts, openSqliteStore).
    const { openSqliteStore } = await import('./sqlite.ts');
    return openSqliteStore(cfg.store.sqlitePath, { log: (line) => console.error(line) });
  }
  if (cfg.store.backend === 'elasticsearch') {
    const { openElasticsearchStore } = await import('./elasticsearch.ts');
    return openElasticsearchStore(cfg);
  }
  throw new Error(`STORE_BACKEND=${String(cfg.store.backend)} is not available`);
}
