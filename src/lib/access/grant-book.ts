/**
 * The grants a process consults on every request: the store's grants (access-store.ts), cached
 * for a short lifetime (GRANTS_CACHE_SECONDS, default 10 s), plus the bootstrap rules.
 *
 *  - A grant's period (`from` / `until`) is compared with the clock at every request, so an expired
 *    grant stops at its end, in every process, with nothing to refresh.
 *  - A change made through this process (add, extend, revoke: grants-admin.ts) empties the cache:
 *    it takes effect on the next request.
 *  - A change made through another process on the same store is seen when this process's cache
 *    expires: within GRANTS_CACHE_SECONDS.
 *
 * A warm lookup is a match over the cached active grants, without I/O; a cold one reads every
 * grant once (one store query, shared by the requests that arrive meanwhile). When the store
 * cannot be read, no stored grant applies until it can (fail closed: the rules alone decide) and
 * the failure is logged.
 */
import type { AccessStore } from './access-store.ts';
import { grantStatus, resolveLevel, type Grant, type Resolved } from './grants.ts';
import type { AccessRules } from './rules.ts';

export const DEFAULT_GRANT_CACHE_MS = 10_000;

export interface GrantBookOptions {
  store: () => Promise<AccessStore | null>;
  rules: AccessRules;
  /** Cache lifetime in ms (0: read the store on every request). */
  ttlMs?: number;
  now?: () => number;
  log?: (message: string) => void;
}

export class GrantBook {
  readonly ttlMs: number;
  readonly #store: () => Promise<AccessStore | null>;
  readonly #rules: AccessRules;
  readonly #now: () => number;
  readonly #log: (message: string) => void;
  #cached: { grants: Grant[]; index: Map<string, Grant[]>; until: number } | undefined;
  #loading: Promise<Grant[]> | undefined;
  #generation = 0;
  /** Store reads so far (the benchmark and tests count them). */
  loads = 0;

  constructor(opts: GrantBookOptions) {
    this.#store = opts.store;
    this.#rules = opts.rules;
    this.ttlMs = opts.ttlMs ?? DEFAULT_GRANT_CACHE_MS;
    this.#now = opts.now ?? Date.now;
    this.#log = opts.log ?? ((m) => console.error(`[access] ${m}`));
  }

  get rules(): AccessRules {
    return this.#rules;
  }

  /** Forget the cached grants: the next request reads the store. */
  invalidate(): void {
    this.#cached = undefined;
    this.#loading = undefined;
    this.#generation++;
  }

  /** The grants that may apply now or later (revoked and expired ones are left out). */
  async current(): Promise<Grant[]> {
    const now = this.#now();
    if (this.#cached && now < this.#cached.until) return this.#cached.grants;
    this.#loading ??= this.#load();
    return this.#loading;
  }

  async #load(): Promise<Grant[]> {
    const generation = this.#generation;
    let grants: Grant[];
    try {
      this.loads++;
      const store = await this.#store();
      const all = store ? await store.listGrants() : [];
      const now = this.#now();
      grants = all.filter((g) => {
        const s = grantStatus(g, now);
        return s === 'active' || s === 'future';
      });
    } catch (e) {
      this.#log(`stored grants cannot be read, the rules alone apply until they can: ${(e as Error).message}`);
      grants = [];
    }
    if (generation === this.#generation) {
      // By pattern: a lookup checks only the grants of the identity itself and of its domain.
      const index = new Map<string, Grant[]>();
      for (const g of grants) index.set(g.pattern, [...(index.get(g.pattern) ?? []), g]);
      this.#cached = { grants, index, until: this.#now() + this.ttlMs };
      this.#loading = undefined;
    }
    return grants;
  }

  /** The level of an identity now: the rules, raised by any active grant. */
  async resolve(identity: string): Promise<Resolved> {
    const grants = await this.current();
    const index = this.#cached?.grants === grants ? this.#cached.index : undefined;
    if (!index) return resolveLevel(identity, this.#rules, grants, this.#now());
    const id = identity.trim().toLowerCase();
    const at = id.indexOf('@');
    const own = index.get(id) ?? [];
    const domain = at > 0 && at === id.lastIndexOf('@') ? (index.get(`*${id.slice(at)}`) ?? []) : [];
    return resolveLevel(id, this.#rules, own.length && domain.length ? [...own, ...domain] : own.length ? own : domain, this.#now());
  }
}
