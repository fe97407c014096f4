/**
 * The test suite stands on its own: a clean clone passes with nothing beside it. Everything the
 * tests read is in the repository, every package they import is declared, no test runs code from
 * bench/, no unit test asserts wall-clock time, and no test leaves process.env changed.
 */
import { builtinModules } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function files(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : files(rel);
    return /\.(ts|tsx|mts|mjs|js|astro)$/.test(e.name) ? [rel] : [];
  });
}

const TESTS = files('tests');
/** This file names the patterns it looks for. */
const SELF = path.join('tests', 'unit', 'self-contained.test.ts');
const CODE = [...TESTS, ...files('src'), ...files('scripts'), ...files('bench')];
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** Module specifiers of static imports, re-exports, import() and require() with a literal. */
function specifiers(text: string): string[] {
  return [
    ...text.matchAll(/\b(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/g),
    ...text.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

/** The package a bare specifier names ('@scope/name/sub' → '@scope/name'). */
const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);

describe('the suite stands on its own', () => {
  it('reads the files it checks', () => {
    expect(TESTS.length).toBeGreaterThan(40);
    expect(TESTS).toContain(path.join('tests', 'unit', 'self-contained.test.ts'));
  });

  it('declares every package that tests, sources, scripts and benchmarks import', () => {
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]);
    const builtin = new Set(builtinModules);
    const undeclared = new Set<string>();
    for (const f of CODE) {
      for (const s of specifiers(read(f))) {
        if (s.startsWith('.') || s.startsWith('/') || s.startsWith('node:') || s.startsWith('astro:') || s.includes('${')) continue;
        const name = packageOf(s);
        if (!declared.has(name) && !builtin.has(name)) undeclared.add(`${name} (${f})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  it('reads nothing outside the repository (IIIF fixtures live in tests/fixtures/iiif)', () => {
    const outside: string[] = [];
    for (const f of TESTS) {
      const text = read(f);
      for (const s of specifiers(text).filter((s) => s.startsWith('.'))) {
        if (path.relative(ROOT, path.resolve(ROOT, path.dirname(f), s)).startsWith('..')) outside.push(`${f}: ${s}`);
      }
      for (const m of text.matchAll(/new URL\(\s*[`'"](\.[^`'"]*)[`'"]\s*,\s*import\.meta\.url/g)) {
        if (path.relative(ROOT, path.resolve(ROOT, path.dirname(f), m[1]!)).startsWith('..')) outside.push(`${f}: ${m[1]}`);
      }
      if (/shared[/'", ]+iiif/.test(text) && f !== SELF) outside.push(`${f}: shared/iiif`);
    }
    expect(outside).toEqual([]);
    for (const name of ['presentation-3.schema.json', '67352ccc-d1b0-11e1-89ae-279075081939.png', 'README.md']) {
      expect(fs.existsSync(path.join(ROOT, 'tests', 'fixtures', 'iiif', name)), name).toBe(true);
    }
  });

  it('runs no code from bench/', () => {
    const users = TESTS.filter((f) => {
      const text = read(f);
      return specifiers(text).some((s) => /(^|\/)bench\//.test(s)) || /['"`]bench\/[^'"`]*\.ts['"`]/.test(text);
    });
    expect(users).toEqual([]);
  });

  it('asserts no wall-clock time (timings belong in bench/)', () => {
    // The fault-injection suite (tests/faults) is the one exception: issue 18 asks it to assert that
    // each answer comes within its deadline (a liveness bound, with margins for a loaded machine,
    // not a performance figure) and to report the times of its fault table.
    const timed = TESTS.filter((f) => f !== SELF && !f.includes(`${path.sep}faults${path.sep}`)).filter((f) =>
      /performance\.now\(\)|Date\.now\(\)\s*-|hrtime/.test(read(f)),
    );
    expect(timed).toEqual([]);
  });

  it('changes process.env only through vi.stubEnv (restored), never by assignment', () => {
    const assigning = TESTS.filter((f) => f !== SELF).filter((f) =>
      /process\.env(\.\w+|\[[^\]]+\])\s*=(?!=)|delete\s+process\.env|Object\.assign\(\s*process\.env/.test(read(f)),
    );
    expect(assigning).toEqual([]);
    for (const f of TESTS.filter((f) => f !== SELF && read(f).includes('vi.stubEnv('))) {
      expect(read(f), `${f} restores what it stubs`).toMatch(/vi\.unstubAllEnvs\(\)|unstubEnvs:\s*true/);
    }
  });
});
