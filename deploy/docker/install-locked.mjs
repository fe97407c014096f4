#!/usr/bin/env node
/**
 * Installs exactly the versions in package-lock.json, for the Docker build:
 *
 *   node deploy/docker/install-locked.mjs              # like `npm ci`
 *   node deploy/docker/install-locked.mjs --omit=dev   # like `npm ci --omit=dev`
 *
 * Used by the Dockerfile and by the small-VPS install (deploy/README.md).
 *
 * It runs `npm ci` first. npm ci refuses a lockfile that lacks entries for optional
 * platform-specific packages (npm/cli#4828: @astrojs/compiler-binding-* for other platforms are
 * missing from this project's lockfile, and some are not published at the locked version). Only in
 * that case it falls back to `npm install` and then proves that nothing drifted: every package of
 * the lockfile that npm installed has the locked version, every required one was installed, and
 * anything extra is optional. package.json and package-lock.json are restored byte for byte
 * afterwards (they are inputs of the build stamp that scripts/start.ts checks).
 *
 * Exits non-zero, naming the packages, if the installed tree differs from the lockfile.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Differences between the lockfile and what npm installed (node_modules/.package-lock.json).
 * `omitDev`: dev-only packages were not asked for.
 */
export function lockDrift(lock, installed, { omitDev = false } = {}) {
  const problems = [];
  const want = lock.packages ?? {};
  const have = installed.packages ?? {};
  for (const [key, entry] of Object.entries(want)) {
    if (!key.startsWith('node_modules/') || entry.link) continue;
    const got = have[key];
    if (got) {
      if (got.version !== entry.version) problems.push(`${key}: locked ${entry.version}, installed ${got.version}`);
      continue;
    }
    const skippable = entry.optional || entry.devOptional || entry.peer || (omitDev && entry.dev);
    if (!skippable) problems.push(`${key}: locked ${entry.version}, not installed`);
  }
  for (const [key, entry] of Object.entries(have)) {
    if (!key.startsWith('node_modules/') || want[key] || entry.link) continue;
    if (!entry.optional) problems.push(`${key}: installed ${entry.version}, not in the lockfile`);
  }
  return problems;
}

function npm(args) {
  console.log(`install-locked: npm ${args.join(' ')}`);
  return spawnSync('npm', args, { stdio: 'inherit' }).status ?? 1;
}

function main(argv) {
  const omitDev = argv.includes('--omit=dev');
  const files = ['package.json', 'package-lock.json'];
  const pristine = Object.fromEntries(files.map((f) => [f, readFileSync(f)]));

  if (npm(['ci', ...argv]) === 0) return 0;

  console.log('install-locked: npm ci refused the lockfile; installing the locked versions with npm install and checking them');
  const status = npm(['install', '--no-save', ...argv]);
  for (const f of files) writeFileSync(f, pristine[f]);
  if (status !== 0) return status;

  const lock = JSON.parse(pristine['package-lock.json'].toString('utf8'));
  const installed = JSON.parse(readFileSync(path.join('node_modules', '.package-lock.json'), 'utf8'));
  const problems = lockDrift(lock, installed, { omitDev });
  if (problems.length > 0) {
    console.error(`install-locked: the installed tree differs from package-lock.json:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  console.log('install-locked: installed tree matches package-lock.json');
  return 0;
}

// Run as a script (not when imported by the tests). Not `import.meta.main`: the small-VPS install
// runs this with the distribution's older Node, which lacks it.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
