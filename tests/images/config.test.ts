/** The image server's settings in src/lib/config.ts: defaults, units, validation. */
import os from 'node:os';
import { expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config.ts';

const MB = 1024 * 1024;

test('defaults (the small-VPS settings): 2 GiB disk cache, 32 MiB memory cache, one render per core, 256 waiting, 512 MiB budget', () => {
  const c = loadConfig({}, '/srv/archive');
  expect(c.images).toMatchObject({
    cacheDir: '/srv/archive/data/cache',
    cacheMaxBytes: 2048 * MB,
    memoryCacheBytes: 32 * MB,
    maxRenders: os.availableParallelism(),
    maxQueue: 256,
    renderMemoryBytes: 512 * MB,
  });
});

test('explicit values, in MB', () => {
  const c = loadConfig({ IIIF_CACHE_MAX_MB: '0', IIIF_MEMORY_CACHE_MB: '8', IIIF_MAX_RENDERS: '3', IIIF_MAX_QUEUE: '0', IIIF_RENDER_MEMORY_MB: '256' }, '/srv');
  expect(c.images).toMatchObject({ cacheMaxBytes: 0, memoryCacheBytes: 8 * MB, maxRenders: 3, maxQueue: 0, renderMemoryBytes: 256 * MB });
});

test.each([
  ['IIIF_CACHE_MAX_MB', '-1'],
  ['IIIF_MEMORY_CACHE_MB', 'lots'],
  ['IIIF_MAX_RENDERS', '0'],
  ['IIIF_MAX_QUEUE', '1.5'],
  ['IIIF_RENDER_MEMORY_MB', '8'],
])('%s=%s is refused, naming the variable', (name, value) => {
  let err: unknown;
  try {
    loadConfig({ [name]: value }, '/srv');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).variable).toBe(name);
});

test.each([['IIIF_MAX_WIDTH'], ['IIIF_MAX_HEIGHT']])('%s above 65500 (the largest JPEG side) is refused with the reason', (name) => {
  let err: unknown;
  try {
    loadConfig({ [name]: '65535' }, '/srv');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).variable).toBe(name);
  expect((err as ConfigError).message).toMatch(/65500.*JPEG/);
  expect(loadConfig({ [name]: '65500' }, '/srv').images[name === 'IIIF_MAX_WIDTH' ? 'maxWidth' : 'maxHeight']).toBe(65500);
});
