/**
 * The real server (scripts/start.ts) started on top of a broken store (issue 18): it does not
 * crash or loop, /healthz answers at once, pages and the IIIF fast path answer 503 with
 * Retry-After (no stack trace in the log), /readyz names the store; and once the store is usable
 * again everything answers without a restart. Runs in the e2e project (the site is built once by
 * its global setup).
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, test } from 'vitest';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { waitUntil } from './helpers/tcp-proxy.ts';

const servers: RunningServer[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function get(base: string, p: string) {
  const t0 = performance.now();
  const res = await fetch(base + p, { redirect: 'manual', signal: AbortSignal.timeout(40_000) });
  const body = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body, ms: performance.now() - t0 };
}

describe('start-up on a broken store', () => {
  test('SQLite locked by another process at start: serves 503 meanwhile, recovers by itself', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fault-start-'));
    dirs.push(dataDir);
    const file = path.join(dataDir, 'archive.sqlite');
    const s = new SqliteStore(file);
    await s.init();
    await s.upsert([{ id: 'it1', batch: 'R01', title: { ja: '東京', en: 'Tokyo' }, images: [{ id: 'it1_p001', file: 'it1.jpg' }] }]);
    await s.close();
    // Another process's exclusive lock: nobody else may read or write.
    const lock = new DatabaseSync(file);
    lock.exec('PRAGMA locking_mode = EXCLUSIVE');
    lock.exec("BEGIN EXCLUSIVE; UPDATE meta SET value = value WHERE key = 'schema'");
    let locked = true;
    const release = () => {
      if (!locked) return;
      locked = false;
      lock.exec('COMMIT');
      lock.close();
    };
    try {
      const server = await startServer({ DEMO: 'false' }, { dataDir, timeoutMs: 400_000 });
      servers.push(server);
      expect(server.output()).toMatch(/locked by another process \(waited \d+ ms\); serving anyway/);
      const health = await get(server.baseUrl, '/healthz');
      expect(health.status).toBe(200);
      expect(health.ms).toBeLessThan(2_000);
      const page = await get(server.baseUrl, '/');
      expect(page.status).toBe(503);
      // Within the store's open deadline (2 s of asynchronous retries), not a freeze.
      expect(page.ms).toBeLessThan(8_000);
      expect(Number(page.retryAfter)).toBeGreaterThan(0);
      const info = await get(server.baseUrl, '/iiif/3/it1_p001/info.json');
      expect(info.status).toBe(503);
      expect(Number(info.retryAfter)).toBeGreaterThan(0);
      const ready = await get(server.baseUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(server.output()).not.toMatch(/\n\s+at /);
      release();
      const took = await waitUntil(async () => (await get(server.baseUrl, '/')).status === 200, 30_000, 'pages after the lock is gone');
      console.log(`SQLite locked at start | page 503 in ${Math.round(page.ms)} ms, IIIF 503 in ${Math.round(info.ms)} ms | recovered ${Math.round(took)} ms after the lock was released`);
      expect(server.child.exitCode).toBeNull();
    } finally {
      release();
    }
  }, 500_000);

  test('Elasticsearch answering 500 or garbage at start: no crash, pages and IIIF 503', async () => {
    let mode: '500' | 'garbage' = '500';
    const fake = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(mode === '500' ? 500 : 200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
        res.end(mode === '500' ? '{"error":{"type":"internal_server_error"},"status":500}' : '<html>oops</html>{"trunc');
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const esUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
      const server = await startServer({ DEMO: 'false', STORE_BACKEND: 'elasticsearch', ES_URL: esUrl, ES_INDEX: 'archive' }, { timeoutMs: 400_000 });
      servers.push(server);
      for (const m of ['500', 'garbage'] as const) {
        mode = m;
        const page = await get(server.baseUrl, '/');
        expect(page.status, `${m}: page`).toBe(503);
        const info = await get(server.baseUrl, '/iiif/3/x_p001/info.json');
        expect(info.status, `${m}: iiif`).toBe(503);
        expect(Number(info.retryAfter)).toBeGreaterThan(0);
      }
      expect(server.output()).not.toMatch(/\n\s+at /);
      expect(server.child.exitCode).toBeNull();
    } finally {
      fake.closeAllConnections();
      await new Promise<void>((r) => fake.close(() => r()));
    }
  }, 500_000);

  test('two server processes on one DATA_DIR while records are written: every answer 200, no "database is locked"', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fault-two-'));
    dirs.push(dataDir);
    const file = path.join(dataDir, 'archive.sqlite');
    const seed = new SqliteStore(file);
    await seed.init();
    const items = (round: number) =>
      Array.from({ length: 50 }, (_, i) => ({ id: `it${i}`, batch: 'R01', title: { ja: `東京 ${i} 第${round}版`, en: `Tokyo ${i} edition ${round}` }, images: [{ id: `it${i}_p001`, file: `it${i}.jpg` }] }));
    await seed.upsert(items(0));
    await seed.close();
    const a = await startServer({ DEMO: 'false' }, { dataDir, timeoutMs: 400_000 });
    servers.push(a);
    const b = await startServer({ DEMO: 'false' }, { dataDir, timeoutMs: 400_000 });
    servers.push(b);
    // A third writer (as `archive index` would be) rewrites the records while both serve.
    const writer = new SqliteStore(file);
    let writing = true;
    let rounds = 0;
    const writes = (async () => {
      while (writing) {
        await writer.upsert(items(++rounds));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const answers = await Promise.all(
          [a, b].flatMap((s) => [get(s.baseUrl, `/?q=Tokyo&page=${(i % 3) + 1}`), get(s.baseUrl, `/api/search.json?q=${encodeURIComponent('東京')}`), get(s.baseUrl, `/items/it${i % 50}`)]),
        );
        statuses.push(...answers.map((r) => r.status));
      }
    } finally {
      writing = false;
      await writes;
      await writer.close();
    }
    expect(rounds).toBeGreaterThan(0);
    expect(statuses.filter((st) => st !== 200 && st !== 404)).toEqual([]);
    for (const s of [a, b]) expect(s.output()).not.toMatch(/database is locked/);
    console.log(`two processes on one DATA_DIR: ${statuses.length} requests, ${rounds} write rounds meanwhile, answers ${[...new Set(statuses)].join('/')}`);
  }, 2 * 400_000 + 120_000); // two server starts (400 s bound each), then the writes, on a loaded machine
});
