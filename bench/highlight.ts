/**
 * Benchmark of highlights on the embedded store: what marking a page of hits (highlight.ts, on
 * every search with a query) costs next to the search that found them, measured in the same run.
 *
 *   npm run bench:highlight
 *   BENCH_RECORDS=20000 BENCH_ROUNDS=30 node bench/highlight.ts
 *
 * A seeded corpus (titles in both languages, descriptions of 50–2,000 characters, some full-width
 * and half-width text) in an in-memory store; per query: the search as the page runs it (which
 * includes highlighting), and withHighlights() alone on the same page of hits. Prints median and
 * p95 per query in ms and the share of the search spent on highlights.
 */
import { performance } from 'node:perf_hooks';
import { withHighlights } from '../src/lib/search/highlight.ts';
import { SqliteStore } from '../src/lib/search/sqlite.ts';
import { parseQuery } from '../src/lib/search/text.ts';
import type { ItemInput } from '../src/lib/search/store.ts';
import { prng } from './prng.ts';

const N = Number(process.env.BENCH_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const rnd = prng(20261201);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

const WORDS = '東京 大阪 京都 横浜 神戸 港 駅前 通り 写真 風景 記念 学校 神社 ホテル ﾎﾃﾙ ガス灯 ｶﾞｽ灯 百貨店 市電 桟橋 汽船 祭礼 行列 の を に で と や'.split(' ');
const LATIN = 'Tokyo Osaka harbour ＨＡＲＢＯＵＲ station street temple photo view Port of Yokohama'.split(' ');
const sentence = (min: number, max: number) => {
  let s = '';
  const len = min + int(max - min);
  while (s.length < len) s += pick(WORDS) + (rnd() < 0.1 ? '、' : '');
  return s + '。';
};

const records: ItemInput[] = Array.from({ length: N }, (_, i) => {
  const id = `R${String(1 + (i % 9)).padStart(2, '0')}-${String(i).padStart(6, '0')}`;
  return {
    id,
    batch: id.slice(0, 3),
    title: { ja: sentence(6, 20), en: Array.from({ length: 2 + int(4) }, () => pick(LATIN)).join(' ') },
    description: { ja: sentence(50, rnd() < 0.1 ? 2000 : 200) },
    place: { ja: pick(WORDS) },
    subjects: [pick(WORDS), pick(WORDS)],
    notes: rnd() < 0.3 ? sentence(10, 40) : undefined,
    images: [{ id: `${id}_01`, file: `${id}/01.jpg` }],
  };
});

const store = new SqliteStore(':memory:');
await store.init();
const t0 = performance.now();
for (let i = 0; i < records.length; i += 2000) await store.upsert(records.slice(i, i + 2000));
console.log(`${N} records loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const QUERIES = ['東京', 'ほてる', 'harbour', '港', '東京 港', 'ガス灯', 'port of yokohama'];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const rows: string[][] = [];
for (const q of QUERIES) {
  const terms = parseQuery(q).terms;
  const search: number[] = [];
  const marks: number[] = [];
  let total = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = performance.now();
    const res = await store.search({ q, pageSize: 20 });
    const b = performance.now();
    for (const h of res.hits) delete h.highlight;
    withHighlights(res, terms);
    const c = performance.now();
    search.push(b - a);
    marks.push(c - b);
    total = res.total;
  }
  const s50 = pct(search, 0.5);
  const m50 = pct(marks, 0.5);
  rows.push([q, String(total), s50.toFixed(2), pct(search, 0.95).toFixed(2), m50.toFixed(2), pct(marks, 0.95).toFixed(2), `${((100 * m50) / s50).toFixed(1)} %`]);
}
await store.close();

const head = ['query', 'hits', 'search p50 ms', 'search p95 ms', 'highlights p50 ms', 'highlights p95 ms', 'highlights / search'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(line(head));
for (const r of rows) console.log(line(r));
console.log('(search: the store call as the page makes it, highlights included; highlights: withHighlights() alone on the same 20 hits)');
