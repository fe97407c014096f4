/** `npm start` applies the small-VPS memory settings itself (scripts/memory-settings.ts): same PID, no tuning needed. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';

const dir = mkdtempSync(path.join(os.tmpdir(), 'arena-test-'));
const script = path.join(dir, 'probe.ts');
const module = pathToFileURL(path.resolve(import.meta.dirname, '..', '..', 'scripts', 'memory-settings.ts')).href;
writeFileSync(script, `import ${JSON.stringify(module)};\nconsole.log(JSON.stringify({ pid: process.pid, arenas: process.env.MALLOC_ARENA_MAX ?? null, mmap: process.env.MALLOC_MMAP_THRESHOLD_ ?? null, v8: process.execArgv.filter((a) => a.includes('semi')), argv: process.argv.slice(2) }));\n`);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(env: NodeJS.ProcessEnv, execArgv: string[] = []): Promise<{ pid: number; out: { pid: number; arenas: string | null; mmap: string | null; v8: string[]; argv: string[] } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, script, 'a', 'b c'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve({ pid: child.pid!, out: JSON.parse(out) }) : reject(new Error(`exit ${code}: ${out}`))));
  });
}

const linuxExecve = process.platform === 'linux' && typeof process.execve === 'function';

/** The environment without the settings (vitest's workers may carry a NODE_OPTIONS of their own). */
const { MALLOC_ARENA_MAX: _a, MALLOC_MMAP_THRESHOLD_: _m, NODE_OPTIONS: _n, ...bare } = process.env;

test.skipIf(!linuxExecve)('with nothing set the process restarts itself with all three settings, keeping its PID and arguments', async () => {
  const r = await run(bare);
  expect(r.out).toEqual({ pid: r.pid, arenas: '2', mmap: '131072', v8: ['--max-semi-space-size=4'], argv: ['a', 'b c'] });
});

test.skipIf(!linuxExecve)('the malloc variables set, V8 young generation not (the systemd unit, the image): restarted with the V8 flag only', async () => {
  const r = await run({ ...bare, MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' });
  expect(r.out).toEqual({ pid: r.pid, arenas: '2', mmap: '1048576', v8: ['--max-semi-space-size=4'], argv: ['a', 'b c'] });
});

test('a semi-space size named in NODE_OPTIONS or on the command line is left alone', async () => {
  const viaOptions = await run({ ...bare, MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576', NODE_OPTIONS: '--max-semi-space-size=16' });
  expect(viaOptions.out).toEqual({ pid: viaOptions.pid, arenas: '2', mmap: '1048576', v8: [], argv: ['a', 'b c'] });
  const viaArgs = await run({ ...bare, MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' }, ['--max-semi-space-size=8']);
  expect(viaArgs.out).toEqual({ pid: viaArgs.pid, arenas: '2', mmap: '1048576', v8: ['--max-semi-space-size=8'], argv: ['a', 'b c'] });
});

test('an explicit MALLOC_ARENA_MAX is left alone', async () => {
  const r = await run({ ...bare, MALLOC_ARENA_MAX: '4' });
  expect(r.out.arenas).toBe('4');
});

test.skipIf(!linuxExecve)('with only MALLOC_ARENA_MAX set (as the systemd unit did) the mmap threshold is still applied, the arenas kept', async () => {
  const r = await run({ ...bare, MALLOC_ARENA_MAX: '2' });
  expect(r.out).toEqual({ pid: r.pid, arenas: '2', mmap: '131072', v8: ['--max-semi-space-size=4'], argv: ['a', 'b c'] });
});

test('with all three set nothing is changed and the process is not restarted', async () => {
  const r = await run({ ...bare, MALLOC_ARENA_MAX: '3', MALLOC_MMAP_THRESHOLD_: '65536', NODE_OPTIONS: '--max-semi-space-size=2' });
  expect(r.out).toEqual({ pid: r.pid, arenas: '3', mmap: '65536', v8: [], argv: ['a', 'b c'] });
});
