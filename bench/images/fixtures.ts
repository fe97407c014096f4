/**
 * Benchmark images, generated once into a directory and reused:
 *  - noise.tif   6000 x 4000 grey-ish noise, tiled (512) pyramid TIFF, JPEG Q85 (as the issue's
 *                measurements: the worst case for the codecs, no easy compression);
 *  - noise.jpg   the same pixels as a plain baseline JPEG (Q90);
 *  - huge.tif    79508 x 3082 tiled pyramid TIFF, JPEG Q85. sharp refuses JPEG-in-TIFF wider than
 *                65535 px (its JPEG check looks at the whole image, not the 512 px tiles), so this
 *                one is written with the `vips` command line tool (Debian's libvips-tools).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export interface Fixtures {
  dir: string;
  noiseTif: string;
  noiseJpg: string;
  hugeTif: string;
}

async function noise(width: number, height: number) {
  // Coloured noise: three independent channels, softened a little so JPEG tiles are realistic in size.
  const raw = await sharp({ create: { width, height, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(0.6)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: 3 } });
}

export async function ensureFixtures(dir: string, log: (m: string) => void = console.log): Promise<Fixtures> {
  mkdirSync(dir, { recursive: true });
  const f: Fixtures = {
    dir,
    noiseTif: path.join(dir, 'noise.tif'),
    noiseJpg: path.join(dir, 'noise.jpg'),
    hugeTif: path.join(dir, 'huge.tif'),
  };
  if (!existsSync(f.noiseTif) || !existsSync(f.noiseJpg)) {
    log('generating 6000 x 4000 noise pyramid TIFF and JPEG…');
    const img = await noise(6000, 4000);
    await img
      .clone()
      .tiff({ tile: true, pyramid: true, tileWidth: 512, tileHeight: 512, compression: 'jpeg', quality: 85 })
      .toFile(`${f.noiseTif}.tmp`);
    await img.clone().jpeg({ quality: 90 }).toFile(`${f.noiseJpg}.tmp`);
    renameSync(`${f.noiseTif}.tmp`, f.noiseTif);
    renameSync(`${f.noiseJpg}.tmp`, f.noiseJpg);
  }
  if (!existsSync(f.hugeTif)) {
    log('generating 79508 x 3082 pyramid TIFF with vips (about 30 s)…');
    const tmp = path.join(dir, 'huge-tmp');
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const v = (...args: string[]) => execFileSync('vips', args, { stdio: 'inherit' });
    // Noise in three bands, as uchar sRGB, then a 512 px tiled JPEG pyramid.
    v('gaussnoise', path.join(tmp, 'n.v'), '79508', '3082', '--mean', '128', '--sigma', '40');
    v('cast', path.join(tmp, 'n.v'), path.join(tmp, 'u.v'), 'uchar');
    v('bandjoin', `${path.join(tmp, 'u.v')} ${path.join(tmp, 'u.v')} ${path.join(tmp, 'u.v')}`, path.join(tmp, 'rgb.v'));
    v('copy', path.join(tmp, 'rgb.v'), path.join(tmp, 'srgb.v'), '--interpretation', 'srgb');
    v('tiffsave', path.join(tmp, 'srgb.v'), `${f.hugeTif}.tmp`, '--tile', '--pyramid', '--compression', 'jpeg', '--Q', '85', '--tile-width', '512', '--tile-height', '512');
    renameSync(`${f.hugeTif}.tmp`, f.hugeTif);
    rmSync(tmp, { recursive: true, force: true });
  }
  return f;
}
