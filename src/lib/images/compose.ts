/**
 * The image server as the configuration describes it: the derivative cache under CACHE_DIR, the
 * source (the clean tree below IMAGE_ROOT, or the bucket), the shared derivative store
 * (docs/scaling.md) and the limits. One construction for the web process (src/lib/runtime.ts) and
 * the `archive pyramids` stage (src/lib/ingest/pyramids.ts), so that both read and write the same
 * derivatives under the same keys. sharp is loaded with the server module, on first use.
 */
import path from 'node:path';
import type { Config } from '../config.ts';
import type { ImageEntry } from '../search/store.ts';
import type { ImageServer, ImageServerOptions } from './server.ts';
import type { S3ImageSource } from './s3source.ts';

export interface ComposedImageServer {
  server: ImageServer;
  /** The bucket source when IMAGE_SOURCE=s3 (its breaker and probe serve /readyz). */
  s3Source?: S3ImageSource;
}

/**
 * Builds the server; `overrides` replace options per use (the stage keeps no memory cache and
 * has its own queue; the web process adds IIIF Auth and access enforcement).
 */
export async function composeImageServer(
  cfg: Config,
  lookup: (id: string) => Promise<ImageEntry | null>,
  log: (message: string, err?: unknown) => void,
  overrides: Partial<ImageServerOptions> = {},
): Promise<ComposedImageServer> {
  const [{ ImageServer }, { DiskCache }] = await Promise.all([import('./server.ts'), import('./cache.ts')]);
  const cache = new DiskCache({ dir: path.join(cfg.images.cacheDir, 'iiif'), maxBytes: cfg.images.cacheMaxBytes, log });
  let s3Source: S3ImageSource | undefined;
  if (cfg.images.source === 's3') {
    const [{ S3ImageSource }, { createS3Client, IMAGE_READ_TIMEOUTS }] = await Promise.all([import('./s3source.ts'), import('../storage/s3.ts')]);
    s3Source = new S3ImageSource({ client: createS3Client(cfg.s3, IMAGE_READ_TIMEOUTS), bucket: cfg.s3.bucket!, prefix: cfg.s3.prefix, lookup, cache });
  }
  // Pyramids shared with the other processes (docs/scaling.md).
  let derivatives;
  const shared = cfg.images.derivatives;
  if (shared.store !== 'none') {
    const { FsDerivativeStore, S3DerivativeStore } = await import('./derivative-store.ts');
    if (shared.store === 'fs') derivatives = new FsDerivativeStore({ dir: shared.dir });
    else {
      const { createS3Client } = await import('../storage/s3.ts');
      const breaker = s3Source?.breaker;
      // Uploads may take longer than image reads: the client's default deadlines, the same breaker.
      derivatives = new S3DerivativeStore({ client: createS3Client(cfg.s3, { maxAttempts: 2 }), bucket: cfg.s3.bucket!, prefix: shared.prefix, ...(breaker ? { breaker } : {}) });
    }
  }
  const server = new ImageServer({
    ...(s3Source ? { source: s3Source } : { root: cfg.images.root, lookup }),
    maxWidth: cfg.images.maxWidth,
    maxHeight: cfg.images.maxHeight,
    maxArea: cfg.images.maxArea,
    publicBaseUrl: cfg.publicBaseUrl,
    cache,
    ...(derivatives ? { derivatives } : {}),
    memoryCacheBytes: cfg.images.memoryCacheBytes,
    queue: { concurrency: cfg.images.maxRenders, maxWaiting: cfg.images.maxQueue, memoryBudget: cfg.images.renderMemoryBytes },
    log,
    ...overrides,
  });
  return s3Source ? { server, s3Source } : { server };
}
