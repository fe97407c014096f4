/**
 * Third-party browser bundles served by the app itself (no CDN: the archive must work on a closed
 * network). Mirador's self-contained build is read once from node_modules, gzipped once, and
 * served with a validator so browsers revalidate cheaply.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const MIRADOR_BUNDLE = '/vendor/mirador.min.js';

export interface StaticAsset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  contentType: string;
}

let mirador: StaticAsset | undefined;

export function miradorAsset(): StaticAsset {
  if (!mirador) {
    const file = createRequire(import.meta.url).resolve('mirador');
    const body = readFileSync(file);
    mirador = {
      body,
      gzip: gzipSync(body, { level: 6 }),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      contentType: 'text/javascript; charset=utf-8',
    };
  }
  return mirador;
}

/** A Response for a static asset honouring If-None-Match and Accept-Encoding. */
export function assetResponse(asset: StaticAsset, request: Request): Response {
  const headers = new Headers({
    'Content-Type': asset.contentType,
    ETag: asset.etag,
    'Cache-Control': 'private, max-age=86400',
    Vary: 'Accept-Encoding',
  });
  if (request.headers.get('if-none-match') === asset.etag) return new Response(null, { status: 304, headers });
  if (/\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')) {
    headers.set('Content-Encoding', 'gzip');
    return new Response(new Uint8Array(asset.gzip), { headers });
  }
  return new Response(new Uint8Array(asset.body), { headers });
}
