/**
 * What a /view URL asks for, resolved against the store: `items=A,B` (one window per item),
 * `iiif-content=…` (a Content State: windows with canvas and region) or `collection=…` (a search
 * result set as a IIIF Collection). Only this archive's own manifests are opened.
 */
import { ITEM_ID_RE, type ItemRecord } from '../domain.ts';
import { canvasUrl, manifestUrl } from './manifest.ts';
import { ContentStateError, decodeContentState, parseContentState, type Region } from './content-state.ts';
import { parseLinkMode, parseShortView, type LinkMode, type ShortWindow } from './view-link.ts';
import type { StringKey } from '../i18n/strings.ts';

export interface ViewerWindowSpec {
  manifestId: string;
  /** The window opens a IIIF Collection (Mirador shows its list to pick from). */
  collection?: boolean;
  canvasId?: string;
  region?: Region;
  /** How many images the item has (thumbnails are shown only for more than one). */
  images?: number;
}

export interface ResolvedView {
  windows: ViewerWindowSpec[];
  /** Item ids asked for that do not exist (or may not be seen). */
  missing: string[];
  /** Why a content state or collection parameter was refused (English, for logs and tests). */
  error?: string;
  /** The same reason as a UI string key, for the page to say in the reader's language. */
  errorKey?: StringKey;
  /** Linked views asked for by `link=relative|absolute`. */
  link?: LinkMode;
}

/** The item id of one of our manifest URLs, or undefined for anything else. */
export function itemIdFromManifest(base: string, url: string): string | undefined {
  const prefix = `${base}/api/iiif/`;
  if (!url.startsWith(prefix) || !url.endsWith('/manifest.json')) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(url.slice(prefix.length, -'/manifest.json'.length));
  } catch {
    return undefined; // malformed percent-encoding: not one of ours
  }
  return ITEM_ID_RE.test(id) ? id : undefined;
}

/** One of this archive's search collections (`/api/iiif/collection?…`). */
export function isOwnCollection(base: string, url: string): boolean {
  return url === `${base}/api/iiif/collection` || url.startsWith(`${base}/api/iiif/collection?`);
}

export async function resolveView(
  params: URLSearchParams,
  base: string,
  getRecord: (id: string) => Promise<ItemRecord | null>,
  itemIds: string[],
): Promise<ResolvedView> {
  const windows: ViewerWindowSpec[] = [];
  const missing: string[] = [];
  let error: string | undefined;
  let errorKey: StringKey | undefined;

  const encoded = params.get('iiif-content');
  if (encoded) {
    try {
      for (const t of parseContentState(decodeContentState(encoded.trim()))) {
        if (t.collection) {
          if (isOwnCollection(base, t.manifestId)) windows.push({ manifestId: t.manifestId, collection: true });
          else missing.push(t.manifestId);
          continue;
        }
        const id = itemIdFromManifest(base, t.manifestId);
        const record = id ? await getRecord(id) : null;
        if (!id || !record) {
          missing.push(id ?? t.manifestId);
          continue;
        }
        const canvases = new Set(record.images.map((img) => canvasUrl(base, record.id, img.id)));
        const canvasId = t.canvasId && canvases.has(t.canvasId) ? t.canvasId : undefined;
        windows.push({
          manifestId: manifestUrl(base, record.id),
          ...(canvasId && { canvasId }),
          ...(canvasId && t.region && { region: t.region }),
          images: record.images.length,
        });
      }
    } catch (e) {
      if (!(e instanceof ContentStateError)) throw e;
      error = e.message;
      errorKey = e.problem;
    }
  }

  const collection = params.get('collection');
  if (collection) {
    if (isOwnCollection(base, collection)) windows.push({ manifestId: collection, collection: true });
    else {
      error = 'only this archive’s collections can be opened';
      errorKey = 'onlyOwnCollections';
    }
  }

  // The short form names a canvas and region per item (`canvas=…&xywh=…`, positional); then the
  // same item may appear twice, so the list is taken as written rather than de-duplicated.
  const short: ShortWindow[] = params.has('canvas') || params.has('xywh') ? parseShortView(params) : itemIds.map((itemId) => ({ itemId }));
  for (const w of short) {
    const record = await getRecord(w.itemId);
    if (!record) {
      missing.push(w.itemId);
      continue;
    }
    windows.push(itemWindow(base, record, w.imageId, w.region));
  }
  const link = parseLinkMode(params.get('link'));
  return { windows: windows.slice(0, 12), missing, ...(error && { error }), ...(errorKey && { errorKey }), ...(link && { link }) };
}

/**
 * The window showing one item: the named image (or, when a region is asked for without one, the
 * first image), the region only when it lies on that image. Unknown image ids fall back to the item.
 */
export function itemWindow(base: string, record: ItemRecord, imageId?: string, region?: Region): ViewerWindowSpec {
  const image = imageId ? record.images.find((img) => img.id === imageId) : region ? record.images[0] : undefined;
  const canvasId = image ? canvasUrl(base, record.id, image.id) : undefined;
  return {
    manifestId: manifestUrl(base, record.id),
    ...(canvasId && { canvasId }),
    ...(canvasId && region && { region }),
    images: record.images.length,
  };
}
