/**
 * S3 on loopback for the sync tests: s3rver (a real S3-compatible server writing to a temp dir)
 * behind a small proxy of ours that
 *
 *  - VERIFIES EVERY AWS SIGNATURE V4 (s3rver 3.7.1 does not: for V4 it only checks that the access
 *    key id exists — "Signature version 4 calculation is unimplemented" in its authentication
 *    middleware). Canonical request, string to sign, signing key and the payload hash are
 *    recomputed here from the request as received, independently of the AWS SDK; a mismatch is
 *    answered 403 SignatureDoesNotMatch, as S3 does;
 *  - can fail requests with 500 InternalError (per key, per attempt), delay PUTs, and misreport
 *    listings (a truncated page without its continuation token; a listing that stops at 1000);
 *  - logs every request (method, key, status) so tests can count PUTs, HEADs and LISTs.
 *
 * s3rver runs in a child process (s3rver-process.ts explains why). Everything binds 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export const ACCESS_KEY = 'S3RVER';
export const SECRET_KEY = 'S3RVER';
export const REGION = 'us-east-1';

export interface LoggedRequest {
  method: string;
  bucket: string;
  key: string;
  /** 'list' | 'head' | 'put' | 'get' | 'other' */
  kind: string;
  status: number;
  verified: boolean;
}

export interface ProxyControls {
  /** Return a status to answer instead of forwarding (e.g. 500), or undefined to forward. */
  fail?: (req: { method: string; bucket: string; key: string; kind: string; attempt: number }) => number | undefined;
  /** Delay before forwarding a PUT, ms. */
  putDelayMs?: number;
  /** Misreport listings: drop the continuation token of truncated pages, or stop after the first page. */
  listMode?: 'honest' | 'drop-token' | 'stop-at-1000';
}

export interface S3Fixture {
  /** The proxy: what the code under test talks to. */
  endpoint: string;
  /** s3rver itself (no signature check). */
  direct: string;
  log: LoggedRequest[];
  controls: ProxyControls;
  /** Requests refused for a bad signature. */
  rejected: () => number;
  close(): Promise<void>;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** RFC 3986 encoding as SigV4 wants it. */
function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Checks the request's SigV4 Authorization header; returns an error text or undefined. */
export function verifySigV4(method: string, rawUrl: string, headers: http.IncomingHttpHeaders, body: Buffer, secret: string): string | undefined {
  const auth = String(headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `not a SigV4 Authorization header: ${auth.slice(0, 60)}`;
  const [, , date, region, service, signedHeaders, signature] = m;
  const amzDate = String(headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date!)) return 'x-amz-date does not match the credential scope';
  const payloadHash = String(headers['x-amz-content-sha256'] ?? '');
  if (!payloadHash) return 'no x-amz-content-sha256';
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && !payloadHash.startsWith('STREAMING-') && payloadHash !== sha256(body)) {
    return 'x-amz-content-sha256 does not match the body';
  }
  const url = new URL(rawUrl, 'http://x');
  // S3 does not normalise or re-encode the path: the canonical URI is the path as sent.
  const canonicalUri = url.pathname;
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signedHeaders!.split(';');
  if (!names.includes('host')) return 'host is not signed';
  const canonicalHeaders = names
    .map((n) => {
      const v = headers[n];
      const value = Array.isArray(v) ? v.join(',') : String(v ?? '');
      return `${n}:${value.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const canonicalRequest = [method, canonicalUri, query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return expected === signature ? undefined : 'signature does not match';
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`;
}

function kindOf(method: string, key: string, query: URLSearchParams): string {
  if (method === 'GET' && !key && (query.get('list-type') === '2' || query.has('prefix'))) return 'list';
  if (method === 'HEAD' && key) return 'head';
  if (method === 'PUT' && key) return 'put';
  if (method === 'POST' && key) return 'put'; // multipart create/complete
  if (method === 'GET' && key) return 'get';
  return 'other';
}

/** Starts s3rver in a child process on 127.0.0.1 storing below `dir`; resolves once it listens. */
export async function startS3rverProcess(dir: string): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const script = path.join(import.meta.dirname, 's3rver-process.ts');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 20 s')), 20_000);
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const line = buf.split('\n')[0];
      if (buf.includes('\n')) {
        clearTimeout(timer);
        resolve((JSON.parse(line!) as { port: number }).port);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function startS3(): Promise<S3Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const server = await startS3rverProcess(dir);
  const direct = server.url;
  const log: LoggedRequest[] = [];
  const controls: ProxyControls = {};
  const attempts = new Map<string, number>();
  let rejected = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const [, bucket = '', ...rest] = url.pathname.split('/');
      const key = decodeURIComponent(rest.join('/'));
      const method = req.method ?? 'GET';
      const kind = kindOf(method, key, url.searchParams);
      const entry: LoggedRequest = { method, bucket, key, kind, status: 0, verified: false };
      log.push(entry);
      const answer = (status: number, code: string, message: string) => {
        entry.status = status;
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(method === 'HEAD' ? undefined : errorXml(code, message));
      };
      const bad = verifySigV4(method, req.url ?? '/', req.headers, body, SECRET_KEY);
      if (bad) {
        rejected++;
        answer(403, 'SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided (${bad})`);
        return;
      }
      entry.verified = true;
      const n = (attempts.get(`${method} ${bucket}/${key}`) ?? 0) + 1;
      attempts.set(`${method} ${bucket}/${key}`, n);
      const failWith = controls.fail?.({ method, bucket, key, kind, attempt: n });
      if (failWith) {
        answer(failWith, failWith >= 500 ? 'InternalError' : 'AccessDenied', 'injected by the test proxy');
        return;
      }
      if (kind === 'put' && controls.putDelayMs) await new Promise((r) => setTimeout(r, controls.putDelayMs));
      const headers = { ...req.headers, host: new URL(direct).host };
      const up = http.request(direct + (req.url ?? '/'), { method, headers, agent }, (upRes) => {
        const out: Buffer[] = [];
        upRes.on('data', (c: Buffer) => out.push(c));
        upRes.on('end', () => {
          let payload = Buffer.concat(out);
          const h = { ...upRes.headers };
          if (kind === 'list' && controls.listMode && controls.listMode !== 'honest') {
            let xml = payload.toString('utf8');
            if (controls.listMode === 'drop-token') xml = xml.replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '');
            if (controls.listMode === 'stop-at-1000') {
              xml = xml.replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '').replace('<IsTruncated>true</IsTruncated>', '<IsTruncated>false</IsTruncated>');
            }
            payload = Buffer.from(xml);
            h['content-length'] = String(payload.length);
          }
          entry.status = upRes.statusCode ?? 0;
          res.writeHead(upRes.statusCode ?? 502, h);
          res.end(method === 'HEAD' ? undefined : payload);
        });
      });
      up.on('error', (e) => answer(502, 'BadGateway', e.message));
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  return {
    endpoint,
    direct,
    log,
    controls,
    rejected: () => rejected,
    async close() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      agent.destroy();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
