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
 * Fixed mmap threshold (1 MiB): glibc otherwise raises it after freeing a large block (up to
 * 32 MiB), so the buffers of later big renders and pyramid builds come from the heap, where freed
 * memory stays with the process. Measured against glibc's starting value held fixed (128 KiB):
 * after bench:images:huge at a third of the scale 128 KiB returned to idle (106 MB before and
 * after; 1 MiB: 267 MB after), but under bench:viewers' 20 viewers at defaults it raised peak RSS
 * from 258 to 332 MB (tile-sized buffers mapped one by one). The viewers' bound wins here.
 */
const MMAP_THRESHOLD = String(1024 * 1024);

/** The settings to add: each one the environment does not set already (an explicit value, even empty, is kept). */
const missing: Record<string, string> = {
  ...(process.env.MALLOC_ARENA_MAX === undefined ? { MALLOC_ARENA_MAX: ARENAS } : {}),
  ...(process.env.MALLOC_MMAP_THRESHOLD_ === undefined ? { MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD } : {}),
};

if (process.platform === 'linux' && Object.keys(missing).length > 0 && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...missing });
  } catch (e) {
    console.error(`archive: could not restart with ${Object.entries(missing).map(([k, v]) => `${k}=${v}`).join(' ')} (${(e as Error).message}); starting with glibc's defaults`);
  }
}

export {};
