/**
 * Imported first by scripts/start.ts: the small-VPS memory setting the systemd unit used to set,
 * applied by `npm start` itself. glibc reads MALLOC_ARENA_MAX only when the process starts, so when
 * it is not set the process replaces itself (same PID, same arguments: process.execve) with
 * MALLOC_ARENA_MAX=2 — libvips' worker threads otherwise each keep an arena of freed memory
 * (bench/viewers: about 120 MB more peak RSS under 20 viewers). An explicit value, including an
 * empty one, is left alone; other platforms and Node versions without execve start as they are.
 */
const ARENAS = '2';

if (process.platform === 'linux' && process.env.MALLOC_ARENA_MAX === undefined && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      MALLOC_ARENA_MAX: ARENAS,
    });
  } catch (e) {
    console.error(`archive: could not restart with MALLOC_ARENA_MAX=${ARENAS} (${(e as Error).message}); starting with glibc's default arenas`);
  }
}

export {};
