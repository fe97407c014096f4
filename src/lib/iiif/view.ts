/**
 * What a /view URL asks for, resolved against the store: `items=A,B` (one window per item),
 * `iiif-content=…` (a Content State: windows with canvas and region) or `collection=…` (a search
 * result set as a IIIF Collection). Only this archive's own manifests are opened.
 */
import { ITEM_ID_RE, type ItemRecord } from '../domain.ts';
import { canvasUrl, manifestUrl } from './manifest.ts';
import { ContentStateError, decodeContentState, parseContentState, type Region } from './content-state.ts';

export interface ViewerWindowSpec {
  manifestId: string;
  /** The window opens a IIIF Collection (Mirador shows its list to pick from). */
  collection?: boolean;
  canvasId?: string;
  region?: Region;
}

export interface ResolvedView {
  windows: ViewerWindowSpec[];
  /** Item ids asked for that do not exist (or may not be seen). */
  missing: string[];
  /** Why a content state or collection parameter was refused, for the page to say. */
  error?: string;
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
        windows.push({ manifestId: manifestUrl(base, record.id), ...(canvasId && { canvasId }), ...(canvasId && t.region && { region: t.region }) });
      }
    } catch (e) {
      if (!(e instanceof ContentStateError)) throw e;
      error = e.message;
    }
  }

  const collection = params.get('collection');
  if (collection) {
    if (isOwnCollection(base, collection)) windows.push({ manifestId: collection, collection: true });
    else error = 'only this archive’s collections can be opened';
  }

  for (const id of itemIds) {
    const record = await getRecord(id);
    if (record) windows.push({ manifestId: manifestUrl(base, record.id) });
    else missing.push(id);
  }
  return { windows: windows.slice(0, 12), missing, ...(error && { error }) };
}
