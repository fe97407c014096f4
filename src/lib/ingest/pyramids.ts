/**
 * `archive pyramids [--batch <id>]... [--concurrency <n>]`: an optional ingest stage that prepares
 * the tiled pyramid derivatives ahead of any viewer, as IIPImage users convert their images
 * offline. Without it the image server builds a pyramid on the first touch of an image (which stays
 * the fallback); with it, the first viewer of every image is served from tiles at once.
 *
 * Works from the store (`listImages`: every indexed image, optionally of some batches) through an
 * image server built from the same configuration as the web process's (src/lib/runtime.ts): the
 * same builder, cache keys and derivative cache (CACHE_DIR/iiif), so what it builds is exactly what
 * a first touch would have built. Idempotent and resumable: an image whose pyramid is in the cache
 * counts as present; an interrupted run is continued by running it again.
 *
 * A web process running at the same time does not see these files until it restarts (its cache
 * index is read from the directory on start); it would build the pyramid itself on first touch.
 *
 * Exit codes: 0 every image prepared or not needing a pyramid; 1 some image failed (each named
 * with its file and reason) or the run was interrupted; 3 the store cannot list images.
 */
import type { Config } from '../config.ts';
import type { ImageServer } from '../images/server.ts';
import type { ImageState, SearchStore } from '../search/store.ts';
import { EXIT, StageUsageError, type StageContext, type Values } from './commands.ts';
import { progressBar } from './progress.ts';

export interface PyramidFailure {
  id: string;
  file: string;
  message: string;
}

export interface PyramidReport {
  /** Images looked at. */
  total: number;
  built: number;
  /** Already in the derivative cache (an earlier run, or a first touch). */
  present: number;
  /** Sources with random access of their own (pyramid TIFF, small JPEG): nothing to build. */
  notNeeded: number;
  failed: PyramidFailure[];
  /** True when an interrupt stopped the run before every image was looked at. */
  stopped: boolean;
  /** Bytes in the derivative cache at the end, and its limit (IIIF_CACHE_MAX_MB). */
  cacheBytes: number;
  cacheMaxBytes: number;
}

/** What the stage needs of the image server (a double in tests may stand in). */
export type PyramidPreparer = Pick<ImageServer, 'preparePyramid'> & { readonly cache?: { bytes: number; maxBytes: number } | undefined };

export interface PreparePyramidsOptions {
  images: ImageState[];
  server: PyramidPreparer;
  /** Builds at a time (default 1: each build holds a row of tiles per level in memory). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Prepare the pyramid of every image in `images`; never throws for one image's failure. */
export async function preparePyramids(opts: PreparePyramidsOptions): Promise<PyramidReport> {
  const { images, server } = opts;
  const report: PyramidReport = { total: images.length, built: 0, present: 0, notNeeded: 0, failed: [], stopped: false, cacheBytes: 0, cacheMaxBytes: 0 };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < images.length) {
      if (opts.signal?.aborted) {
        report.stopped = true;
        return;
      }
      const image = images[next++]!;
      try {
        const outcome = await server.preparePyramid(image.id);
        if (outcome === 'built') report.built++;
        else if (outcome === 'present') report.present++;
        else report.notNeeded++;
      } catch (e) {
        report.failed.push({ id: image.id, file: image.file, message: (e as Error).message });
      }
      opts.onProgress?.(++done, images.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 1, images.length || 1)) }, worker));
  report.cacheBytes = server.cache?.bytes ?? 0;
  report.cacheMaxBytes = server.cache?.maxBytes ?? 0;
  return report;
}

/** The image server of the stage: the web process's configuration, its own queue. */
export async function pyramidServer(cfg: Config, store: SearchStore, log: (message: string, err?: unknown) => void, concurrency: number): Promise<ImageServer> {
  const { composeImageServer } = await import('../images/compose.ts');
  // The web process's construction (same cache, keys and shared derivatives), its own queue, no
  // memory cache, sources looked up afresh.
  const { server } = await composeImageServer(cfg, (id) => store.getImage(id), log, {
    memoryCacheBytes: 0,
    sourceTtlMs: 0,
    queue: { concurrency, maxWaiting: Math.max(16, concurrency * 2), memoryBudget: cfg.images.renderMemoryBytes },
  });
  return server;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `archive pyramids`: the CLI side (src/cli.ts lists it). */
export async function runPyramids(ctx: StageContext, _args: string[], values: Values): Promise<number> {
  const cfg = ctx.config();
  const raw = values.concurrency;
  const concurrency = raw === undefined ? 1 : Number(raw);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new StageUsageError(`--concurrency must be a whole number from 1 to 64, got "${String(raw)}"`);
  const batches = Array.isArray(values.batch) ? values.batch : typeof values.batch === 'string' ? [values.batch] : undefined;
  const store = await ctx.store();
  if (!store.listImages) {
    ctx.io.err(`archive pyramids: the ${store.backend} store cannot list its images`);
    return EXIT.failure;
  }
  const images = await store.listImages(batches ? { batch: batches } : {});
  if (batches && images.length === 0) ctx.io.err(`warning: no images in batch ${batches.join(', ')}`);
  // Messages of failed builds, per image, for the summary (the server logs them as it goes).
  const logged: string[] = [];
  const server = await pyramidServer(cfg, store, (message, err) => logged.push(err ? `${message}: ${(err as Error).message ?? String(err)}` : message), concurrency);
  const bar = progressBar(ctx.io.progress, 'pyramids');
  let report: PyramidReport;
  try {
    report = await preparePyramids({ images, server, concurrency, signal: ctx.io.interrupt?.(), onProgress: (d, t) => bar.update(d, t) });
  } finally {
    bar.end();
  }
  for (const f of report.failed) {
    const detail = logged.find((l) => l.includes(` ${f.id};`) || l.includes(` ${f.id}:`));
    ctx.io.err(`${f.file}: image ${f.id}: ${f.message}${detail ? ` (${detail})` : ''}`);
  }
  const mb = (b: number) => `${Math.round(b / 1048576)} MB`;
  ctx.io.out(
    [
      `pyramids: ${plural(report.total, 'image')}`,
      `${report.built} built`,
      `${report.present} already present`,
      `${report.notNeeded} not needed`,
      `${report.failed.length} failed`,
      `cache ${mb(report.cacheBytes)} of ${mb(report.cacheMaxBytes)}`,
    ].join('; '),
  );
  if (report.built + report.present > 0 && report.cacheBytes >= report.cacheMaxBytes * 0.9) {
    ctx.io.err(`warning: the derivative cache is ${mb(report.cacheBytes)} of its ${mb(report.cacheMaxBytes)} limit: older pyramids may have been evicted; raise IIIF_CACHE_MAX_MB`);
  }
  if (report.stopped) {
    ctx.io.err('archive pyramids: interrupted; run it again to continue (what was built stays)');
    return EXIT.skipped;
  }
  return report.failed.length > 0 ? EXIT.skipped : EXIT.ok;
}
