/**
 * Decides whether the Astro build in dist/ is current: a hash over every input of the build
 * (sources, public files, configs, the lockfile), recorded in dist/.build-stamp after a build.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const INPUTS = ['src', 'public', 'astro.config.mjs', 'tsconfig.json', 'package.json', 'package-lock.json'];

function walk(p: string, out: string[]): void {
  if (!existsSync(p)) return;
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const name of readdirSync(p).sort()) walk(path.join(p, name), out);
  } else {
    out.push(p);
  }
}

export function buildHash(root: string): string {
  const files: string[] = [];
  for (const input of INPUTS) walk(path.join(root, input), files);
  const h = createHash('sha256');
  for (const f of files) {
    h.update(path.relative(root, f));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex');
}

const stampFile = (root: string) => path.join(root, 'dist', '.build-stamp');

export function isBuildCurrent(root: string): boolean {
  const entry = path.join(root, 'dist', 'server', 'entry.mjs');
  if (!existsSync(entry) || !existsSync(stampFile(root))) return false;
  return readFileSync(stampFile(root), 'utf8').trim() === buildHash(root);
}

/** Runs `astro build` when the build is missing or stale. Returns false if the build failed. */
export function ensureBuilt(root: string, log: (msg: string) => void = console.log): boolean {
  if (isBuildCurrent(root)) return true;
  log('Building the site (astro build)…');
  const started = Date.now();
  const astro = path.join(root, 'node_modules', 'astro', 'bin', 'astro.mjs');
  // A production build whatever the caller's NODE_ENV: Vite sets import.meta.env.DEV from it, and a
  // build started under vitest (NODE_ENV=test) or a shell with NODE_ENV=development would ship
  // without the pages' Content-Security-Policy (src/middleware.ts applies it only when !DEV).
  const env = { ...process.env, NODE_ENV: 'production' };
  const r = spawnSync(process.execPath, [astro, 'build', '--silent'], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) return false;
  // The Mirador bundle with the archive's plugins (a server builds it on demand if this fails).
  spawnSync(process.execPath, [path.join(root, 'scripts', 'build-vendor.ts')], { cwd: root, stdio: 'inherit', env });
  writeFileSync(stampFile(root), buildHash(root) + '\n');
  log(`Built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return true;
}

if (import.meta.main) {
  const root = path.resolve(import.meta.dirname, '..');
  process.exit(ensureBuilt(root) ? 0 : 1);
}
