/**
 * Benchmark of the embedded search backend (SqliteStore).
 *
 *   node bench/search-embedded.ts            # 100k records, 600 queries
 *   BENCH_RECORDS=20000 BENCH_QUERIES=300 node bench/search-embedded.ts
 *   BENCH_DB=/tmp/x.db node bench/search-embedded.ts   # keep the database file
 *   BENCH_OPTIMIZE=0 node bench/search-embedded.ts     # query the index as the bulk load left it
 *
 * Generates Japanese-looking records with a seeded PRNG (same corpus on every run), bulk-upserts
 * them into a file-backed store in a temporary directory (reporting records/s), then runs a mix of
 * queries and prints p50/p95/p99 per query class, wall-clock and CPU time of the process (the CPU
 * columns stay meaningful on a busy machine). Every search computes the facet counts, as the
 * search page asks for them. Bounded: the query phase stops after BENCH_SECONDS (default 120).
 *
 * "common 2-char" words occur in 10-30% of the records (東京 in about 19%, 写真 in 32%).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteStore } from '../src/lib/search/sqlite.ts';
import type { ItemInput, SearchRequest } from '../src/lib/search/store.ts';
import { prng } from './prng.ts';

const N = Number(process.env.BENCH_RECORDS ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 600);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 120);

// ---------------------------------------------------------------------------------------------
// Seeded corpus

const mulberry32 = prng;
const rnd = mulberry32(20240611);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

const PLACES = '東京 大阪 京都 横浜 名古屋 神戸 札幌 福岡 仙台 広島 長崎 奈良 鎌倉 日光 函館 金沢 新潟 熊本 鹿児島 那覇 松山 高松 岡山 静岡 浜松 甲府 長野 松本 青森 盛岡 秋田 山形 福島 水戸 宇都宮 前橋 浦和 千葉 横須賀 小田原 熱海 伊東 下田 沼津 富士 岐阜 大津 和歌山 姫路 尾道 下関 佐世保 別府 宮崎'.split(' ');
const NOUNS = '写真 風景 記念 学校 工場 駅前 通り 商店街 祭礼 神社 寺院 港 橋 建物 鉄道 市電 行列 集合写真 家族 子供 卒業式 運動会 農村 漁村 市場 百貨店 劇場 映画館 公園 海岸 山林 田園 城跡 博覧会 展覧会 式典 開通式 竣工式 入学式 役場 郵便局 銀行 病院 旅館 料亭 茶屋 温泉 遊園地 動物園 植物園 灯台 桟橋 汽船 機関車 自動車 人力車 路面電車 消防 警察 軍隊 兵舎 練兵場 飛行場 飛行機 気球 花見 桜 紅葉 雪景色 洪水 震災 火災 復興 街並み 看板 広告 店先 露店 屋台 職人 農夫 漁師 芸者 力士 相撲 野球 庭園 座敷 台所 井戸 水車 石垣 鳥居 山門 本堂 五重塔 大仏 仏像 灯籠 提灯 行灯 着物 洋服 制服 帽子 日傘 人形 玩具'.split(' ');
const KATAKANA = 'ラーメン カメラ ポスター フィルム プリント アルバム スタジオ ビル ホテル デパート ガラス乾板 ネガ ポジ レンズ ストロボ セピア モノクロ カラー スケッチ パノラマ ステレオ写真 ハガキ コロタイプ ゼラチン シルバー レストラン カフェー ダンスホール バス タクシー トラック ヨット ボート テニス ゴルフ スキー'.split(' ');
const KANA = 'の を に で から まで と や など ところ ようす みなさん あつまり おまつり こども おとな しごと くらし ふうけい ながめ'.split(' ');
const LATIN = 'Tokyo Osaka Kyoto Yokohama photo postcard glass plate Kodak print album studio station street harbour temple shrine festival school factory bridge railway tram view souvenir panorama portrait family ceremony exhibition market'.split(' ');
const ERAS = ['明治', '大正', '昭和'];
const KANJI =
  '一二三四五六七八九十百千万円年月日時分上下左右中大小山川田口目耳手足力人子女男先生学校本文字名前天気雨雪花草木林森竹石土金糸車貝虫犬王玉白赤青音村町市県国州都道府区駅社寺宮城池島海岸谷原野里家門戸窓屋根室堂館店場所地方東西南北春夏秋冬朝昼夜晴曇風雲光色形線点丸角新古長短高低多少早遅近遠強弱明暗前後内外正反表裏始終発着起点終点交通運輸送船港湾航空機械電気鉄鋼工業農業商業漁業林業産業経済政治法律社会文化芸術音楽美術写真映画演劇文学歴史地理科学数学医学教育研究記録資料保存整理分類目録番号'.split(
    '',
  );
const RARE = Array.from({ length: 3000 }, () => Array.from({ length: 2 + int(3) }, () => pick(KANJI)).join(''));
const SURNAMES = '佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 斎藤 清水'.split(' ');
const GIVEN = '太郎 次郎 花子 一郎 清 実 茂 勇 進 博 正雄 弘 和子 幸子 節子 久子 ヨシ ハル キヨ'.split(' ');
const TYPES = ['写真', '写真', '写真', '絵葉書', '絵葉書', 'ガラス乾板', 'アルバム', '地図', '文書', 'ポスター'];
const COLLECTIONS = Array.from({ length: 24 }, (_, i) => `${pick(SURNAMES)}家旧蔵資料 第${i + 1}集`);
const BATCHES = Array.from({ length: 12 }, (_, i) => `R${String(i + 1).padStart(2, '0')}`);

/** The "common" words, in rank order: they head the content vocabulary. */
const COMMON = ['東京', '写真', '大阪', '記念', '風景', '学校', '神社', '京都', '駅前', '横浜'];
function shuffled<T>(a: readonly T[]): T[] {
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
/** Content words by rank: common words, then places/nouns/katakana, then a long tail. */
const VOCAB = [
  ...COMMON,
  ...shuffled([...PLACES, ...NOUNS, ...KATAKANA].filter((w) => !COMMON.includes(w))),
  ...RARE,
];
/** Zipf–Mandelbrot rank: P(k) ~ 1 / (k + shift), by inverting the continuous CDF. */
function rank(n: number, shift: number): number {
  const a = Math.log(shift);
  const b = Math.log(n + shift);
  return Math.min(n - 1, Math.floor(Math.exp(a + rnd() * (b - a)) - shift));
}
const TOWNS = [...PLACES, ...Array.from({ length: 300 }, () => pick(KANJI) + pick(KANJI) + pick(['町', '村', '市']))];

function word(): string {
  const r = rnd();
  if (r < 0.85) return VOCAB[rank(VOCAB.length, 40)]!;
  if (r < 0.865) return `${pick(ERAS)}${1 + int(45)}年`;
  if (r < 0.9) return `${1868 + int(90)}`;
  return pick(LATIN);
}

function sentence(min: number, max: number): string {
  const target = min + int(max - min);
  let s = '';
  while ([...s].length < target) {
    s += word();
    const r = rnd();
    s += r < 0.35 ? pick(KANA) : r < 0.5 ? '、' : r < 0.58 ? '・' : r < 0.66 ? ' ' : r < 0.7 ? '。' : '';
  }
  return [...s].slice(0, max).join('');
}

export function makeItem(i: number): ItemInput {
  const batch = BATCHES[Math.floor((i * BATCHES.length) / N)]!;
  const id = `${batch}-${String(i + 1).padStart(6, '0')}`;
  const pages = 1 + (rnd() < 0.2 ? int(6) : 0);
  return {
    id,
    batch,
    type: pick(TYPES),
    title: { ja: sentence(20, 60), ...(rnd() < 0.3 ? { en: `${pick(LATIN)} ${pick(LATIN)} ${pick(LATIN)}` } : {}) },
    description: { ja: sentence(50, 200) },
    creator: rnd() < 0.7 ? { ja: pick(SURNAMES) + pick(GIVEN) } : undefined,
    date: `${pick(ERAS)}${1 + int(45)}年`,
    place: { ja: TOWNS[rank(TOWNS.length, 15)]! },
    subjects: Array.from({ length: 1 + int(3) }, () => NOUNS[rank(NOUNS.length, 10)]!),
    collection: { ja: pick(COLLECTIONS) },
    notes: rnd() < 0.3 ? sentence(10, 40) : undefined,
    access: rnd() < 0.9 ? 'open' : 'members',
    images: Array.from({ length: pages }, (_, p) => ({
      id: `${id}_${String(p + 1).padStart(2, '0')}`,
      file: `${batch}/${id}/${p + 1}.tif`,
      width: 4000,
      height: 3000,
    })),
    source: { file: `${batch}.xlsx`, sheet: 'Sheet1', row: i + 2 },
  };
}

// ---------------------------------------------------------------------------------------------
// Query mix

function substring(text: string, len: number): string {
  const runs = text.match(/[\p{L}\p{Nd}]{6,}/gu) ?? [];
  const run = runs.length ? [...pick(runs)] : [...'写真記念'];
  const at = int(Math.max(1, run.length - len));
  return run.slice(at, at + len).join('');
}

export interface Case {
  cls: string;
  req: SearchRequest;
}

export function queryMix(items: ItemInput[], n: number): Case[] {
  const common = [...COMMON, '昭和'];
  const out: Case[] = [];
  for (let k = 0; out.length < n; k++) {
    const item = pick(items);
    switch (k % 8) {
      case 0:
      case 1:
        out.push({ cls: 'common 2-char', req: { q: pick(common) } });
        break;
      case 2:
      case 3:
        out.push({ cls: 'rarer 3-6 char', req: { q: substring(item.description!.ja!, 3 + int(4)) } });
        break;
      case 4:
        out.push({ cls: 'two terms', req: { q: `${pick(common)} ${substring(item.title.ja!, 2 + int(3))}` } });
        break;
      case 5:
        out.push({ cls: 'two terms', req: { q: `${pick(common)} ${pick(NOUNS)}` } });
        break;
      case 6:
        out.push({
          cls: 'id / latin',
          req: { q: rnd() < 0.5 ? item.id : pick(LATIN).toUpperCase().replace(/[A-Z]/g, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)) },
        });
        break;
      case 7:
        {
          const r = rnd();
          out.push(
            r < 0.4
              ? { cls: 'common + filters', req: { q: pick(common), filters: { batch: [pick(BATCHES), pick(BATCHES)], type: ['写真'] }, page: 2 } }
              : r < 0.8
                ? { cls: 'browse (no q)', req: { filters: rnd() < 0.5 ? {} : { type: [pick(TYPES)] }, page: 1 + int(50) } }
                : { cls: 'common, sort=id', req: { q: pick(common), sort: 'id', page: 1 + int(5) } },
          );
        }
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (x: number) => x.toFixed(2).padStart(8);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-search-'));
  const file = process.env.BENCH_DB ?? path.join(dir, 'search.db');
  const keep = !!process.env.BENCH_DB;
  if (keep) for (const s of ['', '-wal', '-shm']) fs.rmSync(file + s, { force: true });
  const store = new SqliteStore(file);
  await store.init();

  let t0 = performance.now();
  const items = Array.from({ length: N }, (_, i) => makeItem(i));
  const genMs = performance.now() - t0;

  const now = new Date('2024-06-11T00:00:00Z');
  t0 = performance.now();
  for (let i = 0; i < items.length; i += 5000) await store.upsert(items.slice(i, i + 5000), now);
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  const optimize = process.env.BENCH_OPTIMIZE !== '0';
  if (optimize) await store.optimize();
  const optMs = performance.now() - t0;
  t0 = performance.now();
  const again = await store.upsert(items.slice(0, 5000), now);
  const reMs = performance.now() - t0;
  const size = ['', '-wal'].reduce((s, x) => s + (fs.existsSync(file + x) ? fs.statSync(file + x).size : 0), 0);

  const cases = queryMix(items, QUERIES);
  // Warm-up (page cache, statement cache), not measured.
  for (const c of cases.slice(0, 40)) await store.search(c.req);

  const times = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const totals = new Map<string, number[]>();
  const deadline = performance.now() + SECONDS * 1000;
  let ran = 0;
  for (const c of cases) {
    if (performance.now() > deadline) break;
    const c0 = process.cpuUsage();
    const s = performance.now();
    const res = await store.search(c.req);
    const d = performance.now() - s;
    const cu = process.cpuUsage(c0);
    ran++;
    for (const k of [c.cls, 'ALL']) {
      (times.get(k) ?? times.set(k, []).get(k)!).push(d);
      (cpu.get(k) ?? cpu.set(k, []).get(k)!).push((cu.user + cu.system) / 1000);
      (totals.get(k) ?? totals.set(k, []).get(k)!).push(res.total);
    }
  }

  console.log(`records: ${N}, generated in ${(genMs / 1000).toFixed(1)} s`);
  console.log(
    `bulk upsert: ${(loadMs / 1000).toFixed(1)} s = ${Math.round(N / (loadMs / 1000))} records/s (batches of 5000)`,
  );
  console.log(`fts optimize: ${optimize ? `${(optMs / 1000).toFixed(1)} s` : 'skipped'}; re-upsert of 5000 existing: ${Math.round(5000 / (reMs / 1000))} records/s (${JSON.stringify(again)})`);
  console.log(`database size: ${(size / 1048576).toFixed(0)} MiB`);
  console.log(`queries run: ${ran} (of ${cases.length})\n`);
  console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (${os.cpus().length} CPUs)\n`);
  console.log('                          wall-clock                          CPU time');
  console.log('class               n   p50 ms   p95 ms   p99 ms   max ms   p50 ms   p99 ms   median hits');
  const order = ['common 2-char', 'rarer 3-6 char', 'two terms', 'id / latin', 'common + filters', 'common, sort=id', 'browse (no q)', 'ALL'];
  for (const k of order) {
    const t = times.get(k);
    if (!t) continue;
    t.sort((a, b) => a - b);
    const h = totals.get(k)!.sort((a, b) => a - b);
    const u = cpu.get(k)!.sort((a, b) => a - b);
    console.log(
      `${k.padEnd(17)} ${String(t.length).padStart(4)} ${ms(pct(t, 50))} ${ms(pct(t, 95))} ${ms(pct(t, 99))} ${ms(t.at(-1)!)} ${ms(pct(u, 50))} ${ms(pct(u, 99))}   ${String(pct(h, 50)).padStart(8)}`,
    );
  }
  await store.close();
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
}

if (import.meta.main) await main();
