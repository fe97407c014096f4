/**
 * Image information documents (info.json) of Image API 2.1 and 3.0, and the response headers the
 * specifications ask for. Pure: the caller supplies the image's size, its tile size and the limits.
 *
 * What is declared is what `request.ts` and `server.ts` really do: level 2, plus mirroring,
 * arbitrary rotation, upscaling (v3 `^`, v2 above full size), square regions, the formats the
 * bundled libvips writes (jpg, png, webp, tif, gif) and the four qualities.
 */
import { FORMATS, QUALITIES, type Dimensions, type Limits, type Version, withinLimits } from './request.ts';

export const PROTOCOL = 'http://iiif.io/api/image';
export const CONTEXT: Record<Version, string> = {
  2: 'http://iiif.io/api/image/2/context.json',
  3: 'http://iiif.io/api/image/3/context.json',
};
export const PROFILE_URI: Record<Version, string> = {
  2: 'http://iiif.io/api/image/2/level2.json',
  3: 'http://iiif.io/api/image/3/level2.json',
};

/** Tile size announced unless the source has a usable one of its own. */
export const DEFAULT_TILE = 512;

/** Features beyond level 2 (v2 `supports`): all implemented in request.ts / server.ts. */
const V2_EXTRA_SUPPORTS = [
  'canonicalLinkHeader',
  'mirroring',
  'profileLinkHeader',
  'regionSquare',
  'rotationArbitrary',
  'sizeAboveFull',
] as const;

/** Features beyond level 2 (v3 `extraFeatures`). */
const V3_EXTRA_FEATURES = ['canonicalLinkHeader', 'mirroring', 'profileLinkHeader', 'rotationArbitrary', 'sizeUpscaling'] as const;

/** Level 2 of both versions requires jpg and png; the others are extra. */
const LEVEL2_FORMATS = new Set(['jpg', 'png']);

export interface InfoInput {
  /** Base URI of the image service: `{publicBase}/iiif/{version}/{encoded id}`. */
  id: string;
  width: number;
  height: number;
  limits: Limits;
  /** Tile size (square); defaults to 512. */
  tileSize?: number;
  /** IIIF Authorization Flow 2.0 services (probe) of this image, and their context (src/lib/access). */
  auth?: { context: string; services: Record<string, unknown>[] };
}

/** The tile edge actually announced: the wanted size, but never beyond the limits. */
export function tileEdge(wanted: number, limits: Limits): number {
  return Math.max(1, Math.min(wanted, limits.maxWidth, limits.maxHeight, Math.floor(Math.sqrt(limits.maxArea))));
}

/** Scale factors 1, 2, 4, ... up to the first at which the whole image fits in one tile. */
export function scaleFactors(width: number, height: number, tile: number): number[] {
  const out = [1];
  let sf = 1;
  while ((Math.ceil(width / sf) > tile || Math.ceil(height / sf) > tile) && sf < 2 ** 20) {
    sf *= 2;
    out.push(sf);
  }
  return out;
}

/**
 * Preferred sizes of the full image: halvings (rounded up, as tile arithmetic does) from the full
 * size down to the first that fits in a tile, keeping only those within the limits; smallest first.
 */
export function preferredSizes(width: number, height: number, tile: number, limits: Limits): Dimensions[] {
  const out: Dimensions[] = [];
  for (let sf = 1; sf < 2 ** 20; sf *= 2) {
    const w = Math.ceil(width / sf);
    const h = Math.ceil(height / sf);
    if (withinLimits(w, h, limits)) out.push({ width: w, height: h });
    if (w <= tile && h <= tile) break;
  }
  return out.reverse();
}

export function buildInfo(version: Version, input: InfoInput): Record<string, unknown> {
  const { width, height, limits } = input;
  const tile = tileEdge(input.tileSize ?? DEFAULT_TILE, limits);
  const sizes = preferredSizes(width, height, tile, limits);
  const tiles = [{ width: tile, scaleFactors: scaleFactors(width, height, tile) }];
  const limitProps = { maxWidth: limits.maxWidth, maxHeight: limits.maxHeight, maxArea: limits.maxArea };

  const auth = input.auth;
  if (version === 2) {
    return {
      '@context': CONTEXT[2],
      '@id': input.id,
      protocol: PROTOCOL,
      width,
      height,
      sizes,
      tiles,
      profile: [
        PROFILE_URI[2],
        {
          formats: [...FORMATS],
          qualities: [...QUALITIES],
          supports: [...V2_EXTRA_SUPPORTS],
          ...limitProps,
        },
      ],
      // Image API 2.1 has no context list: each auth service carries its own.
      ...(auth ? { service: auth.services.map((s) => ({ '@context': auth.context, ...s })) } : {}),
    };
  }
  return {
    // Auth 2.0 §2.1: the auth context comes first, before the Image API's.
    '@context': auth ? [auth.context, CONTEXT[3]] : CONTEXT[3],
    id: input.id,
    type: 'ImageService3',
    protocol: PROTOCOL,
    profile: 'level2',
    width,
    height,
    ...limitProps,
    sizes,
    tiles,
    extraFormats: FORMATS.filter((f) => !LEVEL2_FORMATS.has(f)),
    extraQualities: QUALITIES.filter((q) => q !== 'default'),
    extraFeatures: [...V3_EXTRA_FEATURES],
    ...(auth ? { service: auth.services } : {}),
  };
}

/**
 * Content-Type of info.json. JSON-LD (with the context as profile) when the client asks for it in
 * Accept; in v3 also when there is no Accept header at all (3.0 §5.1), while 2.1 §5.1 requires
 * plain JSON unless JSON-LD is explicitly requested.
 */
export function infoContentType(version: Version, accept: string | null | undefined): string {
  const wantsLd = accept ? /(^|[\s,])application\/ld\+json\b/i.test(accept) : version === 3;
  return wantsLd ? `application/ld+json;profile="${CONTEXT[version]}"` : 'application/json';
}

export function profileLinkHeader(version: Version): string {
  return `<${PROFILE_URI[version]}>;rel="profile"`;
}

export function canonicalLinkHeader(url: string): string {
  return `<${url}>;rel="canonical"`;
}
