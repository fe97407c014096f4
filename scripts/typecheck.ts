/**
 * The type check `npm test` runs before the suites (`npm run typecheck`: tsc --noEmit -p .), so a
 * body that does not fit the Elasticsearch client's types, or any other type error, fails CI. Counted
 * in the final tally as one test: passed, failed, or skipped with its reason.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
/** The project's own TypeScript compiler (a devDependency). */
const TSC = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

export interface TypecheckResult {
  ok: boolean;
  /** Number of `error TSnnnn` diagnostics. */
  errors: number;
  /** What tsc printed (its diagnostics). */
  output: string;
}

/** Runs `tsc --noEmit -p <project>` in `cwd` (default: the repository). */
export function typecheck(opts: { cwd?: string; project?: string } = {}): TypecheckResult {
  const r = spawnSync(process.execPath, [TSC, '--noEmit', '--pretty', 'false', '-p', opts.project ?? '.'], {
    cwd: opts.cwd ?? root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
  const errors = output.split('\n').filter((l) => /\berror TS\d+:/.test(l)).length;
  return { ok: r.status === 0 && errors === 0, errors, output };
}

/**
 * Whether `npm test` type-checks: yes for a whole run; a run narrowed to some files or a name
 * filter (`npm test -- tests/unit/x.test.ts`) skips it and says so (`npm run typecheck` does it alone).
 */
export function typecheckSkipReason(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.SKIP_TYPECHECK) return 'SKIP_TYPECHECK is set';
  const narrowed = args.some((a) => !a.startsWith('-')) || args.some((a) => a === '-t' || a.startsWith('--testNamePattern') || a.startsWith('--project'));
  return narrowed ? 'the run is narrowed to some tests (run `npm test` without arguments, or `npm run typecheck`)' : null;
}

/** The line the tally prints for the type check. */
export function typecheckLine(r: TypecheckResult): string {
  return r.ok ? 'typecheck: passed (tsc --noEmit -p .)' : `typecheck: FAILED (tsc --noEmit -p .: ${r.errors || 'some'} error${r.errors === 1 ? '' : 's'}, listed above)`;
}
