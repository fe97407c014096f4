/**
 * Builds the Mirador browser bundle (Mirador 4 + the archive's plugins) into dist/vendor/, so a
 * server never bundles at run time. Run by scripts/build-stamp.ts after `astro build`.
 */
import path from 'node:path';
import { writeMiradorBundle } from '../src/lib/vendor.ts';

if (import.meta.main) {
  const started = Date.now();
  const body = await writeMiradorBundle(path.resolve(import.meta.dirname, '..'));
  console.log(`Mirador bundle: ${(body.length / 1e6).toFixed(2)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}
