/**
 * A real HTTP server around an `ImageServer` (the plain node:http adapter of src/lib/images/http.ts)
 * on a free loopback port, for tests that must see what a client sees: status lines, headers,
 * raw paths with their percent-encoding intact.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleIiifRequest } from '../../src/lib/images/http.ts';
import { ImageServer, type ImageServerOptions } from '../../src/lib/images/server.ts';

export interface ImageHttp {
  baseUrl: string;
  server: ImageServer;
  http: http.Server;
  close: () => Promise<void>;
}

/** Start `ImageServer` (options without publicBaseUrl: it is the harness's own URL). */
export async function startImageHttp(opts: Omit<ImageServerOptions, 'publicBaseUrl'>): Promise<ImageHttp> {
  let server!: ImageServer;
  const srv = http.createServer((req, res) => {
    void handleIiifRequest(req, res, { server }).then((handled) => {
      if (!handled) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found\n');
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  server = new ImageServer({ ...opts, publicBaseUrl: baseUrl });
  return {
    baseUrl,
    server,
    http: srv,
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

/** A raw GET (or other method) that sends the path exactly as given, not normalised by URL(). */
export function rawRequest(
  baseUrl: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; agent?: http.Agent } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`timeout: ${path.slice(0, 200)}`)));
    req.end();
  });
}
