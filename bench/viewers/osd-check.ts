/**
 * Checks osd.ts against the real OpenSeadragon (the copy Mirador bundles, node_modules/openseadragon):
 * loads its build in a VM context with a minimal window/document stub and compares the number of
 * tiles of every level and the URL of every tile for a few info.json documents (v3 with sizes, v3
 * without, v2 with 256 px tiles as IIPImage announces). `node bench/viewers/osd-check.ts`; exit 1 on a difference.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { numTiles, tileSourceOf, tileUrl, type InfoJson } from './osd.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const src = readFileSync(path.join(ROOT, 'node_modules/openseadragon/build/openseadragon/openseadragon.js'), 'utf8');
const version = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/openseadragon/package.json'), 'utf8')) as { version: string }).version;
const noop = () => {};
const el = () => ({ style: {}, appendChild: noop, setAttribute: noop, getContext: () => null, addEventListener: noop });
const document = {
  createElement: el,
  documentElement: { style: {}, addEventListener: noop, removeEventListener: noop },
  addEventListener: noop,
  removeEventListener: noop,
  body: el(),
  getElementsByTagName: () => [],
  createTextNode: () => ({}),
};
const win: Record<string, unknown> = {
  document,
  navigator: { userAgent: 'node', appVersion: '5.0', appName: 'Netscape' },
  location: { protocol: 'http:', search: '' },
  addEventListener: noop,
  setTimeout,
  clearTimeout,
  devicePixelRatio: 1,
  XMLHttpRequest: function () {},
  Image: function () {},
  requestAnimationFrame: (f: () => void) => setTimeout(f, 16),
  console,
};
win.window = win;
win.self = win;
const ctx = vm.createContext(win);
vm.runInContext(src, ctx);
const OSD = (ctx as any).OpenSeadragon;

const v3 = 'http://iiif.io/api/image/3/context.json';
const cases: InfoJson[] = [
  {
    '@context': v3,
    id: 'http://x/iiif/3/A',
    width: 4780,
    height: 3824,
    sizes: [
      { width: 299, height: 239 },
      { width: 598, height: 478 },
      { width: 1195, height: 956 },
      { width: 2390, height: 1912 },
      { width: 4780, height: 3824 },
    ],
    tiles: [{ width: 512, scaleFactors: [1, 2, 4, 8, 16] }],
  },
  { '@context': v3, id: 'http://x/iiif/3/P', width: 40000, height: 3000, tiles: [{ width: 512, scaleFactors: [1, 2, 4, 8, 16, 32, 64, 128] }] },
  { '@context': 'http://iiif.io/api/image/2/context.json', '@id': 'http://x/fcgi?IIIF=A.tif', width: 4781, height: 3825, tiles: [{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8, 16, 32] }] },
];
let compared = 0;
let bad = 0;
for (const info of cases) {
  const data = OSD.IIIFTileSource.prototype.configure({ protocol: 'http://iiif.io/api/image', ...structuredClone(info) }, 'u', null);
  const o = new OSD.IIIFTileSource(data);
  const ts = tileSourceOf(info);
  for (let l = 0; l <= o.maxLevel; l++) {
    const a = o.getNumTiles(l);
    const b = numTiles(ts, l);
    if (a.x !== b.x || a.y !== b.y) (bad++, console.log(`level ${l}: OSD ${a.x}×${a.y} tiles, ours ${b.x}×${b.y}`));
    for (let y = 0; y < a.y; y++)
      for (let x = 0; x < a.x; x++) {
        compared++;
        const want = o.getTileUrl(l, x, y) as string;
        const got = tileUrl(ts, l, x, y);
        if (want !== got && bad++ < 10) console.log(`OSD ${want}\nours ${got}`);
      }
  }
}
console.log(`OpenSeadragon ${version}: ${compared} tile URLs compared, ${bad} differences`);
process.exitCode = bad ? 1 : 0;
