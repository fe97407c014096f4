import { useEffect, useRef, useState } from 'preact/hooks';
import type { Lang } from '../lib/i18n/strings.ts';
import { MIRADOR_TRANSLATIONS } from '../lib/i18n/mirador.ts';
import { encodeTargets, type Region, type ViewTarget } from '../lib/iiif/content-state.ts';
import { canvasParts, itemViewPath, manifestItemId, shortViewPath, type LinkMode, type ShortWindow } from '../lib/iiif/view-link.ts';
import { copyText } from './clipboard.ts';
import { onMarkedChange, readMarked, type Marked } from './compare-state.ts';

export interface ViewerWindow {
  manifestId: string;
  collection?: boolean;
  canvasId?: string;
  region?: Region;
  /** Number of images of the item: the thumbnail strip is shown only for more than one. */
  images?: number;
}

interface Labels {
  copyView: string;
  copyWindow: string;
  copied: string;
  linkLabel: string;
  window: string;
  copyContentState?: string;
  linkViews?: string;
  linkModeLabel?: string;
  linkRelative?: string;
  linkAbsolute?: string;
  loading?: string;
  itemPage?: string;
  addToView?: string;
  selectionNotShown?: string;
}

interface Props {
  windows: ViewerWindow[];
  lang: Lang;
  /** One window without the workspace panel (item page), or a mosaic workspace (comparison). */
  single?: boolean;
  /** URL of the Mirador bundle (served by the app, see src/lib/vendor.ts). */
  bundle: string;
  /** Public base URL: citable links are built on it. */
  base: string;
  labels: Labels;
  /** Linked views switched on from the start (a link that carried `link=`). */
  link?: LinkMode;
}

interface MiradorInstance {
  store: {
    getState: () => MiradorState;
    subscribe: (fn: () => void) => () => void;
    dispatch: (action: unknown) => unknown;
  };
}

interface MiradorState {
  windows: Record<string, { manifestId?: string; canvasId?: string }>;
  /** OpenSeadragon viewport per window: centre (x, y) in canvas pixels, zoom = 1 / visible width. */
  viewers: Record<string, { x?: number; y?: number; zoom?: number } | null>;
  manifests: Record<string, { json?: { label?: Record<string, string[]>; items?: Array<{ id?: string; width?: number; height?: number }> } }>;
  config: { language?: string };
  linkedViews?: { enabled: boolean; mode: LinkMode };
}

declare global {
  interface Window {
    Mirador?: {
      viewer: (config: Record<string, unknown>) => MiradorInstance;
      addWindow?: (config: Record<string, unknown>) => unknown;
      archive?: {
        setLinkedViews: (enabled: boolean, mode?: LinkMode) => unknown;
        visibleBounds: (windowId: string) => Region | undefined;
      };
    };
    __miradorLoading?: Promise<void>;
    /** The viewers of this page, for power users' consoles and the browser tests. */
    archiveViewers?: MiradorInstance[];
  }
}

/** Loads the Mirador bundle once per page, only where a viewer is shown. */
function loadMirador(src: string): Promise<void> {
  if (window.Mirador) return Promise.resolve();
  window.__miradorLoading ??= new Promise<void>((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.async = true;
    s.onload = () => resolve();
    s.onerror = () => {
      window.__miradorLoading = undefined;
      reject(new Error(`could not load ${src}`));
    };
    document.head.appendChild(s);
  });
  return window.__miradorLoading;
}

/** Pixel size of a window's OpenSeadragon area (Mirador renders each window with id = window id). */
function viewportSize(windowId: string): { width: number; height: number } | undefined {
  const el = document.getElementById(windowId)?.querySelector<HTMLElement>('.openseadragon-container');
  return el && el.clientWidth > 0 && el.clientHeight > 0 ? { width: el.clientWidth, height: el.clientHeight } : undefined;
}

/** Media fragments cannot be negative: a view zoomed out past the canvas edge is clipped at the origin. */
function clipAtOrigin(r: Region): Region {
  const x = Math.max(0, r.x);
  const y = Math.max(0, r.y);
  return { x, y, w: r.w - (x - r.x), h: r.h - (y - r.y) };
}

/**
 * The region of the canvas a window shows. Mirador keeps OpenSeadragon's centre and zoom, where
 * the visible width in canvas pixels is 1 / zoom and the height follows the viewport's aspect.
 */
export function visibleRegion(v: { x?: number; y?: number; zoom?: number } | null | undefined, size: { width: number; height: number } | undefined): Region | undefined {
  if (!v || v.x == null || v.y == null || !v.zoom || !size) return undefined;
  const w = 1 / v.zoom;
  const h = (w * size.height) / size.width;
  return clipAtOrigin({ x: v.x - w / 2, y: v.y - h / 2, w, h });
}

/** A window's region: OpenSeadragon's own bounds when the bundle can tell them (exact with viewport margins). */
function regionOf(state: MiradorState, windowId: string): Region | undefined {
  const bounds = window.Mirador?.archive?.visibleBounds(windowId);
  if (bounds && bounds.w > 0 && bounds.h > 0 && state.viewers[windowId]) return clipAtOrigin(bounds);
  return visibleRegion(state.viewers[windowId], viewportSize(windowId));
}

export type CurrentTarget = ViewTarget & { windowId: string; label: string; short?: ShortWindow };

/** A region showing all of the canvas says nothing more than the canvas itself. */
export function wholeCanvas(region: Region, canvas: { width?: number; height?: number } | undefined): boolean {
  if (!canvas?.width || !canvas.height) return false;
  return region.x <= 0.5 && region.y <= 0.5 && region.x + region.w >= canvas.width - 0.5 && region.y + region.h >= canvas.height - 0.5;
}

/** What each window shows now: manifest, canvas and the visible region. */
export function currentTargets(state: MiradorState, base: string): CurrentTarget[] {
  return Object.entries(state.windows).flatMap(([windowId, w]) => {
    if (!w.manifestId) return [];
    const canvases = state.manifests[w.manifestId]?.json?.items ?? [];
    const canvas = canvases.find((c) => c.id === w.canvasId);
    const seen = regionOf(state, windowId);
    const region = seen && !wholeCanvas(seen, canvas) ? seen : undefined;
    const firstCanvas = !!w.canvasId && canvases[0]?.id === w.canvasId;
    const label = state.manifests[w.manifestId]?.json?.label;
    const lang = state.config.language === 'en' ? 'en' : 'ja';
    const text = label?.[lang]?.[0] ?? label?.ja?.[0] ?? label?.en?.[0] ?? label?.none?.[0] ?? w.manifestId;
    // A window still on a collection (no manifest picked yet) links to the collection itself.
    const collection = /\/api\/iiif\/collection(\?|$)/.test(w.manifestId);
    const parts = !collection && w.canvasId ? canvasParts(base, w.canvasId) : undefined;
    const itemId = collection ? undefined : manifestItemId(base, w.manifestId);
    return [
      {
        windowId,
        manifestId: w.manifestId,
        ...(collection && { collection }),
        ...(!collection && w.canvasId && { canvasId: w.canvasId }),
        ...(!collection && w.canvasId && region && { region }),
        label: text,
        // The short form names the image only when it is not simply the item's first one.
        ...(parts && { short: { itemId: parts.itemId, ...((region || !firstCanvas) && { imageId: parts.imageId }), ...(region && { region }) } }),
        ...(!parts && !w.canvasId && itemId && { short: { itemId } }),
      },
    ];
  });
}

export function viewLink(base: string, targets: ViewTarget[], link?: LinkMode): string {
  return `${base}/view?iiif-content=${encodeTargets(targets)}${link ? `&link=${link}` : ''}`;
}

/** The readable address of what is shown: the item page (single viewer) or the short /view form; else undefined. */
export function shortAddress(targets: CurrentTarget[], single: boolean, link?: LinkMode): string | undefined {
  if (targets.length === 0 || targets.some((t) => !t.short)) return undefined;
  const wins = targets.map((t) => t.short!);
  return single ? itemViewPath(wins[0]!) : shortViewPath(wins, link);
}

/** A react-mosaic tree of the windows one above the other, in equal parts. */
export function columnLayout(ids: string[]): unknown {
  if (ids.length === 1) return ids[0];
  return { direction: 'column', first: ids[0], second: columnLayout(ids.slice(1)), splitPercentage: 100 / ids.length };
}

let counter = 0;

/** Client-only island wrapping a Mirador 4 viewer; the address bar always cites what it shows. */
export default function MiradorViewer({ windows, lang, single = false, bundle, base, labels, link: initialLink }: Props) {
  const instance = useRef<MiradorInstance | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const [elId] = useState(() => `mirador-${++counter}`);
  const [link, setLink] = useState('');
  const [stateLink, setStateLink] = useState('');
  const [targets, setTargets] = useState<CurrentTarget[]>([]);
  const [copied, setCopied] = useState<string | null>(null);
  const [linked, setLinked] = useState<{ enabled: boolean; mode: LinkMode }>({ enabled: !!initialLink, mode: initialLink ?? 'relative' });
  const [marked, setMarked] = useState<Marked[]>([]);

  useEffect(() => {
    if (single) return;
    const sync = () => setMarked(readMarked());
    sync();
    return onMarkedChange(sync);
  }, []);

  useEffect(() => {
    let cancelled = false;
    let unsubscribe: (() => void) | undefined;
    loadMirador(bundle)
      .then(() => {
        if (cancelled || !window.Mirador) return;
        const viewer = window.Mirador.viewer({
          id: elId,
          language: lang,
          translations: MIRADOR_TRANSLATIONS,
          windows: windows.map((w) => ({
            manifestId: w.manifestId,
            ...(w.canvasId && { canvasId: w.canvasId }),
            ...(w.region && { initialViewerConfig: { bounds: [w.region.x, w.region.y, w.region.w, w.region.h] } }),
            // The thumbnail strip only where there is more than one image to choose from.
            thumbnailNavigationPosition: single && (w.images ?? 1) > 1 ? 'far-bottom' : 'off',
            // Image tools: in every window's menu, closed until asked for.
            imageToolsEnabled: false,
            imageToolsOpen: false,
          })),
          window: { allowClose: !single, allowMaximize: !single, allowFullscreen: true, sideBarOpen: false, defaultView: 'single' },
          workspace: { type: 'mosaic', allowNewWindows: !single, showZoomControls: true },
          workspaceControlPanel: { enabled: !single },
          thumbnailNavigation: { defaultPosition: 'off', height: 110 },
          // The zoom and page controls sit over the bottom of the image: keep the fitted image clear of them.
          osdConfig: { viewportMargins: { bottom: 56 } },
        });
        instance.current = viewer;
        (window.archiveViewers ??= []).push(viewer);
        if (initialLink) viewer.store.dispatch(window.Mirador.archive?.setLinkedViews(true, initialLink));
        // On a phone, windows stacked one above the other are wider than side by side.
        let stacked = single || window.innerWidth >= 600;
        let pending = 0;
        const refresh = () => {
          // Viewport updates arrive at animation rate: recompute the link (and the address bar) at most every 300 ms.
          if (pending) return;
          pending = window.setTimeout(() => {
            pending = 0;
            const state = viewer.store.getState();
            const ids = Object.keys(state.windows);
            if (!stacked && ids.length > 1) {
              stacked = true;
              viewer.store.dispatch({ type: 'mirador/UPDATE_WORKSPACE_MOSAIC_LAYOUT', layout: columnLayout(ids) });
            }
            const now = currentTargets(state, base);
            const lv = state.linkedViews ?? { enabled: false, mode: 'relative' as LinkMode };
            const mode = !single && lv.enabled && now.length > 1 ? lv.mode : undefined;
            setTargets(now);
            setLinked((old) => (old.enabled === lv.enabled && old.mode === lv.mode ? old : { enabled: lv.enabled, mode: lv.mode }));
            setReady(true);
            if (!now.length) return;
            const full = viewLink(base, now, mode);
            const address = shortAddress(now, single, mode) ?? full.slice(base.length);
            setStateLink(full);
            setLink(base + address);
            // A window still listing a collection keeps the page's own address (`/view?collection=…`).
            if (!now.some((t) => t.collection)) updateAddressBar(address);
          }, 300);
        };
        unsubscribe = viewer.store.subscribe(refresh);
        refresh();
      })
      .catch((e: Error) => setError(e.message));
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }, []);

  const copy = async (key: string, text: string) => {
    await copyText(text);
    setCopied(key);
    window.setTimeout(() => setCopied(null), 2000);
  };

  const setLinking = (enabled: boolean, mode: LinkMode) => {
    const v = instance.current;
    if (v && window.Mirador?.archive) v.store.dispatch(window.Mirador.archive.setLinkedViews(enabled, mode));
    setLinked({ enabled, mode });
  };

  const shownItems = new Set(targets.map((t) => t.short?.itemId ?? t.manifestId));
  const addable = marked.filter((m) => !shownItems.has(m.id) && !shownItems.has(`${base}/api/iiif/${encodeURIComponent(m.id)}/manifest.json`));
  const addItem = (id: string) => {
    const v = instance.current;
    const add = window.Mirador?.addWindow;
    if (v && add) v.store.dispatch(add({ manifestId: `${base}/api/iiif/${encodeURIComponent(id)}/manifest.json`, thumbnailNavigationPosition: 'off' }));
  };

  const toolbar = (
    <div class="viewer-tools" role="toolbar" aria-label={labels.linkLabel}>
      <button type="button" class="secondary" disabled={!link} onClick={() => copy('all', link)} data-testid="copy-view-link">
        {copied === 'all' ? labels.copied : labels.copyView}
      </button>
      {labels.copyContentState && (
        <button type="button" class="secondary" disabled={!stateLink} onClick={() => copy('state', stateLink)} data-testid="copy-content-state" data-link={stateLink}>
          {copied === 'state' ? labels.copied : labels.copyContentState}
        </button>
      )}
      {!single &&
        targets.length > 1 &&
        targets.map((tg, i) => {
          const href = tg.short ? base + itemViewPath(tg.short) : viewLink(base, [tg]);
          return (
            <button
              type="button"
              class="secondary"
              key={tg.windowId}
              onClick={() => copy(tg.windowId, href)}
              aria-label={`${labels.copyWindow}: ${labels.window} ${i + 1} (${tg.label})`}
              data-testid="copy-window-link"
            >
              {copied === tg.windowId ? labels.copied : `${labels.window} ${i + 1}`}
            </button>
          );
        })}
      {!single && targets.length > 1 && labels.linkViews && (
        <span class="linked-views">
          <label>
            <input type="checkbox" checked={linked.enabled} onChange={(e) => setLinking((e.currentTarget as HTMLInputElement).checked, linked.mode)} data-testid="link-views" />{' '}
            {labels.linkViews}
          </label>
          <label>
            <span class="sr-only">{labels.linkModeLabel}</span>
            <select value={linked.mode} onChange={(e) => setLinking(linked.enabled, (e.currentTarget as HTMLSelectElement).value as LinkMode)} data-testid="link-mode">
              <option value="relative">{labels.linkRelative}</option>
              <option value="absolute">{labels.linkAbsolute}</option>
            </select>
          </label>
        </span>
      )}
      <label class="linkbox">
        <span class="sr-only">{labels.linkLabel}</span>
        <input type="text" readOnly value={link} data-testid="view-link" onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
      </label>
      {!single && ready && addable.length > 0 && labels.addToView && (
        <div class="view-tray" role="group" aria-label={labels.selectionNotShown} data-testid="view-tray">
          <span>{labels.selectionNotShown}:</span>
          {addable.map((m) => (
            <button type="button" class="secondary" key={m.id} onClick={() => addItem(m.id)} data-testid="view-tray-add" data-id={m.id} aria-label={`${labels.addToView}: ${m.title}`}>
              + {m.title}
            </button>
          ))}
        </div>
      )}
    </div>
  );

  return (
    <div class={single ? 'viewer-wrap item' : 'viewer-wrap full'}>
      {!single && toolbar}
      <div class={single ? 'viewer item' : 'viewer full'} data-testid="mirador" aria-busy={!ready && !error}>
        {error && <p role="alert">{error}</p>}
        {!ready && !error && labels.loading && (
          <p class="viewer-loading" role="status">
            {labels.loading}
          </p>
        )}
        <div id={elId} style="position:absolute;inset:0" />
      </div>
      {single && toolbar}
    </div>
  );
}

/**
 * Keeps the address bar on what is shown (replaceState: no history entry per zoom) and the
 * language switch on the same view.
 */
function updateAddressBar(address: string): void {
  const here = location.pathname + location.search;
  if (here !== address) history.replaceState(history.state, '', address);
  const sw = document.querySelector<HTMLAnchorElement>('a[data-testid=lang-switch]');
  const other = sw?.getAttribute('hreflang');
  if (sw && other) sw.setAttribute('href', `${address}${address.includes('?') ? '&' : '?'}lang=${other}`);
}
