/**
 * Dated records of the shared query suite's date cases (issue 15.4) and of the Elasticsearch date
 * parity test. Ranges as src/lib/dates/range.ts reads them, in the comments.
 */
import type { ItemInput } from '../../src/lib/search/store.ts';

const dated = (id: string, date: string | undefined, title = `港町の風景 ${id}`, extra: Partial<ItemInput> = {}): ItemInput => ({
  id,
  batch: 'D1',
  type: '写真',
  title: { ja: title },
  ...(date !== undefined ? { date } : {}),
  images: [{ id: `${id}_01`, file: `D1/${id}/01.tif` }],
  ...extra,
});

export const DATED: ItemInput[] = [
  dated('D01', '明治20年代（1890頃）'), // 1887–1896
  dated('D02', '大正3年（1914）'), // 1914
  dated('D03', '大正末期'), // 1922–1926
  dated('D04', '昭和10年頃'), // 1933–1937
  dated('D05', '1923年5月', '駅前の通り'), // 1923, not 港町
  dated('D06', '1918-1931'), // touches 1910, 1920, 1930
  dated('D07', '不明'), // unparsed
  dated('D08', undefined), // no date
  dated('D09', '平成31年'), // 2019
  dated('D10', '令和元年'), // 2019
  dated('D11', 'S10', '港町の絵葉書 D11', { batch: 'D2', type: '絵葉書', images: [{ id: 'D11_01', file: 'D2/D11/01.tif' }] }), // 1935
];

/** Requests the parity test runs on both backends. */
export const DATE_REQUESTS = [
  {},
  { filters: { yearFrom: 1912, yearTo: 1926 } },
  { filters: { yearFrom: 2000 } },
  { filters: { yearTo: 1900 } },
  { filters: { yearFrom: 1935, yearTo: 1935, batch: ['D2'] } },
  { filters: { yearFrom: 1930, yearTo: 1920 } },
  { sort: 'oldest' as const },
  { sort: 'newest' as const },
  { sort: 'oldest' as const, page: 2, pageSize: 3 },
  { sort: 'newest' as const, filters: { yearFrom: 1912, yearTo: 1926 } },
];
