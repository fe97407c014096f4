/**
 * Highlight cases shared by the parity test (highlight-parity.test.ts, against a scripted cluster)
 * and the live suite (elasticsearch.live.test.ts, against a real one): records, queries, and the
 * `highlight` answer Elasticsearch's unified highlighter gives for them (marks between the tags,
 * overlapping tokens as one mark, offsets on the original text). The live suite checks these
 * answers against the real highlighter.
 */
import { HIGHLIGHT_POST as E, HIGHLIGHT_PRE as S } from '../../src/lib/search/highlight.ts';
import type { ItemInput } from '../../src/lib/search/store.ts';

const img = (id: string) => [{ id: `${id}_01`, file: `P/${id}/01.tif` }];
export const HIGHLIGHT_RECORDS: ItemInput[] = [
  { id: 'P-0001', batch: 'P', title: { ja: '帝国ﾎﾃﾙ', en: 'Imperial Hotel' }, description: { ja: 'ｶﾞｽ灯の並ぶ通り' }, images: img('P-0001') },
  { id: 'P-0002', batch: 'P', title: { ja: '東京、大阪' }, images: img('P-0002') },
  { id: 'P-0003', batch: 'P', title: { ja: '横浜港と神戸港' }, subjects: ['港'], images: img('P-0003') },
  { id: 'P-0004', batch: 'P', title: { en: 'ＴＯＫＹＯ Station' }, place: { en: 'Tokyo' }, images: img('P-0004') },
  { id: 'P-0005', batch: 'P', title: { ja: 'ホ\u3099テル前' }, images: img('P-0005') },
  { id: 'P-0006', batch: 'P', title: { ja: '東京大阪間の鉄道' }, notes: '東京と大阪', images: img('P-0006') },
  { id: 'P-0007', batch: 'P', title: { ja: '<img src=x onerror=alert(1)>の写真' }, images: img('P-0007') },
];

/** Query, record, and the `highlight` object Elasticsearch answers for that record. */
export const HIGHLIGHT_CASES: Array<{ q: string; id: string; es: Record<string, string[]> }> = [
  { q: 'ほてる', id: 'P-0001', es: { 'search.title': [`帝国${S}ﾎﾃﾙ${E}`] } },
  { q: 'ガス灯', id: 'P-0001', es: { 'search.description': [`${S}ｶﾞｽ灯${E}の並ぶ通り`] } },
  { q: 'hotel', id: 'P-0001', es: { 'search.title': [`Imperial ${S}Hotel${E}`] } },
  { q: '東京・大阪', id: 'P-0002', es: { 'search.title': [`${S}東京${E}、${S}大阪${E}`] } },
  { q: '港', id: 'P-0003', es: { 'search.title.uni': [`横浜${S}港${E}と神戸${S}港${E}`], 'search.subjects.uni': [`${S}港${E}`] } },
  { q: '神戸港', id: 'P-0003', es: { 'search.title': [`横浜港と${S}神戸港${E}`] } },
  { q: 'tokyo station', id: 'P-0004', es: { 'search.title': [`${S}ＴＯＫＹＯ${E} ${S}Station${E}`], 'search.place': [`${S}Tokyo${E}`] } },
  { q: 'ぼてる', id: 'P-0005', es: { 'search.title': [`${S}ホ\u3099テル${E}前`] } },
  { q: '東京 大阪', id: 'P-0006', es: { 'search.title': [`${S}東京${E}${S}大阪${E}間の鉄道`], 'search.notes': [`${S}東京${E}と${S}大阪${E}`] } },
  { q: 'img', id: 'P-0007', es: { 'search.title': [`<${S}img${E} src=x onerror=alert(1)>の写真`] } },
];
