/**
 * Entry of the Mirador browser bundle served at /vendor/mirador.min.js (built by
 * src/lib/vendor.ts with esbuild): Mirador 4 with this archive's plugins, as `window.Mirador`.
 * Mirador's own self-contained build cannot take plugins written against React/MUI, so the bundle
 * is made here from Mirador's ES build and the plugins, with one copy of React and MUI.
 */
import * as Mirador from 'mirador';
import { miradorImageToolsPlugin } from 'mirador-image-tools';
import { linkedViewsPlugin, setLinkedViews } from './linked-views.ts';

type Plugins = unknown[];
const archivePlugins: Plugins = [...miradorImageToolsPlugin, ...linkedViewsPlugin];

interface OsdViewport {
  getBounds(current?: boolean): { x: number; y: number; width: number; height: number };
}

/** What a window's OpenSeadragon shows, in canvas pixels (its own bounds, margins accounted for). */
function visibleBounds(windowId: string): { x: number; y: number; w: number; h: number } | undefined {
  const viewport = (Mirador.OSDReferences.get(windowId) as { current?: { viewport?: OsdViewport } } | undefined)?.current?.viewport;
  if (!viewport) return undefined;
  const b = viewport.getBounds(true);
  return { x: b.x, y: b.y, w: b.width, h: b.height };
}

(window as unknown as { Mirador: unknown }).Mirador = {
  ...Mirador,
  archive: { setLinkedViews, visibleBounds },
  /** Mirador.viewer with the archive's plugins always on. */
  viewer: (config: Record<string, unknown>, plugins: Plugins = []) => Mirador.viewer(config, [...archivePlugins, ...plugins]),
};
