/**
 * The shape of src/ as its own imports draw it: no import cycle (type imports and dynamic
 * imports count too), the domain module at the ground floor, and the id pattern written once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ID_MAX_LENGTH, IMAGE_ID_RE, ITEM_ID_RE } from '../../src/lib/domain.ts';
import { imageIdFor } from '../../src/lib/ingest/excel.ts';
import { parseItemList } from '../../src/lib/search/params.ts';
import { itemIdFromManifest } from '../../src/lib/iiif/view.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = path.join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|tsx|astro|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, type-only, re-exports and import() with a literal), resolved. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/\b(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]/g),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return [...new Set(specs.map((s) => path.resolve(path.dirname(file), s)))].filter((p) => p.startsWith(SRC));
}

/** Strongly connected components with more than one file (or a file importing itself). Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.map((f) => path.relative(ROOT, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/**
 * The floors of src/, lowest first: the domain vocabulary, the pure date reader (dates/, which
 * imports nothing: records' dates are domain knowledge both store adapters use) and the HTTP
 * vocabulary (http/: headers, canonical URL, conditional requests, JSON answers; it imports nothing
 * either); the one config reader; the store and bucket adapters; every other concern with the
 * composition root (runtime.ts); the request road (front/, which composes the gate, the image
 * server and runtime.ts); the entry points (pages, islands, middleware, the CLI). A module may
 * import its own floor or lower ones only.
 */
function floorOf(file: string): number {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  if (rel === 'lib/domain.ts' || rel.startsWith('lib/dates/') || rel.startsWith('lib/http/')) return 0;
  if (rel === 'lib/config.ts') return 1;
  if (rel.startsWith('lib/search/') || rel.startsWith('lib/storage/')) return 2;
  if (rel.startsWith('lib/front/')) return 4;
  if (rel.startsWith('lib/')) return 3;
  return 5;
}

function upwardImports(graph: Map<string, string[]>): string[] {
  return [...graph].flatMap(([file, deps]) =>
    deps
      .filter((d) => floorOf(d) > floorOf(file))
      .map((d) => `${path.relative(ROOT, file)} (floor ${floorOf(file)}) -> ${path.relative(ROOT, d)} (floor ${floorOf(d)})`),
  );
}

describe('architecture', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('reads the imports it checks (the graph is not empty)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(graph.get(path.join(SRC, 'lib/runtime.ts'))).toContain(path.join(SRC, 'lib/config.ts'));
    expect(graph.get(path.join(SRC, 'lib/search/open.ts'))).toContain(path.join(SRC, 'lib/search/sqlite.ts'));
  });

  it('has no import cycle in src/', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle when there is one (the checker works)', () => {
    const a = '/x/a.ts';
    const b = '/x/b.ts';
    expect(cycles(new Map([[a, [b]], [b, [a]]]))).toHaveLength(1);
  });

  it('keeps the domain module at the ground floor: it imports nothing', () => {
    const text = fs.readFileSync(path.join(SRC, 'lib/domain.ts'), 'utf8');
    expect(text).not.toMatch(/^\s*import\b/m);
  });

  it('keeps config below search and access: config imports neither the store nor the gate', () => {
    const deps = graph.get(path.join(SRC, 'lib/config.ts'))!.map((p) => path.relative(SRC, p));
    expect(deps.filter((d) => d.startsWith('lib/search/') || d === 'lib/access/gate.ts')).toEqual([]);
  });

  it('lets one module of the image server use sharp: render.ts (rendering, facts, pyramid writes)', () => {
    const images = files.filter((f) => f.startsWith(path.join(SRC, 'lib/images') + path.sep));
    expect(images.length).toBeGreaterThan(5);
    const users = images.filter((f) => /\bfrom\s+['"]sharp['"]|\bimport\(\s*['"]sharp['"]\s*\)|\brequire\(\s*['"]sharp['"]\s*\)/.test(fs.readFileSync(f, 'utf8')));
    expect(users.map((f) => path.relative(SRC, f))).toEqual(['lib/images/render.ts']);
  });

  it('keeps the image modules below the composition root: nothing under images/ imports runtime.ts', () => {
    const up = files
      .filter((f) => f.startsWith(path.join(SRC, 'lib/images') + path.sep))
      .filter((f) => graph.get(f)!.includes(path.join(SRC, 'lib/runtime.ts')))
      .map((f) => path.relative(SRC, f));
    expect(up).toEqual([]);
  });

  it('keeps the HTTP vocabulary at the ground: nothing under http/ imports a module of src/', () => {
    const http = files.filter((f) => f.startsWith(path.join(SRC, 'lib/http') + path.sep));
    expect(http.map((f) => path.relative(SRC, f)).sort()).toEqual(['lib/http/canonical.ts', 'lib/http/conditional.ts', 'lib/http/cors.ts', 'lib/http/headers.ts', 'lib/http/json.ts']);
    expect(http.flatMap((f) => graph.get(f)!.map((d) => `${path.relative(SRC, f)} -> ${path.relative(SRC, d)}`))).toEqual([]);
  });

  it('keeps the floors in order: no module imports one on a higher floor', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('finds an upward import when there is one (the floor check works)', () => {
    const config = path.join(SRC, 'lib/config.ts');
    const rules = path.join(SRC, 'lib/access/rules.ts');
    expect(upwardImports(new Map([[config, [rules]], [rules, []]]))).toEqual(['src/lib/config.ts (floor 1) -> src/lib/access/rules.ts (floor 3)']);
  });

  it('writes the id pattern once (src/lib/domain.ts), never inline', () => {
    const inline = files
      .filter((f) => !f.endsWith(path.join('lib', 'domain.ts')))
      .filter((f) => /\[A-Za-z0-9\]\[A-Za-z0-9\._-\]\{/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    expect(inline).toEqual([]);
  });
});

describe('one id length limit, for every user', () => {
  const longest = 'A'.repeat(ID_MAX_LENGTH);
  const tooLong = 'A'.repeat(ID_MAX_LENGTH + 1);

  it('record and image ids share the pattern', () => {
    expect(ITEM_ID_RE.test(longest)).toBe(true);
    expect(ITEM_ID_RE.test(tooLong)).toBe(false);
    expect(IMAGE_ID_RE.test(longest)).toBe(true);
    expect(IMAGE_ID_RE.test(tooLong)).toBe(false);
  });

  it('the comparison view and manifest URLs accept exactly the ids ingest accepts', () => {
    expect(parseItemList(new URLSearchParams({ items: `${longest},${tooLong}` }))).toEqual([longest]);
    const base = 'https://archive.example.org';
    expect(itemIdFromManifest(base, `${base}/api/iiif/${longest}/manifest.json`)).toBe(longest);
    expect(itemIdFromManifest(base, `${base}/api/iiif/${tooLong}/manifest.json`)).toBeUndefined();
  });

  it('image ids made from the longest record id stay valid and distinct per page', () => {
    const ids = [1, 2, 3].map((page) => imageIdFor('写真.jpg', longest, page));
    for (const id of ids) expect(IMAGE_ID_RE.test(id)).toBe(true);
    expect(new Set(ids).size).toBe(3);
  });
});
