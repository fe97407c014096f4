/**
 * Readiness: every backing service the archive needs answers. Each check is bounded in time so a
 * hung dependency makes /readyz fail rather than hang.
 */
import { access, constants, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config.ts';
import type { SearchStore } from './search/store.ts';

const INTEGRITY = Symbol.for('iiif-archive.store-integrity');

/**
 * The result of the last integrity check of the embedded store (`PRAGMA quick_check`, run at
 * start by scripts/start.ts and on demand by `archive status --check`): problems found, [] when
 * sound. Kept per process on globalThis (start.ts and the built app are two module graphs).
 */
export function recordIntegrity(result: { problems: string[]; at: Date } | undefined): void {
  (globalThis as { [INTEGRITY]?: unknown })[INTEGRITY] = result;
}

function lastIntegrity(): { problems: string[]; at: Date } | undefined {
  return (globalThis as { [INTEGRITY]?: { problems: string[]; at: Date } })[INTEGRITY];
}

/** Why a file-system call failed, in words an operator acts on. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EROFS: 'read-only file system',
    ENOENT: 'does not exist',
    ENOTDIR: 'a path component is not a directory',
  };
  return e?.code && words[e.code] ? `${words[e.code]} (${e.code})` : String(e?.message ?? err).split('\n')[0]!;
}

/** The cache directory takes a write (a small file written and removed again). */
async function cacheWritable(dir: string): Promise<string> {
  const probe = path.join(dir, 'tmp', `readyz-${process.pid}-${Date.now()}`);
  try {
    await mkdir(path.dirname(probe), { recursive: true });
    await writeFile(probe, 'ok');
    await rm(probe, { force: true });
  } catch (err) {
    await rm(probe, { force: true }).catch(() => {});
    throw new Error(`${dir} is not writable: ${fsReason(err)}`);
  }
  return `${dir} writable`;
}

/**
 * The store answers a real query: the count and a search that reads the full-text index and
 * records (a corrupted page fails here rather than only for visitors), plus the last integrity
 * check of the embedded store.
 */
async function storeAnswers(cfg: Config, store: () => Promise<SearchStore>): Promise<string> {
  const s = await store();
  const count = await s.count();
  if (typeof s.search === 'function') await s.search({ q: 'archive', pageSize: 1 });
  const integrity = lastIntegrity();
  if (integrity && integrity.problems.length) {
    throw new Error(`integrity check of ${integrity.at.toISOString()} found: ${integrity.problems.slice(0, 3).join('; ')}`);
  }
  return `${cfg.store.backend}: ${count} records${integrity ? ', integrity ok' : ''}`;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  ms: number;
}

async function timed(name: string, timeoutMs: number, fn: () => Promise<string>): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name, ok: true, detail, ms: Math.round(performance.now() - started) };
  } catch (e) {
    return { name, ok: false, detail: (e as Error).message, ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `signingKeys` answers for the access gate's key set (cloudflare mode) and resolves undefined when
 * the mode needs none.
 */
export async function readiness(
  cfg: Config,
  store: () => Promise<SearchStore>,
  signingKeys: () => Promise<string | undefined> = async () => undefined,
  opts: { imageProbe?: () => Promise<string> } = {},
): Promise<{ ok: boolean; checks: CheckResult[] }> {
  const checks = await Promise.all([
    timed('access', 5000, async () => (await signingKeys()) ?? `${cfg.access.mode}: no keys needed`),
    timed('store', 3000, () => storeAnswers(cfg, store)),
    timed('images', 3000, async () => {
      if (opts.imageProbe) return opts.imageProbe();
      if (cfg.images.source === 's3') {
        // A HEAD on a known object, through the image source's own client, deadline and breaker.
        const { probeImageSource } = await import('./runtime.ts');
        return probeImageSource();
      }
      try {
        await access(cfg.images.root, constants.R_OK);
      } catch (err) {
        throw new Error(`${cfg.images.root} cannot be read: ${fsReason(err)}`);
      }
      return `${cfg.images.source}: ${cfg.images.root} readable`;
    }),
    timed('cache', 3000, () => cacheWritable(path.join(cfg.images.cacheDir, 'iiif'))),
  ]);
  return { ok: checks.every((c) => c.ok), checks };
}
