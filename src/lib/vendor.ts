/**
 * Third-party browser bundles served by the app itself (no CDN: the archive must work on a closed
 * network). The Mirador bundle is Mirador 4 with the archive's plugins (image tools, linked views;
 * entry: src/components/mirador/bundle-entry.ts), bundled once by esbuild, gzipped once, and
 * served with a validator so browsers revalidate cheaply.
 *
 * The bundle is cached in dist/vendor/ under a hash of its inputs (the lockfile and the plugin
 * sources); `npm run build` writes it, and a server that finds it missing or stale builds it in
 * memory on first use (and writes the cache if it may).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const MIRADOR_BUNDLE = '/vendor/mirador.min.js';

export interface StaticAsset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  contentType: string;
}

/** The project root, found from where Mirador is installed (works from src/ and from dist/). */
function projectRoot(): string {
  const file = createRequire(import.meta.url).resolve('mirador');
  return path.resolve(path.dirname(file), '..', '..', '..');
}

const ENTRY = path.join('src', 'components', 'mirador', 'bundle-entry.ts');

/**
 * Guards applied to Mirador's ES build while it is bundled. Mirador 4 speaks IIIF Auth 0/1 only:
 * its access-token saga filters every service of an image with `service.getProfile().match(…)`,
 * and a service without a `profile` (the IIIF Authorization Flow 2.0 services the gated modes
 * advertise: AuthProbeService2, AuthAccessTokenService2, AuthLogoutService2) throws inside the
 * saga, which stops Mirador before it asks for info.json: a signed-in user saw no image at all.
 * The guard reads a missing profile as "" (no Auth 1 service), which is what it is. Each guard must
 * match at least once: a Mirador release that changes the code fails the build instead of
 * shipping unguarded (Mirador's Auth 2 work, pull request #3790, would make it unnecessary).
 */
export const MIRADOR_GUARDS: ReadonlyArray<{ why: string; find: RegExp; replace: string }> = [
  {
    why: 'a service without a profile (IIIF Auth 2) must not stop the access-token saga',
    find: /([\w$]+)\.getProfile\(\)\.match\(/g,
    replace: '($1.getProfile() || "").match(',
  },
];

/** Mirador's ES build with MIRADOR_GUARDS applied; throws when a guard finds nothing to guard. */
export function guardMirador(source: string): string {
  let out = source;
  for (const g of MIRADOR_GUARDS) {
    const n = out.match(g.find)?.length ?? 0;
    if (n === 0) throw new Error(`Mirador bundle: the guard "${g.why}" found nothing to guard in this Mirador release; check whether it is still needed`);
    out = out.replace(g.find, g.replace);
  }
  return out;
}

function inputsHash(root: string): string {
  const h = createHash('sha256');
  const dir = path.join(root, 'src', 'components', 'mirador');
  const guards = MIRADOR_GUARDS.map((g) => `${g.find.source}\0${g.replace}`).join('\n');
  h.update('guards\0').update(guards).update('\0');
  for (const f of [path.join(root, 'package-lock.json'), ...readdirSync(dir).sort().map((n) => path.join(dir, n))]) {
    h.update(path.relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

/** Bundles Mirador with the plugins (esbuild, minified, one script). */
export async function buildMiradorBundle(root = projectRoot()): Promise<Buffer> {
  const { build } = await import('esbuild');
  let guarded = false;
  const r = await build({
    absWorkingDir: root,
    entryPoints: [ENTRY],
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    logLevel: 'error',
    plugins: [
      {
        name: 'mirador-guards',
        setup(b) {
          b.onLoad({ filter: /[\\/]mirador[\\/]dist[\\/]mirador\.es\.js$/ }, async (args) => {
            guarded = true;
            return { contents: guardMirador(readFileSync(args.path, 'utf8')), loader: 'js' };
          });
        },
      },
    ],
  });
  if (!guarded) throw new Error('Mirador bundle: mirador/dist/mirador.es.js was not bundled, so MIRADOR_GUARDS were not applied');
  return Buffer.from(r.outputFiles[0]!.contents);
}

/** Builds the bundle into dist/vendor/ unless it is current there. Returns its bytes. */
export async function writeMiradorBundle(root = projectRoot()): Promise<Buffer> {
  const dir = path.join(root, 'dist', 'vendor');
  const file = path.join(dir, 'mirador.min.js');
  const stamp = path.join(dir, 'mirador.hash');
  const hash = inputsHash(root);
  if (existsSync(file) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return readFileSync(file);
  const body = await buildMiradorBundle(root);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, body);
    writeFileSync(stamp, hash + '\n');
  } catch {
    // A read-only install serves the bundle from memory.
  }
  return body;
}

let mirador: Promise<StaticAsset> | undefined;

/** The Mirador bundle, built or read once per process; pages that show a viewer start it early. */
export function miradorAsset(): Promise<StaticAsset> {
  mirador ??= writeMiradorBundle().then((body) => ({
    body,
    gzip: gzipSync(body, { level: 6 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    contentType: 'text/javascript; charset=utf-8',
  }));
  // A failed build is retried on the next request rather than remembered.
  mirador.catch(() => (mirador = undefined));
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
