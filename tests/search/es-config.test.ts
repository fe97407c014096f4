/** The Elasticsearch settings of src/lib/config.ts: credentials, CA file, timeout, index name. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const load = (env: Record<string, string>) => loadConfig({ ES_URL: 'https://es.example.org:9200', ...env }, dir);

function refusal(env: Record<string, string>): [string, string] {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return [e.variable, e.message];
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('Elasticsearch configuration', () => {
  it('defaults: index archive, 5 s timeout, no credentials', () => {
    expect(load({}).store).toMatchObject({ esIndex: 'archive', esTimeoutMs: 5000, esApiKey: undefined, esUsername: undefined, esCaCert: undefined });
  });

  it('takes an API key, or a user with a password of any characters', () => {
    expect(load({ ES_API_KEY: ' aWQ6a2V5 ' }).store.esApiKey).toBe('aWQ6a2V5');
    expect(load({ ES_USERNAME: 'archive', ES_PASSWORD: ' p@ss:w/rd ' }).store).toMatchObject({ esUsername: 'archive', esPassword: ' p@ss:w/rd ' });
  });

  it('refuses mixed or half credentials, naming the variable', () => {
    expect(refusal({ ES_API_KEY: 'k', ES_USERNAME: 'u', ES_PASSWORD: 'p' })).toEqual(['ES_API_KEY', 'ES_API_KEY: set either ES_API_KEY or ES_USERNAME/ES_PASSWORD, not both']);
    expect(refusal({ ES_USERNAME: 'u' })[0]).toBe('ES_PASSWORD');
    expect(refusal({ ES_PASSWORD: 'p' })[0]).toBe('ES_USERNAME');
    expect(refusal({ ES_URL: 'http://elastic:pw@es:9200', ES_API_KEY: 'k' })).toEqual([
      'ES_URL',
      'ES_URL: carries credentials while ES_API_KEY or ES_USERNAME is set too: keep one of them',
    ]);
    // Credentials in the URL alone are fine (the compose stack does that).
    expect(load({ ES_URL: 'http://elastic:pw@es:9200' }).store.esUrl).toBe('http://elastic:pw@es:9200');
  });

  it('reads the CA file at start and refuses one that is missing or not PEM', () => {
    fs.writeFileSync(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    fs.writeFileSync(path.join(dir, 'ca.txt'), 'not a certificate');
    expect(load({ ES_CA_CERT: 'ca.pem' }).store.esCaCert).toBe(path.join(dir, 'ca.pem'));
    expect(refusal({ ES_CA_CERT: 'ca.txt' })).toEqual(['ES_CA_CERT', `ES_CA_CERT: cannot use ${path.join(dir, 'ca.txt')}: no PEM certificate in it`]);
    expect(refusal({ ES_CA_CERT: 'missing.pem' })[1]).toMatch(/^ES_CA_CERT: cannot use .*missing\.pem: ENOENT/);
  });

  it('bounds the timeout and checks the index name', () => {
    expect(load({ ES_TIMEOUT_MS: '30000' }).store.esTimeoutMs).toBe(30000);
    expect(refusal({ ES_TIMEOUT_MS: '50' })[0]).toBe('ES_TIMEOUT_MS');
    expect(refusal({ ES_TIMEOUT_MS: 'soon' })[0]).toBe('ES_TIMEOUT_MS');
    expect(load({ ES_INDEX: 'archive_prod-2' }).store.esIndex).toBe('archive_prod-2');
    for (const bad of ['Archive', '-archive', '_x', 'a b', 'a*', 'a/b', 'a,b', 'x'.repeat(101)]) expect(refusal({ ES_INDEX: bad })[0], bad).toBe('ES_INDEX');
  });
});
