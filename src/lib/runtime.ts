/**
 * Composition root of the server process: builds each backing service once, from the validated
 * configuration, and hands it out. Routes and middleware call these; nothing else constructs a
 * store or an image source.
 */
import { config } from './config.ts';
import { openStore, type SearchStore } from './search/store.ts';

let storePromise: Promise<SearchStore> | undefined;

export function store(): Promise<SearchStore> {
  storePromise ??= openStore(config());
  return storePromise;
}
