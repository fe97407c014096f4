/**
 * Where the IIIF Authorization Flow 2.0 services are advertised: info.json (2.1 and 3.0) and the
 * manifest's image services, painting bodies and the manifest itself — valid Presentation 3, with
 * the auth context first.
 */
import { describe, expect, test } from 'vitest';
import { buildManifest } from '../../src/lib/iiif/manifest.ts';
import { buildInfo } from '../../src/lib/images/info.ts';
import { AUTH_CONTEXT, accessService, probeResult, probeService } from '../../src/lib/access/iiif-auth.ts';
import type { ItemRecord } from '../../src/lib/search/store.ts';
import { presentationErrors } from '../helpers/iiif-schema.ts';

const BASE = 'https://archive.example.org';
const auth = { context: AUTH_CONTEXT, probe: (kind: 'image' | 'manifest', id: string) => probeService(BASE, kind, id) };

const record: ItemRecord = {
  id: 'R01-0013',
  batch: 'R01',
  title: { ja: '尋常小学校の運動会', en: 'Sports day' },
  access: 'members',
  images: [
    { id: 'R01-0013', file: 'R01/R01-0013.jpg', width: 4000, height: 3000 },
    { id: 'R01-0013-2', file: 'R01/R01-0013-2.jpg', width: 4000, height: 3000 },
  ],
  indexed_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  s3_uploaded: false,
};

describe('service descriptions', () => {
  test('probe -> active access service -> token and logout services, as the specification nests them', () => {
    const p = probeService(BASE, 'image', 'R01-0013');
    expect(p).toMatchObject({ id: `${BASE}/auth/iiif/probe/image/R01-0013`, type: 'AuthProbeService2' });
    const a = (p.service as Array<Record<string, unknown>>)[0]!;
    expect(a).toMatchObject({ id: `${BASE}/auth/iiif/login`, type: 'AuthAccessService2', profile: 'active' });
    expect(a.label).toEqual({ ja: ['archive.example.org にサインイン'], en: ['Sign in to archive.example.org'] });
    expect(a.confirmLabel).toBeDefined();
    const inner = a.service as Array<Record<string, unknown>>;
    expect(inner.filter((s) => s.type === 'AuthAccessTokenService2')).toEqual([expect.objectContaining({ id: `${BASE}/auth/iiif/token` })]);
    expect(inner.filter((s) => s.type === 'AuthLogoutService2')).toEqual([expect.objectContaining({ id: `${BASE}/auth/iiif/logout`, label: expect.any(Object) })]);
    expect(probeService(BASE, 'image', 'a b')).toMatchObject({ id: `${BASE}/auth/iiif/probe/image/a%20b` });
    expect(accessService(BASE)).toEqual(a);
  });

  test('probe results carry the status of the resource, with text when it is not 200', () => {
    expect(probeResult(200)).toEqual({ '@context': AUTH_CONTEXT, type: 'AuthProbeResult2', status: 200 });
    expect(probeResult(401)).toMatchObject({ status: 401, heading: expect.any(Object), note: expect.any(Object) });
    expect(probeResult(404)).toMatchObject({ status: 404, heading: expect.any(Object) });
  });
});

describe('info.json', () => {
  const limits = { maxWidth: 10000, maxHeight: 10000, maxArea: 1e8 };
  test('3.0: auth context first, the probe in service', () => {
    const doc = buildInfo(3, { id: `${BASE}/iiif/3/R01-0013`, width: 4000, height: 3000, limits, auth: { context: AUTH_CONTEXT, services: [probeService(BASE, 'image', 'R01-0013')] } });
    expect(doc['@context']).toEqual([AUTH_CONTEXT, 'http://iiif.io/api/image/3/context.json']);
    expect(doc.service).toEqual([probeService(BASE, 'image', 'R01-0013')]);
  });
  test('2.1: the probe carries its own context', () => {
    const doc = buildInfo(2, { id: `${BASE}/iiif/2/R01-0013`, width: 4000, height: 3000, limits, auth: { context: AUTH_CONTEXT, services: [probeService(BASE, 'image', 'R01-0013')] } });
    expect(doc['@context']).toBe('http://iiif.io/api/image/2/context.json');
    expect(doc.service).toEqual([{ '@context': AUTH_CONTEXT, ...probeService(BASE, 'image', 'R01-0013') }]);
  });
  test('without auth, nothing changes', () => {
    const doc = buildInfo(3, { id: `${BASE}/iiif/3/x`, width: 10, height: 10, limits });
    expect(doc['@context']).toBe('http://iiif.io/api/image/3/context.json');
    expect(doc.service).toBeUndefined();
  });
});

describe('manifest', () => {
  const sizes = new Map();
  test('every image service and painting body has its probe; the manifest has its own; valid Presentation 3', () => {
    const m = buildManifest({ record, sizes, base: BASE, auth }) as any;
    expect(m['@context']).toEqual([AUTH_CONTEXT, 'http://iiif.io/api/presentation/3/context.json']);
    expect(m.service).toEqual([probeService(BASE, 'manifest', 'R01-0013')]);
    for (const canvas of m.items) {
      const body = canvas.items[0].items[0].body;
      const imageId = body.service[0].id.split('/').pop();
      expect(body.service[0]).toMatchObject({ type: 'ImageService3', service: [probeService(BASE, 'image', imageId)] });
      expect(body.service[1]).toEqual(probeService(BASE, 'image', imageId));
      expect(canvas.thumbnail[0].service[0].service).toEqual([probeService(BASE, 'image', imageId)]);
    }
    expect(m.thumbnail[0].service[0].service).toEqual([probeService(BASE, 'image', 'R01-0013')]);
    expect(presentationErrors(m)).toEqual([]);
  });
  test('without auth the manifest is as before', () => {
    const m = buildManifest({ record, sizes, base: BASE }) as any;
    expect(m['@context']).toBe('http://iiif.io/api/presentation/3/context.json');
    expect(m.service).toBeUndefined();
    expect(JSON.stringify(m)).not.toContain('Auth');
  });
});
