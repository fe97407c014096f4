/** `npm start` applies the small-VPS malloc setting itself (scripts/malloc-arena.ts): same PID, no tuning needed. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';

const dir = mkdtempSync(path.join(os.tmpdir(), 'arena-test-'));
const script = path.join(dir, 'probe.ts');
const module = pathToFileURL(path.resolve(import.meta.dirname, '..', '..', 'scripts', 'malloc-arena.ts')).href;
writeFileSync(script, `import ${JSON.stringify(module)};\nconsole.log(JSON.stringify({ pid: process.pid, arenas: process.env.MALLOC_ARENA_MAX ?? null, mmap: process.env.MALLOC_MMAP_THRESHOLD_ ?? null, argv: process.argv.slice(2) }));\n`);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(env: NodeJS.ProcessEnv): Promise<{ pid: number; out: { pid: number; arenas: string | null; mmap: string | null; argv: string[] } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, 'a', 'b c'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve({ pid: child.pid!, out: JSON.parse(out) }) : reject(new Error(`exit ${code}: ${out}`))));
  });
}

const linuxExecve = process.platform === 'linux' && typeof process.execve === 'function';

test.skipIf(!linuxExecve)('without MALLOC_ARENA_MAX the process restarts itself with 2, keeping its PID and arguments', async () => {
  const { MALLOC_ARENA_MAX: _, MALLOC_MMAP_THRESHOLD_: __, ...env } = process.env;
  const r = await run(env);
  expect(r.out).toEqual({ pid: r.pid, arenas: '2', mmap: '1048576', argv: ['a', 'b c'] });
});

test('an explicit MALLOC_ARENA_MAX is left alone', async () => {
  const r = await run({ ...process.env, MALLOC_ARENA_MAX: '4' });
  expect(r.out.arenas).toBe('4');
});

test.skipIf(!linuxExecve)('with only MALLOC_ARENA_MAX set (as the systemd unit did) the mmap threshold is still applied, the arenas kept', async () => {
  const { MALLOC_MMAP_THRESHOLD_: _, ...env } = process.env;
  const r = await run({ ...env, MALLOC_ARENA_MAX: '2' });
  expect(r.out).toEqual({ pid: r.pid, arenas: '2', mmap: '1048576', argv: ['a', 'b c'] });
});

test('with both set nothing is changed and the process is not restarted', async () => {
  const r = await run({ ...process.env, MALLOC_ARENA_MAX: '3', MALLOC_MMAP_THRESHOLD_: '65536' });
  expect(r.out).toEqual({ pid: r.pid, arenas: '3', mmap: '65536', argv: ['a', 'b c'] });
});
