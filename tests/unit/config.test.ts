import { describe, expect, test } from 'vitest';
import { ConfigError, ENV, isLoopback, loadConfig } from '../../src/lib/config.ts';

const load = (env: Record<string, string>) => loadConfig(env, '/srv/archive');

function errorOf(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('defaults: loopback, embedded store, filesystem images, data under the working directory', () => {
    const c = load({});
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(4321);
    expect(c.publicBaseUrl).toBe('http://127.0.0.1:4321');
    expect(c.store.backend).toBe('sqlite');
    expect(c.store.sqlitePath).toBe('/srv/archive/data/archive.sqlite');
    expect(c.images.source).toBe('fs');
    expect(c.images.root).toBe('/srv/archive/data/images');
    expect(c.access.mode).toBe('none');
    expect(c.demo).toBe(true);
  });

  test('explicit values are honoured and the base URL loses its trailing slash', () => {
    const c = load({ DATA_DIR: '/var/lib/archive', PORT: '8080', PUBLIC_BASE_URL: 'https://archive.example.org/', IIIF_MAX_AREA: '50000000' });
    expect(c.dataDir).toBe('/var/lib/archive');
    expect(c.port).toBe(8080);
    expect(c.publicBaseUrl).toBe('https://archive.example.org');
    expect(c.images.maxArea).toBe(50_000_000);
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ STORE_BACKEND: 'mysql' }, 'STORE_BACKEND'],
    [{ STORE_BACKEND: 'elasticsearch' }, 'ES_URL'],
    [{ PUBLIC_BASE_URL: 'archive.example.org' }, 'PUBLIC_BASE_URL'],
    [{ PUBLIC_BASE_URL: 'ftp://archive.example.org' }, 'PUBLIC_BASE_URL'],
    [{ IMAGE_SOURCE: 'nfs' }, 'IMAGE_SOURCE'],
    [{ IIIF_MAX_WIDTH: '-5' }, 'IIIF_MAX_WIDTH'],
    [{ DEMO: 'maybe' }, 'DEMO'],
    [{ DEMO_SCALE: '2' }, 'DEMO_SCALE'],
    [{ HOST: 'bad host!' }, 'HOST'],
    [{ ACCESS_MODE: 'open' }, 'ACCESS_MODE'],
  ])('%o is rejected naming %s', (env, variable) => {
    const e = errorOf(env);
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}:`)).toBe(true);
  });

  test('refuses to serve without authentication on a public address', () => {
    const e = errorOf({ HOST: '0.0.0.0' });
    expect(e.variable).toBe('HOST');
    expect(e.message).toMatch(/ALLOW_PUBLIC_UNAUTHENTICATED/);
  });

  test('a public bind is allowed with authentication or an explicit opt-in', () => {
    expect(load({ HOST: '0.0.0.0', ACCESS_MODE: 'cloudflare', CF_ACCESS_TEAM_DOMAIN: 'acme', CF_ACCESS_AUD: 'aud-tag' }).host).toBe('0.0.0.0');
    expect(load({ HOST: '0.0.0.0', ALLOW_PUBLIC_UNAUTHENTICATED: 'true' }).access.allowPublicUnauthenticated).toBe(true);
  });

  test('reads exactly the variables its schema declares (the schema is the list .env.example is checked against)', () => {
    const seen = new Set<string>();
    const watched = (env: Record<string, string>) =>
      new Proxy(env, {
        get(target, key) {
          if (typeof key === 'string') seen.add(key);
          return target[key as string];
        },
      });
    // One environment per mode, so that the variables read only in some modes are read too.
    const envs: Array<Record<string, string>> = [
      { ACCESS_RULES: '{"staff":["a@example.org"]}' },
      { ACCESS_RULES_FILE: 'rules.json' },
      { ACCESS_MODE: 'cloudflare', CF_ACCESS_TEAM_DOMAIN: 'acme', CF_ACCESS_AUD: 'aud', STORE_BACKEND: 'elasticsearch', ES_URL: 'http://es:9200' },
      { ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1', IMAGE_SOURCE: 's3', S3_BUCKET: 'b' },
    ];
    for (const env of envs) {
      try {
        load(watched(env));
      } catch (e) {
        if (!(e instanceof ConfigError) || e.variable !== 'ACCESS_RULES_FILE') throw e; // rules.json does not exist here
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(ENV).sort());
  });

  test('isLoopback', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].map(isLoopback)).toEqual([true, true, true, true, true]);
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.org'].map(isLoopback)).toEqual([false, false, false, false]);
  });
});
