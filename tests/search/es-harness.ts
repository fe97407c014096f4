/**
 * A scripted Elasticsearch for tests: the official client on @elastic/elasticsearch-mock's
 * connection (only the HTTP layer is replaced; the client builds and parses everything as usual).
 * Each expected request is given its answer in advance (`on`); every request is recorded with its
 * method, path, query string and parsed body (NDJSON bodies as an array of lines), so tests assert
 * the exact bodies. A request nobody expected is answered 500 and listed in `unexpected`.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import Mock from '@elastic/elasticsearch-mock';
import { EsStore, type EsStoreOptions } from '../../src/lib/search/elasticsearch.ts';
import { MAPPING_VERSION, indexMappings } from '../../src/lib/search/es-settings.ts';

/**
 * The client's error classes as the mock sees them. The mock is CommonJS and tells an error answer
 * from a body with `instanceof` on the CommonJS build's classes, which are not the ES module build's
 * (the client itself, imported as an ES module, names its errors the same and the backend checks
 * names), so answers are built from these.
 */
export const cjsErrors = createRequire(import.meta.url)('@elastic/elasticsearch').errors as typeof import('@elastic/elasticsearch').errors;

export interface Recorded {
  method: string;
  path: string;
  querystring: Record<string, string>;
  body: unknown;
}

/** An answer: a JSON body (200), an HTTP error with a body, or a client-side error (no answer). */
export type Answer = unknown | { status: number; body: unknown } | InstanceType<typeof cjsErrors.ElasticsearchClientError>;

/** A client-side failure answer: the connection was refused. */
export function refused(address = '10.0.0.9:9200'): InstanceType<typeof cjsErrors.ConnectionError> {
  return new cjsErrors.ConnectionError(`connect ECONNREFUSED ${address}`);
}

const DIR = path.join(import.meta.dirname, 'es-recorded');

/** A recorded Elasticsearch response from tests/search/es-recorded/. */
export function recorded<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8')) as T;
}

/**
 * Elasticsearch's answer to `GET <alias>/_mapping` for an index that holds this code's mapping
 * (indexMappings(), from the code, never a copy), optionally stamped with another mapping version.
 */
export function mappingOf(index = `archive-v${MAPPING_VERSION}`, version = MAPPING_VERSION): Record<string, { mappings: ReturnType<typeof indexMappings> }> {
  const mappings = indexMappings();
  return { [index]: { mappings: { ...mappings, _meta: { ...mappings._meta, mapping_version: version } } } };
}

/** An HTTP error answer (the body as Elasticsearch sends it). */
export function httpError(status: number, body: unknown): { status: number; body: unknown } {
  return { status, body };
}

export class Harness {
  readonly mock = new Mock();
  readonly client: Client;
  readonly requests: Recorded[] = [];
  readonly unexpected: Recorded[] = [];
  readonly sleeps: number[] = [];
  private readonly answers = new Map<string, Answer[]>();

  constructor() {
    this.client = new Client({ node: 'http://es.test:9200', Connection: this.mock.getConnection(), maxRetries: 0 });
    this.mock.add({ method: ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'], path: '*' }, (params) => this.answer(params as unknown as Recorded) as never);
  }

  /** Queues answers for `METHOD /path` (one per request, in order). */
  on(method: string, urlPath: string, ...answers: Answer[]): this {
    const key = `${method} ${urlPath}`;
    this.answers.set(key, [...(this.answers.get(key) ?? []), ...answers]);
    return this;
  }

  /** Answers still waiting for their request (a test expecting more requests than were made). */
  pending(): string[] {
    return [...this.answers].filter(([, a]) => a.length > 0).map(([k, a]) => `${k} (${a.length})`);
  }

  private answer(params: Recorded): unknown {
    const req: Recorded = { method: params.method, path: params.path, querystring: { ...params.querystring }, body: params.body };
    const queue = this.answers.get(`${req.method} ${req.path}`);
    if (!queue || queue.length === 0) {
      this.unexpected.push(req);
      return new cjsErrors.ResponseError({ body: { error: `unexpected ${req.method} ${req.path}` }, statusCode: 500, headers: {}, warnings: null, meta: {} as never });
    }
    this.requests.push(req);
    const a = queue.shift();
    if (a instanceof cjsErrors.ElasticsearchClientError) return a;
    if (a && typeof a === 'object' && 'status' in a && 'body' in a && typeof (a as { status: unknown }).status === 'number') {
      const { status, body } = a as { status: number; body: unknown };
      return new cjsErrors.ResponseError({ body, statusCode: status, headers: {}, warnings: null, meta: {} as never });
    }
    return a;
  }

  /** Requests to one path, in order. */
  to(method: string, urlPath: string): Recorded[] {
    return this.requests.filter((r) => r.method === method && r.path === urlPath);
  }

  /** A store on this cluster (alias `archive`), retries without real waiting. */
  store(opts: Partial<EsStoreOptions> = {}): EsStore {
    return new EsStore({
      client: this.client,
      alias: 'archive',
      where: 'http://es.test:9200',
      retry: { attempts: 3, baseMs: 100 },
      sleep: async (ms) => {
        this.sleeps.push(ms);
      },
      ...opts,
    });
  }

  /** A store whose alias already points at archive-v2 (mapping version 2). */
  ready(opts: Partial<EsStoreOptions> = {}): EsStore {
    this.on('GET', '/archive/_mapping', mappingOf());
    return this.store(opts);
  }
}
