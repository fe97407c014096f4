import { describe, expect, test } from 'vitest';
import { conditionalResponse, etagMatches, firstSeen, isNotModified, notModifiedSince } from '../../src/lib/http/conditional.ts';

const LM = 'Tue, 01 Dec 2026 10:00:00 GMT';
const v = { etag: '"abc"', lastModified: LM };

describe('RFC 9110 conditional requests (one helper for manifests, collections, images)', () => {
  test('If-None-Match: exact, weak, lists, *', () => {
    expect(etagMatches('"abc"', '"abc"')).toBe(true);
    expect(etagMatches('W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches('"abc"', 'W/"abc"')).toBe(true);
    expect(etagMatches('"x", W/"abc" ,"y"', '"abc"')).toBe(true);
    expect(etagMatches('"x","y"', '"abc"')).toBe(false);
    expect(etagMatches('*', '"abc"')).toBe(true);
    expect(etagMatches('"ab"', '"abc"')).toBe(false);
    expect(etagMatches('abc', '"abc"')).toBe(false); // unquoted is not an entity tag
    expect(etagMatches('', '"abc"')).toBe(false);
    expect(etagMatches(null, '"abc"')).toBe(false);
  });

  test('If-Modified-Since: not later than the date is unmodified; bad dates are ignored', () => {
    expect(notModifiedSince(LM, LM)).toBe(true);
    expect(notModifiedSince('Tue, 01 Dec 2026 10:00:01 GMT', LM)).toBe(true);
    expect(notModifiedSince('Tue, 01 Dec 2026 09:59:59 GMT', LM)).toBe(false);
    // Sub-second modification times compare by whole seconds.
    expect(notModifiedSince(LM, Date.parse(LM) + 999)).toBe(true);
    expect(notModifiedSince('yesterday', LM)).toBe(false);
    expect(notModifiedSince(LM, undefined)).toBe(false);
  });

  test('If-None-Match takes precedence over If-Modified-Since; only GET and HEAD get 304', () => {
    expect(isNotModified('GET', { 'if-none-match': '"other"', 'if-modified-since': LM }, v)).toBe(false);
    expect(isNotModified('GET', { 'If-None-Match': 'W/"abc"' }, v)).toBe(true);
    expect(isNotModified('HEAD', new Headers({ 'if-modified-since': LM }), v)).toBe(true);
    expect(isNotModified('POST', { 'if-none-match': '*' }, v)).toBe(false);
    expect(isNotModified('GET', {}, v)).toBe(false);
  });

  test("Cache-Control in the request is the caches' business: fetch() sends no-cache with any conditional header; validators without a current tag or date never match", () => {
    expect(isNotModified('GET', { 'if-none-match': '"abc"', 'cache-control': 'no-cache', pragma: 'no-cache' }, v)).toBe(true);
    expect(isNotModified('GET', new Headers({ 'if-modified-since': LM, 'cache-control': 'max-age=0, no-cache' }), v)).toBe(true);
    expect(isNotModified('GET', { 'if-none-match': '"other"', 'cache-control': 'no-cache' }, v)).toBe(false);
    expect(isNotModified('GET', { 'if-none-match': '*' }, { lastModified: LM })).toBe(false);
    expect(isNotModified('GET', { 'if-modified-since': LM }, { etag: '"abc"' })).toBe(false);
    expect(isNotModified('GET', { 'if-modified-since': 'not a date' }, v)).toBe(false);
    // A list sent as two header lines (node joins them) matches as one list.
    expect(isNotModified('GET', { 'if-none-match': ['"x"', 'W/"abc"'] }, v)).toBe(true);
  });

  test('conditionalResponse: 304 keeps the validators and drops the body and its type', async () => {
    const headers = { 'Content-Type': 'application/ld+json', ETag: '"abc"', 'Last-Modified': LM, 'Cache-Control': 'private' };
    const not = conditionalResponse(new Request('http://x/', { headers: { 'If-None-Match': '"x", W/"abc"' } }), '{}', headers);
    expect(not.status).toBe(304);
    expect(not.headers.get('etag')).toBe('"abc"');
    expect(not.headers.get('content-type')).toBeNull();
    expect(await not.text()).toBe('');
    const full = conditionalResponse(new Request('http://x/', { headers: { 'If-Modified-Since': 'Mon, 30 Nov 2026 00:00:00 GMT' } }), '{"a":1}', headers);
    expect(full.status).toBe(200);
    expect(await full.text()).toBe('{"a":1}');
  });

  test('firstSeen: stable for one body, strictly later (by a second) for a changed body at the same URL', () => {
    const a = firstSeen('http://x/c?q=1', '"a"');
    expect(firstSeen('http://x/c?q=1', '"a"')).toBe(a);
    const b = firstSeen('http://x/c?q=1', '"b"');
    expect(b).toBeGreaterThanOrEqual(a + 1000);
    // An If-Modified-Since taken from the old body does not match the new one.
    expect(notModifiedSince(new Date(a).toUTCString(), b)).toBe(false);
  });
});
