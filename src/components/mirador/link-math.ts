/**
 * Coordinate mapping of linked views: what one window shows, carried over to another window.
 *
 * Mirador keeps each window's OpenSeadragon viewport as a centre (x, y) in canvas pixels and a
 * zoom where the visible width in canvas pixels is 1 / zoom. Pure, so it is unit tested.
 */

export type LinkMode = 'relative' | 'absolute';

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface Size {
  width: number;
  height: number;
}

/**
 * The viewport of a follower window: `relative` keeps the same fraction of each canvas in view
 * (photographs of different pixel sizes stay aligned), `absolute` the same canvas pixels
 * (same-size scans).
 */
export function mapViewport(source: Viewport, from: Size, to: Size, mode: LinkMode = 'relative'): Viewport {
  if (mode === 'absolute' || from.width <= 0 || from.height <= 0 || to.width <= 0 || to.height <= 0) {
    return { x: source.x, y: source.y, zoom: source.zoom };
  }
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  // The visible width is scaled with the canvas width: zoom = 1 / visible width.
  return { x: source.x * sx, y: source.y * sy, zoom: source.zoom / sx };
}

/** Visible region relative to the canvas (fractions of its width/height) for a viewport of a given pixel aspect. */
export function relativeRegion(v: Viewport, canvas: Size, viewportAspect: number): { x: number; y: number; w: number; h: number } {
  const w = 1 / v.zoom;
  const h = w / viewportAspect;
  return { x: (v.x - w / 2) / canvas.width, y: (v.y - h / 2) / canvas.height, w: w / canvas.width, h: h / canvas.height };
}

/** Equal within a relative tolerance (OpenSeadragon reports back what it was told, up to rounding and constraints). */
export function sameViewport(a: Viewport, b: Viewport, tolerance = 1e-3): boolean {
  const close = (p: number, q: number, scale: number) => Math.abs(p - q) <= tolerance * scale;
  const width = 1 / Math.max(a.zoom, b.zoom);
  return close(a.zoom, b.zoom, Math.max(a.zoom, b.zoom)) && close(a.x, b.x, width) && close(a.y, b.y, width);
}
