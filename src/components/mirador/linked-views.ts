/**
 * Linked views: a Mirador 4 plugin (public plugin API: a reducer and a saga, no fork). While on,
 * panning or zooming one window moves the other windows by the same canvas-relative amount
 * ("relative") or to the same canvas pixels ("absolute").
 *
 * The state lives in Mirador's store under `linkedViews`; the page switches it with
 * `setLinkedViews` and reads it back for the citable link.
 */
import { put, select, takeEvery } from 'redux-saga/effects';
import { mapViewport, sameViewport, type LinkMode, type Size, type Viewport } from './link-math.ts';

export const SET_LINKED_VIEWS = 'archive/SET_LINKED_VIEWS';
const UPDATE_VIEWPORT = 'mirador/UPDATE_VIEWPORT';

export interface LinkedViewsState {
  enabled: boolean;
  mode: LinkMode;
}

interface SetAction {
  type: typeof SET_LINKED_VIEWS;
  enabled: boolean;
  mode?: LinkMode;
}

interface ViewportAction {
  type: typeof UPDATE_VIEWPORT;
  windowId: string;
  payload: Partial<Viewport> & Record<string, unknown>;
  /** Set on the updates this plugin makes, so they are not passed on again. */
  linkedFollow?: boolean;
}

interface StoreState {
  linkedViews?: LinkedViewsState;
  windows: Record<string, { manifestId?: string; canvasId?: string }>;
  viewers: Record<string, Partial<Viewport> | null | undefined>;
  manifests: Record<string, { json?: { items?: Array<{ id?: string; width?: number; height?: number }> } }>;
  workspace?: { focusedWindowId?: string };
}

export function setLinkedViews(enabled: boolean, mode?: LinkMode): SetAction {
  return { type: SET_LINKED_VIEWS, enabled, ...(mode && { mode }) };
}

export function linkedViewsReducer(state: LinkedViewsState = { enabled: false, mode: 'relative' }, action: { type: string }): LinkedViewsState {
  if (action.type !== SET_LINKED_VIEWS) return state;
  const a = action as SetAction;
  return { enabled: a.enabled, mode: a.mode ?? state.mode };
}

/** Width and height of the canvas a window shows, from its manifest. */
export function canvasSizeOf(state: StoreState, windowId: string): Size | undefined {
  const w = state.windows[windowId];
  if (!w?.manifestId) return undefined;
  const canvases = state.manifests[w.manifestId]?.json?.items ?? [];
  const canvas = (w.canvasId && canvases.find((c) => c.id === w.canvasId)) || canvases[0];
  return canvas?.width && canvas?.height ? { width: canvas.width, height: canvas.height } : undefined;
}

function complete(v: Partial<Viewport> | null | undefined): v is Viewport {
  return !!v && typeof v.x === 'number' && typeof v.y === 'number' && typeof v.zoom === 'number' && v.zoom > 0;
}

/**
 * The viewport updates that make every other window follow `sourceId`. Pure over the store state.
 */
export function followUpdates(state: StoreState, sourceId: string, source: Viewport): Array<{ windowId: string; viewport: Viewport }> {
  const mode = state.linkedViews?.mode ?? 'relative';
  const from = canvasSizeOf(state, sourceId);
  if (!from && mode === 'relative') return [];
  const out: Array<{ windowId: string; viewport: Viewport }> = [];
  for (const windowId of Object.keys(state.windows)) {
    if (windowId === sourceId) continue;
    const to = canvasSizeOf(state, windowId);
    if (!to && mode === 'relative') continue;
    const viewport = mapViewport(source, from ?? { width: 1, height: 1 }, to ?? { width: 1, height: 1 }, mode);
    const current = state.viewers[windowId];
    if (complete(current) && sameViewport(current, viewport)) continue;
    out.push({ windowId, viewport });
  }
  return out;
}

/**
 * Windows moved by this plugin, until OpenSeadragon reports where they came to rest: that report
 * is the echo of our own move and is not passed on (it may differ slightly where OpenSeadragon
 * constrains the zoom). An echo that never comes expires.
 */
const following = new Map<string, number>();
const ECHO_MS = 2000;

function* follow(sourceId: string, source: Viewport) {
  const state: StoreState = yield select();
  for (const { windowId, viewport } of followUpdates(state, sourceId, source)) {
    following.set(windowId, Date.now());
    yield put({ type: UPDATE_VIEWPORT, windowId, payload: viewport, linkedFollow: true });
  }
}

function* onViewport(action: ViewportAction) {
  if (action.linkedFollow) return;
  const state: StoreState = yield select();
  if (!state.linkedViews?.enabled) return;
  const since = following.get(action.windowId);
  if (since !== undefined) {
    following.delete(action.windowId);
    if (Date.now() - since < ECHO_MS) return;
  }
  const v = action.payload;
  if (!complete(v)) return;
  yield* follow(action.windowId, v);
}

function* onToggle(action: SetAction) {
  if (!action.enabled) return;
  // Switching on aligns the others to the focused window (or the first one).
  const state: StoreState = yield select();
  const ids = Object.keys(state.windows);
  const sourceId = state.workspace?.focusedWindowId && state.windows[state.workspace.focusedWindowId] ? state.workspace.focusedWindowId : ids[0];
  const v = sourceId ? state.viewers[sourceId] : undefined;
  if (sourceId && complete(v)) yield* follow(sourceId, v);
}

function* linkedViewsSaga() {
  yield takeEvery(UPDATE_VIEWPORT, onViewport);
  yield takeEvery(SET_LINKED_VIEWS, onToggle);
}

/** The plugin as Mirador 4 takes it: no component and no target, only state and behaviour. */
export const linkedViewsPlugin = [
  {
    name: 'archiveLinkedViews',
    reducers: { linkedViews: linkedViewsReducer },
    saga: linkedViewsSaga,
  },
];
