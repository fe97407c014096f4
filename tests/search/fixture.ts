/**
 * The fixed records of the shared query suite (tests/search/query-suite.ts). Expected results in
 * the suite are written against exactly this data: change both together.
 *
 * Words used by specific tests:
 *   梅林   ranking: in chosen fields of R01-0006 and R02-0001..0006 only
 *   東京・大阪  phrase across punctuation (R01-0003), two values of one field (R03-0003),
 *          reversed order (R03-0004)
 *   ABC / abc, ｱｲｳ / アイウ  width and case variants
 *   tokyo station  quoted phrase (R01-0002) versus two terms (R01-0002, R02-0007)
 */
import type { ItemInput } from '../../src/lib/search/store.ts';

type Spec = Omit<ItemInput, 'images' | 'batch'> & { images?: ItemInput['images'] };

function item(spec: Spec): ItemInput {
  const batch = spec.id.slice(0, 3);
  return {
    ...spec,
    batch,
    images: spec.images ?? [{ id: `${spec.id}_01`, file: `${batch}/${spec.id}/01.tif`, width: 4000, height: 3000 }],
  };
}

export const FIXTURE: ItemInput[] = [
  item({
    id: 'R01-0001',
    type: '写真',
    title: { ja: '浅草寺の雷門', en: 'Kaminarimon Gate, Sensoji' },
    description: { ja: '浅草の雷門を正面から写す。' },
    creator: { ja: '山田太郎' },
    date: '昭和10年頃',
    place: { ja: '東京 浅草' },
    subjects: ['寺院', '門'],
    collection: { ja: '山田家旧蔵写真' },
    images: [
      { id: 'R01-0001_01', file: 'R01/R01-0001/01.tif', label: { ja: '表', en: 'front' }, width: 4000, height: 3000 },
      { id: 'R01-0001_02', file: 'R01/R01-0001/02.tif', label: { ja: '裏', en: 'back' }, width: 3990, height: 2980 },
    ],
    source: { file: 'R01.xlsx', sheet: '目録', row: 2 },
  }),
  item({
    id: 'R01-0002',
    type: '写真',
    title: { ja: '東京駅丸の内口', en: 'Tokyo Station, Marunouchi' },
    description: { ja: '駅舎と人力車。' },
    creator: { ja: '山田太郎' },
    place: { ja: '東京' },
    subjects: ['駅', '鉄道'],
    collection: { ja: '山田家旧蔵写真' },
  }),
  item({
    id: 'R01-0003',
    type: '写真',
    title: { ja: '大阪城天守閣', en: 'Osaka Castle' },
    description: { ja: '東京、大阪の二都を巡る旅の記録。' },
    place: { ja: '大阪' },
    subjects: ['城'],
  }),
  item({
    id: 'R01-0004',
    type: '絵葉書',
    title: { ja: '祇園祭の山鉾' },
    description: { ja: 'ｱｲｳ商店の広告入り。' },
    place: { ja: '京都' },
    subjects: ['祭礼'],
  }),
  item({
    id: 'R01-0005',
    type: '絵葉書',
    title: { ja: '東京都庁舎' },
    description: { ja: '丸の内にあった旧庁舎。' },
    place: { ja: '東京' },
    subjects: ['建物'],
  }),
  item({ id: 'R01-0006', type: '写真', title: { ja: '梅林の春' }, place: { ja: '水戸' } }),
  item({
    id: 'R01-0007',
    type: '地図',
    title: { ja: '横浜市街図', en: 'Map of Yokohama' },
    description: { ja: '明治二十年の測量。' },
    place: { ja: '横浜' },
    access: 'members',
  }),
  item({
    id: 'R01-0008',
    title: { ja: '日記帳' },
    description: { ja: '昭和十年の日記。' },
    notes: '虫損あり',
    images: [],
  }),
  item({
    id: 'R01-0009',
    type: '写真',
    title: { ja: '富士山と𠮷田の町' },
    description: { ja: '𠮷田口登山道。' },
    place: { ja: '山梨' },
  }),
  item({
    id: 'R01-0010',
    type: '写真',
    title: { ja: '港の夕景', en: 'Harbour at dusk' },
    description: { en: 'Kobe harbour, 1935.' },
    place: { ja: '神戸' },
  }),

  item({ id: 'R02-0001', type: '写真', title: { ja: '偕楽園の梅林' }, description: { ja: '梅林を歩く人々。' } }),
  item({ id: 'R02-0002', type: '写真', title: { ja: '梅林と茶屋' } }),
  item({ id: 'R02-0003', type: '写真', title: { ja: '公園の池' }, subjects: ['梅林'], place: { ja: '梅林公園' } }),
  item({
    id: 'R02-0004',
    type: '写真',
    title: { ja: '記念撮影' },
    creator: { ja: '梅林写真館' },
    collection: { ja: '梅林文庫' },
  }),
  item({ id: 'R02-0005', type: '絵葉書', title: { ja: '茶店の風景' }, description: { ja: '奥に梅林が見える。' } }),
  item({ id: 'R02-0006', type: '絵葉書', title: { ja: '石段' }, notes: '裏面に梅林の書込み' }),
  item({
    id: 'R02-0007',
    type: '写真',
    title: { ja: '駅前広場', en: 'Station square in Tokyo' },
    place: { ja: '東京' },
  }),
  item({
    id: 'R02-0008',
    type: '地図',
    title: { ja: '大阪市全図' },
    description: { ja: '大正十四年発行。' },
    place: { ja: '大阪' },
  }),
  item({ id: 'R02-0009', type: '写真', title: { ja: 'ABC商会の看板' } }),
  item({ id: 'R02-0010', type: '絵葉書', title: { ja: 'アイウ百貨店' } }),
  item({ id: 'R02-0011', type: '写真', title: { ja: '東京湾の船' }, place: { ja: '東京' }, subjects: ['船', '港'] }),
  item({ id: 'R02-0012', title: { ja: '書簡' }, creator: { ja: '鈴木一郎' }, notes: 'abcdef の封筒' }),

  item({
    id: 'R03-0001',
    type: '写真',
    title: { ja: '銀座通り', en: 'Ginza Street' },
    place: { ja: '東京' },
    access: 'staff',
  }),
  item({ id: 'R03-0002', type: '写真', title: { ja: '京都駅' }, place: { ja: '京都' }, subjects: ['駅'] }),
  item({ id: 'R03-0003', type: '写真', title: { ja: '二都物語' }, subjects: ['東京', '大阪'] }),
  item({ id: 'R03-0004', type: '絵葉書', title: { ja: '大阪 東京 名所' }, description: { ja: '名所の絵葉書。' } }),
  item({ id: 'R03-0005', type: '写真', title: { ja: '銀座の夜' }, description: { ja: '東京の繁華街。' } }),
  item({ id: 'R03-0006', type: '写真', title: { ja: '神戸港' }, place: { ja: '神戸' }, subjects: ['港'] }),
  item({
    id: 'R03-0007',
    type: '地図',
    title: { ja: '東京市全図' },
    description: { ja: '大正十二年。' },
    place: { ja: '東京' },
  }),
  item({ id: 'R03-0008', type: '写真', title: { ja: '富士山遠望' }, place: { ja: '静岡' } }),
];

/** Every fixture id, in id order. */
export const FIXTURE_IDS = FIXTURE.map((i) => i.id).sort();

/**
 * The fixture's answer to 東京: ids with their scores (sum of field weights), best first, ties by
 * id. The shared suite expects it of every backend; the recorded Elasticsearch response encodes it.
 */
export const TOKYO_RANKING: Array<[string, number]> = [
  ['R01-0002', 13],
  ['R01-0005', 13],
  ['R02-0011', 13],
  ['R03-0007', 13],
  ['R03-0004', 10],
  ['R03-0003', 4],
  ['R01-0001', 3],
  ['R02-0007', 3],
  ['R03-0001', 3],
  ['R01-0003', 2],
  ['R03-0005', 2],
];
