/**
 * `npm test`: the type check (`tsc --noEmit -p .`, counted as one test), every test suite (unit,
 * integration against the built server, browser), then one plain summary line for CI:
 * `tests: N passed, N failed[, N skipped]`.
 *
 * Installs the Debian packages some suites need (chromium, docker-compose) when they are missing and
 * we are root (CI and the project's machines); elsewhere those tests are skipped and say why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ensureBuilt } from './build-stamp.ts';
import { typecheck, typecheckLine, typecheckSkipReason } from './typecheck.ts';

const root = path.resolve(import.meta.dirname, '..');

/** Debian packages the suites use: the browser test's chromium, the compose check's docker-compose. */
const SYSTEM_PACKAGES: Array<{ pkg: string; bin: string; purpose: string }> = [
  { pkg: 'chromium', bin: '/usr/bin/chromium', purpose: 'the browser tests' },
  { pkg: 'docker-compose', bin: '/usr/bin/docker-compose', purpose: 'the compose file validation' },
];

function ensureSystemPackages(): void {
  const missing = SYSTEM_PACKAGES.filter((p) => !existsSync(p.bin));
  if (missing.length === 0 || process.env.SKIP_SYSTEM_INSTALL) return;
  const names = missing.map((p) => p.pkg).join(' ');
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || !existsSync('/usr/bin/apt-get')) {
    for (const p of missing) console.log(`${p.pkg} is not installed and this is not a root Debian machine: ${p.purpose} will be skipped.`);
    return;
  }
  console.log(`Installing Debian packages for the tests: ${names}…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing.map((p) => p.pkg)], { stdio: 'inherit', env });
  if (r.status !== 0) console.log(`apt-get could not install ${names}: the tests that need them will be skipped and say why.`);
}

ensureSystemPackages();
// The type check first (a request body that does not fit the Elasticsearch client's types fails
// here). A failure does not stop the suites: the run reports everything, and fails at the end.
const args = process.argv.slice(2);
const skipTypecheck = typecheckSkipReason(args);
let typecheckOk: boolean | null = null;
if (skipTypecheck) {
  console.log(`typecheck: skipped: ${skipTypecheck}`);
} else {
  console.log('typecheck: tsc --noEmit -p . …');
  const tc = typecheck();
  if (!tc.ok) process.stdout.write(tc.output.endsWith('\n') ? tc.output : `${tc.output}\n`);
  console.log(typecheckLine(tc));
  typecheckOk = tc.ok;
}
// Build the site before the suites start (the servers they start use it): the build's time is then
// no part of any test's or server start's time limit, which a loaded machine would exceed.
if (!ensureBuilt(root)) {
  console.log(`tests: ${typecheckOk ? 1 : 0} passed, ${typecheckOk === false ? 2 : 1} failed (the site did not build, see above)`);
  process.exit(1);
}
mkdirSync(path.join(root, 'test-results'), { recursive: true });
const report = path.join(root, 'test-results', 'vitest.json');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const r = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args],
  { cwd: root, stdio: 'inherit' },
);

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const data = JSON.parse(readFileSync(report, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    testResults: Array<{ status: string; assertionResults: unknown[] }>;
  };
  passed = data.numPassedTests;
  failed = data.numFailedTests;
  skipped = data.numPendingTests + data.numTodoTests;
  // A file that failed outside its tests (import error, failing beforeAll) has no failed test of
  // its own: count the file as one failure so the summary never hides it.
  failed += data.testResults.filter(
    (f) => f.status === 'failed' && !f.assertionResults.some((a) => (a as { status: string }).status === 'failed'),
  ).length;
}
if (r.status !== 0 && failed === 0) failed = 1;
if (typecheckOk === true) passed++;
else if (typecheckOk === false) failed++;
else skipped++;
if (typecheckOk === false) console.log('typecheck failed: see the tsc errors above (npm run typecheck)');
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || r.status !== 0 ? 1 : 0);
