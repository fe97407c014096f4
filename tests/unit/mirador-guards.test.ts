/**
 * The guards applied to Mirador's ES build (src/lib/vendor.ts): Mirador 4's Auth 1 token saga
 * must survive the IIIF Auth 2 services (no `profile`) that the gated modes advertise. A browser
 * check of the same thing under a gated mode: tests/integration/two-processes.test.ts (Mirador
 * loads every tile).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIRADOR_GUARDS, guardMirador } from '../../src/lib/vendor.ts';

const miradorEs = path.resolve(import.meta.dirname, '..', '..', 'node_modules', 'mirador', 'dist', 'mirador.es.js');

describe('Mirador guards', () => {
  it('guards the installed Mirador: every filter on a service profile reads a missing profile as ""', () => {
    const source = readFileSync(miradorEs, 'utf8');
    expect(source).toMatch(/\.getProfile\(\)\.match\(/);
    const guarded = guardMirador(source);
    expect(guarded).not.toMatch(/[\w$]+\.getProfile\(\)\.match\(/);
    expect(guarded.match(/\(([\w$]+)\.getProfile\(\) \|\| ""\)\.match\(/g)?.length).toBe(source.match(/\.getProfile\(\)\.match\(/g)?.length);
  });

  it('turns the crash into "no Auth 1 service": the guarded filter keeps Auth 1 services and skips services without a profile', () => {
    const code = 'return services.filter((i) => i.getProfile().match(/http:\\/\\/iiif.io\\/api\\/auth\\//));';
    const service = (profile?: string) => ({ getProfile: () => profile });
    const services = [service(undefined), service('http://iiif.io/api/auth/1/login'), service('level2')];
    // Unguarded, a service without a profile throws (what stopped Mirador before info.json).
    expect(() => new Function('services', code)(services)).toThrow(TypeError);
    const kept = new Function('services', guardMirador(code))(services) as Array<{ getProfile: () => string | undefined }>;
    expect(kept.map((s) => s.getProfile())).toEqual(['http://iiif.io/api/auth/1/login']);
  });

  it('fails loudly when a Mirador release no longer has the code a guard fixes', () => {
    expect(MIRADOR_GUARDS.length).toBeGreaterThan(0);
    expect(() => guardMirador('const nothing = 1;')).toThrow(/found nothing to guard/);
  });
});
