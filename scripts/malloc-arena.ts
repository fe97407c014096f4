/**
 * Imported first by scripts/start.ts: the small-VPS memory setting the systemd unit used to set,
 * applied by `npm start` itself. glibc reads MALLOC_ARENA_MAX only when the process starts, so when
 * it is not set the process replaces itself (same PID, same arguments: process.execve) with
 * MALLOC_ARENA_MAX=2 — libvips' worker threads otherwise each keep an arena of freed memory
 * (bench/viewers: about 120 MB more peak RSS under 20 viewers), and a fixed mmap threshold so that
 * memory returns to the system after a huge render. An explicit value, including an
 * empty one, is left alone; other platforms and Node versions without execve start as they are.
 */
const ARENAS = '2';
/**
 * Fixed mmap threshold (1 MiB): glibc otherwise raises it after freeing a large block, so the
 * buffers of a big render or a pyramid build stay in the heap and RSS does not return to idle
 * afterwards. Tile-sized buffers (under 1 MiB) stay on the heap as before.
 */
const MMAP_THRESHOLD = String(1024 * 1024);

if (process.platform === 'linux' && process.env.MALLOC_ARENA_MAX === undefined && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      MALLOC_ARENA_MAX: ARENAS,
      ...(process.env.MALLOC_MMAP_THRESHOLD_ === undefined ? { MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD } : {}),
    });
  } catch (e) {
    console.error(`archive: could not restart with MALLOC_ARENA_MAX=${ARENAS} (${(e as Error).message}); starting with glibc's default arenas`);
  }
}

export {};
