/**
 * IIIF Content State API 1.0: citable links to exactly what a viewer shows (the item, the canvas,
 * the zoomed region), as a `iiif-content` parameter carrying a base64url-encoded annotation.
 *
 * Pure and isomorphic (btoa/atob exist in browsers and Node), so the viewer island encodes with
 * the same code the server decodes with.
 */
import { PRESENTATION_CONTEXT } from './manifest.ts';

export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One viewer window: a manifest, optionally a canvas of it, optionally a region of that canvas. */
export interface ViewTarget {
  /** The manifest (or, with `collection`, the IIIF Collection) the window shows. */
  manifestId: string;
  collection?: boolean;
  canvasId?: string;
  region?: Region;
}

/** Why a content state was refused, as a key of the UI strings (src/lib/i18n/strings.ts). */
export type ContentStateProblem = 'csTooLong' | 'csDamaged' | 'csNothing';

export class ContentStateError extends Error {
  /** The translatable reason, for pages to show in the reader's language. */
  readonly problem: ContentStateProblem;
  constructor(message: string, problem: ContentStateProblem = 'csDamaged') {
    super(message);
    this.name = 'ContentStateError';
    this.problem = problem;
  }
}

/** Longest encoded content state accepted (a dozen windows fit in well under this). */
export const MAX_ENCODED_LENGTH = 16_384;

/** Encoding of the spec: encodeURIComponent, then base64url without padding. */
export function encodeContentState(json: string): string {
  return btoa(encodeURIComponent(json)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeContentState(encoded: string): unknown {
  if (encoded.length > MAX_ENCODED_LENGTH) throw new ContentStateError('the content state is too long', 'csTooLong');
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(encoded)) throw new ContentStateError('the content state is not base64url');
  const b64 = encoded.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  let text: string;
  try {
    text = decodeURIComponent(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
  } catch {
    throw new ContentStateError('the content state does not decode');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ContentStateError('the content state is not JSON');
  }
}

function formatRegion(r: Region): string {
  return `xywh=${Math.round(r.x)},${Math.round(r.y)},${Math.round(r.w)},${Math.round(r.h)}`;
}

/** The content state annotation for one or several windows. */
export function contentStateAnnotation(targets: ViewTarget[], id?: string): Record<string, unknown> {
  const resources = targets.map((t) => {
    if (t.collection) return { id: t.manifestId, type: 'Collection' };
    const partOf = [{ id: t.manifestId, type: 'Manifest' }];
    if (!t.canvasId) return { id: t.manifestId, type: 'Manifest' };
    return { id: t.region ? `${t.canvasId}#${formatRegion(t.region)}` : t.canvasId, type: 'Canvas', partOf };
  });
  return {
    '@context': PRESENTATION_CONTEXT,
    ...(id && { id }),
    type: 'Annotation',
    motivation: ['contentState'],
    target: resources.length === 1 ? resources[0] : resources,
  };
}

export function encodeTargets(targets: ViewTarget[]): string {
  // Only the fields of a ViewTarget go into the link (callers may pass richer objects).
  targets = targets.map(({ manifestId, collection, canvasId, region }) => ({ manifestId, collection, canvasId, region }));
  return encodeContentState(JSON.stringify(contentStateAnnotation(targets)));
}

function parseRegion(fragment: string): Region | undefined {
  const m = /^xywh=(?:pixel:)?(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec(fragment);
  if (!m) return undefined;
  const [x, y, w, h] = m.slice(1).map(Number) as [number, number, number, number];
  return w > 0 && h > 0 ? { x, y, w, h } : undefined;
}

function idOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return (value as { id: string }).id;
  return undefined;
}

function manifestOf(resource: Record<string, unknown>): string | undefined {
  const partOf = resource.partOf;
  const list = Array.isArray(partOf) ? partOf : partOf ? [partOf] : [];
  for (const p of list) {
    const type = (p as { type?: unknown })?.type;
    const id = idOf(p);
    if (id && (type === undefined || type === 'Manifest')) return id;
  }
  return undefined;
}

/** One target resource → a window, or undefined when it cannot be shown. */
function parseTarget(target: unknown): ViewTarget | undefined {
  if (!target || typeof target !== 'object') return undefined;
  const t = target as Record<string, unknown>;
  if (t.type === 'Manifest' && typeof t.id === 'string') return { manifestId: t.id };
  if (t.type === 'Collection' && typeof t.id === 'string') return { manifestId: t.id, collection: true };
  if (t.type === 'SpecificResource') {
    const source = t.source as Record<string, unknown> | undefined;
    const base = parseTarget(source);
    if (!base) return undefined;
    const selectors = Array.isArray(t.selector) ? t.selector : t.selector ? [t.selector] : [];
    for (const s of selectors) {
      const sel = s as { type?: unknown; value?: unknown };
      if (sel.type === 'FragmentSelector' && typeof sel.value === 'string') {
        const region = parseRegion(sel.value);
        if (region) base.region = region;
      }
    }
    return base;
  }
  if (t.type === 'Canvas' && typeof t.id === 'string') {
    const manifestId = manifestOf(t);
    if (!manifestId) return undefined;
    const hash = t.id.indexOf('#');
    const canvasId = hash === -1 ? t.id : t.id.slice(0, hash);
    const region = hash === -1 ? undefined : parseRegion(t.id.slice(hash + 1));
    return { manifestId, canvasId, ...(region && { region }) };
  }
  return undefined;
}

/**
 * The windows a decoded content state asks for. Accepts an Annotation (target a resource or a list
 * of them) or a bare target resource, as the spec allows. At most `max` windows.
 */
export function parseContentState(value: unknown, max = 12): ViewTarget[] {
  if (!value || typeof value !== 'object') throw new ContentStateError('the content state is not an object');
  const v = value as Record<string, unknown>;
  const raw = v.type === 'Annotation' ? v.target : v;
  const list = Array.isArray(raw) ? raw : [raw];
  const targets = list.slice(0, max).map(parseTarget).filter((t): t is ViewTarget => !!t);
  if (targets.length === 0) throw new ContentStateError('the content state names no manifest or canvas', 'csNothing');
  return targets;
}
