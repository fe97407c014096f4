/**
 * IIIF Image API 2.1 and 3.0: /iiif/2/{id}/... and /iiif/3/{id}/...
 * Thin adapter: the raw (still percent-encoded) path after /iiif/ goes to the image server, whose
 * answer becomes a Response. Everything IIIF lives in src/lib/images/.
 */
import { Readable } from 'node:stream';
import type { APIRoute } from 'astro';
import { imageServer } from '../../lib/runtime.ts';
import type { IiifResponse } from '../../lib/images/server.ts';

export const prerender = false;

/** The path after /iiif/ exactly as requested: identifiers are decoded once, by the server. */
function rawPath(url: URL, param: string | undefined): string {
  const at = url.pathname.indexOf('/iiif/');
  return at >= 0 ? url.pathname.slice(at + '/iiif/'.length) : (param ?? '');
}

async function toResponse(r: IiifResponse, withBody: boolean): Promise<Response> {
  if (r.file) {
    // A large rendering on disk: streamed, its handle closed when the stream ends or is cancelled.
    const { handle, size } = r.file;
    const headers = { ...r.headers, 'Content-Length': String(size) };
    if (!withBody) {
      await handle.close().catch(() => {});
      return new Response(null, { status: r.status, headers });
    }
    const stream = Readable.toWeb(handle.createReadStream({ autoClose: true })) as ReadableStream<Uint8Array>;
    return new Response(stream, { status: r.status, headers });
  }
  let body: string | Uint8Array<ArrayBuffer> | null = null;
  if (withBody && r.body !== undefined) {
    // A view on the encoder's buffer, not a copy.
    body = typeof r.body === 'string' ? r.body : new Uint8Array(r.body.buffer as ArrayBuffer, r.body.byteOffset, r.body.byteLength);
  }
  return new Response(body, { status: r.status, headers: r.headers });
}

const serve =
  (method: 'GET' | 'HEAD'): APIRoute =>
  async ({ request, params, url }) => {
    const server = await imageServer();
    const result = await server.handle(rawPath(url, params.path), { method, headers: request.headers });
    return toResponse(result, method === 'GET');
  };

export const GET = serve('GET');
export const HEAD = serve('HEAD');

/** CORS preflight. */
export const OPTIONS: APIRoute = () =>
  new Response(null, {
    status: 204,
    headers: {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Allow-Headers': 'Accept, If-None-Match, If-Modified-Since',
      'Access-Control-Max-Age': '86400',
    },
  });
