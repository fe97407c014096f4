/**
 * A CACHE_DIR shared by several processes (docs/scaling.md): two writer processes race on the
 * same key while a third reads it as fast as it can, and one writer keeps opening the directory
 * afresh (a replica starting beside running ones). No read may ever see a torn or partial file,
 * and no write may fail because another process cleared its temporary file.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { cacheKey } from '../../src/lib/images/cache.ts';

const WRITER = path.join(import.meta.dirname, 'helpers', 'cache-writer.ts');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iiif-shared-cache-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function writer(id: number, key: string, rounds: number, restarts: number): Promise<{ writes: number; failures: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, key, String(id), String(rounds), String(restarts)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`writer ${id} exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

test('two processes writing one key: readers see whole files only, and no write is lost to the other', { timeout: 120_000 }, async () => {
  const key = cacheKey('shared-race');
  const target = path.join(dir, key.slice(0, 2), key);
  let done = false;
  const reads = { whole: 0, absent: 0, torn: [] as string[] };
  const reader = (async () => {
    while (!done) {
      let buf: Buffer;
      try {
        buf = await readFile(target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        reads.absent++;
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const size = buf.length - 32;
      const ok = size > 8 && createHash('sha256').update(buf.subarray(0, size)).digest().equals(buf.subarray(size));
      if (ok) reads.whole++;
      else reads.torn.push(`${buf.length} bytes`);
    }
  })();
  const results = await Promise.all([writer(1, key, 300, 0), writer(2, key, 300, 10)]).finally(() => {
    done = true;
  });
  await reader;
  for (const r of results) {
    expect(r.failures).toEqual([]);
    expect(r.writes).toBe(300);
  }
  expect(reads.torn).toEqual([]);
  // The reader really raced the writers (not only before the first or after the last write).
  expect(reads.whole).toBeGreaterThan(10);
});
