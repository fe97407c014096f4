/**
 * The canonical request URL (src/lib/http/canonical.ts) without a server: what the gate decides on
 * and the router receives. Issue 11.1: the gate checked `req.url` while Astro routed on
 * `http://${Host}${req.url}`, so a Host with a path (`127.0.0.1:4321/readyz#`) or an absolute
 * request target sent the router elsewhere than the gate had decided.
 */
import { describe, expect, test } from 'vitest';
import { canonicalRequest, validHost } from '../../src/lib/http/canonical.ts';

const BASE = 'http://127.0.0.1:4321';
/** `host` null: no Host header at all. */
const req = (url: string, host: string | null = '127.0.0.1:4321', extra: Partial<Parameters<typeof canonicalRequest>[0]> = {}) =>
  canonicalRequest({ url, headers: host === null ? {} : { host }, rawHeaders: host === null ? [] : ['Host', host], httpVersion: '1.1', ...extra }, BASE);

describe('Host', () => {
  test.each([
    ['127.0.0.1:4321', true],
    ['archive.example.org', true],
    ['Archive.Example.org:443', true],
    ['[::1]:4321', true],
    ['[::1]', true],
    ['localhost', true],
    ['127.0.0.1:4321/readyz#', false],
    ['127.0.0.1:4321/vendor/mirador.min.js#', false],
    ['127.0.0.1:4321?x', false],
    ['127.0.0.1:4321#x', false],
    ['a@b', false],
    ['user:pw@127.0.0.1:4321', false],
    ['127.0.0.1:99999', false],
    ['127.0.0.1:', false],
    ['::1', false],
    ['[::1', false],
    ['[zz::1]', false],
    ['1.2.3', false],
    ['a b', false],
    ['', false],
    ['x'.repeat(300), false],
  ])('%j valid: %s', (host, ok) => {
    expect(validHost(host) !== undefined).toBe(ok);
  });
});

describe('the three reproductions of issue 11.1 are refused or routed as the gate sees them', () => {
  test('a Host with a path is a 400, whatever the target', () => {
    expect(req('/healthz', '127.0.0.1:4321/readyz#')).toMatchObject({ ok: false, status: 400 });
    expect(req('/auth/iiif/token', '127.0.0.1:4321/vendor/mirador.min.js#')).toMatchObject({ ok: false, status: 400 });
  });
  test('an absolute-form target for this host is its own path', () => {
    const c = req('http://127.0.0.1:4321/healthz');
    expect(c).toMatchObject({ ok: true, target: '/healthz' });
  });
});

describe('request targets', () => {
  test.each([
    ['/items/R01-0001?x=1', '/items/R01-0001?x=1'],
    ['/auth/iiif/probe/../../../items/R01-0013', '/items/R01-0013'],
    ['/auth/iiif/probe/%2e%2e/%2e%2e/%2e%2e/api/search.json', '/api/search.json'],
    ['/auth/iiif/probe/%2E%2E/%2E%2E/%2E%2E/readyz', '/readyz'],
    ['//evil.example/x', '//evil.example/x'],
    ['/a\\..\\readyz', '/readyz'],
    ['/healthz#frag', '/healthz'],
    ['http://127.0.0.1:4321/healthz?x', '/healthz?x'],
    ['http://127.0.0.1:4321', '/'],
    ['/iiif/3/%E6%9D%B1/info.json', '/iiif/3/%E6%9D%B1/info.json'],
  ])('%s -> %s', (target, expected) => {
    const c = req(target);
    expect(c.ok && c.target).toBe(expected);
    if (c.ok) expect(c.url.origin).toBe(BASE);
  });

  test.each([
    ['http://evil.example/healthz', 'another host'],
    ['http://user@127.0.0.1:4321/', 'userinfo'],
    ['127.0.0.1:4321', 'authority'],
    ['*', 'asterisk'],
    ['healthz', 'relative'],
    ['/items/%E0%A4%A', 'percent'],
    ['/items/%E0%A4', 'UTF-8'],
    ['/items/%zz', 'percent'],
    ['/?q=%zz', 'percent'],
    ['', 'empty'],
    [`/${'a'.repeat(9000)}`, 'too long'],
  ])('%s is a 400 (%s)', (target, why) => {
    const c = req(target);
    expect(c).toMatchObject({ ok: false, status: 400 });
    if (!c.ok) expect(c.message).toMatch(new RegExp(why, 'i'));
  });

  test('the canonical URL always carries PUBLIC_BASE_URL, never the client-chosen host', () => {
    const c = req('/x', 'evil.example:4321');
    expect(c.ok && c.url.href).toBe(`${BASE}/x`);
    const v6 = req('/x', '[::1]:4321');
    expect(v6.ok && v6.url.href).toBe(`${BASE}/x`);
  });

  test('absolute form naming any other host than PUBLIC_BASE_URL’s is refused, even the request’s own Host; so is a second Host header or none', () => {
    expect(req('http://localhost:4321/healthz', 'localhost:4321')).toMatchObject({ ok: false, status: 400 });
    expect(req('http://evil.example/healthz', 'evil.example')).toMatchObject({ ok: false, status: 400 });
    expect(canonicalRequest({ url: '/', headers: { host: 'a' }, rawHeaders: ['Host', 'a', 'host', 'b'], httpVersion: '1.1' }, BASE)).toMatchObject({ ok: false });
    expect(req('/', null)).toMatchObject({ ok: false, status: 400 });
    expect(req('/', null, { httpVersion: '1.0' })).toMatchObject({ ok: true, target: '/' });
  });
});
