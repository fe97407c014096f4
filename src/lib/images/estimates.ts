/**
 * Memory and size estimates of one render (pure): how many bytes its output will have (buffer or
 * file?) and how much working memory it needs (the processing queue's budget, queue.ts).
 */
import { decodesWhole } from './pyramid.ts';
import { chooseLevel, type ImagePlan, type SourceFacts } from './request.ts';

const MB = 1024 * 1024;

/** Encoded bytes per output pixel, pessimistic (noise), for deciding buffer vs file. */
const BYTES_PER_PIXEL: Record<string, number> = { jpg: 1, webp: 1, gif: 1.2, png: 3.2, tif: 3.2 };

/** Rough size of an encoded output. */
export function estimateOutputBytes(plan: Pick<ImagePlan, 'outputWidth' | 'outputHeight' | 'format' | 'quality'>): number {
  const px = plan.outputWidth * plan.outputHeight;
  const f = plan.quality === 'bitonal' || plan.quality === 'gray' ? 0.4 : 1;
  return px * (BYTES_PER_PIXEL[plan.format] ?? 3.2) * f;
}

/**
 * Working memory of one render, an estimate for the queue's budget: libvips buffers and the tile
 * or strip caches of the input (a few rows of tiles across the region), a rotation's whole image
 * (libvips must hold the scaled image, and its rotated copy, to turn it), and the output when it
 * is encoded to memory, and an EXIF-rotated source's whole decoded image.
 */
export function estimateRenderBytes(
  facts: Pick<SourceFacts, 'width' | 'height' | 'levels' | 'channels'> & { orientation?: number; format?: string; tiff?: unknown },
  plan: ImagePlan,
  toMemory: boolean,
): number {
  const bands = Math.max(3, facts.channels ?? 3);
  const level = chooseLevel(facts, plan);
  // An EXIF-rotated source is turned upright before anything else: libvips holds all of it.
  const orient = (facts.orientation ?? 1) !== 1 ? facts.width * facts.height * bands : 0;
  // PNG, GIF, WebP and striped TIFF have no random access: libvips decodes all of it.
  const whole = !level && facts.format !== undefined && decodesWhole({ format: facts.format, levels: facts.levels, tiff: facts.tiff }) ? facts.width * facts.height * bands : 0;
  const scale = (level?.width ?? facts.width) / facts.width;
  const readWidth = Math.min(plan.region.w * scale, level?.width ?? facts.width);
  // Three rows of 512 px tiles (or JPEG strips) across the region, and the scaled image's strips.
  const input = readWidth * 512 * bands * 3 + plan.width * 64 * bands;
  const rotate = plan.rotation !== 0 ? (plan.width * plan.height + plan.outputWidth * plan.outputHeight) * (bands + 1) : 0;
  const output = toMemory ? estimateOutputBytes(plan) * 2 : 4 * MB;
  return 8 * MB + input + rotate + output + Math.max(orient, whole);
}
