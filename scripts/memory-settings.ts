/**
 * Imported first by scripts/start.ts: the small-VPS memory settings, applied by `npm start` itself
 * so that the defaults need no tuning. glibc reads its malloc variables and V8 its heap flags only
 * when the process starts, so when one is not set the process replaces itself (same PID, same
 * arguments: process.execve) with the missing ones added. An explicit value, including an empty
 * one, is left alone; other platforms and Node versions without execve start as they are.
 *
 *  - MALLOC_ARENA_MAX=2: libvips' worker threads otherwise each keep an arena of freed memory
 *    (bench/viewers: about 120 MB more peak RSS under 20 viewers).
 *  - MALLOC_MMAP_THRESHOLD_=128 KiB, glibc's starting value held fixed: glibc otherwise raises it
 *    after freeing a large block (up to 32 MiB), so the row buffers of huge renders and pyramid
 *    builds come from the heap, where freed memory stays with the process. bench:images:huge at
 *    full scale: idle 98 MB before, 146 MB after with 128 KiB, 237 MB after with 1 MiB; highest
 *    peak 337 against 375 MB. bench:viewers at defaults (20 viewers, cold cache): peak 242 and
 *    247 MB with 128 KiB, 243 MB with 1 MiB (one run each pair; the spread between runs is larger
 *    than the difference).
 *  - V8's young generation at most 4 MB a semi-space (`--max-semi-space-size=4`; Node's default
 *    lets it grow to 16 MB and more): under 20 viewers the JavaScript heap grew to 97 MB of which
 *    30 MB were in use, most of the rest touched and resident; with 4 MB it stayed at 40 MB and
 *    the process's peak went from 260-307 to 238-243 MB at the same tile rate (bench:viewers).
 *    Kept when NODE_OPTIONS or the command line names the flag.
 */
const ARENAS = '2';
const MMAP_THRESHOLD = String(128 * 1024);
const SEMI_SPACE_FLAG = '--max-semi-space-size';
const SEMI_SPACE_MB = '4';

/** The malloc settings to add: each one the environment does not set already (an explicit value, even empty, is kept). */
const missing: Record<string, string> = {
  ...(process.env.MALLOC_ARENA_MAX === undefined ? { MALLOC_ARENA_MAX: ARENAS } : {}),
  ...(process.env.MALLOC_MMAP_THRESHOLD_ === undefined ? { MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD } : {}),
};
const namesSemiSpace = (arg: string) => arg === SEMI_SPACE_FLAG || arg.startsWith(`${SEMI_SPACE_FLAG}=`) || arg.startsWith('--max_semi_space_size');
const v8Flags =
  process.execArgv.some(namesSemiSpace) || (process.env.NODE_OPTIONS ?? '').split(/\s+/).some(namesSemiSpace) ? [] : [`${SEMI_SPACE_FLAG}=${SEMI_SPACE_MB}`];

if (process.platform === 'linux' && (Object.keys(missing).length > 0 || v8Flags.length > 0) && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...v8Flags, ...process.argv.slice(1)], { ...process.env, ...missing });
  } catch (e) {
    const added = [...Object.entries(missing).map(([k, v]) => `${k}=${v}`), ...v8Flags].join(' ');
    console.error(`archive: could not restart with ${added} (${(e as Error).message}); starting with the defaults of glibc and V8`);
  }
}

export {};
