/**
 * Composition root of the server process: builds each backing service once, from the validated
 * configuration, and hands it out. Routes and middleware call these; nothing else constructs a
 * store or an image source.
 */
import { config } from './config.ts';
import { openStore, type SearchStore } from './search/store.ts';
import { ManifestService } from './iiif/service.ts';
import type { ImageServer } from './images/server.ts';

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
      sizeOf: async (imageId) => (await imageServer()).sizeOf(imageId),
      base: config().publicBaseUrl,
    }))();
  return manifestPromise;
}

let imageServerPromise: Promise<ImageServer> | undefined;

/**
 * The IIIF Image API server, built once from the configuration. Identifiers resolve through the
 * store (`getImage(id).file`, a path below IMAGE_ROOT). sharp is imported only here, on first use,
 * so processes that never serve images (CLI, tests of other parts) do not load libvips.
 */
export function imageServer(): Promise<ImageServer> {
  imageServerPromise ??= (async () => {
    const { ImageServer } = await import('./images/server.ts');
    const cfg = config();
    return new ImageServer({
      root: cfg.images.root,
      maxWidth: cfg.images.maxWidth,
      maxHeight: cfg.images.maxHeight,
      maxArea: cfg.images.maxArea,
      publicBaseUrl: cfg.publicBaseUrl,
      lookup: async (id) => (await store()).getImage(id),
    });
  })();
  return imageServerPromise;
}
