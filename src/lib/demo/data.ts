/**
 * The demo corpus's data: the records of a fictional provider's two delivery rounds (fixed texts in
 * Japanese and English), the vocabularies the other fields are drawn from, and the seeded PRNG
 * that makes every other choice reproducible. Pure data; nothing here writes a file.
 */


/** FNV-1a 32-bit hash of a string. */
export function hash(s: string): number {
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

// The records

export interface Bi {
  ja: string;
  en: string;
}

export interface DemoEntry {
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

export const R01: DemoEntry[] = [
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
    date: '明治二十年',
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
    date: '昭和6〜8年',
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
    date: '昭和元年',
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

export const R02: DemoEntry[] = [
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
    date: '大正後期',
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
    date: '1920年代後半',
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
    date: '年代不詳',
    subjects: ['祭礼', '農村'],
    description: {
      ja: '秋の村祭りで鎮守の森から担ぎ出された神輿。法被姿の若者たちが田の畦道を練り歩き、刈り入れを終えた田圃の向こうに秩父の山が見える。',
      en: 'A portable shrine carried out of the village shrine grove at the autumn festival; young men in happi coats parade along the paddy banks, with the Chichibu hills beyond the harvested fields.',
    },
  },
];

export const CREATORS: readonly Bi[] = [
  { ja: '撮影者不詳', en: 'Unknown photographer' },
  { ja: '撮影者不詳', en: 'Unknown photographer' },
  { ja: '佐藤写真館', en: 'Sato Photo Studio' },
  { ja: '中村清三郎', en: 'Nakamura Seizaburo' },
  { ja: '横浜写真商会', en: 'Yokohama Photographic Company' },
  { ja: '浪速写真通信社', en: 'Naniwa Photo News Agency' },
  { ja: '田中光太郎', en: 'Tanaka Kotaro' },
  { ja: '東京市役所', en: 'Tokyo City Office' },
];

export const COLLECTIONS: readonly Bi[] = [
  { ja: '山田家旧蔵写真', en: 'Yamada Family Photograph Collection' },
  { ja: '絵葉書コレクション', en: 'Picture Postcard Collection' },
  { ja: '寄贈写真資料', en: 'Donated Photographs' },
];

export const RIGHTS = [
  'パブリックドメイン（Public Domain Mark 1.0）',
  'パブリックドメイン（Public Domain Mark 1.0）',
  '著作権保護期間満了',
  '著作権者不明（利用の際は所蔵館へ要連絡）',
] as const;

export const NOTES = [
  'ガラス乾板から複製',
  '裏面に鉛筆書きの書き込みあり',
  '一部に退色・銀鏡化あり',
  '台紙付き。台紙に写真館の刻印あり',
  '原板は破損のため一部欠損',
] as const;

/** The demo records' texts, for tests and documentation (not the generated workbook rows). */
export const DEMO_ENTRIES: ReadonlyArray<Readonly<DemoEntry>> = [...R01, ...R02];
