import { useEffect, useRef, useState } from 'preact/hooks';
import type { Lang } from '../lib/i18n/strings.ts';
import { MIRADOR_TRANSLATIONS } from '../lib/i18n/mirador.ts';
import { encodeTargets, type Region, type ViewTarget } from '../lib/iiif/content-state.ts';
import { copyText } from './clipboard.ts';

export interface ViewerWindow {
  manifestId: string;
  collection?: boolean;
  canvasId?: string;
  region?: Region;
}

interface Labels {
  copyView: string;
  copyWindow: string;
  copied: string;
  linkLabel: string;
  window: string;
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
}

interface MiradorInstance {
  store: { getState: () => MiradorState; subscribe: (fn: () => void) => () => void };
}

interface MiradorState {
  windows: Record<string, { manifestId?: string; canvasId?: string }>;
  /** OpenSeadragon viewport per window: centre (x, y) in canvas pixels, zoom = 1 / visible width. */
  viewers: Record<string, { x?: number; y?: number; zoom?: number } | null>;
  manifests: Record<string, { json?: { label?: Record<string, string[]> } }>;
  config: { language?: string };
}

declare global {
  interface Window {
    Mirador?: {
      viewer: (config: Record<string, unknown>) => MiradorInstance;
      actions?: Record<string, (...args: unknown[]) => unknown>;
    };
    __miradorLoading?: Promise<void>;
    /** The viewers of this page, for power users' consoles and the browser tests. */
    archiveViewers?: MiradorInstance[];
  }
}

/** Loads Mirador's self-contained bundle once per page, only where a viewer is shown. */
function loadMirador(src: string): Promise<void> {
  if (window.Mirador) return Promise.resolve();
  window.__miradorLoading ??= new Promise<void>((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.async = true;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
  return window.__miradorLoading;
}

/** Pixel size of a window's OpenSeadragon area (Mirador renders each window with id = window id). */
function viewportSize(windowId: string): { width: number; height: number } | undefined {
  const el = document.getElementById(windowId)?.querySelector<HTMLElement>('.openseadragon-container');
  return el && el.clientWidth > 0 && el.clientHeight > 0 ? { width: el.clientWidth, height: el.clientHeight } : undefined;
}

/**
 * The region of the canvas a window shows. Mirador keeps OpenSeadragon's centre and zoom, where
 * the visible width in canvas pixels is 1 / zoom and the height follows the viewport's aspect.
 */
export function visibleRegion(v: { x?: number; y?: number; zoom?: number } | null | undefined, size: { width: number; height: number } | undefined): Region | undefined {
  if (!v || v.x == null || v.y == null || !v.zoom || !size) return undefined;
  const w = 1 / v.zoom;
  const h = (w * size.height) / size.width;
  // Zoomed out past the canvas edge: media fragments cannot be negative, so clip at the origin.
  const x = Math.max(0, v.x - w / 2);
  const y = Math.max(0, v.y - h / 2);
  return { x, y, w: w - (x - (v.x - w / 2)), h: h - (y - (v.y - h / 2)) };
}

/** What each window shows now: manifest, canvas and the visible region. */
export function currentTargets(state: MiradorState): Array<ViewTarget & { windowId: string; label: string }> {
  return Object.entries(state.windows).flatMap(([windowId, w]) => {
    if (!w.manifestId) return [];
    const region = visibleRegion(state.viewers[windowId], viewportSize(windowId));
    const label = state.manifests[w.manifestId]?.json?.label;
    const lang = state.config.language === 'en' ? 'en' : 'ja';
    const text = label?.[lang]?.[0] ?? label?.ja?.[0] ?? label?.en?.[0] ?? label?.none?.[0] ?? w.manifestId;
    // A window still on a collection (no manifest picked yet) links to the collection itself.
    const collection = /\/api\/iiif\/collection(\?|$)/.test(w.manifestId);
    return [
      {
        windowId,
        manifestId: w.manifestId,
        ...(collection && { collection }),
        ...(!collection && w.canvasId && { canvasId: w.canvasId }),
        ...(!collection && w.canvasId && region && { region }),
        label: text,
      },
    ];
  });
}

export function viewLink(base: string, targets: ViewTarget[]): string {
  return `${base}/view?iiif-content=${encodeTargets(targets)}`;
}

let counter = 0;

/** Client-only island wrapping a Mirador 4 viewer, with citable links to what it shows. */
export default function MiradorViewer({ windows, lang, single = false, bundle, base, labels }: Props) {
  const instance = useRef<MiradorInstance | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [elId] = useState(() => `mirador-${++counter}`);
  const [link, setLink] = useState('');
  const [targets, setTargets] = useState<ReturnType<typeof currentTargets>>([]);
  const [copied, setCopied] = useState<string | null>(null);

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
          })),
          window: { allowClose: !single, allowMaximize: !single, sideBarOpen: false, defaultView: 'single' },
          workspace: { type: 'mosaic', allowNewWindows: !single, showZoomControls: true },
          workspaceControlPanel: { enabled: !single },
          thumbnailNavigation: { defaultPosition: single ? 'far-bottom' : 'off' },
        });
        instance.current = viewer;
        (window.archiveViewers ??= []).push(viewer);
        let pending = 0;
        const refresh = () => {
          // Viewport updates arrive at animation rate: recompute the link at most every 250 ms.
          if (pending) return;
          pending = window.setTimeout(() => {
            pending = 0;
            const now = currentTargets(viewer.store.getState());
            setTargets(now);
            setLink(now.length ? viewLink(base, now) : '');
          }, 250);
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

  return (
    <div class={single ? 'viewer-wrap' : 'viewer-wrap full'}>
      <div class="viewer-tools" role="toolbar" aria-label={labels.linkLabel}>
        <button type="button" class="secondary" disabled={!link} onClick={() => copy('all', link)} data-testid="copy-view-link">
          {copied === 'all' ? labels.copied : labels.copyView}
        </button>
        {!single &&
          targets.length > 1 &&
          targets.map((tg, i) => (
            <button
              type="button"
              class="secondary"
              key={tg.windowId}
              onClick={() => copy(tg.windowId, viewLink(base, [tg]))}
              aria-label={`${labels.copyWindow}: ${labels.window} ${i + 1} (${tg.label})`}
              data-testid="copy-window-link"
            >
              {copied === tg.windowId ? labels.copied : `${labels.window} ${i + 1}`}
            </button>
          ))}
        <label class="linkbox">
          <span class="sr-only">{labels.linkLabel}</span>
          <input type="text" readOnly value={link} data-testid="view-link" onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        </label>
      </div>
      <div class={single ? 'viewer' : 'viewer full'} data-testid="mirador">
        {error && <p role="alert">{error}</p>}
        <div id={elId} style="position:absolute;inset:0" />
      </div>
    </div>
  );
}
