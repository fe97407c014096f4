import { describe, expect, test } from 'vitest';
import { mapViewport, relativeRegion, sameViewport } from '../../src/components/mirador/link-math.ts';
import { canvasSizeOf, followUpdates, linkedViewsReducer, setLinkedViews } from '../../src/components/mirador/linked-views.ts';

describe('linked views: coordinate mapping', () => {
  const small = { width: 2000, height: 1500 };
  const large = { width: 6000, height: 4500 };

  test('relative: the same fraction of each canvas is in view, whatever their pixel sizes', () => {
    // Window 1 shows the quarter around (500, 300) of a 2000 px wide canvas: visible width 500 px.
    const source = { x: 500, y: 300, zoom: 1 / 500 };
    const mapped = mapViewport(source, small, large, 'relative');
    expect(mapped.x).toBeCloseTo(1500, 9);
    expect(mapped.y).toBeCloseTo(900, 9);
    expect(1 / mapped.zoom).toBeCloseTo(1500, 9);
    const a = relativeRegion(source, small, 4 / 3);
    const b = relativeRegion(mapped, large, 4 / 3);
    for (const k of ['x', 'y', 'w', 'h'] as const) expect(b[k]).toBeCloseTo(a[k], 12);
  });

  test('relative with different aspect ratios: centre by fractions, visible width by canvas width', () => {
    const portrait = { width: 1000, height: 3000 };
    const mapped = mapViewport({ x: 1000, y: 750, zoom: 1 / 1000 }, small, portrait);
    expect(mapped).toEqual({ x: 500, y: 1500, zoom: 1 / 500 });
  });

  test('absolute: the same canvas pixels', () => {
    expect(mapViewport({ x: 500, y: 300, zoom: 0.002 }, small, large, 'absolute')).toEqual({ x: 500, y: 300, zoom: 0.002 });
  });

  test('a degenerate canvas size falls back to absolute pixels instead of dividing by zero', () => {
    expect(mapViewport({ x: 1, y: 2, zoom: 3 }, { width: 0, height: 0 }, large)).toEqual({ x: 1, y: 2, zoom: 3 });
  });

  test('sameViewport tolerates rounding but not a real move', () => {
    const v = { x: 1000, y: 800, zoom: 1 / 400 };
    expect(sameViewport(v, { x: 1000.2, y: 799.9, zoom: v.zoom * (1 + 1e-4) })).toBe(true);
    expect(sameViewport(v, { x: 1010, y: 800, zoom: v.zoom })).toBe(false);
    expect(sameViewport(v, { x: 1000, y: 800, zoom: v.zoom * 1.01 })).toBe(false);
  });
});

describe('linked views: plugin state', () => {
  const manifest = (id: string, w: number, h: number) => ({ json: { items: [{ id: `${id}/c1`, width: w, height: h }] } });
  const state = (enabled: boolean, mode: 'relative' | 'absolute' = 'relative') => ({
    linkedViews: { enabled, mode },
    windows: { w1: { manifestId: 'm1', canvasId: 'm1/c1' }, w2: { manifestId: 'm2', canvasId: 'm2/c1' }, w3: { manifestId: 'm3' } },
    viewers: { w1: { x: 1000, y: 750, zoom: 1 / 2000 }, w2: { x: 10, y: 10, zoom: 1 }, w3: null },
    manifests: { m1: manifest('m1', 2000, 1500), m2: manifest('m2', 4000, 3000), m3: manifest('m3', 1000, 750) },
  });

  test('the reducer switches on and off and keeps the mode', () => {
    let s = linkedViewsReducer(undefined, { type: '@@init' });
    expect(s).toEqual({ enabled: false, mode: 'relative' });
    s = linkedViewsReducer(s, setLinkedViews(true, 'absolute'));
    expect(s).toEqual({ enabled: true, mode: 'absolute' });
    s = linkedViewsReducer(s, setLinkedViews(false));
    expect(s).toEqual({ enabled: false, mode: 'absolute' });
  });

  test('canvas size comes from the window’s canvas in its manifest (first canvas when none is picked yet)', () => {
    expect(canvasSizeOf(state(true), 'w2')).toEqual({ width: 4000, height: 3000 });
    expect(canvasSizeOf(state(true), 'w3')).toEqual({ width: 1000, height: 750 });
    expect(canvasSizeOf(state(true), 'nope')).toBeUndefined();
  });

  test('every other window follows the moved one, relative to its own canvas', () => {
    const updates = followUpdates(state(true), 'w1', { x: 500, y: 375, zoom: 1 / 1000 });
    expect(updates).toEqual([
      { windowId: 'w2', viewport: { x: 1000, y: 750, zoom: 1 / 2000 } },
      { windowId: 'w3', viewport: { x: 250, y: 187.5, zoom: 1 / 500 } },
    ]);
  });

  test('a window already showing the mapped view is not moved again (no echo loop)', () => {
    const s = state(true);
    s.viewers.w2 = { x: 1000, y: 750, zoom: 1 / 2000 };
    const updates = followUpdates(s, 'w1', { x: 500, y: 375, zoom: 1 / 1000 });
    expect(updates.map((u) => u.windowId)).toEqual(['w3']);
  });

  test('absolute mode moves the others to the same pixels', () => {
    const updates = followUpdates(state(true, 'absolute'), 'w1', { x: 500, y: 375, zoom: 1 / 1000 });
    expect(updates.map((u) => u.viewport)).toEqual([
      { x: 500, y: 375, zoom: 1 / 1000 },
      { x: 500, y: 375, zoom: 1 / 1000 },
    ]);
  });
});
