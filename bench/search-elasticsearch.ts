/**
 * Benchmark of the Elasticsearch backend on a real cluster, with the embedded benchmark's corpus
 * and query mix (bench/search-embedded.ts), so the two tables compare directly.
 *
 *   ES_URL=http://elastic:<password>@localhost:9200 node bench/search-elasticsearch.ts
 *   BENCH_RECORDS=20000 BENCH_QUERIES=300 ES_URL=… node bench/search-elasticsearch.ts
 *   BENCH_KEEP=1 …   # keep the index (bench-<random>-v1) afterwards
 *
 * Without ES_URL it says so and exits. Loads into a fresh alias bench-<random> with refresh off
 * (then one refresh), reporting records/s of the scripted bulk upsert, then runs the query mix and
 * prints p50/p95/p99 per query class. Times include the HTTP round trip from this process.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/lib/config.ts';
import { EsStore, createEsClient, describeNode } from '../src/lib/search/elasticsearch.ts';
import { versionedIndexName } from '../src/lib/search/es-settings.ts';
import { StoreUnavailableError } from '../src/lib/search/store.ts';
import { makeItem, queryMix } from './search-embedded.ts';

const N = Number(process.env.BENCH_RECORDS ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 600);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 120);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (x: number) => x.toFixed(2).padStart(8);

async function main() {
  if (!process.env.ES_URL?.trim()) {
    console.log('search-elasticsearch: skipped — ES_URL is not set (no cluster to measure). See the header of this file.');
    return;
  }
  const cfg = loadConfig({ ...process.env, STORE_BACKEND: 'elasticsearch', ES_TIMEOUT_MS: process.env.ES_TIMEOUT_MS || '60000' }).store;
  const alias = `bench-${Math.random().toString(36).slice(2, 8)}`;
  const client = createEsClient(cfg);
  const loader = new EsStore({ client, alias, refresh: false, ownsClient: false, where: describeNode(cfg.esUrl!) });
  const store = new EsStore({ client, alias, ownsClient: false, where: describeNode(cfg.esUrl!) });
  try {
    const items = Array.from({ length: N }, (_, i) => makeItem(i));
    const now = new Date('2024-06-11T00:00:00Z');
    let t0 = performance.now();
    for (let i = 0; i < items.length; i += 5000) await loader.upsert(items.slice(i, i + 5000), now);
    await loader.refreshIndex();
    const loadMs = performance.now() - t0;
    t0 = performance.now();
    const again = await loader.upsert(items.slice(0, 5000), now);
    const reMs = performance.now() - t0;

    const cases = queryMix(items, QUERIES);
    for (const c of cases.slice(0, 40)) await store.search(c.req); // warm-up
    const times = new Map<string, number[]>();
    const totals = new Map<string, number[]>();
    const deadline = performance.now() + SECONDS * 1000;
    let ran = 0;
    for (const c of cases) {
      if (performance.now() > deadline) break;
      const s = performance.now();
      const res = await store.search(c.req);
      const d = performance.now() - s;
      ran++;
      for (const k of [c.cls, 'ALL']) {
        (times.get(k) ?? times.set(k, []).get(k)!).push(d);
        (totals.get(k) ?? totals.set(k, []).get(k)!).push(res.total);
      }
    }
    console.log(`cluster: ${describeNode(cfg.esUrl!)}, index ${versionedIndexName(alias)}`);
    console.log(`records: ${N}; scripted bulk upsert (refresh off, then one refresh): ${(loadMs / 1000).toFixed(1)} s = ${Math.round(N / (loadMs / 1000))} records/s`);
    console.log(`re-upsert of 5000 existing: ${Math.round(5000 / (reMs / 1000))} records/s (${JSON.stringify(again)})`);
    console.log(`queries run: ${ran} (of ${cases.length}); client load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
    console.log('class               n   p50 ms   p95 ms   p99 ms   max ms   median hits');
    for (const k of ['common 2-char', 'rarer 3-6 char', 'two terms', 'id / latin', 'common + filters', 'common, sort=id', 'browse (no q)', 'ALL']) {
      const t = times.get(k);
      if (!t) continue;
      t.sort((a, b) => a - b);
      const h = totals.get(k)!.sort((a, b) => a - b);
      console.log(`${k.padEnd(17)} ${String(t.length).padStart(4)} ${ms(pct(t, 50))} ${ms(pct(t, 95))} ${ms(pct(t, 99))} ${ms(t.at(-1)!)}   ${String(pct(h, 50)).padStart(8)}`);
    }
  } finally {
    if (!process.env.BENCH_KEEP) await client.indices.delete({ index: versionedIndexName(alias) }, { ignore: [404] }).catch(() => {});
    await client.close();
  }
}

if (import.meta.main) {
  await main().catch((e: unknown) => {
    if (!(e instanceof StoreUnavailableError)) throw e;
    console.error(`search-elasticsearch: ${e.message}`);
    process.exitCode = 1;
  });
}
