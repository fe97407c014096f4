/**
 * An item's record as JSON for machines (`/api/items/{id}.json`, the manifests' `seeAlso`): the
 * descriptive metadata and the images with their IIIF services; nothing internal (file paths, S3
 * keys, provenance rows, notes, upload state).
 */
import type { ItemRecord } from '../search/store.ts';
import { imageServiceUrl, itemUrl, manifestUrl } from './manifest.ts';

export { recordJsonUrl } from './manifest.ts';

export function publicRecord(base: string, record: ItemRecord): Record<string, unknown> {
  const { id, batch, type, title, description, creator, date, place, subjects, collection, rights, indexed_at, updated_at } = record;
  return {
    id,
    url: itemUrl(base, id),
    manifest: manifestUrl(base, id),
    batch,
    ...(type !== undefined ? { type } : {}),
    title,
    ...(description ? { description } : {}),
    ...(creator ? { creator } : {}),
    ...(date ? { date } : {}),
    ...(place ? { place } : {}),
    ...(subjects?.length ? { subjects } : {}),
    ...(collection ? { collection } : {}),
    ...(rights ? { rights } : {}),
    images: record.images.map((img) => ({
      id: img.id,
      ...(img.label ? { label: img.label } : {}),
      service: imageServiceUrl(base, img.id),
    })),
    indexed_at,
    updated_at,
  };
}
