/**
 * Starts the real archive (scripts/start.ts: build if needed, demo corpus, serve) on a free
 * loopback port with its own temporary data directory, and stops it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningServer {
  baseUrl: string;
  dataDir: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * How long startServer waits for a server (with its demo corpus) by default: a bound against a
 * hang. A hook or test that starts servers must allow at least this much per server, or its own
 * time limit fires first on a loaded machine and hides the server's output. (Under stress-ng --cpu 2
 * on a shared two-core machine a start with the demo corpus took over 600 s.)
 */
export const SERVER_START_TIMEOUT_MS = 900_000;

export async function startServer(env: Record<string, string> = {}, opts: { dataDir?: string; timeoutMs?: number } = {}): Promise<RunningServer> {
  const port = await freePort();
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'archive-test-'));
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      PUBLIC_BASE_URL: baseUrl,
      DEMO_SCALE: '0.15',
      ASTRO_TELEMETRY_DISABLED: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // A bound against a hang only (start-up includes generating and indexing the demo corpus, which
  // takes minutes on a loaded machine); the wait ends as soon as the server says it is ready.
  const timeoutMs = opts.timeoutMs ?? SERVER_START_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    timer.unref();
    const check = () => {
      if (out.includes('Archive ready at')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 12_000)))]);
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return { baseUrl, dataDir, child, output: () => out, stop };
}
