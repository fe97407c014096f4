/**
 * The servers we compare with, from Debian packages, on loopback only:
 *  - IIPImage (iipimage-server) as FastCGI behind lighttpd, two iipsrv processes (as the issue's
 *    measurements), no tile cache (MAX_IMAGE_CACHE_SIZE=0), JPEG quality equal to ours;
 *  - nginx serving a directory of static files (sendfile, keep-alive), one worker per core.
 * Each is started in the foreground as a child process of the benchmark and stopped by its pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const IIPSRV = '/usr/lib/iipimage-server/iipsrv.fcgi';
const PACKAGES: Record<string, string> = {
  iipimage: IIPSRV,
  lighttpd: '/usr/sbin/lighttpd',
  nginx: '/usr/sbin/nginx',
  vips: '/usr/bin/vips',
  wrk: '/usr/bin/wrk',
};
const DEBIAN: Record<string, string> = { iipimage: 'iipimage-server', lighttpd: 'lighttpd', nginx: 'nginx-light', vips: 'libvips-tools', wrk: 'wrk' };

/** Install the Debian packages that are missing (apt-get; needs root). */
export function ensurePackages(log: (m: string) => void = console.log): void {
  const missing = Object.entries(PACKAGES)
    .filter(([, bin]) => !existsSync(bin))
    .map(([k]) => DEBIAN[k]!);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages ${missing.join(' ')}; install them as root (apt-get install ${missing.join(' ')})`);
  log(`installing ${missing.join(' ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  }
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`no answer from ${url}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface Peer {
  base: string;
  child: ChildProcess;
  /** Pids whose RSS belongs to this server (the web server and its workers). */
  stop: () => Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** lighttpd + iipsrv (FastCGI, `procs` processes) serving TIFFs below `imageDir`. */
export async function startIip(workDir: string, imageDir: string, opts: { procs?: number; jpegQuality?: number } = {}): Promise<Peer> {
  mkdirSync(workDir, { recursive: true });
  const port = await freePort();
  const www = path.join(workDir, 'www');
  mkdirSync(www, { recursive: true });
  const conf = path.join(workDir, 'lighttpd.conf');
  writeFileSync(
    conf,
    `server.modules = ("mod_fastcgi")
server.document-root = "${www}"
server.bind = "127.0.0.1"
server.port = ${port}
server.pid-file = "${path.join(workDir, 'lighttpd.pid')}"
server.errorlog = "${path.join(workDir, 'lighttpd-error.log')}"
server.max-keep-alive-requests = 100000
server.max-connections = 1024
fastcgi.server = ( "/fcgi-bin/iipsrv.fcgi" => ((
  "bin-path" => "${IIPSRV}",
  "socket" => "${path.join(workDir, 'iipsrv.sock')}",
  "check-local" => "disable",
  "min-procs" => ${opts.procs ?? 2},
  "max-procs" => ${opts.procs ?? 2},
  "bin-environment" => (
    "LOGFILE" => "${path.join(workDir, 'iipsrv.log')}",
    "VERBOSITY" => "0",
    "MAX_IMAGE_CACHE_SIZE" => "0",
    "JPEG_QUALITY" => "${opts.jpegQuality ?? 85}",
    "MAX_CVT" => "10000",
    "FILESYSTEM_PREFIX" => "${imageDir.replace(/\/?$/, '/')}",
    "CORS" => "*"
  )
)))
`,
  );
  const child = spawn('/usr/sbin/lighttpd', ['-D', '-f', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/fcgi-bin/iipsrv.fcgi`);
  return { base, child, stop: () => stopChild(child) };
}

/** nginx serving `root` as static files on loopback, `workers` worker processes. */
export async function startNginx(workDir: string, root: string, opts: { workers?: number } = {}): Promise<Peer> {
  mkdirSync(workDir, { recursive: true });
  const port = await freePort();
  const conf = path.join(workDir, 'nginx.conf');
  const tmp = path.join(workDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  writeFileSync(
    conf,
    `daemon off;
master_process on;
worker_processes ${opts.workers ?? os.availableParallelism()};
pid ${path.join(workDir, 'nginx.pid')};
error_log ${path.join(workDir, 'nginx-error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 30;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  default_type image/jpeg;
  open_file_cache max=10000 inactive=60s;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { add_header Access-Control-Allow-Origin "*"; etag on; }
  }
}
`,
  );
  const child = spawn('/usr/sbin/nginx', ['-c', conf, '-p', workDir], { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/`);
  return { base, child, stop: () => stopChild(child) };
}
