/**
 * The server refuses to start in configurations that would serve without a working gate, with a
 * message saying why, before it builds or binds anything: `none` on a public address, and the
 * authenticated modes without what they need.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ROOT } from '../helpers/server.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'archive-startup-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function start(env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(ACCESS_|CF_ACCESS_|IIIF_AUTH_|HOST$|ALLOW_PUBLIC)/.test(k)));
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'start.ts')], {
    cwd: ROOT,
    env: { ...clean, PORT: '0', DATA_DIR: dataDir, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('start-up refusals', () => {
  test('ACCESS_MODE=none on a public bind address: exit code 2 and a sentence naming the way out', () => {
    const r = start({ HOST: '0.0.0.0', ACCESS_MODE: 'none' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^archive: configuration error: HOST: is "0\.0\.0\.0", which is not a loopback address, and ACCESS_MODE=none would publish every image/m);
    expect(r.stderr).toContain('ALLOW_PUBLIC_UNAUTHENTICATED=true');
    expect(r.stdout).not.toContain('Archive ready');
  });

  test('the same on an IPv6 wildcard, and with the mode left at its default', () => {
    const r = start({ HOST: '::' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('HOST: is "::", which is not a loopback address');
  });

  test.each([
    [{ HOST: '0.0.0.0', ACCESS_MODE: 'cloudflare' }, 'CF_ACCESS_TEAM_DOMAIN'],
    [{ ACCESS_MODE: 'cloudflare', CF_ACCESS_TEAM_DOMAIN: 'acme' }, 'CF_ACCESS_AUD'],
    [{ ACCESS_MODE: 'cloudflare', CF_ACCESS_TEAM_DOMAIN: 'your-team.cloudflareaccess.com', CF_ACCESS_AUD: 'x' }, 'CF_ACCESS_TEAM_DOMAIN'],
    [{ ACCESS_MODE: 'header' }, 'ACCESS_TRUSTED_PROXIES'],
    [{ ACCESS_RULES: '{"members": "everyone"}' }, 'ACCESS_RULES'],
  ])('%j: exit code 2 naming %s', (env, variable) => {
    const r = start(env as Record<string, string>);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`archive: configuration error: ${variable}: `);
  });
});
