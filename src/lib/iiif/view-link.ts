/**
 * The short, readable form of a citable view, besides the IIIF Content State form:
 *
 *   /view?items=A,B&canvas=A-02,B-01&xywh=120,80,900,600&xywh=0,0,400,300&link=relative
 *   /items/A?canvas=A-02&xywh=120,80,900,600
 *
 * `canvas` (image ids, comma-separated) and the repeated `xywh` are positional: the n-th value
 * belongs to the n-th item; an empty value means "the item's first image" / "the whole image".
 * `link` carries the linked-views mode of a comparison. Pure and isomorphic (the viewer island
 * builds these links, the pages parse them).
 */
import type { Region } from './content-state.ts';
import { ID_RE } from '../domain.ts';

export type LinkMode = 'relative' | 'absolute';

export interface ShortWindow {
  itemId: string;
  /** Image id of the canvas shown (the last segment of the canvas URL). */
  imageId?: string;
  region?: Region;
}

const ID = ID_RE;
const MAX_WINDOWS = 12;

export function formatXywh(r: Region): string {
  return [r.x, r.y, r.w, r.h].map((n) => Math.round(n)).join(',');
}

/** `x,y,w,h` (optionally `pixel:`) with positive width and height, or undefined. */
export function parseXywh(value: string | null | undefined): Region | undefined {
  const m = /^(?:pixel:)?(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec((value ?? '').trim());
  if (!m) return undefined;
  const [x, y, w, h] = m.slice(1).map(Number) as [number, number, number, number];
  return w > 0 && h > 0 ? { x, y, w, h } : undefined;
}

export function parseLinkMode(value: string | null | undefined): LinkMode | undefined {
  return value === 'relative' || value === 'absolute' ? value : undefined;
}

/** Item and image id of one of this archive's canvas URLs. */
export function canvasParts(base: string, canvasId: string): { itemId: string; imageId: string } | undefined {
  const prefix = `${base}/api/iiif/`;
  if (!canvasId.startsWith(prefix)) return undefined;
  const m = /^([^/]+)\/canvas\/([^/?#]+)$/.exec(canvasId.slice(prefix.length));
  if (!m) return undefined;
  try {
    const itemId = decodeURIComponent(m[1]!);
    const imageId = decodeURIComponent(m[2]!);
    return ID.test(itemId) && ID.test(imageId) ? { itemId, imageId } : undefined;
  } catch {
    return undefined;
  }
}

/** The item id of one of this archive's manifest URLs. */
export function manifestItemId(base: string, url: string): string | undefined {
  const prefix = `${base}/api/iiif/`;
  if (!url.startsWith(prefix) || !url.endsWith('/manifest.json')) return undefined;
  try {
    const id = decodeURIComponent(url.slice(prefix.length, -'/manifest.json'.length));
    return ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** `/view?items=…` for the given windows (ids are URL-safe by their pattern, so commas stay readable). */
export function shortViewPath(windows: ShortWindow[], link?: LinkMode): string {
  const parts = [`items=${windows.map((w) => encodeURIComponent(w.itemId)).join(',')}`];
  if (windows.some((w) => w.imageId || w.region)) parts.push(`canvas=${windows.map((w) => encodeURIComponent(w.imageId ?? '')).join(',')}`);
  if (windows.some((w) => w.region)) for (const w of windows) parts.push(`xywh=${w.region ? formatXywh(w.region) : ''}`);
  if (link) parts.push(`link=${link}`);
  return `/view?${parts.join('&')}`;
}

/** The item page showing this canvas and region: `/items/A?canvas=…&xywh=…`. */
export function itemViewPath(w: ShortWindow): string {
  const parts: string[] = [];
  if (w.imageId) parts.push(`canvas=${encodeURIComponent(w.imageId)}`);
  if (w.region) parts.push(`xywh=${formatXywh(w.region)}`);
  return `/items/${encodeURIComponent(w.itemId)}${parts.length ? `?${parts.join('&')}` : ''}`;
}

/** The windows of a short `/view` URL, in order (the same item may appear twice, e.g. two pages of an album). */
export function parseShortView(params: URLSearchParams): ShortWindow[] {
  const items = params.getAll('items').flatMap((v) => v.split(',')).map((v) => v.trim());
  const canvases = params.getAll('canvas').flatMap((v) => v.split(',')).map((v) => v.trim());
  const regions = params.getAll('xywh');
  const out: ShortWindow[] = [];
  items.forEach((itemId, i) => {
    if (!ID.test(itemId) || out.length >= MAX_WINDOWS) return;
    const imageId = canvases[i] && ID.test(canvases[i]!) ? canvases[i] : undefined;
    const region = parseXywh(regions[i]);
    out.push({ itemId, ...(imageId && { imageId }), ...(region && { region }) });
  });
  return out;
}

/** The canvas and region an item URL asks for (`?canvas=&xywh=`). */
export function parseItemView(itemId: string, params: URLSearchParams): ShortWindow {
  const imageId = params.get('canvas')?.trim();
  const region = parseXywh(params.get('xywh'));
  return { itemId, ...(imageId && ID.test(imageId) && { imageId }), ...(region && { region }) };
}
