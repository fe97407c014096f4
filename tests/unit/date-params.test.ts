/**
 * The date parameters of a search URL (issue 15.4): `from` and `to` in 西暦 or 和暦, `sort=oldest|newest`,
 * the same in the search page, /api/search.json and the IIIF search collection (canonical order).
 */
import { describe, expect, it } from 'vitest';
import { parseSearchParams, searchQueryString, unreadableYears } from '../../src/lib/search/params.ts';
import { collectionUrl } from '../../src/lib/iiif/collection.ts';

const parse = (qs: string) => parseSearchParams(new URLSearchParams(qs));

describe('year and date-sort parameters', () => {
  it('reads era names, 元年, letters and plain years as year bounds', () => {
    expect(parse('from=大正&to=昭和').filters).toEqual({ yearFrom: 1912, yearTo: 1989 });
    expect(parse('from=昭和元年&to=S10').filters).toEqual({ yearFrom: 1926, yearTo: 1935 });
    expect(parse('from=１９２３').filters).toEqual({ yearFrom: 1923 });
    expect(parse('to=1920年代').filters).toEqual({ yearTo: 1929 });
    expect(parse('q=港&from=&to=').filters).toBeUndefined();
  });

  it('swaps an inverted span (昭和 → 大正 means the years between them)', () => {
    expect(parse('from=昭和&to=大正').filters).toEqual({ yearFrom: 1912, yearTo: 1989 });
    expect(parse('from=1930&to=1920').filters).toEqual({ yearFrom: 1920, yearTo: 1930 });
  });

  it('ignores what names no year, and says which inputs those were', () => {
    expect(parse('from=abc&to=1930').filters).toEqual({ yearTo: 1930 });
    expect(unreadableYears(new URLSearchParams('from=abc&to=1930'))).toEqual(['abc']);
    expect(unreadableYears(new URLSearchParams('from=大正16年&to=' + '1'.repeat(50)))).toEqual(['大正16年', '1'.repeat(50)]);
    expect(unreadableYears(new URLSearchParams('from=大正&to='))).toEqual([]);
  });

  it('accepts oldest and newest as sorts, nothing else new', () => {
    expect(parse('sort=oldest').sort).toBe('oldest');
    expect(parse('sort=newest').sort).toBe('newest');
    expect(parse('sort=date').sort).toBeUndefined();
  });

  it('writes the canonical query string with years as numbers: q, batch, type, from, to, sort', () => {
    const req = parse('sort=oldest&to=昭和&q=港&from=大正&type=写真&batch=R01');
    expect(searchQueryString(req)).toBe(`?q=${encodeURIComponent('港')}&batch=R01&type=${encodeURIComponent('写真')}&from=1912&to=1989&sort=oldest`);
    expect(collectionUrl('https://a.example', req)).toBe(
      `https://a.example/api/iiif/collection?q=${encodeURIComponent('港')}&batch=R01&type=${encodeURIComponent('写真')}&from=1912&to=1989&sort=oldest`,
    );
  });
});
