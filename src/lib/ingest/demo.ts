/**
 * The demo corpus: two delivery rounds of a fictional provider's historical photographs, written
 * as a RAW DELIVERY that drifts the way real ones do, then put through the real pipeline
 * (`setUpDemo`: normalize → index, and sync when S3 is configured). Nothing is loaded by a
 * shortcut: what the archive shows is what the pipeline made of the delivery.
 *
 *   <dataDir>/delivery/第１回納品/             round 1: full-width digit in the folder name;
 *       写真/ ガラス乾板/ 鶏卵紙写真/ 絵葉書/      images in classification subfolders (one with a
 *       アルバム－写真帖/                        full-width hyphen),
 *       参考資料/封筒_第1回.jpg, カラーチャート.jpg   reference-only shots,
 *       書誌データ_第1回.xlsx                    before revision (wrong texts, a members-only item marked 公開),
 *       書誌データ_第1回_ソート済.xlsx             the same, sorted,
 *       書誌データ_第1回_修正版.xlsx               the revised bibliography (the one to use),
 *       メタデータ登録依頼書_第1回.xlsx            a request form (has an id column; must be ignored),
 *       Thumbs.db
 *   <dataDir>/delivery/R2_20250329/           round 2: another naming scheme with a date; flat,
 *       R02-0001.JPG …                         upper-case extensions, a sleeve and a colour chart,
 *       R2_書誌_修正前.xlsx, R2_書誌_修正後.xlsx   before and after revision, an Excel lock file
 *   <dataDir>/.demo-corpus.json               marker: present = delivery complete
 *
 * normalize links it into the clean tree (IMAGE_ROOT/R01, R02) and index loads the revised
 * bibliographies into the store.
 *
 * Everything is deterministic: record texts are fixed data, every other choice (creators, rights,
 * notes, image sizes, what each picture shows) comes from a seeded PRNG keyed by record id, so the
 * same options give the same corpus on every run. No network.
 *
 * Images are "photographs" drawn as SVG at a small size (a scene chosen from the record's subjects,
 * a plate number in the corner), enlarged to full size, given film grain (a 512 px noise tile
 * composited as a repeating overlay) and a caption (id and English title) rendered at full
 * resolution. libvips streams all of this, so even the 40000×3000 panorama never exists as a raw
 * buffer; peak RSS of the full corpus stays in the low hundreds of MB.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import sharp, { type OverlayOptions } from 'sharp';
import type { Config } from '../config.ts';
import type { SearchStore } from '../search/store.ts';
import { indexCleanTree, type IndexReport } from './indexing.ts';
import { normalize, type NormalizeReport } from './normalize.ts';
import { compileRules } from './rules.ts';
import type { SyncReport } from './sync.ts';

export interface DemoOptions {
  /** PRNG seed (default 1902). */
  seed?: number;
  /** Multiplies every image dimension (default 1; e.g. 0.05 for fast tests). */
  scale?: number;
  /** Where the raw delivery goes (default `<dataDir>/delivery`). */
  deliveryDir?: string;
  /** Images rendered at once (default: the number of CPUs + 1). */
  concurrency?: number;
  /** Regenerate even when the marker says the corpus exists. */
  force?: boolean;
  /** Called after each image file is written. */
  onImage?: (file: string, done: number, total: number) => void;
}

export const DEMO_MARKER = '.demo-corpus.json';
const DEMO_VERSION = 2;

/** Delivery folder of each round: two naming schemes, a full-width digit, a date suffix. */
export const DEMO_FOLDERS = { R01: '第１回納品', R02: 'R2_20250329' } as const;

/** Classification subfolder of a round-1 image, by the record's type. */
const R01_SUBFOLDERS: Record<string, string> = {
  写真: '写真',
  ガラス乾板: 'ガラス乾板',
  鶏卵紙写真: '鶏卵紙写真',
  アルバム: 'アルバム－写真帖',
  絵葉書: '絵葉書',
};

// ------------------------------------------------------------------------------------------------
// Deterministic randomness

/** FNV-1a 32-bit hash of a string. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: tiny, fast, good enough for pictures and picks. */
export function rng(seed: number, key = ''): Rng {
  let a = (seed ^ hash(key)) >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
  };
}

// ------------------------------------------------------------------------------------------------
// The records

interface Bi {
  ja: string;
  en: string;
}

interface DemoEntry {
  id: string;
  type: string;
  title: Bi;
  place: Bi;
  date: string;
  subjects: string[];
  description: Bi;
  access?: '公開' | '会員';
  /** Number of pages (default 1). */
  pages?: number;
  /** File names as delivered, when not `<id>.jpg` / `<id>-<nn>.jpg`. */
  files?: string[];
  /** The one very wide panorama. */
  panorama?: boolean;
  portrait?: boolean;
}

const R01: DemoEntry[] = [
  {
    id: 'R01-0001',
    type: '写真',
    title: { ja: '東京駅丸ノ内口', en: 'Tokyo Station, Marunouchi entrance' },
    place: { ja: '東京・丸の内', en: 'Marunouchi, Tokyo' },
    date: '大正3年（1914）',
    subjects: ['鉄道', '建築'],
    description: {
      ja: '大正3年に開業した東京駅丸ノ内口の駅舎を正面から写す。赤煉瓦の駅舎と南北のドーム、駅前広場に客待ちの人力車が並ぶ様子が見える。',
      en: 'The Marunouchi entrance of Tokyo Station, opened in 1914, seen from the front: the red-brick building with its north and south domes, and rickshaws waiting on the station square.',
    },
  },
  {
    id: 'R01-0002',
    type: '写真',
    title: { ja: '浅草仲見世の賑わい', en: 'Crowds on Nakamise street, Asakusa' },
    place: { ja: '東京・浅草', en: 'Asakusa, Tokyo' },
    date: '明治末期（1910頃）',
    subjects: ['商店街', '寺社'],
    description: {
      ja: '浅草寺へ続く仲見世通りの雑踏。両側に土産物屋や玩具屋が軒を連ね、着物姿の参詣客が行き交う。通りの奥に宝蔵門（仁王門）の大屋根が見える。',
      en: 'The bustle of Nakamise street leading to Senso-ji. Souvenir and toy shops line both sides, visitors in kimono come and go, and the great roof of the Niomon gate rises at the far end.',
    },
  },
  {
    id: 'R01-0003',
    type: 'ガラス乾板',
    title: { ja: '浅草公園 凌雲閣（十二階）', en: 'Ryounkaku tower ("Twelve Storeys"), Asakusa Park' },
    place: { ja: '東京・浅草', en: 'Asakusa, Tokyo' },
    date: '明治33年（1900）',
    subjects: ['建築', '観光'],
    portrait: true,
    description: {
      ja: '明治23年に建てられた煉瓦造の高塔・凌雲閣を浅草公園の池越しに撮影したもの。日本初の電動式エレベーターを備えたが、関東大震災で半壊し取り壊された。',
      en: 'Ryounkaku, the brick tower built in 1890, photographed across the pond of Asakusa Park. It had the first electric lift in Japan; half destroyed by the 1923 earthquake, it was demolished.',
    },
  },
  {
    id: 'R01-0004',
    type: '写真',
    title: { ja: '道頓堀の芝居茶屋', en: 'Theatre teahouses on the Dotonbori canal' },
    place: { ja: '大阪・道頓堀', en: 'Dotonbori, Osaka' },
    date: '大正9年（1920）',
    subjects: ['商店街', '芸能'],
    description: {
      ja: '道頓堀川に沿って並ぶ芝居茶屋と劇場の幟。川面には屋形船が浮かび、戎橋の上には大勢の見物人が集まっている。大阪随一の歓楽街の姿を伝える。',
      en: 'Theatre teahouses and the banners of playhouses along the Dotonbori canal, with a roofed pleasure boat on the water and onlookers crowding Ebisu bridge: Osaka\'s foremost entertainment quarter.',
    },
  },
  {
    id: 'R01-0005',
    type: 'アルバム',
    title: { ja: '東京名所写真帖', en: 'Album of famous sights of Tokyo' },
    place: { ja: '東京', en: 'Tokyo' },
    date: '明治44年（1911）',
    subjects: ['観光', '建築'],
    pages: 4,
    portrait: true,
    description: {
      ja: '明治末の東京名所を収めた写真帖。日本橋、上野公園、二重橋、銀座通りの四葉を収録する。各葉に淡い手彩色の跡が残り、表紙は布装。',
      en: 'An album of famous sights of late-Meiji Tokyo, with four leaves: Nihonbashi, Ueno Park, Nijubashi bridge and Ginza avenue. Traces of light hand colouring remain; cloth cover.',
    },
  },
  {
    id: 'R01-0006',
    type: '写真',
    title: { ja: '祇園祭 長刀鉾の巡行', en: 'The Naginata-boko float, Gion Festival' },
    place: { ja: '京都 祇園', en: 'Gion, Kyoto' },
    date: '大正14年（1925）',
    subjects: ['祭礼'],
    portrait: true,
    description: {
      ja: '四条通を進む祇園祭の長刀鉾。鉾の上には稚児と囃子方が乗り、沿道の町家の二階からは見物の人々が身を乗り出している。',
      en: 'The Naginata-boko float of the Gion Festival moving along Shijo street, with the festival child and musicians aboard and spectators leaning out of the upper floors of the townhouses.',
    },
  },
  {
    id: 'R01-0007',
    type: '写真',
    title: { ja: '横浜港大桟橋の外国航路船', en: 'An ocean liner at the Great Pier, Yokohama harbour' },
    place: { ja: '横浜港', en: 'Port of Yokohama' },
    date: '昭和5年（1930）',
    subjects: ['港湾', '船舶'],
    description: {
      ja: '大桟橋に横付けされた外国航路の客船。見送りの人々が桟橋を埋め尽くし、色とりどりの紙テープが船と岸壁を結んでいる。出航直前の一瞬をとらえた一枚。',
      en: 'An ocean liner berthed at the Great Pier in Yokohama harbour. Well-wishers fill the pier and paper streamers link the ship to the quay, moments before departure.',
    },
  },
  {
    id: 'R01-0008',
    type: 'ガラス乾板',
    title: { ja: '函館港と函館山', en: 'Hakodate harbour and Mount Hakodate' },
    place: { ja: '函館', en: 'Hakodate' },
    date: '明治41年（1908）',
    subjects: ['港湾', '漁業'],
    description: {
      ja: '函館山の麓に広がる港町を対岸から望む。湾内には北洋漁業の帆船や汽船が停泊し、手前の浜には漁網が干されている。',
      en: 'The port town at the foot of Mount Hakodate seen from across the bay. Sailing ships and steamers of the northern fisheries lie at anchor; fishing nets are drying on the beach in front.',
    },
  },
  {
    id: 'R01-0009',
    type: '鶏卵紙写真',
    title: { ja: '長崎 大浦天主堂', en: 'Oura Cathedral, Nagasaki' },
    place: { ja: '長崎', en: 'Nagasaki' },
    date: '明治30年頃（1897頃）',
    subjects: ['寺社', '建築'],
    portrait: true,
    description: {
      ja: '石段の上に建つ大浦天主堂の正面。明治12年の改築後の姿で、ゴシック風の尖塔と白い外壁が背後の山の緑に映える。外国人向けの土産写真。',
      en: 'The façade of Oura Cathedral above its stone steps, as rebuilt in 1879, its Gothic spire and white walls set against the green hill behind. A souvenir print made for foreign visitors.',
    },
  },
  {
    id: 'R01-0010',
    type: '写真',
    title: { ja: '東京・大阪間特急「燕」', en: 'The Tsubame limited express between Tokyo and Osaka' },
    place: { ja: '東海道本線', en: 'Tokaido Main Line' },
    date: '昭和5年（1930）',
    subjects: ['鉄道'],
    description: {
      ja: '昭和5年に運転を開始した東京・大阪間の超特急「燕」。蒸気機関車に牽かれた列車が築堤を駆け抜ける瞬間を捉える。両都市を8時間余りで結んだ。',
      en: 'The Tsubame express, introduced in 1930 between Tokyo and Osaka, caught as its steam locomotive races along an embankment. It linked the two cities in just over eight hours.',
    },
  },
  {
    id: 'R01-0011',
    type: '写真',
    title: { ja: '関東大震災後の銀座通り', en: 'Ginza after the Great Kanto Earthquake' },
    place: { ja: '東京・銀座', en: 'Ginza, Tokyo' },
    date: '大正12年（1923）',
    subjects: ['震災復興', '商店街'],
    description: {
      ja: '大正12年の関東大震災で焼失した銀座通り。瓦礫の間に仮設のバラック店舗が建ち始め、早くも商いを再開した店先に人が集まる。復興へ向かう街の姿を伝える。',
      en: 'Ginza avenue after it burned in the 1923 earthquake. Temporary barrack shops are going up among the rubble and people gather at those already trading again: a city starting to rebuild.',
    },
  },
  {
    id: 'R01-0012',
    type: '写真',
    title: { ja: '帝都復興 昭和通りの開通', en: 'Opening of Showa-dori avenue' },
    place: { ja: '東京・日本橋', en: 'Nihonbashi, Tokyo' },
    date: '昭和5年（1930）',
    subjects: ['震災復興', '道路'],
    description: {
      ja: '帝都復興事業で新設された昭和通りの開通式。広い車道と街路樹の植樹帯が整備され、沿道には開通を祝う人々と自動車が並ぶ。',
      en: 'The opening of Showa-dori, a new avenue built by the post-earthquake reconstruction of the capital, with a wide carriageway and planted verges; crowds and motor cars line the road.',
    },
  },
  {
    id: 'R01-0013',
    type: '写真',
    title: { ja: '尋常小学校の運動会', en: 'Sports day at an elementary school' },
    place: { ja: '東京・本所', en: 'Honjo, Tokyo' },
    date: '昭和11年（1936）',
    subjects: ['学校'],
    access: '会員',
    description: {
      ja: '校庭で行われた運動会の綱引き。白い運動着に鉢巻を締めた児童が声を上げ、その周囲を保護者や近所の人々が取り囲んで声援を送っている。',
      en: 'A tug of war at a school sports day. Children in white gym clothes and headbands shout as parents and neighbours crowd round the schoolyard to cheer them on.',
    },
  },
  {
    id: 'R01-0014',
    type: 'ガラス乾板',
    title: { ja: '大和の田植え', en: 'Rice planting in Yamato' },
    place: { ja: '奈良', en: 'Nara' },
    date: '昭和7年（1932）',
    subjects: ['農村'],
    description: {
      ja: '早乙女たちが一列に並んで苗を植える田植えの光景。水を張った田の向こうに茅葺きの農家と山並みが連なる。奈良盆地の初夏の農村風景。',
      en: 'Women planting rice seedlings in a row across a flooded paddy, with thatched farmhouses and a line of hills beyond: early summer in the Nara basin.',
    },
  },
  {
    id: 'R01-0015',
    type: '鶏卵紙写真',
    title: { ja: '日光東照宮 陽明門', en: 'Yomeimon gate, Nikko Toshogu' },
    place: { ja: '日光', en: 'Nikko' },
    date: '明治20年代（1890頃）',
    subjects: ['寺社', '観光'],
    portrait: true,
    description: {
      ja: '豪華な彫刻で知られる日光東照宮の陽明門。外国人旅行者向けの土産写真として制作されたもので、全体に丁寧な手彩色が施されている。',
      en: 'The Yomeimon gate of Nikko Toshogu, famous for its lavish carvings. Made as a souvenir for foreign travellers and carefully hand-coloured throughout.',
    },
  },
  {
    id: 'R01-0016',
    type: '鶏卵紙写真',
    title: { ja: '鎌倉大仏', en: 'The Great Buddha of Kamakura' },
    place: { ja: '鎌倉', en: 'Kamakura' },
    date: '明治20年（1887）',
    subjects: ['寺社', '観光'],
    description: {
      ja: '高徳院の露座の大仏。大仏の膝の上に旅行者らしい洋装の人物が座り、その大きさが分かる。明治期の外国人向け写真に多い構図である。',
      en: 'The open-air Great Buddha of Kotoku-in, with a traveller in Western dress sitting on its lap to show the scale, a composition common in Meiji photographs sold to foreigners.',
    },
  },
  {
    id: 'R01-0017',
    type: '写真',
    title: { ja: '神戸 元町通', en: 'Motomachi street, Kobe' },
    place: { ja: '神戸・元町', en: 'Motomachi, Kobe' },
    date: '昭和10年（1935）',
    subjects: ['商店街'],
    description: {
      ja: '洋品店や時計店が並ぶ神戸元町通の商店街。アーチ型の街灯と日よけの下を、洋装と和装の買い物客が行き交う。港町らしいハイカラな雰囲気が漂う。',
      en: 'The shopping street of Motomachi, Kobe, lined with outfitters and watchmakers. Shoppers in Western and Japanese dress pass under arched street lamps and awnings in this cosmopolitan port town.',
    },
  },
  {
    id: 'R01-0018',
    type: '絵葉書',
    title: { ja: 'ﾎﾃﾙﾆｭｰｸﾞﾗﾝﾄﾞと山下公園', en: 'Hotel New Grand and Yamashita Park, Yokohama' },
    place: { ja: '横浜・山下町', en: 'Yamashita-cho, Yokohama' },
    date: '昭和初期（1930頃）',
    subjects: ['建築', '港湾'],
    pages: 2,
    files: ['R01-0018_front.jpg', 'R01-0018_back.jpg'],
    description: {
      ja: '震災復興で開園した山下公園と、その向かいに建つホテルニューグランドを写した絵葉書。表題は原資料の半角カナ表記のまま。裏面は通信欄。',
      en: 'Picture postcard of Yamashita Park, laid out after the earthquake, and the Hotel New Grand facing it. The title keeps the half-width katakana of the original; the back is the message side.',
    },
  },
  {
    id: 'R01-0019',
    type: '写真',
    title: { ja: '札幌 時計台', en: 'The Clock Tower, Sapporo' },
    place: { ja: '札幌', en: 'Sapporo' },
    date: '大正4年（1915）',
    subjects: ['建築', '学校'],
    portrait: true,
    description: {
      ja: '旧札幌農学校の演武場として建てられた時計台。白い下見板張りの木造建築で、屋根の上の時計塔が青空に映える。周囲にはまだ低い家並みが続く。',
      en: 'The Clock Tower, built as the drill hall of the Sapporo Agricultural College: a white clapboard building whose clock turret stands out against the sky above the low houses around it.',
    },
  },
  {
    id: 'R01-0020',
    type: '写真',
    title: { ja: '大阪城天守閣の再建', en: 'The rebuilt keep of Osaka Castle' },
    place: { ja: '大阪', en: 'Osaka' },
    date: '昭和6年（1931）',
    subjects: ['建築', '観光'],
    portrait: true,
    description: {
      ja: '市民の寄付により鉄筋コンクリートで再建された大阪城天守閣。竣工直後の姿で、石垣の上にそびえる天守を内堀越しに仰ぎ見る。',
      en: 'The keep of Osaka Castle, rebuilt in reinforced concrete with citizens\' donations, just after completion, looking up at it above its stone walls across the inner moat.',
    },
  },
  {
    id: 'R01-0021',
    type: '写真',
    title: { ja: '浅草寺 本堂と境内', en: 'Main hall and precincts of Senso-ji' },
    place: { ja: '東京・浅草', en: 'Asakusa, Tokyo' },
    date: '大正9年（1920）',
    subjects: ['寺社', '祭礼'],
    pages: 2,
    files: ['浅草寺_本堂.jpg', '浅草寺_境内.jpg'],
    description: {
      ja: '浅草寺の本堂と、鳩が群れる境内を写した二枚組。本堂の大屋根の下で参詣者が賽銭を投げ、境内には露店が並ぶ。画像ファイル名は納品時の日本語名のまま。',
      en: 'A pair of photographs of the main hall of Senso-ji and its precincts full of pigeons: worshippers toss coins under the great roof and stalls line the grounds. File names are kept in Japanese as delivered.',
    },
  },
  {
    id: 'R01-0022',
    type: '写真',
    title: { ja: '仙台七夕', en: 'Tanabata festival, Sendai' },
    place: { ja: '仙台', en: 'Sendai' },
    date: '昭和3年（1928）',
    subjects: ['祭礼', '商店街'],
    portrait: true,
    description: {
      ja: '商店街の軒先に吊るされた七夕飾り。昭和初期に商店会が復興させた仙台七夕の様子で、長い吹き流しが通りを覆い、浴衣姿の見物客で賑わう。',
      en: 'Tanabata decorations hanging from the eaves of a shopping street in Sendai, revived by local merchants in the late 1920s; long streamers cover the street, busy with visitors in yukata.',
    },
  },
  {
    id: 'R01-0023',
    type: '写真',
    title: { ja: '名古屋 広小路の市電', en: 'Streetcars on Hirokoji, Nagoya' },
    place: { ja: '名古屋', en: 'Nagoya' },
    date: '大正14年（1925）',
    subjects: ['鉄道', '商店街'],
    description: {
      ja: '名古屋の目抜き通り広小路を走る市電。架線の下を二両の電車がすれ違い、歩道には百貨店の客や自転車が行き交う。近代都市へ変わりゆく名古屋の姿。',
      en: 'Streetcars on Hirokoji, Nagoya\'s main street: two cars pass under the overhead wires while department-store shoppers and cyclists crowd the pavements of a modernising city.',
    },
  },
  {
    id: 'R01-0024',
    type: 'ガラス乾板',
    title: { ja: '房総の漁村', en: 'A fishing village on the Boso peninsula' },
    place: { ja: '千葉・房総', en: 'Boso peninsula, Chiba' },
    date: '昭和9年（1934）',
    subjects: ['漁業', '農村'],
    description: {
      ja: '砂浜に引き上げられた漁船と、網の手入れをする漁師たち。背後の松林の間に漁家の屋根がのぞく。半農半漁の暮らしを伝える一枚。',
      en: 'Fishing boats hauled up on the sand and fishermen mending nets, with the roofs of their houses among the pines behind: a village living from both farming and fishing.',
    },
  },
];

const R02: DemoEntry[] = [
  {
    id: 'R02-0001',
    type: '写真',
    title: { ja: '東京駅前の丸ノ内ビルヂング', en: 'The Marunouchi Building opposite Tokyo Station' },
    place: { ja: '東京・丸の内', en: 'Marunouchi, Tokyo' },
    date: '大正12年（1923）',
    subjects: ['建築', '商店街'],
    description: {
      ja: '東京駅前に竣工した丸ノ内ビルヂング（丸ビル）。当時東洋一と呼ばれた大型事務所ビルで、一階の商店街には買い物客が絶えなかった。',
      en: 'The Marunouchi Building ("Maru-biru"), just completed opposite Tokyo Station. Called the largest office building in the East, its ground-floor arcade was always full of shoppers.',
    },
  },
  {
    id: 'R02-0002',
    type: '写真',
    title: { ja: 'ＮＨＫ大阪中央放送局 新局舎', en: 'New building of the NHK Osaka broadcasting station' },
    place: { ja: '大阪・馬場町', en: 'Babacho, Osaka' },
    date: '昭和11年（1936）',
    subjects: ['建築', '放送'],
    description: {
      ja: '大阪城の南西に完成したＮＨＫ大阪中央放送局の新局舎。白いタイル張りの近代建築で、屋上には送信用の鉄塔が立つ。開局記念の幕が掛かる。',
      en: 'The new building of the NHK Osaka central broadcasting station south-west of the castle: a white-tiled modern building with a transmitter mast on the roof, hung with opening banners.',
    },
  },
  {
    id: 'R02-0003',
    type: '写真',
    title: { ja: '横浜港 新港埠頭の荷役', en: 'Cargo handling at Shinko pier, Yokohama harbour' },
    place: { ja: '横浜港', en: 'Port of Yokohama' },
    date: '昭和4年（1929）',
    subjects: ['港湾', '震災復興'],
    description: {
      ja: '震災から復旧した新港埠頭で生糸の荷役にあたる仲仕たち。起重機が貨物船の船倉から木箱を吊り上げ、岸壁には倉庫が並ぶ。',
      en: 'Dockers handling raw silk at Shinko pier in Yokohama harbour, rebuilt after the earthquake. A crane lifts crates out of a freighter\'s hold in front of the warehouses on the quay.',
    },
  },
  {
    id: 'R02-0004',
    type: '写真',
    title: { ja: '祇園 花見小路の夕暮れ', en: 'Dusk on Hanamikoji, Gion' },
    place: { ja: '京都 祇園', en: 'Gion, Kyoto' },
    date: '昭和7年（1932）',
    subjects: ['商店街', '風俗'],
    portrait: true,
    description: {
      ja: '紅殻格子のお茶屋が並ぶ花見小路。夕暮れの石畳を舞妓が二人連れ立って歩き、軒先の提灯に灯がともり始める。',
      en: 'Hanamikoji in Gion, lined with teahouses behind red lattices. Two maiko walk together over the paving stones at dusk as the lanterns under the eaves begin to glow.',
    },
  },
  {
    id: 'R02-0005',
    type: '写真',
    title: { ja: '上野駅 新駅舎', en: 'The new Ueno Station building' },
    place: { ja: '東京・上野', en: 'Ueno, Tokyo' },
    date: '昭和7年（1932）',
    subjects: ['鉄道', '震災復興', '建築'],
    description: {
      ja: '震災後に再建された上野駅の新駅舎。東北・信越方面への玄関口で、広い駅前には大きな荷物を背負った旅客や出迎えの人々が集まっている。',
      en: 'The new Ueno Station, rebuilt after the earthquake: the gateway to the north-east, its forecourt crowded with travellers carrying large bundles and people meeting them.',
    },
  },
  {
    id: 'R02-0006',
    type: '鶏卵紙写真',
    title: { ja: '長崎港の眺望', en: 'View over Nagasaki harbour' },
    place: { ja: '長崎', en: 'Nagasaki' },
    date: '明治33年頃（1900頃）',
    subjects: ['港湾', '船舶'],
    description: {
      ja: '稲佐山の中腹から見下ろした長崎港。湾内に外国船と和船が入り混じって停泊し、対岸には居留地の洋館群が並ぶ。',
      en: 'Nagasaki harbour seen from the slopes of Mount Inasa: foreign steamers and Japanese sailing craft at anchor, and the Western houses of the foreign settlement on the far shore.',
    },
  },
  {
    id: 'R02-0007',
    type: '写真',
    title: { ja: '函館の朝市', en: 'Morning market, Hakodate' },
    place: { ja: '函館', en: 'Hakodate' },
    date: '昭和25年（1950）',
    subjects: ['商店街', '漁業'],
    description: {
      ja: '函館駅前に開かれた朝市。木箱に並べた蟹や烏賊を売る声が飛び交い、買い出しの客が籠を手に集まる。戦後の復興期の活気を伝える。',
      en: 'The morning market in front of Hakodate Station: sellers call out over crates of crab and squid while shoppers gather with baskets, in the lively years of post-war recovery.',
    },
  },
  {
    id: 'R02-0008',
    type: '写真',
    title: { ja: '高等女学校の卒業記念', en: 'Graduation photograph of a girls\' high school' },
    place: { ja: '東京・麹町', en: 'Kojimachi, Tokyo' },
    date: '昭和2年（1927）',
    subjects: ['学校'],
    access: '会員',
    pages: 3,
    description: {
      ja: '校舎の玄関前で撮影された高等女学校の卒業記念写真。袴姿の卒業生が三列に並び、中央に校長と担任教諭が座る。三枚綴り。',
      en: 'Graduation photograph of a girls\' high school in front of the school entrance: graduates in hakama stand in three rows with the principal and class teachers seated in the middle. Three sheets.',
    },
  },
  {
    id: 'R02-0009',
    type: '写真',
    title: { ja: '伏見稲荷大社の千本鳥居', en: 'The thousand torii of Fushimi Inari' },
    place: { ja: '京都・伏見', en: 'Fushimi, Kyoto' },
    date: '大正期（1920頃）',
    subjects: ['寺社', '観光'],
    portrait: true,
    description: {
      ja: '稲荷山へ続く参道に隙間なく立ち並ぶ朱塗りの鳥居。トンネルのように続く鳥居の奥から、参詣者が一人こちらへ歩いてくる。',
      en: 'Vermilion torii standing shoulder to shoulder along the path up Mount Inari, forming a tunnel from the depths of which a single pilgrim walks towards the camera.',
    },
  },
  {
    id: 'R02-0010',
    type: '写真',
    title: { ja: '天神祭の船渡御', en: 'Boat procession of the Tenjin Festival' },
    place: { ja: '大阪・大川', en: 'Okawa river, Osaka' },
    date: '昭和8年（1933）',
    subjects: ['祭礼'],
    description: {
      ja: '大川を進む天神祭の船渡御。御神輿を載せた御座船を囲んで篝火を焚いた奉納船が連なり、両岸と橋の上は見物客で埋まっている。',
      en: 'The boat procession of the Tenjin Festival on the Okawa river: offering boats with bonfires escort the barge carrying the portable shrine, while both banks and the bridges are packed with spectators.',
    },
  },
  {
    id: 'R02-0011',
    type: 'ガラス乾板',
    title: { ja: '信州の脱穀', en: 'Threshing in a Shinshu village' },
    place: { ja: '長野', en: 'Nagano' },
    date: '昭和12年（1937）',
    subjects: ['農村'],
    description: {
      ja: '刈り取った稲を足踏み脱穀機にかける農家の人々。庭先に稲束が積まれ、子どもたちが落ち穂を拾う。背景に北アルプスの山並みがかすむ。',
      en: 'A farming family feeding harvested rice into a pedal-driven thresher. Sheaves are stacked in the yard, children glean fallen ears, and the Northern Alps are faint in the distance.',
    },
  },
  {
    id: 'R02-0012',
    type: 'パノラマ写真',
    title: { ja: '愛宕山から望む東京市街パノラマ', en: 'Panorama of Tokyo from Mount Atago' },
    place: { ja: '東京・愛宕山', en: 'Mount Atago, Tokyo' },
    date: '昭和9年（1934）',
    subjects: ['都市景観', '震災復興'],
    panorama: true,
    description: {
      ja: '愛宕山の上から東京市街を一望した長大なパノラマ写真。震災復興で建ち並んだビル群から芝浦の海までを、複数の原板をつないで一続きに収める。',
      en: 'A very long panorama of Tokyo from the top of Mount Atago, joined from several negatives: from the office blocks of the post-earthquake reconstruction out to the sea at Shibaura.',
    },
  },
  {
    id: 'R02-0013',
    type: '写真',
    title: { ja: '日本橋魚河岸', en: 'The fish market at Nihonbashi' },
    place: { ja: '東京・日本橋', en: 'Nihonbashi, Tokyo' },
    date: '大正9年（1920）',
    subjects: ['商店街', '漁業'],
    description: {
      ja: '日本橋川の北岸に江戸時代から続いた魚河岸の朝。板舟に並べた魚を前に仲買人が競り合う。震災後、魚河岸は築地へ移転した。',
      en: 'Morning at the fish market on the north bank of the Nihonbashi river, in business since the Edo period; brokers bid over fish laid out on boards. After the earthquake the market moved to Tsukiji.',
    },
  },
  {
    id: 'R02-0014',
    type: '絵葉書',
    title: { ja: '青函連絡船 翔鳳丸', en: 'The Seikan ferry Shoho Maru' },
    place: { ja: '函館', en: 'Hakodate' },
    date: '大正14年（1925）',
    subjects: ['鉄道', '港湾', '船舶'],
    description: {
      ja: '青森と函館を結んだ鉄道連絡船・翔鳳丸の絵葉書。函館港の桟橋に着岸した船体に、客車を積み込むための軌道が延びている。',
      en: 'Postcard of the Shoho Maru, a railway ferry between Aomori and Hakodate, berthed in Hakodate harbour with the tracks used to load railway carriages leading on board.',
    },
  },
  {
    id: 'R02-0015',
    type: '写真',
    title: { ja: '小学校 新校舎の落成', en: 'Completion of a new elementary school building' },
    place: { ja: '大阪', en: 'Osaka' },
    date: '昭和4年（1929）',
    subjects: ['学校', '建築'],
    description: {
      ja: '鉄筋コンクリート造で新築された小学校校舎の落成式。三階建ての校舎の前に全校児童と教職員が整列し、来賓の挨拶に耳を傾けている。',
      en: 'Opening ceremony of a new three-storey reinforced-concrete elementary school; the whole school and its teachers stand in rows in front of it, listening to a guest\'s address.',
    },
  },
  {
    id: 'R02-0016',
    type: '写真',
    title: { ja: '村祭りの神輿', en: 'Portable shrine at a village festival' },
    place: { ja: '埼玉・秩父', en: 'Chichibu, Saitama' },
    date: '昭和13年（1938）',
    subjects: ['祭礼', '農村'],
    description: {
      ja: '秋の村祭りで鎮守の森から担ぎ出された神輿。法被姿の若者たちが田の畦道を練り歩き、刈り入れを終えた田圃の向こうに秩父の山が見える。',
      en: 'A portable shrine carried out of the village shrine grove at the autumn festival; young men in happi coats parade along the paddy banks, with the Chichibu hills beyond the harvested fields.',
    },
  },
];

const CREATORS: readonly Bi[] = [
  { ja: '撮影者不詳', en: 'Unknown photographer' },
  { ja: '撮影者不詳', en: 'Unknown photographer' },
  { ja: '佐藤写真館', en: 'Sato Photo Studio' },
  { ja: '中村清三郎', en: 'Nakamura Seizaburo' },
  { ja: '横浜写真商会', en: 'Yokohama Photographic Company' },
  { ja: '浪速写真通信社', en: 'Naniwa Photo News Agency' },
  { ja: '田中光太郎', en: 'Tanaka Kotaro' },
  { ja: '東京市役所', en: 'Tokyo City Office' },
];

const COLLECTIONS: readonly Bi[] = [
  { ja: '山田家旧蔵写真', en: 'Yamada Family Photograph Collection' },
  { ja: '絵葉書コレクション', en: 'Picture Postcard Collection' },
  { ja: '寄贈写真資料', en: 'Donated Photographs' },
];

const RIGHTS = [
  'パブリックドメイン（Public Domain Mark 1.0）',
  'パブリックドメイン（Public Domain Mark 1.0）',
  '著作権保護期間満了',
  '著作権者不明（利用の際は所蔵館へ要連絡）',
] as const;

const NOTES = [
  'ガラス乾板から複製',
  '裏面に鉛筆書きの書き込みあり',
  '一部に退色・銀鏡化あり',
  '台紙付き。台紙に写真館の刻印あり',
  '原板は破損のため一部欠損',
] as const;

// ------------------------------------------------------------------------------------------------
// Images

interface ImagePlan {
  recordId: string;
  batch: string;
  /** File name as listed in the bibliography. */
  name: string;
  /** Absolute path. */
  path: string;
  width: number;
  height: number;
  page: number;
  pages: number;
  caption: string;
  scene: Scene;
  sepia: boolean;
  panorama: boolean;
  /** Seed of this image's picture. */
  seed: number;
  /** Seed of the whole corpus (shared grain tile). */
  corpusSeed: number;
}

type Scene = 'harbour' | 'street' | 'temple' | 'country' | 'rail' | 'group' | 'city';

function sceneFor(e: DemoEntry): Scene {
  if (e.panorama) return 'city';
  const s = e.subjects;
  if (s.includes('学校')) return 'group';
  if (s.includes('港湾') || s.includes('漁業') || s.includes('船舶')) return 'harbour';
  if (s.includes('鉄道')) return 'rail';
  if (s.includes('寺社')) return 'temple';
  if (s.includes('農村')) return 'country';
  return 'street';
}

const ASPECTS = [4 / 3, 3 / 2, 5 / 4, 7 / 5, 5 / 4, 4 / 3] as const;

function dims(r: Rng, e: DemoEntry, scale: number): { width: number; height: number } {
  if (e.panorama) return { width: Math.max(64, Math.round(40000 * scale)), height: Math.max(8, Math.round(3000 * scale)) };
  const long = r.int(300, 600) * 10;
  const aspect = e.type === '絵葉書' ? 3 / 2 : r.pick(ASPECTS);
  const short = Math.round(long / aspect);
  const [w, h] = e.portrait ? [short, long] : [long, short];
  return { width: Math.max(8, Math.round(w * scale)), height: Math.max(8, Math.round(h * scale)) };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f1 = (n: number) => Math.round(n * 10) / 10;

/** Palette: light → dark, sepia or neutral grey, slightly varied per image. */
function palette(r: Rng, sepia: boolean): string[] {
  const base = sepia
    ? [
        [240, 228, 204],
        [218, 197, 160],
        [172, 143, 104],
        [125, 100, 70],
        [82, 62, 40],
        [48, 36, 24],
      ]
    : [
        [232, 232, 228],
        [204, 204, 198],
        [156, 156, 150],
        [110, 110, 106],
        [68, 68, 66],
        [36, 36, 35],
      ];
  const shift = r.int(-12, 12);
  return base.map((c) => `rgb(${c.map((v) => Math.max(0, Math.min(255, v + shift))).join(',')})`);
}

/** The picture, as SVG at a small size (w × h). */
function sceneSvg(p: ImagePlan, w: number, h: number): string {
  const r = rng(p.seed, `${p.name}:scene`);
  const c = palette(r, p.sepia);
  const out: string[] = [];
  const horizon = h * (p.scene === 'city' ? 0.32 : 0.38 + r.next() * 0.2);
  out.push(
    `<defs>`,
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${c[0]}"/><stop offset="1" stop-color="${c[1]}"/></linearGradient>`,
    `<linearGradient id="ground" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${c[2]}"/><stop offset="1" stop-color="${c[4]}"/></linearGradient>`,
    `<radialGradient id="vig" cx="0.5" cy="0.5" r="0.75"><stop offset="0.55" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.55"/></radialGradient>`,
    `<filter id="soft" x="-10%" y="-10%" width="120%" height="120%"><feGaussianBlur stdDeviation="${f1(Math.max(0.3, h / 450))}"/></filter>`,
    `<filter id="blur" x="-20%" y="-20%" width="140%" height="140%"><feGaussianBlur stdDeviation="${f1(Math.max(1, h / 30))}"/></filter>`,
    `</defs>`,
    `<rect width="${w}" height="${h}" fill="url(#sky)"/>`,
  );
  // clouds / light leaks: large soft shapes
  for (let i = 0; i < 3; i++) {
    out.push(
      `<ellipse cx="${f1(r.next() * w)}" cy="${f1(r.next() * horizon * 0.8)}" rx="${f1(w * (0.1 + r.next() * 0.2))}" ry="${f1(h * (0.04 + r.next() * 0.06))}" fill="${c[0]}" opacity="0.7" filter="url(#blur)"/>`,
    );
  }
  // distant hills
  const hills: string[] = [`M0 ${f1(horizon)}`];
  const steps = 8 + r.int(0, 6);
  for (let i = 0; i <= steps; i++) hills.push(`L${f1((w * i) / steps)} ${f1(horizon - h * (0.03 + r.next() * 0.12))}`);
  hills.push(`L${w} ${f1(horizon)} Z`);
  out.push(`<path d="${hills.join(' ')}" fill="${c[2]}" opacity="0.75" filter="url(#soft)"/>`);
  out.push(`<g filter="url(#soft)">`);
  out.push(`<rect y="${f1(horizon)}" width="${w}" height="${f1(h - horizon)}" fill="url(#ground)"/>`);

  const building = (x: number, bw: number, bh: number, base: number, fill: string) => {
    out.push(`<rect x="${f1(x)}" y="${f1(base - bh)}" width="${f1(bw)}" height="${f1(bh)}" fill="${fill}"/>`);
    if (r.chance(0.6)) {
      out.push(
        `<path d="M${f1(x - bw * 0.1)} ${f1(base - bh)} L${f1(x + bw / 2)} ${f1(base - bh - bh * 0.25)} L${f1(x + bw * 1.1)} ${f1(base - bh)} Z" fill="${c[5]}"/>`,
      );
    }
    const rows = Math.max(1, Math.floor(bh / (h * 0.05)));
    for (let j = 0; j < rows; j++) {
      out.push(
        `<rect x="${f1(x + bw * 0.15)}" y="${f1(base - bh + (j + 0.3) * (bh / rows))}" width="${f1(bw * 0.7)}" height="${f1((bh / rows) * 0.3)}" fill="${c[1]}" opacity="0.35"/>`,
      );
    }
  };
  const figure = (x: number, base: number, size: number) => {
    out.push(
      `<rect x="${f1(x - size * 0.18)}" y="${f1(base - size * 0.8)}" width="${f1(size * 0.36)}" height="${f1(size * 0.8)}" rx="${f1(size * 0.1)}" fill="${c[5]}" opacity="0.85"/>`,
      `<circle cx="${f1(x)}" cy="${f1(base - size * 0.92)}" r="${f1(size * 0.13)}" fill="${c[5]}" opacity="0.85"/>`,
    );
  };

  switch (p.scene) {
    case 'harbour': {
      for (let i = 0; i < 14; i++) {
        const y = horizon + (h - horizon) * r.next();
        out.push(`<rect x="${f1(r.next() * w * 0.8)}" y="${f1(y)}" width="${f1(w * (0.1 + r.next() * 0.3))}" height="${f1(Math.max(0.5, h * 0.004))}" fill="${c[0]}" opacity="0.35"/>`);
      }
      const ships = r.int(2, 5);
      for (let i = 0; i < ships; i++) {
        const sx = r.next() * w * 0.85;
        const sw = w * (0.08 + r.next() * 0.18);
        const sy = horizon + (h - horizon) * (0.1 + r.next() * 0.4);
        const sh = sw * 0.18;
        out.push(`<path d="M${f1(sx)} ${f1(sy - sh)} L${f1(sx + sw)} ${f1(sy - sh)} L${f1(sx + sw * 0.9)} ${f1(sy)} L${f1(sx + sw * 0.08)} ${f1(sy)} Z" fill="${c[5]}"/>`);
        out.push(`<rect x="${f1(sx + sw * 0.3)}" y="${f1(sy - sh * 2)}" width="${f1(sw * 0.35)}" height="${f1(sh)}" fill="${c[4]}"/>`);
        out.push(`<rect x="${f1(sx + sw * 0.45)}" y="${f1(sy - sh * 3)}" width="${f1(sw * 0.07)}" height="${f1(sh)}" fill="${c[5]}"/>`);
        for (const m of [0.15, 0.8]) out.push(`<rect x="${f1(sx + sw * m)}" y="${f1(sy - sh * 5)}" width="${f1(Math.max(0.6, sw * 0.012))}" height="${f1(sh * 4)}" fill="${c[5]}"/>`);
      }
      out.push(`<path d="M0 ${f1(h)} L0 ${f1(h * 0.86)} L${f1(w * 0.45)} ${f1(h * 0.8)} L${f1(w * 0.5)} ${f1(h)} Z" fill="${c[5]}" opacity="0.9"/>`);
      break;
    }
    case 'rail': {
      const vx = w * (0.3 + r.next() * 0.4);
      out.push(`<path d="M${f1(w * 0.1)} ${h} L${f1(vx - w * 0.01)} ${f1(horizon)} L${f1(vx + w * 0.01)} ${f1(horizon)} L${f1(w * 0.9)} ${h} Z" fill="${c[3]}"/>`);
      for (const x0 of [0.3, 0.7]) out.push(`<path d="M${f1(w * x0)} ${h} L${f1(vx)} ${f1(horizon)}" stroke="${c[1]}" stroke-width="${f1(Math.max(0.6, w * 0.004))}"/>`);
      for (let i = 0; i < 7; i++) {
        const x = (w * (i + 0.5)) / 7;
        out.push(`<rect x="${f1(x)}" y="${f1(horizon - h * 0.25)}" width="${f1(Math.max(0.6, w * 0.004))}" height="${f1(h * 0.27)}" fill="${c[4]}"/>`);
      }
      const lw = w * 0.35;
      const lx = vx - lw * 0.2;
      const ly = horizon + (h - horizon) * 0.35;
      out.push(`<rect x="${f1(lx)}" y="${f1(ly - lw * 0.3)}" width="${f1(lw)}" height="${f1(lw * 0.3)}" rx="${f1(lw * 0.03)}" fill="${c[5]}"/>`);
      out.push(`<rect x="${f1(lx + lw * 0.1)}" y="${f1(ly - lw * 0.45)}" width="${f1(lw * 0.08)}" height="${f1(lw * 0.15)}" fill="${c[5]}"/>`);
      out.push(`<ellipse cx="${f1(lx + lw * 0.14)}" cy="${f1(ly - lw * 0.55)}" rx="${f1(lw * 0.25)}" ry="${f1(lw * 0.1)}" fill="${c[1]}" opacity="0.8" filter="url(#blur)"/>`);
      break;
    }
    case 'temple': {
      const tw = w * (0.45 + r.next() * 0.2);
      const tx = (w - tw) / 2;
      const base = horizon + (h - horizon) * 0.45;
      out.push(`<rect x="${f1(tx + tw * 0.1)}" y="${f1(base - tw * 0.3)}" width="${f1(tw * 0.8)}" height="${f1(tw * 0.3)}" fill="${c[4]}"/>`);
      out.push(`<path d="M${f1(tx - tw * 0.05)} ${f1(base - tw * 0.28)} Q${f1(tx + tw / 2)} ${f1(base - tw * 0.42)} ${f1(tx + tw * 1.05)} ${f1(base - tw * 0.28)} L${f1(tx + tw * 0.8)} ${f1(base - tw * 0.55)} L${f1(tx + tw * 0.2)} ${f1(base - tw * 0.55)} Z" fill="${c[5]}"/>`);
      for (let i = 0; i < 6; i++) out.push(`<rect x="${f1(tx + tw * (0.15 + i * 0.13))}" y="${f1(base - tw * 0.28)}" width="${f1(tw * 0.03)}" height="${f1(tw * 0.28)}" fill="${c[5]}"/>`);
      out.push(`<rect x="${f1(tx)}" y="${f1(base)}" width="${f1(tw)}" height="${f1(h * 0.03)}" fill="${c[3]}"/>`);
      for (let i = 0; i < 6; i++) out.push(`<ellipse cx="${f1(r.next() < 0.5 ? r.next() * tx : w - r.next() * tx)}" cy="${f1(horizon + h * 0.05)}" rx="${f1(w * 0.08)}" ry="${f1(h * 0.16)}" fill="${c[4]}" opacity="0.9" filter="url(#blur)"/>`);
      for (let i = 0; i < 5; i++) figure(tx + tw * r.next(), h * (0.85 + r.next() * 0.1), h * 0.09);
      break;
    }
    case 'country': {
      for (let i = 0; i < 6; i++) {
        const y = horizon + ((h - horizon) * i) / 6;
        out.push(`<rect x="0" y="${f1(y)}" width="${w}" height="${f1((h - horizon) / 12)}" fill="${i % 2 ? c[1] : c[3]}" opacity="0.35"/>`);
      }
      const hx = w * (0.55 + r.next() * 0.3);
      const hw = w * 0.14;
      out.push(`<rect x="${f1(hx)}" y="${f1(horizon - hw * 0.35)}" width="${f1(hw)}" height="${f1(hw * 0.35)}" fill="${c[4]}"/>`);
      out.push(`<path d="M${f1(hx - hw * 0.15)} ${f1(horizon - hw * 0.33)} L${f1(hx + hw / 2)} ${f1(horizon - hw * 0.85)} L${f1(hx + hw * 1.15)} ${f1(horizon - hw * 0.33)} Z" fill="${c[3]}"/>`);
      for (let i = 0; i < 4; i++) out.push(`<ellipse cx="${f1(r.next() * w)}" cy="${f1(horizon - h * 0.04)}" rx="${f1(w * 0.05)}" ry="${f1(h * 0.09)}" fill="${c[4]}" opacity="0.9" filter="url(#blur)"/>`);
      const people = r.int(4, 8);
      for (let i = 0; i < people; i++) figure(w * (0.1 + (0.8 * i) / people), horizon + (h - horizon) * 0.55, h * 0.1);
      break;
    }
    case 'group': {
      const bw = w * 0.8;
      out.push(`<rect x="${f1(w * 0.1)}" y="${f1(horizon - h * 0.2)}" width="${f1(bw)}" height="${f1(h * 0.3)}" fill="${c[3]}"/>`);
      for (let i = 0; i < 10; i++) out.push(`<rect x="${f1(w * 0.12 + (bw * i) / 10)}" y="${f1(horizon - h * 0.15)}" width="${f1(bw / 16)}" height="${f1(h * 0.08)}" fill="${c[1]}" opacity="0.5"/>`);
      const rows = 3;
      for (let j = 0; j < rows; j++) {
        const y = horizon + (h - horizon) * (0.3 + j * 0.22);
        const n = 9 + j * 2;
        for (let i = 0; i < n; i++) figure(w * (0.08 + (0.84 * (i + 0.5)) / n), y, h * (0.12 + j * 0.02));
      }
      break;
    }
    case 'city': {
      for (let layer = 0; layer < 4; layer++) {
        const base = horizon + (h - horizon) * (0.15 + layer * 0.25);
        const bh = h * (0.05 + layer * 0.05);
        let x = -r.next() * w * 0.01;
        while (x < w) {
          const bw = w * (0.002 + r.next() * 0.006) * (1 + layer);
          building(x, bw, bh * (0.6 + r.next() * 0.8), base, c[Math.min(5, 2 + layer)]!);
          x += bw * (1.05 + r.next() * 0.3);
        }
      }
      break;
    }
    default: {
      // street in perspective: buildings on both sides, a road, people
      const vx = w * (0.4 + r.next() * 0.2);
      out.push(`<path d="M0 ${h} L${f1(vx - w * 0.03)} ${f1(horizon)} L${f1(vx + w * 0.03)} ${f1(horizon)} L${w} ${h} Z" fill="${c[2]}"/>`);
      for (const side of [0, 1]) {
        const n = 6;
        for (let i = 0; i < n; i++) {
          const t = i / n;
          const x0 = side ? w - (w - vx) * (1 - t) * 0.9 : vx * t * 0.9;
          const bw = (side ? w - vx : vx) * 0.9 * (1 / n) * (1.2 - t * 0.5);
          const bh = h * (0.5 - t * 0.32) * (0.8 + r.next() * 0.4);
          const base = horizon + (h - horizon) * (0.55 - t * 0.5);
          building(side ? x0 - bw : x0, bw, bh, base, c[side ? 4 : 3]!);
        }
      }
      const people = r.int(6, 14);
      for (let i = 0; i < people; i++) {
        const t = r.next();
        figure(vx + (r.next() - 0.5) * w * (1 - t) * 0.9, horizon + (h - horizon) * (1 - t * 0.85), h * 0.14 * (1 - t * 0.8));
      }
    }
  }
  out.push(`</g>`);
  out.push(`<rect width="${w}" height="${h}" fill="url(#vig)"/>`);
  // plate number, as if scratched into the emulsion: readable even in thumbnails
  const fs = Math.max(6, Math.min(h * 0.07, w * 0.05));
  out.push(
    `<text x="${f1(fs * 0.6)}" y="${f1(fs * 1.3)}" font-family="DejaVu Sans Mono, monospace" font-size="${f1(fs)}" fill="${c[0]}" opacity="0.85">${esc(p.recordId)}${p.pages > 1 ? ` (${p.page}/${p.pages})` : ''}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${out.join('')}</svg>`;
}

/** The caption strip, rendered at full resolution so it stays sharp when zoomed in. */
function captionSvg(p: ImagePlan): { svg: string; left: number; top: number } | undefined {
  const chars = p.caption.length;
  const fs = Math.floor(Math.min(p.height * 0.035, (p.width * 0.9) / (chars * 0.62)));
  if (fs < 5) return undefined;
  const cw = Math.min(p.width, Math.ceil(chars * fs * 0.62 + fs * 1.2));
  const ch = Math.ceil(fs * 1.7);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cw}" height="${ch}">` +
    `<rect width="${cw}" height="${ch}" rx="${f1(fs * 0.2)}" fill="#f4ecd8" opacity="0.78"/>` +
    `<text x="${f1(fs * 0.6)}" y="${f1(fs * 1.2)}" font-family="DejaVu Serif, serif" font-size="${fs}" fill="#2a1f14">${esc(p.caption)}</text></svg>`;
  return { svg, left: Math.round(p.width * 0.03), top: Math.max(0, p.height - ch - Math.round(p.height * 0.04)) };
}

const grainCache = new Map<string, Promise<Buffer>>();
/** A square grey noise tile (PNG), repeated over the picture as film grain. */
function grainTile(size: number, seed: number): Promise<Buffer> {
  const key = `${seed}:${size}`;
  let g = grainCache.get(key);
  if (!g) {
    // libvips' gaussnoise is not seeded; draw the noise ourselves so output is reproducible.
    const r = rng(seed, `grain:${size}`);
    const px = Buffer.alloc(size * size);
    for (let i = 0; i < px.length; i++) {
      const n = (r.next() + r.next() + r.next() + r.next() - 2) * 32; // ~N(0, 18)
      px[i] = Math.max(0, Math.min(255, Math.round(128 + n)));
    }
    g = sharp(px, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
    grainCache.set(key, g);
  }
  return g;
}

async function renderImage(p: ImagePlan): Promise<void> {
  // Draw small: ~800 px on the long side (or ~300 px high for the panorama), then enlarge.
  const f = Math.max(1, Math.min(Math.max(p.width, p.height) / 800, Math.min(p.width, p.height) / 300));
  const w = Math.max(1, Math.round(p.width / f));
  const h = Math.max(1, Math.round(p.height / f));
  const small = await sharp(Buffer.from(sceneSvg(p, w, h)))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const tile = Math.min(512, p.width, p.height);
  const overlays: OverlayOptions[] = [{ input: await grainTile(tile, p.corpusSeed), tile: true, blend: 'overlay' }];
  const cap = captionSvg(p);
  if (cap) overlays.push({ input: Buffer.from(cap.svg), left: cap.left, top: cap.top });
  let img = sharp(small.data, { raw: small.info })
    .resize(p.width, p.height, { kernel: 'linear', fit: 'fill' }) // soft subject: linear is enough, and ~2x cheaper than cubic
    .composite(overlays);
  if (!p.sepia) img = img.toColourspace('b-w');
  await mkdir(path.dirname(p.path), { recursive: true });
  if (p.panorama) {
    await img
      .tiff({ tile: true, pyramid: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg', quality: 80 })
      .toFile(p.path);
  } else {
    await img.jpeg({ quality: 82 }).toFile(p.path);
  }
}

// ------------------------------------------------------------------------------------------------
// Workbooks

const HEADERS = {
  R01: [
    '資料番号', '回次', '資料種別', '題名', '題名（英）', '撮影者', '作成者（英）', '撮影年', '撮影地', '撮影地（英）',
    '解説', '解説（英）', 'キーワード', 'コレクション', 'コレクション（英）', '権利', '備考', '公開区分', '画像ファイル', '幅', '高さ',
  ],
  // The second round's spreadsheet drifted, as real ones do: other wordings, half-width brackets.
  R02: [
    '資料番号', '回次', '資料種別', 'タイトル', 'タイトル(英)', '作成者', '作成者 (英)', '年代', '撮影地', '撮影地(英)',
    '解説', '解説 (英)', 'キーワード', 'コレクション', 'コレクション(英)', '権利', '備考', '公開区分', '画像ファイル', '幅', '高さ',
  ],
} as const;

interface Planned {
  entry: DemoEntry;
  batch: 'R01' | 'R02';
  images: ImagePlan[];
  creator: Bi;
  collection: Bi;
  rights: string;
  notes?: string;
}

function plan(seed: number, scale: number, deliveryDir: string): Planned[] {
  const out: Planned[] = [];
  for (const [batch, entries] of [['R01', R01], ['R02', R02]] as const) {
    for (const e of entries) {
      const r = rng(seed, e.id);
      const pages = e.files?.length ?? e.pages ?? 1;
      const names =
        e.files ??
        (e.panorama
          ? [`${e.id}.tif`]
          : pages === 1
            ? [`${e.id}.jpg`]
            : Array.from({ length: pages }, (_, i) => `${e.id}-${String(i + 1).padStart(2, '0')}.jpg`));
      const sepia = e.panorama || e.type === '鶏卵紙写真' || e.type === '絵葉書' || r.chance(0.55);
      const first = dims(r, e, scale);
      const images = names.map((name, i): ImagePlan => {
        const d = i === 0 ? first : e.type === '絵葉書' ? first : dims(r, e, scale);
        return {
          recordId: e.id,
          batch,
          name,
          path: deliveredPath(deliveryDir, batch, e, name),
          ...d,
          page: i + 1,
          pages,
          caption: `${e.id}  ${e.title.en}${pages > 1 ? `  (${i + 1}/${pages})` : ''}`,
          scene: sceneFor(e),
          sepia,
          panorama: !!e.panorama,
          seed: hash(`${seed}:${e.id}:${i}`),
          corpusSeed: seed,
        };
      });
      out.push({
        entry: e,
        batch,
        images,
        creator: e.id === 'R01-0012' ? CREATORS[7]! : r.pick(CREATORS.slice(0, 7)),
        collection: e.type === '絵葉書' ? COLLECTIONS[1]! : r.pick([COLLECTIONS[0]!, COLLECTIONS[2]!]),
        rights: r.pick(RIGHTS),
        notes: e.type === 'ガラス乾板' ? NOTES[0] : r.chance(0.35) ? r.pick(NOTES.slice(1)) : undefined,
      });
    }
  }
  return out;
}

/** Where a delivered image file lies: round 1 in subfolders by type, round 2 flat with ".JPG". */
function deliveredPath(deliveryDir: string, batch: 'R01' | 'R02', e: DemoEntry, name: string): string {
  const folder = path.join(deliveryDir, DEMO_FOLDERS[batch]);
  if (batch === 'R01') return path.join(folder, R01_SUBFOLDERS[e.type] ?? 'その他', name);
  return path.join(folder, name.replace(/\.jpg$/, '.JPG'));
}

/**
 * The state of a bibliography: `revised` is the correct one; `original` (before revision) has
 * errors the revision fixed — a wrong character in a title, members-only items marked 公開 — and
 * `sorted` is the original sorted by type.
 */
type Variant = 'revised' | 'original' | 'sorted';

const ORIGINAL_ERRORS: Record<string, Partial<Pick<DemoEntry, 'title' | 'access'>>> = {
  'R01-0001': { title: { ja: '東京駅丸ノ内ロ', en: 'Tokyo Station, Marunouchi entrance' } },
  'R01-0013': { access: '公開' },
  'R02-0008': { access: '公開' },
};

async function writeWorkbook(file: string, batch: 'R01' | 'R02', planned: Planned[], variant: Variant = 'revised'): Promise<void> {
  let items = planned;
  if (variant !== 'revised') {
    items = planned.map((it) => (ORIGINAL_ERRORS[it.entry.id] ? { ...it, entry: { ...it.entry, ...ORIGINAL_ERRORS[it.entry.id] } } : it));
    if (variant === 'sorted') items = [...items].sort((a, b) => (a.entry.type < b.entry.type ? -1 : a.entry.type > b.entry.type ? 1 : a.entry.id < b.entry.id ? -1 : 1));
  }
  const wb = new ExcelJS.Workbook();
  const stamp = new Date(Date.UTC(batch === 'R01' ? 2024 : 2025, 2, 29));
  wb.creator = '写真資料整理委員会';
  wb.created = stamp;
  wb.modified = stamp;
  const ws = wb.addWorksheet('書誌データ', { views: [{ state: 'frozen', ySplit: 4 }] });
  const headers = HEADERS[batch];
  const round = batch === 'R01' ? 1 : 2;
  ws.getCell('A1').value = `写真資料 書誌データ 第${round}回納品（${batch}）`;
  ws.getCell('A1').font = { bold: true, size: 14 };
  ws.mergeCells(1, 1, 1, headers.length);
  ws.getCell('A2').value = `納品日：${stamp.toISOString().slice(0, 10)}　件数：${items.length}件`;
  const header = ws.getRow(4);
  header.values = [undefined, ...headers];
  header.font = { bold: true };
  header.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFDDE5F0' } };
  const sep = batch === 'R01' ? '；' : '、';
  items.forEach((it, i) => {
    const e = it.entry;
    const list = (xs: readonly (string | number)[]) => xs.join(batch === 'R01' ? '；' : ';');
    const pages = it.images.length;
    const row = ws.getRow(5 + i);
    row.values = [
      undefined,
      e.id,
      batch === 'R01' ? batch : String(round), // R02 writes the round as a plain number
      e.type,
      e.title.ja,
      e.title.en,
      it.creator.ja,
      it.creator.en,
      e.date,
      e.place.ja,
      e.place.en,
      e.description.ja,
      e.description.en,
      e.subjects.join(sep),
      it.collection.ja,
      it.collection.en,
      it.rights,
      it.notes ?? null,
      e.access ?? '公開',
      pages > 1 ? it.images.map((p) => p.name).join('\n') : it.images[0]!.name,
      pages > 1 ? list(it.images.map((p) => p.width)) : it.images[0]!.width,
      pages > 1 ? list(it.images.map((p) => p.height)) : it.images[0]!.height,
    ];
    row.alignment = { vertical: 'top', wrapText: true };
  });
  headers.forEach((hd, i) => {
    ws.getColumn(i + 1).width = /解説/.test(hd) ? 60 : /題名|タイトル|画像/.test(hd) ? 30 : 14;
  });
  // A second sheet explaining the codes, as providers like to include.
  const legend = wb.addWorksheet('凡例');
  legend.addRow(['公開区分']);
  legend.addRow(['公開', '一般に公開']);
  legend.addRow(['会員', '会員のみ閲覧可']);
  legend.addRow(['職員', '職員のみ閲覧可']);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.from(await wb.xlsx.writeBuffer()));
}

// ------------------------------------------------------------------------------------------------

interface Marker {
  version: number;
  seed: number;
  scale: number;
  /** The raw delivery, relative to dataDir. */
  delivery: string;
  /** Image files written (archive images and reference-only shots). */
  images: number;
}

/** Version-1 marker: workbooks in <dataDir>/bibliography, image files written into the image tree. */
interface MarkerV1 {
  version: 1;
  bibliographies: string[];
  imagesDir: string;
}

async function readMarker(dataDir: string): Promise<Marker | MarkerV1 | undefined> {
  const marker = path.join(dataDir, DEMO_MARKER);
  if (!existsSync(marker)) return undefined;
  try {
    return JSON.parse(await readFile(marker, 'utf8')) as Marker | MarkerV1;
  } catch {
    return undefined;
  }
}

/** The marker of a complete demo delivery below `dataDir`, or undefined when there is none. */
export async function existingDemoCorpus(dataDir: string): Promise<Marker | undefined> {
  const m = await readMarker(dataDir);
  return m && m.version === DEMO_VERSION ? (m as Marker) : undefined;
}

/**
 * A version-1 demo corpus wrote its images as regular files into the image tree, where normalize
 * now puts symlinks (and never replaces a file it did not create): remove exactly what it wrote.
 */
async function removeV1Corpus(dataDir: string, m: MarkerV1): Promise<void> {
  const images = path.resolve(dataDir, m.imagesDir);
  for (const b of ['R01', 'R02']) await rm(path.join(images, b), { recursive: true, force: true });
  for (const f of m.bibliographies ?? []) await rm(path.resolve(dataDir, f), { force: true });
  await rmdir(path.join(dataDir, 'bibliography')).catch(() => {}); // only when empty
}

/** Run `fn` over `items` with at most `n` in flight, in order of start. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

/** A plain reference-only shot (envelope, sleeve, colour chart): small, cheap to render. */
async function referenceImage(file: string, scale: number, shade: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const width = Math.max(16, Math.round(600 * scale));
  const height = Math.max(16, Math.round(400 * scale));
  await sharp({ create: { width, height, channels: 3, background: { r: shade, g: shade, b: shade - 30 } } })
    .jpeg({ quality: 70 })
    .toFile(file);
}

/** A request form: metadata-management paperwork with an id column, never a bibliography. */
async function writeRequestForm(file: string, ids: string[]): Promise<void> {
  const wb = new ExcelJS.Workbook();
  const stamp = new Date(Date.UTC(2024, 2, 1));
  wb.created = stamp;
  wb.modified = stamp;
  const ws = wb.addWorksheet('登録依頼');
  ws.addRow(['メタデータ登録依頼書']);
  ws.addRow(['資料番号', '依頼内容', '担当']);
  for (const id of ids) ws.addRow([id, '新規登録', '整理係']);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.from(await wb.xlsx.writeBuffer()));
}

/**
 * Write the raw demo delivery below `<dataDir>/delivery` (see the module comment) and return its
 * folder. If the marker says a complete delivery is there, nothing is written.
 */
export async function generateDemoCorpus(dataDir: string, opts: DemoOptions = {}): Promise<string> {
  const seed = opts.seed ?? 1902;
  const scale = opts.scale ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`demo scale must be in (0, 1], got ${scale}`);
  const deliveryDir = path.resolve(opts.deliveryDir ?? path.join(dataDir, 'delivery'));
  const previous = await readMarker(dataDir);
  if (!opts.force && previous?.version === DEMO_VERSION && path.resolve(dataDir, (previous as Marker).delivery) === deliveryDir) {
    return deliveryDir;
  }
  if (previous?.version === 1) await removeV1Corpus(dataDir, previous as MarkerV1);
  await rm(path.join(dataDir, DEMO_MARKER), { force: true });
  for (const b of ['R01', 'R02'] as const) await rm(path.join(deliveryDir, DEMO_FOLDERS[b]), { recursive: true, force: true });
  const items = plan(seed, scale, deliveryDir);

  const r01 = path.join(deliveryDir, DEMO_FOLDERS.R01);
  const r02 = path.join(deliveryDir, DEMO_FOLDERS.R02);
  const of = (b: 'R01' | 'R02') => items.filter((it) => it.batch === b);
  await writeWorkbook(path.join(r01, '書誌データ_第1回.xlsx'), 'R01', of('R01'), 'original');
  await writeWorkbook(path.join(r01, '書誌データ_第1回_ソート済.xlsx'), 'R01', of('R01'), 'sorted');
  await writeWorkbook(path.join(r01, '書誌データ_第1回_修正版.xlsx'), 'R01', of('R01'), 'revised');
  await writeRequestForm(path.join(r01, 'メタデータ登録依頼書_第1回.xlsx'), of('R01').map((it) => it.entry.id));
  await writeFile(path.join(r01, 'Thumbs.db'), Buffer.alloc(64));
  await writeWorkbook(path.join(r02, 'R2_書誌_修正前.xlsx'), 'R02', of('R02'), 'original');
  await writeWorkbook(path.join(r02, 'R2_書誌_修正後.xlsx'), 'R02', of('R02'), 'revised');
  await writeFile(path.join(r02, '~$R2_書誌_修正後.xlsx'), Buffer.alloc(165));

  const references = [
    path.join(r01, '参考資料', '封筒_第1回.jpg'),
    path.join(r01, '参考資料', 'カラーチャート.jpg'),
    path.join(r02, 'R02-0003_スリーブ.JPG'),
    path.join(r02, 'colour chart.JPG'),
  ];
  // Biggest first, so the panorama overlaps with the rest instead of finishing last.
  const images = items.flatMap((it) => it.images).sort((a, b) => b.width * b.height - a.width * a.height);
  const total = images.length + references.length;
  let done = 0;
  // One more job than CPUs: each job waits on I/O between its two sharp pipelines.
  await pool(images, opts.concurrency ?? os.availableParallelism() + 1, async (p) => {
    await renderImage(p);
    opts.onImage?.(p.path, ++done, total);
  });
  for (const [i, file] of references.entries()) {
    await referenceImage(file, scale, 200 - i * 20);
    opts.onImage?.(file, ++done, total);
  }

  const marker: Marker = { version: DEMO_VERSION, seed, scale, delivery: path.relative(dataDir, deliveryDir) || '.', images: total };
  await writeFile(path.join(dataDir, DEMO_MARKER), JSON.stringify(marker, null, 2) + '\n');
  return deliveryDir;
}

export interface DemoSetup {
  /** False when an existing delivery was reused. */
  generated: boolean;
  deliveryDir: string;
  normalize: NormalizeReport;
  index: IndexReport;
  /** Only when S3 is configured (S3_BUCKET). */
  sync?: SyncReport;
}

/**
 * Generate the raw demo delivery below `cfg.dataDir` unless it is already there, then run the
 * real pipeline on it: normalize into the clean tree (`cfg.images.root`), index into `store`, and
 * sync to S3 when a bucket is configured. What the `demo` command and a demo start-up run.
 */
export async function setUpDemo(
  cfg: Pick<Config, 'dataDir' | 'images' | 's3'>,
  store: SearchStore,
  opts: DemoOptions & { now?: Date; onStage?: (stage: 'normalize' | 'index' | 'sync') => void } = {},
): Promise<DemoSetup> {
  const { now, onStage, ...demo } = opts;
  const generated = !!opts.force || !(await existingDemoCorpus(cfg.dataDir));
  const deliveryDir = await generateDemoCorpus(cfg.dataDir, demo);
  const rules = compileRules();
  onStage?.('normalize');
  const normalized = await normalize({ deliveries: [deliveryDir], cleanRoot: cfg.images.root, rules });
  onStage?.('index');
  const index = await indexCleanTree(store, { cleanRoot: cfg.images.root, rules, now });
  const setup: DemoSetup = { generated, deliveryDir, normalize: normalized, index };
  if (cfg.s3.bucket) {
    onStage?.('sync');
    const { createS3Client } = await import('../storage/s3.ts');
    const { syncToS3 } = await import('./sync.ts');
    const client = createS3Client(cfg.s3, { maxAttempts: 1 });
    try {
      setup.sync = await syncToS3({ store, client, bucket: cfg.s3.bucket, prefix: cfg.s3.prefix, cleanRoot: cfg.images.root, attempts: 3 });
    } finally {
      client.destroy();
    }
  }
  return setup;
}

/** The demo records' texts, for tests and documentation (not the generated workbook rows). */
export const DEMO_ENTRIES: ReadonlyArray<Readonly<DemoEntry>> = [...R01, ...R02];
