/**
 * Faults of Elasticsearch (issue 18), against a fake cluster on loopback that answers like
 * Elasticsearch for the few requests involved (mapping, count, image lookup) until told to hang,
 * answer 500 or answer garbage. For each fault: the store says "unavailable" (StoreUnavailableError,
 * which every surface turns into 503 + Retry-After) within its deadline, an image request is 503
 * with Retry-After (not a 500 with a stack), a tile already cached is still 200, and once the fault
 * is removed the same store object answers again (nothing failed is kept).
 */
import http from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EsStore, createEsClient } from '../../src/lib/search/elasticsearch.ts';
import { StoreUnavailableError } from '../../src/lib/search/store.ts';
import { DiskCache } from '../../src/lib/images/cache.ts';
import { ImageServer } from '../../src/lib/images/server.ts';
import { waitUntil } from './helpers/tcp-proxy.ts';
import { MAPPING_VERSION } from '../../src/lib/search/es-settings.ts';

type Mode = 'ok' | 'hang' | '500' | 'garbage';
const TIMEOUT_MS = 1_000;
let mode: Mode = 'ok';
let fake: http.Server;
let url: string;
let store: EsStore;
let images: ImageServer;
let tmp: string;
const logged: string[] = [];
const table: string[] = [];

const RECORD = {
  id: 'it1',
  batch: 'R01',
  title: { ja: '東京' },
  images: [
    { id: 'img1', file: 'img1.jpg' },
    { id: 'hang', file: 'img2.jpg' },
    { id: '500', file: 'img2.jpg' },
    { id: 'garbage', file: 'img2.jpg' },
  ],
};

function answer(req: http.IncomingMessage, res: http.ServerResponse, body: string) {
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
    res.end(JSON.stringify(value));
  };
  if (mode === 'hang') return; // never answers
  if (mode === '500') return json(500, { error: { type: 'internal_server_error', reason: 'injected' }, status: 500 });
  if (mode === 'garbage') {
    res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
    res.end('<html>502 Bad Gateway</html>{"trunc');
    return;
  }
  const p = new URL(req.url ?? '/', 'http://x').pathname;
  if (p.endsWith('/_mapping')) return json(200, { [`archive-v${MAPPING_VERSION}`]: { mappings: { _meta: { mapping_version: MAPPING_VERSION } } } });
  if (p.endsWith('/_count')) return json(200, { count: 1 });
  if (p.endsWith('/_search')) {
    const wanted = /"image_ids":"([^"]+)"/.exec(body)?.[1];
    const hits = wanted && RECORD.images.some((i) => i.id === wanted) ? [{ _id: 'it1', _source: { record: RECORD, access: 'open' } }] : [];
    return json(200, { took: 1, hits: { total: { value: hits.length, relation: 'eq' }, hits } });
  }
  json(404, { error: { type: 'not_found', reason: p }, status: 404 });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fault-es-'));
  await mkdir(path.join(tmp, 'images'));
  for (const id of ['img1', 'img2']) {
    await writeFile(path.join(tmp, 'images', `${id}.jpg`), await sharp({ create: { width: 600, height: 400, channels: 3, background: '#884422' } }).jpeg().toBuffer());
  }
  fake = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => answer(req, res, body));
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  store = new EsStore({ client: createEsClient({ esUrl: url, esTimeoutMs: TIMEOUT_MS } as never), alias: 'archive', where: url, timeoutMs: TIMEOUT_MS });
  images = new ImageServer({
    root: path.join(tmp, 'images'),
    lookup: (id) => store.getImage(id),
    cache: new DiskCache({ dir: path.join(tmp, 'cache'), maxBytes: 64 * 2 ** 20 }),
    maxWidth: 5000,
    maxHeight: 5000,
    maxArea: 25_000_000,
    publicBaseUrl: 'http://h',
    sourceTtlMs: 1,
    log: (m, err) => logged.push(`${m} ${err instanceof Error ? (err.stack ?? err.message) : ''}`),
  });
});

afterAll(async () => {
  if (table.length) console.log(`\nElasticsearch fault table\n${table.join('\n')}\n`);
  await store?.close().catch(() => {});
  fake?.closeAllConnections();
  await new Promise<void>((r) => fake?.close(() => r()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('Elasticsearch faults', () => {
  for (const fault of ['hang', '500', 'garbage'] as const) {
    test(`Elasticsearch ${fault}: unavailable within the deadline, IIIF 503 (cached tile 200), recovery`, async () => {
      mode = 'ok';
      expect(await store.count()).toBe(1);
      const cachedTile = '3/img1/0,0,256,256/256,/0/default.jpg';
      expect((await images.handle(cachedTile)).status).toBe(200);
      const before = logged.length;
      mode = fault;
      const t0 = performance.now();
      const err = await store.count().then(
        () => null,
        (e: unknown) => e,
      );
      const took = performance.now() - t0;
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(took).toBeLessThan(TIMEOUT_MS + 2_000);
      // The IIIF image server: an image it never resolved is 503 + Retry-After, no 500, no stack.
      const cold = await images.handle(`3/${fault}/info.json`);
      expect(cold.status, String(cold.body)).toBe(503);
      expect(Number(cold.headers['Retry-After'])).toBeGreaterThan(0);
      // A tile already rendered from a known source: still served.
      const hot = await images.handle(cachedTile);
      expect(hot.status, String(hot.body)).toBe(200);
      expect(logged.slice(before).join('\n')).not.toMatch(/\n\s+at /);
      mode = 'ok';
      const recovered = await waitUntil(async () => (await store.count()) === 1 && (await images.handle(`3/${fault}/info.json`)).status === 200, 30_000, 'recovery');
      table.push(
        `Elasticsearch ${fault.padEnd(8)} | store unavailable in ${Math.round(took)} ms | IIIF uncached 503 + Retry-After, cached tile 200 | recovered ${Math.round(recovered)} ms after the fault was removed`,
      );
    }, 60_000);
  }
});
