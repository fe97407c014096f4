/**
 * Per-request authorisation of store reads. The middleware runs each request inside an access
 * scope (the levels its user may see); the store that routes get from `runtime.store()` is a view
 * that applies the scope to every read:
 *
 *  - `search()` adds the scope's levels to `filters.access` (intersected with any the request
 *    already asks for), so hits, totals, facets and pages are all computed without restricted items;
 *  - `get()` and `getImage()` answer null for an item the user may not see, exactly as for one that
 *    does not exist — so every route's own "not found" path answers for restricted items too.
 *
 * Fail closed: a read outside any scope (code that escaped the request's async context) throws
 * instead of seeing everything. Writes and `count()` (readiness) are not scoped.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ImageEntry, ItemRecord, SearchRequest, SearchResponse, SearchStore } from '../search/store.ts';
import { parseQuery } from '../search/text.ts';
import { ACCESS_LEVELS, canSee, type AccessLevel } from '../domain.ts';

export interface AccessScope {
  /** Levels the current user may see (empty: nothing). */
  levels: readonly AccessLevel[];
}

const storage = new AsyncLocalStorage<AccessScope>();

export function runInAccessScope<T>(scope: AccessScope, fn: () => T): T {
  return storage.run({ levels: [...scope.levels] }, fn);
}

export function currentAccessScope(): AccessScope | undefined {
  return storage.getStore();
}

export class AccessScopeMissing extends Error {
  constructor(what: string) {
    super(`store ${what} outside an access scope: refused (every request must run inside runInAccessScope)`);
    this.name = 'AccessScopeMissing';
  }
}

function scope(what: string): AccessScope {
  const s = storage.getStore();
  if (!s) throw new AccessScopeMissing(what);
  return s;
}

function emptyResponse(req: SearchRequest): SearchResponse {
  return {
    total: 0,
    page: Math.max(1, Math.floor(Number(req.page) || 1)),
    pageSize: Math.max(1, Math.floor(Number(req.pageSize) || 20)),
    hits: [],
    facets: { batch: [], type: [] },
    tooShort: [],
    unsearchable: false,
  };
}

/** The levels a search may return: the scope's, narrowed by what the request asks for. */
export function searchLevels(scopeLevels: readonly AccessLevel[], requested: readonly AccessLevel[] | undefined): AccessLevel[] {
  const allowed = ACCESS_LEVELS.filter((l) => scopeLevels.includes(l));
  return requested ? allowed.filter((l) => requested.includes(l)) : allowed;
}

/** A view of `store` whose reads obey the current access scope. */
export function scopedStore(store: SearchStore): SearchStore {
  const view: SearchStore = {
    get backend() {
      return store.backend;
    },
    init: () => store.init(),
    upsert: (items, now) => store.upsert(items, now),
    count: () => store.count(),
    close: () => store.close(),
    async get(id: string): Promise<ItemRecord | null> {
      const { levels } = scope('get');
      // Access first, from the indexed level alone: a restricted item is refused as early, and as
      // cheaply, as a missing one; the record is read only for an item the user may see.
      if (store.getAccessLevel) {
        const level = await store.getAccessLevel(id);
        if (level === null || !canSee(levels, level)) return null;
      }
      const record = await store.get(id);
      return record && canSee(levels, record.access) ? record : null;
    },
    async getImage(imageId: string): Promise<ImageEntry | null> {
      const { levels } = scope('getImage');
      const entry = await store.getImage(imageId);
      return entry && canSee(levels, entry.access) ? entry : null;
    },
    async search(req: SearchRequest = {}): Promise<SearchResponse> {
      const { levels } = scope('search');
      const requested = req.filters?.access;
      const access = searchLevels(levels, requested);
      if (access.length === 0) {
        // Nothing may be returned; the query's own findings (too-short terms) are still reported.
        const raw = typeof req.q === 'string' ? req.q : '';
        const parsed = parseQuery(raw);
        return { ...emptyResponse(req), tooShort: parsed.tooShort, unsearchable: parsed.terms.length === 0 && raw.trim() !== '' };
      }
      const everything = access.length === ACCESS_LEVELS.length && !requested;
      const res = await store.search(everything ? req : { ...req, filters: { ...req.filters, access } });
      // Defence in depth: a backend that ignored the filter must not leak a restricted record.
      if (!everything && res.hits.some((h) => !canSee(access, h.record.access))) {
        throw new Error(`the ${store.backend} store returned records outside filters.access: refused`);
      }
      return res;
    },
  };
  if (store.markUploaded) view.markUploaded = (updates) => store.markUploaded!(updates);
  if (store.getAccessLevel) {
    view.getAccessLevel = async (id: string) => {
      const { levels } = scope('getAccessLevel');
      const level = await store.getAccessLevel!(id);
      return level !== null && canSee(levels, level) ? level : null;
    };
  }
  return view;
}
