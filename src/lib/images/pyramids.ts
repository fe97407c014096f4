/**
 * The lifecycle of pyramid derivatives (pyramid.ts says which sources get one and how): found in
 * the derivative cache, or built once per source version (single-flight) through the processing
 * queue, checked, adopted into the cache; a failed build backs off (1 min doubling to 1 h) so a
 * passing fault does not disable deep zoom until restart.
 *
 * `ensure()` is the ONE entry point that builds a derivative; `forPlan()` is what a render asks:
 * the derivative to read for this plan, pinned, or null to read the source.
 */
import { LRUCache } from 'lru-cache';
import type { DiskCache } from './cache.ts';
import { cacheKey } from './cache.ts';
import { derivativeName, type DerivativeStore } from './derivative-store.ts';
import { IiifError, busy } from './errors.ts';
import { PYRAMID_REVISION, buildBytes, decodedBytes, derivativeTile, pyramidWorthIt } from './pyramid.ts';
import type { RenderQueue } from './queue.ts';
import { writePyramid } from './render.ts';
import { jpegShrinkOnLoad, type ImagePlan, type SourceFacts } from './request.ts';
import type { ImageSource, SourceFile } from './source.ts';

/** Tile requests wait for a JPEG's pyramid when the source has at most this many pixels. */
const WAIT_FOR_PYRAMID_PIXELS = 120_000_000;
/**
 * Tiles that JPEG shrink-on-load decodes at 1/4 or 1/8 (a sixteenth of the pixels or less: a few
 * ms to a few tens of ms) are rendered from the source while its pyramid is not built; deeper
 * tiles wait for it. (At 1/2 every tile of a view decodes a quarter of the image again: with 20
 * viewers that cost more than the waits it saved, in bench:viewers.)
 */
const DIRECT_DECODE_SCALE = 4;

export interface PyramidsOptions {
  disk: DiskCache;
  queue: RenderQueue;
  sources: ImageSource;
  maxInputPixels: number;
  /** Facts of a file (the server's reader: a built derivative is checked with it). */
  readFacts: (file: string) => Promise<SourceFacts>;
  /** Pyramids shared with other processes (bucket or shared directory; derivative-store.ts). */
  derivatives?: DerivativeStore;
  /** Entries of the derivatives' facts cache. */
  factsCacheSize?: number;
  log: (message: string, err?: unknown) => void;
}

export interface PinnedPyramid {
  file: string;
  facts: SourceFacts;
  unpin: () => void;
}

export class Pyramids {
  readonly #o: PyramidsOptions;
  /** Source versions whose build failed: when it may be tried again, and the delay. */
  readonly #failed = new LRUCache<string, { until: number; backoff: number }>({ max: 1000 });
  readonly #flights = new Map<string, Promise<boolean>>();
  readonly #facts: LRUCache<string, Promise<SourceFacts>>;
  /** Durations of the last builds (ms), for the benchmark and the operator. */
  readonly #buildMs: number[] = [];
  /** Pyramids built here, and pyramids fetched from the shared derivative store instead. */
  #builds = 0;
  #shared = 0;

  constructor(opts: PyramidsOptions) {
    this.#o = opts;
    this.#facts = new LRUCache({ max: opts.factsCacheSize ?? 2000 });
  }

  /** Durations of the last builds (ms). */
  get buildsMs(): number[] {
    return this.#buildMs.slice(-20);
  }

  /** Pyramids built by this process, and fetched from the shared derivative store instead. */
  get counts(): { builds: number; shared: number } {
    return { builds: this.#builds, shared: this.#shared };
  }

  /** Whether `facts` describe a source that gets a derivative. */
  wanted(facts: SourceFacts): boolean {
    return pyramidWorthIt(facts);
  }

  #blocked(version: string): boolean {
    const f = this.#failed.get(version);
    return f !== undefined && performance.now() < f.until;
  }

  /** The derivative's cache key: the source version and the announced tile edge. */
  key(source: SourceFile, facts: SourceFacts): string {
    return cacheKey('pyramid', PYRAMID_REVISION, source.version, facts.tileSize);
  }

  /**
   * The pyramid derivative to render `plan` from, pinned; or null to render from the source.
   * Missing: region requests wait for the build (single-flight) unless the source is very large;
   * whole-image requests (thumbnails) do not, they only start it when the server is idle.
   */
  async forPlan(source: SourceFile, facts: SourceFacts, local: string, plan: ImagePlan): Promise<PinnedPyramid | null> {
    const disk = this.#o.disk;
    const key = this.key(source, facts);
    if (this.#blocked(source.version)) return null;
    // Found and pinned in one step (acquire): never evicted or deleted before the render reads it.
    let entry = await disk.acquire(key);
    if (!entry) {
      // A source that decodes whole (huge PNG, striped TIFF), or a JPEG so large that its build
      // and a render from the source together would exceed a small machine's memory: every
      // request waits for the pyramid, thumbnails too.
      const whole = facts.format !== 'jpeg' || facts.width * facts.height > WAIT_FOR_PYRAMID_PIXELS;
      if (!whole && plan.fullRegion) {
        // Thumbnails of a JPEG do not start a build (a search page would build one per result).
        return null;
      }
      if (!whole && jpegShrinkOnLoad(facts, plan).decode >= DIRECT_DECODE_SCALE) {
        // A tile of a zoomed-out view (the first view of a newly opened image): decoded from the
        // source at 1/4 or 1/8 in the DCT, which costs a few ms, instead of waiting behind
        // the builds of other images; the build starts when the queue is free, else with the
        // first deeper tile.
        void this.ensure(source, facts, { background: true, local });
        return null;
      }
      const built = await this.ensure(source, facts, { background: false, local });
      if (!built) {
        if (whole && !this.#failed.get(source.version)) throw busy('The image is being prepared; try again shortly', 5);
        return null;
      }
      entry = await disk.acquire(key);
      if (!entry) return null;
    }
    const unpin = entry.release;
    try {
      const pf = await this.#factsOf(key, entry.path);
      return { file: entry.path, facts: pf, unpin };
    } catch (err) {
      unpin();
      this.#o.log(`unusable pyramid derivative for ${source.id}; rendering from the source`, err);
      await disk.remove(key);
      return null;
    }
  }

  #factsOf(key: string, file: string): Promise<SourceFacts> {
    let f = this.#facts.get(key);
    if (!f) {
      f = this.#o.readFacts(file);
      this.#facts.set(key, f);
      f.catch(() => this.#facts.delete(key));
    }
    return f;
  }

  /**
   * The derivative of `source` built ahead of any viewer (`archive pyramids`): 'present' when the
   * cache holds it, else built now; an earlier failure's back-off does not apply to an explicit
   * request. Throws with the reason when it cannot be built.
   */
  async prepare(source: SourceFile, facts: SourceFacts): Promise<'built' | 'present'> {
    const disk = this.#o.disk;
    if (await disk.lookup(this.key(source, facts))) return 'present';
    this.#failed.delete(source.version);
    if (await this.ensure(source, facts, { background: false })) return 'built';
    throw new Error(disk.usable ? 'the pyramid could not be built' : `the derivative cache ${disk.dir} cannot be written`);
  }

  /**
   * Pyramid builds run one at a time (issue 13, bench:viewers from an empty cache: two builds at
   * once beside the tile renders took the process over 250 MB RSS); tiles of other images keep
   * rendering meanwhile. Builds still take their turn in the render queue.
   */
  #buildChain: Promise<unknown> = Promise.resolve();
  #buildTurn<T>(build: () => Promise<T>): Promise<T> {
    const turn = this.#buildChain.then(build);
    this.#buildChain = turn.catch(() => {});
    return turn;
  }

  /**
   * Build the pyramid of `source` once (single-flight per source version): THE build entry point.
   * `background`: only when the queue can start it at once, never waited for, errors only logged.
   * `local`: the source's local path when the caller has it. Resolves true when the derivative is
   * in the cache (built now or before).
   */
  ensure(source: SourceFile, facts: SourceFacts, opts: { background: boolean; local?: string }): Promise<boolean> {
    const { disk, queue, sources } = this.#o;
    const { background, local } = opts;
    if (this.#blocked(source.version)) return Promise.resolve(false);
    const key = this.key(source, facts);
    if (disk.peek(key)) return Promise.resolve(true);
    const running = this.#flights.get(key);
    if (running) return running;
    if (background && (queue.stats().waiting > 0 || queue.stats().running >= 1)) return Promise.resolve(false);
    const build = async (): Promise<boolean> => {
      const unpin = sources.pin?.(source);
      let tmp = '';
      try {
        tmp = await disk.tmpPath('.tif');
        const tileSize = derivativeTile(facts);
        // Built by another process already (shared derivative store): fetched, checked like a build.
        const store = this.#o.derivatives;
        const shared = store && derivativeName('pyramid', PYRAMID_REVISION, tileSize, source.version, source.size, '.tif');
        if (store && shared && (await store.get(shared, tmp))) {
          const got = await this.#o.readFacts(tmp).catch(() => null);
          if (got && got.width === facts.width && got.height === facts.height && got.levels.length > 0) {
            await disk.adopt(key, '.tif', tmp);
            this.#shared++;
            return true;
          }
          this.#o.log(`the shared pyramid ${shared} for ${source.id} is unusable; building it here`);
          await disk.discard(tmp);
        }
        const file = local ?? (await sources.local(source));
        const t0 = performance.now();
        const upright = facts.orientation !== 1 ? decodedBytes(facts) : 0;
        // JPEG tiles for JPEG sources up to libjpeg's 65500 px; lossless deflate otherwise.
        const lossless = facts.format !== 'jpeg' || Math.max(facts.width, facts.height) > 65500;
        // Ahead of the waiting renders: the tiles waiting for this pyramid are not in the queue.
        // One build at a time (see #buildTurn).
        await this.#buildTurn(() =>
          queue.run(
            buildBytes({ ...facts, tileSize }) + upright,
            () => writePyramid(file, tmp, { tileSize, maxInputPixels: this.#o.maxInputPixels, autoOrient: facts.orientation !== 1, lossless }),
            { first: !background },
          ),
        );
        await sources.assertUnchanged?.(source);
        const built = await this.#o.readFacts(tmp);
        if (built.width !== facts.width || built.height !== facts.height || built.levels.length === 0) {
          throw new Error(`derivative is ${built.width}x${built.height} with ${built.levels.length} levels, expected ${facts.width}x${facts.height}`);
        }
        // Pinned while it is uploaded to the shared store (eviction must not delete it first).
        const unpinBuilt = shared ? disk.pin(key) : undefined;
        try {
          const entry = await disk.adopt(key, '.tif', tmp);
          this.#buildMs.push(performance.now() - t0);
          if (this.#buildMs.length > 100) this.#buildMs.splice(0, this.#buildMs.length - 20);
          this.#builds++;
          if (store && shared) await store.put(shared, entry.path);
        } finally {
          unpinBuilt?.();
        }
        return true;
      } catch (err) {
        if (tmp) await disk.discard(tmp);
        if (err instanceof IiifError && err.status === 503) return false; // busy, or the source changed: try again later
        if (disk.writeFailure(err)) return false; // logged once by the cache; tried again when it works
        const backoff = Math.min(3_600_000, (this.#failed.get(source.version)?.backoff ?? 30_000) * 2);
        this.#failed.set(source.version, { until: performance.now() + backoff, backoff });
        this.#o.log(`cannot build a pyramid for ${source.id}; rendering from the source (next try in ${Math.round(backoff / 60_000)} min)`, err);
        return false;
      } finally {
        unpin?.();
      }
    };
    const p = build().finally(() => this.#flights.delete(key));
    this.#flights.set(key, p);
    if (background) p.catch(() => {});
    return p;
  }
}
