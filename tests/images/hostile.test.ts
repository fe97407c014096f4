/**
 * Hostile input against the real HTTP server (the image server in its own process, behind the
 * plain node:http adapter): more than 500 generated malformed or hostile requests — path traversal
 * in every encoding, huge and negative numbers, pct:0, bad rotations, unknown qualities and
 * formats, v3 syntax on v2, over-long ids, NUL and control bytes, unicode ids — must be answered
 * with 400, 404 or 501 only: never 500, never an image, never a byte of a file outside the image
 * root. The server's memory is sampled before and after, and it must still serve afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { rawRequest } from './harness.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
let tmp: string;
let child: ChildProcess;
let base: string;
let secretBytes: Buffer;
const SECRET_TEXT = 'TOP-SECRET-OUTSIDE-THE-ROOT';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A request written byte for byte on a socket (for what an HTTP client refuses to send). */
function rawSocket(requestLine: string): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(Buffer.from(`${requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1')));
    let data = '';
    s.setTimeout(10_000, () => s.destroy());
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    s.on('error', () => resolve(0));
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iiif-hostile-'));
  const root = path.join(tmp, 'root');
  const outside = path.join(tmp, 'outside');
  await mkdir(root, { recursive: true });
  await mkdir(outside, { recursive: true });
  const img = (w: number, h: number, bg: string) => sharp({ create: { width: w, height: h, channels: 3, background: bg } });
  await Promise.all([
    img(1200, 800, '#3a6').jpeg().toFile(path.join(root, 'big.jpg')),
    img(2048, 1536, '#a63').tiff({ tile: true, pyramid: true, tileWidth: 256, tileHeight: 256 }).toFile(path.join(root, 'pyr.tif')),
    img(300, 200, '#36a').png().toFile(path.join(root, 'small.png')),
    writeFile(path.join(outside, 'secret.txt'), `${SECRET_TEXT}\n`),
  ]);
  secretBytes = await img(64, 64, '#f0f').png().toBuffer();
  await writeFile(path.join(outside, 'secret.png'), secretBytes);
  await symlink(outside, path.join(root, 'escape')); // a directory link leading out of the root
  const maps = [
    'big=big.jpg',
    'pyr=pyr.tif',
    'small=small.png',
    // Records whose file paths try to leave the root (a corrupted or malicious store):
    'dotdot=../outside/secret.png',
    'dotdot2=escape/../../outside/secret.png',
    'absolute=' + path.join(outside, 'secret.png'),
    'escape=escape/secret.png',
    'text=../outside/secret.txt',
  ];
  child = spawn(
    process.execPath,
    [path.join(ROOT, 'tests/helpers/image-server.ts'), '--root', root, '--cache', path.join(tmp, 'cache'), ...maps.flatMap((m) => ['--map', m])],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATA_DIR: tmp } },
  );
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`image server did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`image server exited (${code}):\n${out}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The generated suite: request paths (as sent, percent-encoding intact). */
function hostilePaths(): string[] {
  const out = new Set<string>();
  const valid = ['big', 'pyr', 'small'];
  const tail = { 2: 'full/full/0/default.jpg', 3: 'full/max/0/default.jpg' } as const;

  // 1. Traversal in every encoding, as the identifier and as extra segments.
  const dots = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '%252e%252e', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '%ef%bc%8e%ef%bc%8e', '..%00', '%2e%2e%00', '....'];
  const seps = ['%2f', '%2F', '%5c', '%5C', '%252f', '%c0%af', '%e0%80%af', '%ef%bc%8f', '\\', ';/'];
  const targets = ['etc%2fpasswd', 'outside%2fsecret.png', 'secret.png', 'proc%2fself%2fenviron'];
  for (const v of [2, 3] as const) {
    for (const d of dots) {
      for (const s of seps) {
        const t = targets[(d.length + s.length) % targets.length]!;
        out.add(`/iiif/${v}/${d}${s}${d}${s}${t}/info.json`);
        out.add(`/iiif/${v}/${d}${s}${t}/${tail[v]}`);
      }
    }
    for (const raw of ['../../etc/passwd', '../../../outside/secret.png', '..', '../..', '.', './big', 'big/../../outside/secret.png']) {
      out.add(`/iiif/${v}/${raw}`);
      out.add(`/iiif/${v}/${raw}/info.json`);
    }
    // Records whose file paths leave the root, through every kind of request.
    for (const id of ['dotdot', 'dotdot2', 'absolute', 'escape', 'text']) {
      out.add(`/iiif/${v}/${id}/info.json`);
      out.add(`/iiif/${v}/${id}/${tail[v]}`);
      out.add(`/iiif/${v}/${id}/0,0,10,10/10,/0/default.png`);
    }
  }
  for (const raw of ['/iiif/../../etc/passwd', '/iiif/%2e%2e/%2e%2e/etc/passwd', '/iiif/..%2f..%2fetc%2fpasswd', '/iiif//etc/passwd', '/iiif/4/big/info.json', '/iiif/2.1/big/info.json', '/iiif/03/big/info.json', '/iiif/-3/big/info.json']) {
    out.add(raw);
  }

  for (const v of [2, 3] as const) {
    const size = v === 3 ? 'max' : 'full';
    for (const id of valid) {
      const img = (region: string, sz: string, rot: string, last: string) => out.add(`/iiif/${v}/${id}/${region}/${sz}/${rot}/${last}`);
      // 2. Huge, negative and malformed numbers in regions.
      for (const region of [
        '-1,0,10,10', '0,-1,10,10', '0,0,-5,5', '0,0,5,-5', '0,0,0,0', '0,0,0,10', '0,0,10,0', '99999999999999999999,0,1,1',
        '0,0,99999999999999999999,1e3', '1e5,0,1,1', '0x10,0,10,10', 'NaN,0,1,1', 'Infinity,0,1,1', '1.5,2,3,4', '5000,5000,10,10',
        '2048,0,10,10', '0,0,10', '0,0,10,10,10', ',,,', 'pct:-1,0,10,10', 'pct:101,0,1,1', 'pct:0,0,0,0', 'pct:0,0,0,10', 'pct:1e2,0,1,1',
        'pct:', 'pct:a,b,c,d', 'squares', 'FULL', 'full%20', '%20full', 'full%00', 'pct:100,100,1,1',
      ]) {
        img(region, size, '0', 'default.jpg');
      }
      // Sizes.
      for (const sz of [
        'pct:0', 'pct:-5', 'pct:0.0', 'pct:1e309', 'pct:', 'pct:abc', '0,', ',0', '0,0', '-1,', ',-1', '-1,-1', '99999999999999999999,',
        ',99999999999999999999', '100000,', '!0,0', '!0,5', '!-1,5', '!,', '!1,', ',', 'max,', 'maxx', 'MAX', 'full,', '1.5,', ',2.5',
        '10,10,10', '^pct:0', '^0,', 'pct:1000000', '^99999999999999999999,', '^pct:100000000', '^!0,10', '^,', '^^max', 'w,h', '0x10,',
      ]) {
        img('full', sz, '0', 'default.jpg');
      }
      // v3-only syntax on v2, and v2-only on v3.
      if (v === 2) for (const sz of ['^max', '^100,', '^,100', '^pct:50', '^!100,100', '^100,100']) img('full', sz, '0', 'default.jpg');
      if (v === 3) for (const sz of ['full', '^full']) img('full', sz, '0', 'default.jpg');
      // 3. Rotations.
      for (const rot of ['-90', '361', '360.0001', '720', 'abc', '!!90', '90!', '1e2', '0x5A', 'NaN', 'Infinity', '-0.5', '!-1', '90deg', '', '%2090', '%2d90', '9999999999999999999999', '1.', '!']) {
        img('full', size, rot, 'default.jpg');
      }
      // 4. Qualities and formats.
      for (const last of [
        'sepia.jpg', 'DEFAULT.jpg', 'native.jpg', 'grey.jpg', 'default.JPG', 'default.jpeg', 'default.jp2', 'default.pdf', 'default.exe',
        'default.', 'default', '.jpg', 'default.jpg.png', 'default.tiff', 'default.svg', 'default.jpg%00.png', 'default%00.jpg',
        'default.jpg%2f..%2f..%2fetc%2fpasswd', 'color.bmp', 'bitonal.heic', '..%2fdefault.jpg',
      ]) {
        img('full', size, '0', last);
      }
      // Structure: too few segments, wrong info document names.
      for (const rest of ['full', 'full/max', 'full/max/0', 'info.xml', 'info.json.bak', 'INFO.JSON', 'info', 'full/max/0/', 'full//0/default.jpg']) {
        out.add(`/iiif/${v}/${id}/${rest}`);
      }
    }
    // 5. Identifiers: over-long, unicode, control bytes, odd characters.
    const ids = [
      'a'.repeat(129), 'b'.repeat(500), `big${'x'.repeat(200)}`, '%E3%81%82', '%C3%A9', '%F0%9F%98%80', '%E2%80%AE', '%EF%BC%A2ig', 'big%00',
      '%00', 'big%0a', 'big%0d%0aX-Injected:%201', 'big%09', '%7f', '-big', '.big', '_big', 'big%20', '%20', 'big%25', '%zz', '%', 'big%2',
      '%ff%fe', 'b%C4%B1g', 'BIG', 'big.jpg', 'big;x', 'big%3Bx', '[frob]', '%5Bfrob%5D', 'big%23', 'big%3F', '*',
    ];
    for (const id of ids) {
      out.add(`/iiif/${v}/${id}/info.json`);
      out.add(`/iiif/${v}/${id}/${tail[v]}`);
    }
    out.add(`/iiif/${v}/${'c'.repeat(1100)}/info.json`); // over the path length the parser looks at
    out.add(`/iiif/${v}/big/${'full/'.repeat(300)}max/0/default.jpg`);
  }
  return [...out];
}

test('≥ 500 hostile requests: only 400, 404 or 501; nothing from outside the root; memory steady', async () => {
  const paths = hostilePaths();
  expect(paths.length).toBeGreaterThanOrEqual(500);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  // Warm up with valid requests, so the first-use allocations are not counted as growth.
  for (const p of ['/iiif/3/big/full/max/0/default.jpg', '/iiif/2/pyr/0,0,256,256/256,/0/default.jpg', '/iiif/3/small/info.json']) {
    expect((await rawRequest(base, p, { agent })).status, p).toBe(200);
  }
  const before = rssMb(child.pid!);
  const results: Array<{ path: string; status: number; body: Buffer; type: string }> = [];
  const deadline = Date.now() + 120_000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < paths.length && Date.now() < deadline) {
        const p = paths[next++]!;
        const r = await rawRequest(base, p, { agent }).catch((e: unknown) => ({ status: -1, body: Buffer.from(String(e)), headers: {} as http.IncomingHttpHeaders }));
        results.push({ path: p, status: r.status, body: r.body, type: String(r.headers['content-type'] ?? '') });
      }
    }),
  );
  expect(results).toHaveLength(paths.length);
  const rawCodes = await Promise.all([
    rawSocket('GET /iiif/3/big\0/info.json HTTP/1.1'),
    rawSocket('GET /iiif/3/../../etc/passwd\0 HTTP/1.1'),
    rawSocket('GET /iiif/3/b ig/info.json HTTP/1.1'),
    rawSocket('GET /iiif/3/\x01\x02/info.json HTTP/1.1'),
    rawSocket('GET /iiif/3/\xe3\x81\x82/info.json HTTP/1.1'),
    rawSocket('GET /iiif/3/big/full/max/0/default.jpg\r HTTP/1.1'),
  ]);
  const after = rssMb(child.pid!);
  agent.destroy();

  const wrong = results.filter((r) => ![400, 404, 501].includes(r.status));
  expect(wrong.map((r) => `${r.status} ${r.path.slice(0, 160)} ${r.body.toString().slice(0, 120)}`)).toEqual([]);
  for (const code of rawCodes) expect([400, 404, 501]).toContain(code);
  for (const r of results) {
    expect(r.type, r.path).toMatch(/^text\/plain/); // an error sentence, never an image
    expect(r.body.includes(SECRET_TEXT), r.path).toBe(false);
    expect(r.body.includes(secretBytes.subarray(0, 64)), r.path).toBe(false);
    expect(r.body.toString(), r.path).not.toContain(tmp);
    expect(r.body.toString(), r.path).not.toMatch(/root:x:0:0|HOME=|PATH=/);
    expect(r.body.length, r.path).toBeLessThan(2000);
  }
  const counts = results.reduce<Record<number, number>>((a, r) => ({ ...a, [r.status]: (a[r.status] ?? 0) + 1 }), {});
  console.log(`hostile suite: ${results.length + rawCodes.length} requests, statuses ${JSON.stringify(counts)} + raw ${rawCodes.join(',')}; server RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB`);
  expect(after - before).toBeLessThan(64);
  // Still alive and serving.
  expect((await rawRequest(base, '/iiif/3/pyr/256,256,256,256/256,/0/default.png')).status).toBe(200);
}, 180_000);
