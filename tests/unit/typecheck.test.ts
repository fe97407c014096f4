/**
 * `npm test` type-checks the project first (scripts/typecheck.ts, counted as one test in the tally):
 * a type error, such as an Elasticsearch request body that does not fit the client's types, fails
 * the run. Checked here on two tiny projects written to a temporary directory (one with an error,
 * one without), with the project's own compiler.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typecheck, typecheckLine, typecheckSkipReason } from '../../scripts/typecheck.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
let dir: string;
/** A guard, not a figure: starting the compiler takes seconds, tens of them on a loaded machine. */
const COMPILE = 180_000;

function project(name: string, source: string): string {
  const p = path.join(dir, name);
  fs.mkdirSync(p);
  fs.writeFileSync(path.join(p, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, types: [] }, files: ['main.ts'] }));
  fs.writeFileSync(path.join(p, 'main.ts'), source);
  return p;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typecheck-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the type check of npm test', () => {
  it('fails on a type error and names it', () => {
    const cwd = project('bad', "interface Body { size: number }\nexport const body: Body = { size: 'ten' };\n");
    const r = typecheck({ cwd });
    expect(r.ok).toBe(false);
    expect(r.errors).toBe(1);
    expect(r.output).toMatch(/main\.ts\(2,\d+\): error TS2322:/);
    expect(typecheckLine(r)).toBe('typecheck: FAILED (tsc --noEmit -p .: 1 error, listed above)');
  }, COMPILE);

  it('passes a project without type errors', () => {
    const cwd = project('good', 'interface Body { size: number }\nexport const body: Body = { size: 10 };\n');
    const r = typecheck({ cwd });
    expect(r).toEqual({ ok: true, errors: 0, output: '' });
    expect(typecheckLine(r)).toBe('typecheck: passed (tsc --noEmit -p .)');
  }, COMPILE);

  it('runs on a whole run, is skipped (with the reason) on a narrowed one', () => {
    expect(typecheckSkipReason([], {})).toBeNull();
    expect(typecheckSkipReason(['--reporter=dot'], {})).toBeNull();
    expect(typecheckSkipReason(['tests/unit/es-typed.test.ts'], {})).toMatch(/narrowed .*npm run typecheck/);
    expect(typecheckSkipReason(['-t', 'bulk'], {})).toMatch(/narrowed/);
    expect(typecheckSkipReason([], { SKIP_TYPECHECK: '1' })).toBe('SKIP_TYPECHECK is set');
  });

  it('npm test type-checks before the suites and counts the result in its tally', () => {
    const text = fs.readFileSync(path.join(ROOT, 'scripts', 'test.ts'), 'utf8');
    const check = text.indexOf('const tc = typecheck();');
    const suites = text.indexOf('spawnSync(\n  process.execPath,\n  [vitest');
    expect(check).toBeGreaterThan(0);
    expect(suites).toBeGreaterThan(check);
    expect(text).toContain('if (typecheckOk === true) passed++;');
    expect(text).toContain('else if (typecheckOk === false) failed++;');
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toBe('node scripts/test.ts');
    expect(pkg.scripts.typecheck).toBe('tsc --noEmit -p .');
  });
});
