/** The access settings of src/lib/config.ts: closed defaults, and a named variable for every mistake. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config.ts';

const load = (env: Record<string, string>, cwd = '/srv/archive') => loadConfig(env, cwd);

function errorOf(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const CF = { ACCESS_MODE: 'cloudflare', CF_ACCESS_TEAM_DOMAIN: 'acme.cloudflareaccess.com', CF_ACCESS_AUD: 'a'.repeat(64) };

describe('access configuration', () => {
  test('cloudflare: team domain in any usual spelling, issuer and key URL derived from it', () => {
    for (const team of ['acme', 'acme.cloudflareaccess.com', 'https://acme.cloudflareaccess.com/', 'ACME.cloudflareaccess.com']) {
      const c = load({ ...CF, CF_ACCESS_TEAM_DOMAIN: team }).access.cloudflare!;
      expect(c.teamDomain).toBe('acme.cloudflareaccess.com');
      expect(c.issuer).toBe('https://acme.cloudflareaccess.com');
      expect(c.jwksUrl).toBe('https://acme.cloudflareaccess.com/cdn-cgi/access/certs');
      expect(c.jwksCooldownSeconds).toBe(30);
    }
    expect(load(CF).access.logoutUrl).toBe('/cdn-cgi/access/logout');
    expect(load({ ...CF, CF_ACCESS_AUD: 'aud1, aud2' }).access.cloudflare!.audience).toEqual(['aud1', 'aud2']);
  });

  test.each([
    [{ ...CF, CF_ACCESS_TEAM_DOMAIN: '' }, 'CF_ACCESS_TEAM_DOMAIN'],
    [{ ...CF, CF_ACCESS_TEAM_DOMAIN: 'your-team.cloudflareaccess.com' }, 'CF_ACCESS_TEAM_DOMAIN'],
    [{ ...CF, CF_ACCESS_TEAM_DOMAIN: 'bad domain!' }, 'CF_ACCESS_TEAM_DOMAIN'],
    [{ ...CF, CF_ACCESS_AUD: '' }, 'CF_ACCESS_AUD'],
    [{ ...CF, CF_ACCESS_AUD: 'CHANGE_ME_access_application_aud_tag' }, 'CF_ACCESS_AUD'],
    [{ ...CF, CF_ACCESS_JWKS_URL: 'http://keys.example.org/certs' }, 'CF_ACCESS_JWKS_URL'],
    [{ ...CF, CF_ACCESS_JWKS_URL: 'not a url' }, 'CF_ACCESS_JWKS_URL'],
    [{ ...CF, CF_ACCESS_JWKS_COOLDOWN: '0' }, 'CF_ACCESS_JWKS_COOLDOWN'],
    [{ ACCESS_MODE: 'header' }, 'ACCESS_TRUSTED_PROXIES'],
    [{ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '10.0.0.0/33' }, 'ACCESS_TRUSTED_PROXIES'],
    [{ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: 'proxy.local' }, 'ACCESS_TRUSTED_PROXIES'],
    [{ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1', ACCESS_HEADER: 'Cookie' }, 'ACCESS_HEADER'],
    [{ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1', ACCESS_HEADER: 'X-Forwarded-For' }, 'ACCESS_HEADER'],
    [{ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1', ACCESS_HEADER: 'bad header' }, 'ACCESS_HEADER'],
    [{ ACCESS_RULES: '{"admins":[]}' }, 'ACCESS_RULES'],
    [{ ACCESS_RULES: '{}', ACCESS_RULES_FILE: 'rules.json' }, 'ACCESS_RULES_FILE'],
    [{ ACCESS_RULES_FILE: '/nonexistent/rules.json' }, 'ACCESS_RULES_FILE'],
    [{ ACCESS_ANONYMOUS_LEVEL: 'admin' }, 'ACCESS_ANONYMOUS_LEVEL'],
    [{ IIIF_AUTH_ORIGINS: 'https://viewer.example.net/path' }, 'IIIF_AUTH_ORIGINS'],
    [{ IIIF_AUTH_ORIGINS: 'viewer.example.net' }, 'IIIF_AUTH_ORIGINS'],
    [{ IIIF_AUTH_TOKEN_SECRET: 'short' }, 'IIIF_AUTH_TOKEN_SECRET'],
    [{ IIIF_AUTH_TOKEN_TTL: '5' }, 'IIIF_AUTH_TOKEN_TTL'],
    [{ ACCESS_LOGOUT_URL: 'javascript:alert(1)' }, 'ACCESS_LOGOUT_URL'],
    [{ ACCESS_LOGOUT_URL: '//evil.example.com/' }, 'ACCESS_LOGOUT_URL'],
  ])('%j is refused, naming %s', (env, variable) => {
    const e = errorOf(env as Record<string, string>);
    expect(e.variable).toBe(variable);
    expect(e.message.length).toBeGreaterThan(variable.length + 10);
  });

  test('the JWKS may be plain http only on loopback (tests)', () => {
    expect(load({ ...CF, CF_ACCESS_JWKS_URL: 'http://127.0.0.1:9999/cdn-cgi/access/certs' }).access.cloudflare!.jwksUrl).toBe('http://127.0.0.1:9999/cdn-cgi/access/certs');
  });

  test('header mode: proxies as addresses or blocks, v4 and v6; header name lower-cased', () => {
    const h = load({ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8, ::1, fd00::/8', ACCESS_HEADER: 'X-Forwarded-Email' }).access.header!;
    expect(h).toEqual({ name: 'x-forwarded-email', trustedProxies: ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8'] });
    expect(load({ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1' }).access.header!.name).toBe('x-auth-request-email');
  });

  test('closed defaults: no rules (everyone open only), no foreign token origins, anonymous sees all only on loopback', () => {
    const c = load({});
    expect(c.access.rules).toEqual({ members: [], staff: [] });
    expect(c.access.iiif).toEqual({ origins: [], tokenTtlSeconds: 300 });
    expect(c.access.anonymousLevel).toBe('staff');
    expect(load({ HOST: '0.0.0.0', ALLOW_PUBLIC_UNAUTHENTICATED: 'true' }).access.anonymousLevel).toBe('open');
    expect(load({ IIIF_AUTH_ORIGINS: '*' }).access.iiif.origins).toBe('*');
  });

  test('rules from a file, relative to the working directory', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    writeFileSync(path.join(dir, 'rules.json'), JSON.stringify({ members: ['*@example.ac.jp'], staff: ['curator@example.org'] }));
    expect(load({ ACCESS_RULES_FILE: 'rules.json' }, dir).access.rules).toEqual({ members: ['*@example.ac.jp'], staff: ['curator@example.org'] });
  });

  test('none on a public address is still refused (the start-up refusal itself: startup.test.ts)', () => {
    expect(errorOf({ HOST: '0.0.0.0' }).variable).toBe('HOST');
    expect(load({ HOST: '0.0.0.0', ...CF }).access.mode).toBe('cloudflare');
  });
});
