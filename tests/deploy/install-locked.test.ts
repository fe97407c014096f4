/**
 * deploy/docker/install-locked.mjs: the check that proves an `npm install` fallback installed
 * exactly the lockfile's versions (used by the Dockerfile when `npm ci` refuses the lockfile).
 */
import { describe, expect, it } from 'vitest';
import { lockDrift } from '../../deploy/docker/install-locked.mjs';

type Lock = { packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; devOptional?: boolean; link?: boolean }> };
const drift = lockDrift as (lock: Lock, installed: Lock, options?: { omitDev?: boolean }) => string[];

const lock: Lock = {
  packages: {
    '': { version: '0.1.0' },
    'node_modules/astro': { version: '7.3.5' },
    'node_modules/vitest': { version: '5.1.1', dev: true },
    'node_modules/@img/sharp-darwin-arm64': { version: '0.35.5', optional: true },
    'node_modules/@astrojs/compiler-binding-linux-x64-gnu': { version: '0.5.1', optional: true },
  },
};

describe('lockDrift', () => {
  it('accepts the locked versions, skipped optional packages and omitted dev packages', () => {
    const installed: Lock = {
      packages: {
        'node_modules/astro': { version: '7.3.5' },
        'node_modules/@astrojs/compiler-binding-linux-x64-gnu': { version: '0.5.1', optional: true },
      },
    };
    expect(drift(lock, installed, { omitDev: true })).toEqual([]);
  });

  it('reports a version other than the locked one', () => {
    const installed: Lock = { packages: { 'node_modules/astro': { version: '7.4.0' }, 'node_modules/vitest': { version: '5.1.1' } } };
    expect(drift(lock, installed)).toEqual(['node_modules/astro: locked 7.3.5, installed 7.4.0']);
  });

  it('reports a required package that was not installed', () => {
    const installed: Lock = { packages: { 'node_modules/astro': { version: '7.3.5' } } };
    expect(drift(lock, installed)).toEqual(['node_modules/vitest: locked 5.1.1, not installed']);
  });

  it('allows extra optional packages (platform bindings missing from the lockfile) but nothing else', () => {
    const installed: Lock = {
      packages: {
        'node_modules/astro': { version: '7.3.5' },
        'node_modules/vitest': { version: '5.1.1' },
        'node_modules/@astrojs/compiler-binding-linux-arm64-gnu': { version: '0.5.1', optional: true },
        'node_modules/left-pad': { version: '1.3.0' },
      },
    };
    expect(drift(lock, installed)).toEqual(['node_modules/left-pad: installed 1.3.0, not in the lockfile']);
  });
});
