import { useEffect, useRef, useState } from 'preact/hooks';
import type { Lang } from '../lib/i18n/strings.ts';

export interface ViewerWindow {
  manifestId: string;
  canvasId?: string;
}

interface Props {
  windows: ViewerWindow[];
  lang: Lang;
  /** One window without the workspace panel (item page), or a mosaic workspace (comparison). */
  single?: boolean;
  /** URL of the Mirador bundle (served by the app, see scripts/vendor.ts). */
  bundle: string;
}

declare global {
  interface Window {
    Mirador?: { viewer: (config: Record<string, unknown>) => unknown };
    __miradorLoading?: Promise<void>;
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

let counter = 0;

/** Client-only island wrapping a Mirador 4 viewer. */
export default function MiradorViewer({ windows, lang, single = false, bundle }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [elId] = useState(() => `mirador-${++counter}`);
  useEffect(() => {
    let cancelled = false;
    loadMirador(bundle)
      .then(() => {
        if (cancelled || !window.Mirador) return;
        window.Mirador.viewer({
          id: elId,
          language: lang,
          windows: windows.map((w) => ({ manifestId: w.manifestId, ...(w.canvasId && { canvasId: w.canvasId }) })),
          window: { allowClose: !single, allowMaximize: !single, sideBarOpen: false, defaultView: 'single' },
          workspace: { type: 'mosaic', allowNewWindows: !single, showZoomControls: true },
          workspaceControlPanel: { enabled: !single },
          thumbnailNavigation: { defaultPosition: single ? 'far-bottom' : 'off' },
        });
      })
      .catch((e: Error) => setError(e.message));
    return () => {
      cancelled = true;
    };
  }, []);
  return (
    <div class={single ? 'viewer' : 'viewer full'} data-testid="mirador">
      {error && <p role="alert">{error}</p>}
      <div id={elId} ref={ref} style="position:absolute;inset:0" />
    </div>
  );
}
