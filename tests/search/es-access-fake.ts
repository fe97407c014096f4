/**
 * A small stateful Elasticsearch for the access indices (grants, audit, revocations), behind the
 * official client on @elastic/elasticsearch-mock's connection: the client builds and sends the
 * real requests (the adapter's typed bodies), and this fake keeps documents and answers the few
 * request shapes the adapter uses — index create/exists, _doc get/index, _bulk create (409 on an
 * existing id), _search (match_all; bool.filter of term and range; sort on one field, then id) and
 * _delete_by_query (range) — as Elasticsearch documents them. Every request is recorded. Anything
 * else is answered 500 and listed in `unexpected`.
 */
import { Client } from '@elastic/elasticsearch';
import Mock from '@elastic/elasticsearch-mock';
import { cjsErrors, type Recorded } from './es-harness.ts';

type Doc = Record<string, unknown>;

function error(status: number, type: string, reason: string) {
  return new cjsErrors.ResponseError({ body: { error: { type, reason }, status }, statusCode: status, headers: {}, warnings: null, meta: {} as never });
}

function matches(doc: Doc, query: any): boolean {
  if (!query || query.match_all) return true;
  if (query.bool) return (query.bool.filter ?? []).every((q: any) => matches(doc, q));
  if (query.term) {
    const [field, value] = Object.entries(query.term)[0]!;
    return doc[field] === (typeof value === 'object' && value !== null ? (value as { value: unknown }).value : value);
  }
  if (query.range) {
    const [field, r] = Object.entries(query.range)[0] as [string, Record<string, string | number>];
    const v = doc[field];
    if (v === undefined) return false;
    const num = (x: unknown) => (typeof x === 'number' ? x : Date.parse(String(x)));
    if (r.gte !== undefined && !(num(v) >= num(r.gte))) return false;
    if (r.lt !== undefined && !(num(v) < num(r.lt))) return false;
    return true;
  }
  throw new Error(`fake: query not understood: ${JSON.stringify(query)}`);
}

export class FakeAccessCluster {
  readonly mock = new Mock();
  readonly client: Client;
  readonly indices = new Map<string, Map<string, Doc>>();
  readonly requests: Recorded[] = [];
  readonly unexpected: Recorded[] = [];
  /** While set, every request fails with a refused connection. */
  down = false;

  constructor() {
    this.client = new Client({ node: 'http://es.test:9200', Connection: this.mock.getConnection(), maxRetries: 0 });
    this.mock.add({ method: ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'], path: '*' }, (params) => this.#answer(params as unknown as Recorded) as never);
  }

  #answer(p: Recorded): unknown {
    const req: Recorded = { method: p.method, path: p.path, querystring: { ...p.querystring }, body: p.body };
    this.requests.push(req);
    if (this.down) return new cjsErrors.ConnectionError('connect ECONNREFUSED 10.0.0.9:9200');
    const parts = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    const body = req.body as any;
    if (parts.length === 1 && parts[0] === '_bulk') return this.#bulk(Array.isArray(body) ? body : String(body).trim().split('\n').map((l) => JSON.parse(l)));
    const [index, op, id] = parts as [string, string | undefined, string | undefined];
    const docs = this.indices.get(index);
    if (op === undefined) {
      if (req.method === 'HEAD') return docs ? '' : error(404, 'index_not_found_exception', `no such index [${index}]`);
      if (req.method === 'PUT') {
        if (docs) return error(400, 'resource_already_exists_exception', `index [${index}] already exists`);
        this.indices.set(index, new Map());
        return { acknowledged: true, shards_acknowledged: true, index };
      }
    }
    if (!docs) return error(404, 'index_not_found_exception', `no such index [${index}]`);
    if (op === '_doc' && id !== undefined) {
      if (req.method === 'GET') {
        const d = docs.get(id);
        return d ? { _index: index, _id: id, _version: 1, _seq_no: 0, _primary_term: 1, found: true, _source: d } : error(404, 'not_found', 'document missing');
      }
      if (req.method === 'PUT' || req.method === 'POST') {
        const created = !docs.has(id);
        docs.set(id, structuredClone(body));
        return { _index: index, _id: id, _version: 1, result: created ? 'created' : 'updated', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: 0, _primary_term: 1 };
      }
    }
    if (op === '_search') {
      let hits = [...docs].filter(([, d]) => matches(d, body?.query));
      const sort = (body?.sort ?? []) as Array<Record<string, { order: 'asc' | 'desc' }>>;
      hits.sort(([ia, a], [ib, b]) => {
        for (const s of sort) {
          const [field, { order }] = Object.entries(s)[0]!;
          const va = String(a[field] ?? (field === 'id' ? ia : ''));
          const vb = String(b[field] ?? (field === 'id' ? ib : ''));
          if (va !== vb) return (va < vb ? -1 : 1) * (order === 'desc' ? -1 : 1);
        }
        return 0;
      });
      hits = hits.slice(0, body?.size ?? 10);
      return {
        took: 1,
        timed_out: false,
        _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
        hits: { total: { value: hits.length, relation: 'eq' }, max_score: null, hits: hits.map(([i, d]) => ({ _index: index, _id: i, _score: null, _source: d })) },
      };
    }
    if (op === '_delete_by_query') {
      let deleted = 0;
      for (const [i, d] of [...docs]) if (matches(d, body?.query)) (docs.delete(i), deleted++);
      return { took: 1, timed_out: false, total: deleted, deleted, batches: 1, version_conflicts: 0, noops: 0, failures: [] };
    }
    this.unexpected.push(req);
    return error(500, 'fake', `unexpected ${req.method} ${req.path}`);
  }

  #bulk(lines: any[]): unknown {
    const items: unknown[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = lines[i]!;
      const create = action.create as { _index: string; _id: string };
      if (!create) throw new Error(`fake: bulk action not understood: ${JSON.stringify(action)}`);
      const docs = this.indices.get(create._index);
      if (!docs) {
        items.push({ create: { _index: create._index, _id: create._id, status: 404, error: { type: 'index_not_found_exception', reason: 'no such index' } } });
      } else if (docs.has(create._id)) {
        items.push({ create: { _index: create._index, _id: create._id, status: 409, error: { type: 'version_conflict_engine_exception', reason: 'document already exists' } } });
      } else {
        docs.set(create._id, structuredClone(lines[i + 1]));
        items.push({ create: { _index: create._index, _id: create._id, _version: 1, result: 'created', status: 201, _seq_no: 0, _primary_term: 1, _shards: { total: 1, successful: 1, failed: 0 } } });
      }
    }
    return { took: 1, errors: items.some((it: any) => it.create.status >= 300), items };
  }
}
