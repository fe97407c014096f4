/**
 * Manifests per request: record from the store, canvas sizes from the image server, assembled by
 * the pure builder and kept in a small in-process cache keyed by the record's updated_at.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { SearchStore } from '../search/store.ts';
import { buildManifest, type ManifestAuth, type Size } from './manifest.ts';
import type { Limits } from '../images/request.ts';

export interface ManifestServiceOptions {
  store: SearchStore;
  /** Real size of an image, or undefined when it cannot be read (the record's size is then used). */
  sizeOf: (imageId: string) => Promise<Size | undefined>;
  base: string;
  cacheEntries?: number;
  /** IIIF Authorization Flow 2.0 services to advertise (src/lib/access). */
  auth?: ManifestAuth;
  /** The image server's size limits (the painting body declares what `full/max` delivers). */
  limits?: Limits;
}

export interface ManifestDocument {
  json: string;
  etag: string;
  lastModified: string;
}

export class ManifestService {
  readonly #opts: ManifestServiceOptions;
  /** Least recently used manifests dropped first (lru-cache); none kept with cacheEntries 0. */
  readonly #cache: LRUCache<string, { stamp: string; doc: ManifestDocument }> | undefined;

  constructor(opts: ManifestServiceOptions) {
    this.#opts = opts;
    const max = opts.cacheEntries ?? 1000;
    this.#cache = max > 0 ? new LRUCache({ max }) : undefined;
  }

  async manifest(itemId: string): Promise<ManifestDocument | null> {
    const record = await this.#opts.store.get(itemId);
    if (!record) return null;
    const stamp = record.updated_at;
    const hit = this.#cache?.get(itemId);
    if (hit && hit.stamp === stamp) return hit.doc;
    const sizes = new Map<string, Size | undefined>();
    await Promise.all(
      record.images.map(async (img) => {
        sizes.set(img.id, await this.#opts.sizeOf(img.id).catch(() => undefined));
      }),
    );
    const json = JSON.stringify(buildManifest({ record, sizes, base: this.#opts.base, auth: this.#opts.auth, limits: this.#opts.limits }));
    const doc: ManifestDocument = {
      json,
      etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`,
      lastModified: new Date(stamp).toUTCString(),
    };
    this.#cache?.set(itemId, { stamp, doc });
    return doc;
  }
}
