/**
 * The AccessStore (access-store.ts) on Elasticsearch: three small indices beside the records'
 * alias `<ES_INDEX>`, so every web process on the cluster shares grants, the audit trail and
 * sign-outs. Request bodies are written with the client's own types (estypes), which are generated
 * from the Elasticsearch specification.
 *
 *   <ES_INDEX>-grants        one document per grant (id = grant id); written with refresh
 *                            wait_for, so the next list (another process's cache refill) sees it
 *   <ES_INDEX>-audit         append-only; `create` (never overwrite): an access event's id is per
 *                            user, item and day, so a second access the same day is a 409, ignored
 *   <ES_INDEX>-revocations   identity -> the latest sign-out (epoch ms); read with a realtime GET
 *
 * Indices are created on first use with explicit mappings (`dynamic: false`: nothing else gets
 * indexed). The receiving client is constructed by src/lib/search/elasticsearch.ts.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { auditLimit, type AccessStore, type AuditEvent, type AuditQuery } from './access-store.ts';
import type { Grant } from './grants.ts';

const keyword: estypes.MappingProperty = { type: 'keyword' };
const date: estypes.MappingProperty = { type: 'date' };

export const GRANT_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: { id: keyword, pattern: keyword, level: keyword, from: date, until: date, granted_at: date, granted_by: keyword, revoked_at: date },
};

export const AUDIT_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    id: keyword,
    at: date,
    type: keyword,
    actor: keyword,
    grant_id: keyword,
    item_id: keyword,
    kind: keyword,
    level: keyword,
    before: { type: 'object', enabled: false },
    after: { type: 'object', enabled: false },
  },
};

export const REVOCATION_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: { identity: keyword, at_ms: { type: 'long' } },
};

interface Revocation {
  identity: string;
  at_ms: number;
}

export interface EsAccessStoreOptions {
  client: Client;
  /** Index name prefix: the records' alias (ES_INDEX). */
  prefix: string;
  /** Maps availability errors (the search store's classification), or null to rethrow as is. */
  unavailable?: (e: unknown) => Error | null;
}

function status(e: unknown): number | undefined {
  return e instanceof Error && e.name === 'ResponseError' ? (e as { statusCode?: number }).statusCode : undefined;
}

function errorType(e: unknown): string | undefined {
  return e instanceof Error && e.name === 'ResponseError' ? (e as { body?: { error?: { type?: string } } }).body?.error?.type : undefined;
}

export class EsAccessStore implements AccessStore {
  readonly backend = 'elasticsearch';
  readonly grantsIndex: string;
  readonly auditIndex: string;
  readonly revocationsIndex: string;
  readonly #client: Client;
  readonly #unavailable: (e: unknown) => Error | null;
  #ready: Promise<void> | null = null;

  constructor(opts: EsAccessStoreOptions) {
    this.#client = opts.client;
    this.grantsIndex = `${opts.prefix}-grants`;
    this.auditIndex = `${opts.prefix}-audit`;
    this.revocationsIndex = `${opts.prefix}-revocations`;
    this.#unavailable = opts.unavailable ?? (() => null);
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    await this.init();
    try {
      return await fn();
    } catch (e) {
      throw this.#unavailable(e) ?? e;
    }
  }

  init(): Promise<void> {
    this.#ready ??= this.#prepare().catch((e: unknown) => {
      this.#ready = null;
      throw this.#unavailable(e) ?? e;
    });
    return this.#ready;
  }

  async #prepare(): Promise<void> {
    const wanted: Array<[string, estypes.MappingTypeMapping]> = [
      [this.grantsIndex, GRANT_MAPPINGS],
      [this.auditIndex, AUDIT_MAPPINGS],
      [this.revocationsIndex, REVOCATION_MAPPINGS],
    ];
    for (const [index, mappings] of wanted) {
      if (await this.#client.indices.exists({ index })) continue;
      const request: estypes.IndicesCreateRequest = { index, mappings, settings: { number_of_shards: 1 } };
      try {
        await this.#client.indices.create(request);
      } catch (e) {
        // Another process created it between our check and our create.
        if (errorType(e) !== 'resource_already_exists_exception') throw e;
      }
    }
  }

  async listGrants(): Promise<Grant[]> {
    const request: estypes.SearchRequest = {
      index: this.grantsIndex,
      size: 10_000,
      query: { match_all: {} },
      sort: [{ granted_at: { order: 'desc' } }, { id: { order: 'asc' } }],
    };
    const res = await this.#call(() => this.#client.search<Grant>(request));
    return res.hits.hits.map((h) => h._source).filter((g): g is Grant => !!g);
  }

  async getGrant(id: string): Promise<Grant | null> {
    const request: estypes.GetRequest = { index: this.grantsIndex, id };
    try {
      const res = await this.#call(() => this.#client.get<Grant>(request));
      return res.found && res._source ? res._source : null;
    } catch (e) {
      if (status(e) === 404) return null;
      throw e;
    }
  }

  async saveGrant(grant: Grant, event: AuditEvent): Promise<void> {
    const put: estypes.IndexRequest<Grant> = { index: this.grantsIndex, id: grant.id, document: grant, refresh: 'wait_for' };
    await this.#call(() => this.#client.index(put));
    await this.appendAudit([event]);
  }

  async appendAudit(events: AuditEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const operations: Array<estypes.BulkOperationContainer | AuditEvent> = [];
    for (const e of events) operations.push({ create: { _index: this.auditIndex, _id: e.id } }, e);
    const request: estypes.BulkRequest<AuditEvent> = { operations, refresh: 'wait_for' };
    const res = await this.#call(() => this.#client.bulk(request));
    let created = 0;
    const failed: string[] = [];
    for (const item of res.items) {
      const r = item.create;
      if (!r) continue;
      if (r.status === 201 || r.status === 200) created++;
      else if (r.status !== 409) failed.push(`${r._id ?? '?'} (${r.status} ${r.error?.type ?? ''})`);
    }
    if (failed.length > 0) throw new Error(`audit: ${failed.length} of ${events.length} events were not written: ${failed.slice(0, 5).join('; ')}`);
    return created;
  }

  async listAudit(q: AuditQuery = {}): Promise<AuditEvent[]> {
    const filter: estypes.QueryDslQueryContainer[] = [];
    if (q.item !== undefined) filter.push({ term: { item_id: q.item } });
    if (q.grant !== undefined) filter.push({ term: { grant_id: q.grant } });
    if (q.actor !== undefined) filter.push({ term: { actor: q.actor } });
    if (q.type !== undefined) filter.push({ term: { type: q.type } });
    if (q.since !== undefined) filter.push({ range: { at: { gte: q.since } } });
    const request: estypes.SearchRequest = {
      index: this.auditIndex,
      size: auditLimit(q),
      query: { bool: { filter } },
      sort: [{ at: { order: 'desc' } }, { id: { order: 'asc' } }],
    };
    const res = await this.#call(() => this.#client.search<AuditEvent>(request));
    return res.hits.hits.map((h) => h._source).filter((e): e is AuditEvent => !!e);
  }

  async pruneAudit(before: string): Promise<number> {
    const request: estypes.DeleteByQueryRequest = { index: this.auditIndex, query: { range: { at: { lt: before } } }, refresh: true, conflicts: 'proceed' };
    const res = await this.#call(() => this.#client.deleteByQuery(request));
    return res.deleted ?? 0;
  }

  async revokeTokens(identity: string, atMs: number): Promise<void> {
    const previous = await this.tokensRevokedAt(identity);
    if (previous !== undefined && previous >= atMs) return;
    const request: estypes.IndexRequest<Revocation> = { index: this.revocationsIndex, id: identity, document: { identity, at_ms: Math.floor(atMs) } };
    await this.#call(() => this.#client.index(request));
  }

  async tokensRevokedAt(identity: string): Promise<number | undefined> {
    const request: estypes.GetRequest = { index: this.revocationsIndex, id: identity, realtime: true };
    try {
      const res = await this.#call(() => this.#client.get<Revocation>(request));
      return res.found && res._source ? res._source.at_ms : undefined;
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw e;
    }
  }

  async pruneRevocations(beforeMs: number): Promise<void> {
    const request: estypes.DeleteByQueryRequest = { index: this.revocationsIndex, query: { range: { at_ms: { lt: Math.floor(beforeMs) } } }, conflicts: 'proceed' };
    await this.#call(() => this.#client.deleteByQuery(request));
  }
}
