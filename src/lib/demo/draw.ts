/**
 * Drawing the demo's "photographs": a scene chosen from the record's subjects drawn as SVG at a
 * small size, enlarged to full size, given film grain (a 512 px noise tile composited as a
 * repeating overlay) and a caption (id and English title) rendered at full resolution. libvips
 * streams all of this, so even the 40000×3000 panorama never exists as a raw buffer. The demo's
 * only user of sharp.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { rng, type DemoEntry, type Rng } from './data.ts';

export interface ImagePlan {
  recordId: string;
  batch: string;
  /** File name as listed in the bibliography. */
  name: string;
  /** Absolute path. */
  path: string;
  width: number;
  height: number;
  page: number;
  pages: number;
  caption: string;
  scene: Scene;
  sepia: boolean;
  panorama: boolean;
  /** Seed of this image's picture. */
  seed: number;
  /** Seed of the whole corpus (shared grain tile). */
  corpusSeed: number;
}

export type Scene = 'harbour' | 'street' | 'temple' | 'country' | 'rail' | 'group' | 'city';

export function sceneFor(e: DemoEntry): Scene {
  if (e.panorama) return 'city';
  const s = e.subjects;
  if (s.includes('学校')) return 'group';
  if (s.includes('港湾') || s.includes('漁業') || s.includes('船舶')) return 'harbour';
  if (s.includes('鉄道')) return 'rail';
  if (s.includes('寺社')) return 'temple';
  if (s.includes('農村')) return 'country';
  return 'street';
}

const ASPECTS = [4 / 3, 3 / 2, 5 / 4, 7 / 5, 5 / 4, 4 / 3] as const;

export function dims(r: Rng, e: DemoEntry, scale: number): { width: number; height: number } {
  if (e.panorama) return { width: Math.max(64, Math.round(40000 * scale)), height: Math.max(8, Math.round(3000 * scale)) };
  const long = r.int(300, 600) * 10;
  const aspect = e.type === '絵葉書' ? 3 / 2 : r.pick(ASPECTS);
  const short = Math.round(long / aspect);
  const [w, h] = e.portrait ? [short, long] : [long, short];
  return { width: Math.max(8, Math.round(w * scale)), height: Math.max(8, Math.round(h * scale)) };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f1 = (n: number) => Math.round(n * 10) / 10;

/** Palette: light → dark, sepia or neutral grey, slightly varied per image. */
function palette(r: Rng, sepia: boolean): string[] {
  const base = sepia
    ? [
        [240, 228, 204],
        [218, 197, 160],
        [172, 143, 104],
        [125, 100, 70],
        [82, 62, 40],
        [48, 36, 24],
      ]
    : [
        [232, 232, 228],
        [204, 204, 198],
        [156, 156, 150],
        [110, 110, 106],
        [68, 68, 66],
        [36, 36, 35],
      ];
  const shift = r.int(-12, 12);
  return base.map((c) => `rgb(${c.map((v) => Math.max(0, Math.min(255, v + shift))).join(',')})`);
}

/** The picture, as SVG at a small size (w × h). */
function sceneSvg(p: ImagePlan, w: number, h: number): string {
  const r = rng(p.seed, `${p.name}:scene`);
  const c = palette(r, p.sepia);
  const out: string[] = [];
  const horizon = h * (p.scene === 'city' ? 0.32 : 0.38 + r.next() * 0.2);
  out.push(
    `<defs>`,
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${c[0]}"/><stop offset="1" stop-color="${c[1]}"/></linearGradient>`,
    `<linearGradient id="ground" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${c[2]}"/><stop offset="1" stop-color="${c[4]}"/></linearGradient>`,
    `<radialGradient id="vig" cx="0.5" cy="0.5" r="0.75"><stop offset="0.55" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.55"/></radialGradient>`,
    `<filter id="soft" x="-10%" y="-10%" width="120%" height="120%"><feGaussianBlur stdDeviation="${f1(Math.max(0.3, h / 450))}"/></filter>`,
    `<filter id="blur" x="-20%" y="-20%" width="140%" height="140%"><feGaussianBlur stdDeviation="${f1(Math.max(1, h / 30))}"/></filter>`,
    `</defs>`,
    `<rect width="${w}" height="${h}" fill="url(#sky)"/>`,
  );
  // clouds / light leaks: large soft shapes
  for (let i = 0; i < 3; i++) {
    out.push(
      `<ellipse cx="${f1(r.next() * w)}" cy="${f1(r.next() * horizon * 0.8)}" rx="${f1(w * (0.1 + r.next() * 0.2))}" ry="${f1(h * (0.04 + r.next() * 0.06))}" fill="${c[0]}" opacity="0.7" filter="url(#blur)"/>`,
    );
  }
  // distant hills
  const hills: string[] = [`M0 ${f1(horizon)}`];
  const steps = 8 + r.int(0, 6);
  for (let i = 0; i <= steps; i++) hills.push(`L${f1((w * i) / steps)} ${f1(horizon - h * (0.03 + r.next() * 0.12))}`);
  hills.push(`L${w} ${f1(horizon)} Z`);
  out.push(`<path d="${hills.join(' ')}" fill="${c[2]}" opacity="0.75" filter="url(#soft)"/>`);
  out.push(`<g filter="url(#soft)">`);
  out.push(`<rect y="${f1(horizon)}" width="${w}" height="${f1(h - horizon)}" fill="url(#ground)"/>`);

  const building = (x: number, bw: number, bh: number, base: number, fill: string) => {
    out.push(`<rect x="${f1(x)}" y="${f1(base - bh)}" width="${f1(bw)}" height="${f1(bh)}" fill="${fill}"/>`);
    if (r.chance(0.6)) {
      out.push(
        `<path d="M${f1(x - bw * 0.1)} ${f1(base - bh)} L${f1(x + bw / 2)} ${f1(base - bh - bh * 0.25)} L${f1(x + bw * 1.1)} ${f1(base - bh)} Z" fill="${c[5]}"/>`,
      );
    }
    const rows = Math.max(1, Math.floor(bh / (h * 0.05)));
    for (let j = 0; j < rows; j++) {
      out.push(
        `<rect x="${f1(x + bw * 0.15)}" y="${f1(base - bh + (j + 0.3) * (bh / rows))}" width="${f1(bw * 0.7)}" height="${f1((bh / rows) * 0.3)}" fill="${c[1]}" opacity="0.35"/>`,
      );
    }
  };
  const figure = (x: number, base: number, size: number) => {
    out.push(
      `<rect x="${f1(x - size * 0.18)}" y="${f1(base - size * 0.8)}" width="${f1(size * 0.36)}" height="${f1(size * 0.8)}" rx="${f1(size * 0.1)}" fill="${c[5]}" opacity="0.85"/>`,
      `<circle cx="${f1(x)}" cy="${f1(base - size * 0.92)}" r="${f1(size * 0.13)}" fill="${c[5]}" opacity="0.85"/>`,
    );
  };

  switch (p.scene) {
    case 'harbour': {
      for (let i = 0; i < 14; i++) {
        const y = horizon + (h - horizon) * r.next();
        out.push(`<rect x="${f1(r.next() * w * 0.8)}" y="${f1(y)}" width="${f1(w * (0.1 + r.next() * 0.3))}" height="${f1(Math.max(0.5, h * 0.004))}" fill="${c[0]}" opacity="0.35"/>`);
      }
      const ships = r.int(2, 5);
      for (let i = 0; i < ships; i++) {
        const sx = r.next() * w * 0.85;
        const sw = w * (0.08 + r.next() * 0.18);
        const sy = horizon + (h - horizon) * (0.1 + r.next() * 0.4);
        const sh = sw * 0.18;
        out.push(`<path d="M${f1(sx)} ${f1(sy - sh)} L${f1(sx + sw)} ${f1(sy - sh)} L${f1(sx + sw * 0.9)} ${f1(sy)} L${f1(sx + sw * 0.08)} ${f1(sy)} Z" fill="${c[5]}"/>`);
        out.push(`<rect x="${f1(sx + sw * 0.3)}" y="${f1(sy - sh * 2)}" width="${f1(sw * 0.35)}" height="${f1(sh)}" fill="${c[4]}"/>`);
        out.push(`<rect x="${f1(sx + sw * 0.45)}" y="${f1(sy - sh * 3)}" width="${f1(sw * 0.07)}" height="${f1(sh)}" fill="${c[5]}"/>`);
        for (const m of [0.15, 0.8]) out.push(`<rect x="${f1(sx + sw * m)}" y="${f1(sy - sh * 5)}" width="${f1(Math.max(0.6, sw * 0.012))}" height="${f1(sh * 4)}" fill="${c[5]}"/>`);
      }
      out.push(`<path d="M0 ${f1(h)} L0 ${f1(h * 0.86)} L${f1(w * 0.45)} ${f1(h * 0.8)} L${f1(w * 0.5)} ${f1(h)} Z" fill="${c[5]}" opacity="0.9"/>`);
      break;
    }
    case 'rail': {
      const vx = w * (0.3 + r.next() * 0.4);
      out.push(`<path d="M${f1(w * 0.1)} ${h} L${f1(vx - w * 0.01)} ${f1(horizon)} L${f1(vx + w * 0.01)} ${f1(horizon)} L${f1(w * 0.9)} ${h} Z" fill="${c[3]}"/>`);
      for (const x0 of [0.3, 0.7]) out.push(`<path d="M${f1(w * x0)} ${h} L${f1(vx)} ${f1(horizon)}" stroke="${c[1]}" stroke-width="${f1(Math.max(0.6, w * 0.004))}"/>`);
      for (let i = 0; i < 7; i++) {
        const x = (w * (i + 0.5)) / 7;
        out.push(`<rect x="${f1(x)}" y="${f1(horizon - h * 0.25)}" width="${f1(Math.max(0.6, w * 0.004))}" height="${f1(h * 0.27)}" fill="${c[4]}"/>`);
      }
      const lw = w * 0.35;
      const lx = vx - lw * 0.2;
      const ly = horizon + (h - horizon) * 0.35;
      out.push(`<rect x="${f1(lx)}" y="${f1(ly - lw * 0.3)}" width="${f1(lw)}" height="${f1(lw * 0.3)}" rx="${f1(lw * 0.03)}" fill="${c[5]}"/>`);
      out.push(`<rect x="${f1(lx + lw * 0.1)}" y="${f1(ly - lw * 0.45)}" width="${f1(lw * 0.08)}" height="${f1(lw * 0.15)}" fill="${c[5]}"/>`);
      out.push(`<ellipse cx="${f1(lx + lw * 0.14)}" cy="${f1(ly - lw * 0.55)}" rx="${f1(lw * 0.25)}" ry="${f1(lw * 0.1)}" fill="${c[1]}" opacity="0.8" filter="url(#blur)"/>`);
      break;
    }
    case 'temple': {
      const tw = w * (0.45 + r.next() * 0.2);
      const tx = (w - tw) / 2;
      const base = horizon + (h - horizon) * 0.45;
      out.push(`<rect x="${f1(tx + tw * 0.1)}" y="${f1(base - tw * 0.3)}" width="${f1(tw * 0.8)}" height="${f1(tw * 0.3)}" fill="${c[4]}"/>`);
      out.push(`<path d="M${f1(tx - tw * 0.05)} ${f1(base - tw * 0.28)} Q${f1(tx + tw / 2)} ${f1(base - tw * 0.42)} ${f1(tx + tw * 1.05)} ${f1(base - tw * 0.28)} L${f1(tx + tw * 0.8)} ${f1(base - tw * 0.55)} L${f1(tx + tw * 0.2)} ${f1(base - tw * 0.55)} Z" fill="${c[5]}"/>`);
      for (let i = 0; i < 6; i++) out.push(`<rect x="${f1(tx + tw * (0.15 + i * 0.13))}" y="${f1(base - tw * 0.28)}" width="${f1(tw * 0.03)}" height="${f1(tw * 0.28)}" fill="${c[5]}"/>`);
      out.push(`<rect x="${f1(tx)}" y="${f1(base)}" width="${f1(tw)}" height="${f1(h * 0.03)}" fill="${c[3]}"/>`);
      for (let i = 0; i < 6; i++) out.push(`<ellipse cx="${f1(r.next() < 0.5 ? r.next() * tx : w - r.next() * tx)}" cy="${f1(horizon + h * 0.05)}" rx="${f1(w * 0.08)}" ry="${f1(h * 0.16)}" fill="${c[4]}" opacity="0.9" filter="url(#blur)"/>`);
      for (let i = 0; i < 5; i++) figure(tx + tw * r.next(), h * (0.85 + r.next() * 0.1), h * 0.09);
      break;
    }
    case 'country': {
      for (let i = 0; i < 6; i++) {
        const y = horizon + ((h - horizon) * i) / 6;
        out.push(`<rect x="0" y="${f1(y)}" width="${w}" height="${f1((h - horizon) / 12)}" fill="${i % 2 ? c[1] : c[3]}" opacity="0.35"/>`);
      }
      const hx = w * (0.55 + r.next() * 0.3);
      const hw = w * 0.14;
      out.push(`<rect x="${f1(hx)}" y="${f1(horizon - hw * 0.35)}" width="${f1(hw)}" height="${f1(hw * 0.35)}" fill="${c[4]}"/>`);
      out.push(`<path d="M${f1(hx - hw * 0.15)} ${f1(horizon - hw * 0.33)} L${f1(hx + hw / 2)} ${f1(horizon - hw * 0.85)} L${f1(hx + hw * 1.15)} ${f1(horizon - hw * 0.33)} Z" fill="${c[3]}"/>`);
      for (let i = 0; i < 4; i++) out.push(`<ellipse cx="${f1(r.next() * w)}" cy="${f1(horizon - h * 0.04)}" rx="${f1(w * 0.05)}" ry="${f1(h * 0.09)}" fill="${c[4]}" opacity="0.9" filter="url(#blur)"/>`);
      const people = r.int(4, 8);
      for (let i = 0; i < people; i++) figure(w * (0.1 + (0.8 * i) / people), horizon + (h - horizon) * 0.55, h * 0.1);
      break;
    }
    case 'group': {
      const bw = w * 0.8;
      out.push(`<rect x="${f1(w * 0.1)}" y="${f1(horizon - h * 0.2)}" width="${f1(bw)}" height="${f1(h * 0.3)}" fill="${c[3]}"/>`);
      for (let i = 0; i < 10; i++) out.push(`<rect x="${f1(w * 0.12 + (bw * i) / 10)}" y="${f1(horizon - h * 0.15)}" width="${f1(bw / 16)}" height="${f1(h * 0.08)}" fill="${c[1]}" opacity="0.5"/>`);
      const rows = 3;
      for (let j = 0; j < rows; j++) {
        const y = horizon + (h - horizon) * (0.3 + j * 0.22);
        const n = 9 + j * 2;
        for (let i = 0; i < n; i++) figure(w * (0.08 + (0.84 * (i + 0.5)) / n), y, h * (0.12 + j * 0.02));
      }
      break;
    }
    case 'city': {
      for (let layer = 0; layer < 4; layer++) {
        const base = horizon + (h - horizon) * (0.15 + layer * 0.25);
        const bh = h * (0.05 + layer * 0.05);
        let x = -r.next() * w * 0.01;
        while (x < w) {
          const bw = w * (0.002 + r.next() * 0.006) * (1 + layer);
          building(x, bw, bh * (0.6 + r.next() * 0.8), base, c[Math.min(5, 2 + layer)]!);
          x += bw * (1.05 + r.next() * 0.3);
        }
      }
      break;
    }
    default: {
      // street in perspective: buildings on both sides, a road, people
      const vx = w * (0.4 + r.next() * 0.2);
      out.push(`<path d="M0 ${h} L${f1(vx - w * 0.03)} ${f1(horizon)} L${f1(vx + w * 0.03)} ${f1(horizon)} L${w} ${h} Z" fill="${c[2]}"/>`);
      for (const side of [0, 1]) {
        const n = 6;
        for (let i = 0; i < n; i++) {
          const t = i / n;
          const x0 = side ? w - (w - vx) * (1 - t) * 0.9 : vx * t * 0.9;
          const bw = (side ? w - vx : vx) * 0.9 * (1 / n) * (1.2 - t * 0.5);
          const bh = h * (0.5 - t * 0.32) * (0.8 + r.next() * 0.4);
          const base = horizon + (h - horizon) * (0.55 - t * 0.5);
          building(side ? x0 - bw : x0, bw, bh, base, c[side ? 4 : 3]!);
        }
      }
      const people = r.int(6, 14);
      for (let i = 0; i < people; i++) {
        const t = r.next();
        figure(vx + (r.next() - 0.5) * w * (1 - t) * 0.9, horizon + (h - horizon) * (1 - t * 0.85), h * 0.14 * (1 - t * 0.8));
      }
    }
  }
  out.push(`</g>`);
  out.push(`<rect width="${w}" height="${h}" fill="url(#vig)"/>`);
  // plate number, as if scratched into the emulsion: readable even in thumbnails
  const fs = Math.max(6, Math.min(h * 0.07, w * 0.05));
  out.push(
    `<text x="${f1(fs * 0.6)}" y="${f1(fs * 1.3)}" font-family="DejaVu Sans Mono, monospace" font-size="${f1(fs)}" fill="${c[0]}" opacity="0.85">${esc(p.recordId)}${p.pages > 1 ? ` (${p.page}/${p.pages})` : ''}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${out.join('')}</svg>`;
}

/** The caption strip, rendered at full resolution so it stays sharp when zoomed in. */
function captionSvg(p: ImagePlan): { svg: string; left: number; top: number } | undefined {
  const chars = p.caption.length;
  const fs = Math.floor(Math.min(p.height * 0.035, (p.width * 0.9) / (chars * 0.62)));
  if (fs < 5) return undefined;
  const cw = Math.min(p.width, Math.ceil(chars * fs * 0.62 + fs * 1.2));
  const ch = Math.ceil(fs * 1.7);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cw}" height="${ch}">` +
    `<rect width="${cw}" height="${ch}" rx="${f1(fs * 0.2)}" fill="#f4ecd8" opacity="0.78"/>` +
    `<text x="${f1(fs * 0.6)}" y="${f1(fs * 1.2)}" font-family="DejaVu Serif, serif" font-size="${fs}" fill="#2a1f14">${esc(p.caption)}</text></svg>`;
  return { svg, left: Math.round(p.width * 0.03), top: Math.max(0, p.height - ch - Math.round(p.height * 0.04)) };
}

const grainCache = new Map<string, Promise<Buffer>>();
/** A square grey noise tile (PNG), repeated over the picture as film grain. */
function grainTile(size: number, seed: number): Promise<Buffer> {
  const key = `${seed}:${size}`;
  let g = grainCache.get(key);
  if (!g) {
    // libvips' gaussnoise is not seeded; draw the noise ourselves so output is reproducible.
    const r = rng(seed, `grain:${size}`);
    const px = Buffer.alloc(size * size);
    for (let i = 0; i < px.length; i++) {
      const n = (r.next() + r.next() + r.next() + r.next() - 2) * 32; // ~N(0, 18)
      px[i] = Math.max(0, Math.min(255, Math.round(128 + n)));
    }
    g = sharp(px, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
    grainCache.set(key, g);
  }
  return g;
}

export async function renderImage(p: ImagePlan): Promise<void> {
  // Draw small: ~800 px on the long side (or ~300 px high for the panorama), then enlarge.
  const f = Math.max(1, Math.min(Math.max(p.width, p.height) / 800, Math.min(p.width, p.height) / 300));
  const w = Math.max(1, Math.round(p.width / f));
  const h = Math.max(1, Math.round(p.height / f));
  const small = await sharp(Buffer.from(sceneSvg(p, w, h)))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const tile = Math.min(512, p.width, p.height);
  const overlays: OverlayOptions[] = [{ input: await grainTile(tile, p.corpusSeed), tile: true, blend: 'overlay' }];
  const cap = captionSvg(p);
  if (cap) overlays.push({ input: Buffer.from(cap.svg), left: cap.left, top: cap.top });
  let img = sharp(small.data, { raw: small.info })
    .resize(p.width, p.height, { kernel: 'linear', fit: 'fill' }) // soft subject: linear is enough, and ~2x cheaper than cubic
    .composite(overlays);
  if (!p.sepia) img = img.toColourspace('b-w');
  await mkdir(path.dirname(p.path), { recursive: true });
  if (p.panorama) {
    await img
      .tiff({ tile: true, pyramid: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg', quality: 80 })
      .toFile(p.path);
  } else {
    await img.jpeg({ quality: 82 }).toFile(p.path);
  }
}

/** A plain reference-only shot (envelope, sleeve, colour chart): small, cheap to render. */
export async function referenceImage(file: string, scale: number, shade: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const width = Math.max(16, Math.round(600 * scale));
  const height = Math.max(16, Math.round(400 * scale));
  await sharp({ create: { width, height, channels: 3, background: { r: shade, g: shade, b: shade - 30 } } })
    .jpeg({ quality: 70 })
    .toFile(file);
}
