/**
 * Readiness: every backing service the archive needs answers. Each check is bounded in time so a
 * hung dependency makes /readyz fail rather than hang.
 */
import { access, constants } from 'node:fs/promises';
import type { Config } from './config.ts';
import type { SearchStore } from './search/store.ts';

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
): Promise<{ ok: boolean; checks: CheckResult[] }> {
  const checks = await Promise.all([
    timed('access', 5000, async () => (await signingKeys()) ?? `${cfg.access.mode}: no keys needed`),
    timed('store', 3000, async () => `${cfg.store.backend}: ${await (await store()).count()} records`),
    timed('images', 3000, async () => {
      await access(cfg.images.root, constants.R_OK);
      return `${cfg.images.source}: ${cfg.images.root} readable`;
    }),
  ]);
  return { ok: checks.every((c) => c.ok), checks };
}
