/**
 * The manifest service's in-process cache (src/lib/iiif/service.ts, on lru-cache): a manifest is
 * built once per record version, rebuilt when the record changes, and the least recently used is
 * dropped beyond `cacheEntries`.
 */
import { describe, expect, test } from 'vitest';
import type { ItemRecord } from '../../src/lib/domain.ts';
import { ManifestService } from '../../src/lib/iiif/service.ts';
import type { SearchStore } from '../../src/lib/search/store.ts';

function record(id: string, updated: string): ItemRecord {
  return {
    id,
    batch: 'R01',
    title: { en: id },
    images: [{ id: `${id}_01`, file: `${id}.jpg`, width: 100, height: 80 }],
    indexed_at: '2026-01-01T00:00:00.000Z',
    updated_at: updated,
    s3_uploaded: false,
  };
}

describe('ManifestService cache', () => {
  test('built once per record version; least recently used dropped beyond cacheEntries; none kept with 0', async () => {
    const records = new Map([
      ['A', record('A', '2026-01-01T00:00:00.000Z')],
      ['B', record('B', '2026-01-01T00:00:00.000Z')],
      ['C', record('C', '2026-01-01T00:00:00.000Z')],
    ]);
    const store = { get: async (id: string) => records.get(id) ?? null } as unknown as SearchStore;
    const built: string[] = [];
    const make = (cacheEntries: number) =>
      new ManifestService({
        store,
        sizeOf: async (imageId) => {
          built.push(imageId);
          return { width: 100, height: 80 };
        },
        base: 'https://archive.example.org',
        limits: { maxWidth: 4000, maxHeight: 4000, maxArea: 16e6 },
        cacheEntries,
      });
    const m = make(2);
    const a = await m.manifest('A');
    expect(a).not.toBeNull();
    expect(await m.manifest('A')).toBe(a);
    await m.manifest('B');
    await m.manifest('A'); // A is now the most recently used
    await m.manifest('C'); // drops B
    expect(built).toEqual(['A_01', 'B_01', 'C_01']);
    await m.manifest('A');
    await m.manifest('B');
    expect(built).toEqual(['A_01', 'B_01', 'C_01', 'B_01']);
    records.set('A', record('A', '2026-02-01T00:00:00.000Z'));
    await m.manifest('A'); // a new version of the record: built again
    expect(built.at(-1)).toBe('A_01');
    expect(await m.manifest('nope')).toBeNull();

    built.length = 0;
    const none = make(0);
    await none.manifest('A');
    await none.manifest('A');
    expect(built).toEqual(['A_01', 'A_01']);
  });
});
