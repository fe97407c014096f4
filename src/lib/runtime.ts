/**
 * Composition root of the server process: builds each backing service once, from the validated
 * configuration, and hands it out. Routes and middleware call these; nothing else constructs a
 * store or an image source.
 */
import { config } from './config.ts';
import { openStore, type SearchStore } from './search/store.ts';
import { ManifestService } from './iiif/service.ts';

let storePromise: Promise<SearchStore> | undefined;

export function store(): Promise<SearchStore> {
  storePromise ??= openStore(config());
  return storePromise;
}

let manifestPromise: Promise<ManifestService> | undefined;

export function manifests(): Promise<ManifestService> {
  manifestPromise ??= (async () =>
    new ManifestService({
      store: await store(),
      sizeOf: async () => undefined, // TODO(wire): image server dimensions
      base: config().publicBaseUrl,
    }))();
  return manifestPromise;
}
