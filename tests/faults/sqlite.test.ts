/**
 * Faults of the embedded store (issue 18) and two processes on one store (issue 17):
 *  - a database locked by another connection at first use: the open waits without blocking the
 *    event loop, then says "unavailable" (503 upstream) instead of freezing; once the lock is gone
 *    the next attempt succeeds (the failure is not kept: runtime.ts retryingOnce);
 *  - an operation that meets a lock is retried asynchronously and succeeds once it is released;
 *  - an existing store opens without writing (so a running `archive index` does not block it);
 *  - two processes writing and reading the same store at once: no "database is locked".
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSqliteStore, SqliteStore } from '../../src/lib/search/sqlite.ts';
import { StoreUnavailableError } from '../../src/lib/search/store.ts';
import { retryingOnce } from '../../src/lib/runtime.ts';
import { main, type CliIO } from '../../src/cli.ts';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';

let tmp: string;
let file: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fault-sqlite-'));
  file = path.join(tmp, 'archive.sqlite');
  const s = new SqliteStore(file);
  await s.init();
  await s.upsert([{ id: 'a1', batch: 'R01', title: { ja: '東京', en: 'Tokyo' }, images: [{ id: 'a1_p001', file: 'a1.jpg' }] }]);
  await s.close();
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Holds an exclusive lock on the store (readers and writers both wait) until released. */
function lockExclusively(): () => void {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA locking_mode = EXCLUSIVE');
  db.exec("BEGIN EXCLUSIVE; UPDATE meta SET value = value WHERE key = 'schema'");
  return () => {
    db.exec('COMMIT');
    db.close();
  };
}

/** The longest gap between timer ticks while `work` runs: how long the event loop was blocked. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; stallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  const [result] = await Promise.allSettled([work()]);
  clearInterval(timer);
  return { result, stallMs: worst };
}

describe('SQLite faults', () => {
  test('locked at first use: no event-loop freeze, unavailable (not a crash), opens once the lock is gone', async () => {
    const release = lockExclusively();
    let open: Awaited<ReturnType<typeof longestStall<SqliteStore>>>;
    try {
      const t0 = performance.now();
      open = await longestStall(() => openSqliteStore(file, { openRetryForMs: 1500 }));
      const took = performance.now() - t0;
      expect(open.result.status).toBe('rejected');
      const err = (open.result as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(String(err.message)).toMatch(/locked by another process/);
      expect(took).toBeLessThan(5_000);
      // Each attempt blocks for at most the short busy timeout; the waits between are timers.
      expect(open.stallMs).toBeLessThan(500);
    } finally {
      release();
    }
    const store = await openSqliteStore(file, { retryForMs: 1500 });
    expect(await store.count()).toBe(1);
    await store.close();
  });

  test('a write meeting another process\'s transaction waits asynchronously and succeeds once it ends', async () => {
    const store = await openSqliteStore(file, { retryForMs: 10_000 });
    const writer = new DatabaseSync(file);
    writer.exec("BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'schema'");
    const writing = store.upsert([{ id: 'a2', batch: 'R01', title: { ja: '京都' }, images: [] }]);
    setImmediate(() => {
      // The transaction ends while the first attempt's retry is pending.
      writer.exec('COMMIT');
      writer.close();
    });
    expect((await writing).inserted).toBe(1);
    expect(await store.count()).toBe(2);
    await store.close();
  });

  test('an existing store opens while another process writes (no write needed to open)', async () => {
    const writer = new DatabaseSync(file);
    writer.exec("BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'schema'");
    try {
      const store = await openSqliteStore(file, { retryForMs: 300 });
      expect((await store.search({ q: 'Tokyo' })).total).toBe(1);
      expect(await store.get('a1')).not.toBeNull();
      await store.close();
    } finally {
      writer.exec('COMMIT');
      writer.close();
    }
  });

  test('a failed initialisation is not kept: the next call after the back-off tries again', async () => {
    let calls = 0;
    let broken = true;
    const get = retryingOnce(async () => {
      calls++;
      if (broken) throw new StoreUnavailableError('sqlite', 'locked');
      return 'store';
    }, 200);
    await expect(get()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(get()).rejects.toBeInstanceOf(StoreUnavailableError); // within the back-off: no new attempt
    expect(calls).toBe(1);
    broken = false;
    const poll = async () => {
      for (;;) {
        try {
          return await get();
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    expect(await poll()).toBe('store');
    expect(calls).toBe(2);
    expect(await get()).toBe('store');
    expect(calls).toBe(2);
  });

  test('two processes on one store, writing and reading at once: no "database is locked"', async () => {
    const shared = path.join(tmp, 'shared.sqlite');
    const worker = path.join(import.meta.dirname, 'helpers', 'store-worker.ts');
    const run = (name: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [worker, shared, name, '150'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c));
        child.stderr.on('data', (c: Buffer) => (err += c));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([run('one'), run('two')]);
    for (const r of results) {
      expect(r.err + r.out).not.toMatch(/database is locked/);
      expect(r.code, r.err + r.out).toBe(0);
      const line = JSON.parse(r.out.trim().split('\n').pop()!) as { writes: number; reads: number; errors: string[] };
      expect(line.errors).toEqual([]);
      expect(line.writes).toBe(150);
    }
    const check = new SqliteStore(shared);
    expect(await check.count()).toBe(100);
    await check.close();
  }, 120_000);

  test('`archive status --check` runs the integrity check: ok, then names a damaged page (exit 3)', async () => {
    const dataDir = path.join(tmp, 'check');
    const run = async (argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIO = { env: { DATA_DIR: dataDir }, cwd: tmp, out: (l) => out.push(l), err: (l) => err.push(l) };
      const code = await main(argv, io);
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const s = new SqliteStore(path.join(dataDir, 'archive.sqlite'));
    await s.init();
    await s.upsert(
      Array.from({ length: 300 }, (_, i) => ({ id: `it${i}`, batch: 'R01', title: { ja: `東京 ${i} ${'長い説明 '.repeat(20)}` }, images: [{ id: `it${i}_p1`, file: `${i}.jpg` }] })),
    );
    await s.close();
    const sound = await run(['status', '--check']);
    expect(sound.code, sound.err).toBe(0);
    expect(sound.out).toMatch(/^integrity: ok \(quick_check of .*archive\.sqlite/m);
    const db = new DatabaseSync(path.join(dataDir, 'archive.sqlite'));
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const file = path.join(dataDir, 'archive.sqlite');
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(statSync(file).size / 4096 / 2) * 4096);
    closeSync(fd);
    const damaged = await run(['status', '--check']);
    expect(damaged.code).toBe(3);
    expect(damaged.err).toMatch(/archive\.sqlite is damaged \(quick_check found \d+ problems?\)/);
  });

  const canMount = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!canMount) console.log('read-only store test skipped: it mounts a read-only tmpfs, which needs root');

  test.skipIf(!canMount)('a store on read-only media opens read-only: searches work, writes say why', async () => {
    const dir = path.join(tmp, 'ro');
    await mkdir(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    try {
      const f = path.join(dir, 'archive.sqlite');
      const s = new SqliteStore(f);
      await s.init();
      await s.upsert([{ id: 'a1', batch: 'R01', title: { ja: '東京', en: 'Tokyo' }, images: [{ id: 'a1_p001', file: 'a1.jpg' }] }]);
      await s.close();
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      const lines: string[] = [];
      const store = await openSqliteStore(f, { log: (l) => lines.push(l) });
      expect(store.readOnly).toBe(true);
      expect(lines.join('\n')).toMatch(/not writable: the search store is open read-only/);
      expect(await store.count()).toBe(1);
      expect((await store.search({ q: 'Tokyo' })).total).toBe(1);
      expect(await store.getImage('a1_p001')).toMatchObject({ file: 'a1.jpg' });
      await expect(store.upsert([{ id: 'a2', batch: 'R01', title: { ja: 'x' }, images: [] }])).rejects.toThrow(/readonly|read-only/i);
      await store.close();
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  });
});
