/**
 * IIIF Presentation API 3.0 manifests, assembled from a store record and the images' real sizes.
 * Pure: the caller supplies the sizes (from the image server's info) and the public base URL.
 */
import type { ItemRecord, LangText } from '../domain.ts';
import { labelMap, type StringKey } from '../i18n/strings.ts';
import { maxSize, type Limits } from '../images/request.ts';

export const PRESENTATION_CONTEXT = 'http://iiif.io/api/presentation/3/context.json';

export interface Size {
  width: number;
  height: number;
}

export type LanguageMap = Record<string, string[]>;

/** Canvas size when neither the image nor the record knows it. */
export const FALLBACK_SIZE = 1000;

export function manifestUrl(base: string, itemId: string): string {
  return `${base}/api/iiif/${encodeURIComponent(itemId)}/manifest.json`;
}

/** The item's record as JSON (src/pages/api/items/[id].json.ts), the manifest's `seeAlso`. */
export function recordJsonUrl(base: string, itemId: string): string {
  return `${base}/api/items/${encodeURIComponent(itemId)}.json`;
}

export function itemUrl(base: string, itemId: string): string {
  return `${base}/items/${encodeURIComponent(itemId)}`;
}

/** Canvas ids are keyed by image id, not page number, so they survive re-ordering and re-indexing. */
export function canvasUrl(base: string, itemId: string, imageId: string): string {
  return `${base}/api/iiif/${encodeURIComponent(itemId)}/canvas/${encodeURIComponent(imageId)}`;
}

export function imageServiceUrl(base: string, imageId: string): string {
  return `${base}/iiif/3/${encodeURIComponent(imageId)}`;
}

export function thumbnailUrl(base: string, imageId: string, box = 300): string {
  return `${imageServiceUrl(base, imageId)}/full/!${box},${box}/0/default.jpg`;
}

/**
 * A catalogue value as IIIF text, never markup: viewers (Mirador among them) render label, summary
 * and metadata values as HTML, so a spreadsheet cell holding `<img src=…>` would be fetched by every
 * browser that opens the manifest. A value with `<` or `>` has its markup characters escaped, so it
 * shows as the text it is.
 */
export function iiifText(value: string): string {
  return /[<>]/.test(value) ? value.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!) : value;
}

function langMap(text: LangText | undefined): LanguageMap | undefined {
  if (!text) return undefined;
  const out: LanguageMap = {};
  if (text.ja) out.ja = [iiifText(text.ja)];
  if (text.en) out.en = [iiifText(text.en)];
  return Object.keys(out).length ? out : undefined;
}

function noneMap(value: string | undefined): LanguageMap | undefined {
  return value ? { none: [iiifText(value)] } : undefined;
}

/** A rights value is only put in `rights` when it is a URI the spec allows; otherwise it is text. */
function rightsUri(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return /^https?:\/\/(creativecommons\.org|rightsstatements\.org)\/\S+$/.test(value.trim()) ? value.trim() : undefined;
}

export interface ManifestInput {
  record: ItemRecord;
  /** Real pixel size per image id, from the image server; undefined where it could not be read. */
  sizes: ReadonlyMap<string, Size | undefined>;
  /** Public base URL, no trailing slash. */
  base: string;
  /**
   * IIIF Authorization Flow 2.0: the context and the probe service of an image or of the manifest
   * (src/lib/access/iiif-auth.ts). Absent: no auth services are advertised.
   */
  auth?: ManifestAuth;
  /**
   * The image server's size limits: the painting body (`full/max`) declares the size `max` really
   * delivers, which is smaller than the canvas for an image beyond the limits. Absent: full size.
   */
  limits?: Limits;
}

export interface ManifestAuth {
  context: string;
  probe: (kind: 'image' | 'manifest', id: string) => Record<string, unknown>;
}

/** Size of a canvas: the image's own, then the bibliography's, then FALLBACK_SIZE. */
export function canvasSize(real: Size | undefined, recorded: Partial<Size>): Size {
  if (real && real.width > 0 && real.height > 0) return { width: real.width, height: real.height };
  if (recorded.width && recorded.height && recorded.width > 0 && recorded.height > 0) {
    return { width: recorded.width, height: recorded.height };
  }
  return { width: FALLBACK_SIZE, height: FALLBACK_SIZE };
}

export function buildManifest({ record, sizes, base, auth, limits }: ManifestInput): Record<string, unknown> {
  // The image service block, with the image's probe service when auth is advertised.
  const imageService = (imageId: string) => ({
    id: imageServiceUrl(base, imageId),
    type: 'ImageService3',
    profile: 'level2',
    ...(auth ? { service: [auth.probe('image', imageId)] } : {}),
  });
  const id = manifestUrl(base, record.id);
  const metadata: Array<{ label: LanguageMap; value: LanguageMap }> = [];
  const add = (key: StringKey, value: LanguageMap | undefined) => {
    if (value) metadata.push({ label: labelMap(key), value });
  };
  add('id', noneMap(record.id));
  add('creator', langMap(record.creator));
  add('date', noneMap(record.date));
  add('place', langMap(record.place));
  add('subjects', record.subjects?.length ? noneMap(record.subjects.join(', ')) : undefined);
  add('collection', langMap(record.collection));
  add('batch', noneMap(record.batch));
  add('type', noneMap(record.type));

  const canvases = record.images.map((img, i) => {
    const size = canvasSize(sizes.get(img.id), img);
    const canvasId = canvasUrl(base, record.id, img.id);
    const service = imageServiceUrl(base, img.id);
    const serviceBlock = imageService(img.id);
    const pageLabel = img.label ? langMap(img.label) : undefined;
    const served = limits ? maxSize(size.width, size.height, limits, false) : size;
    return {
      id: canvasId,
      type: 'Canvas',
      label: pageLabel ?? { none: [String(i + 1)] },
      width: size.width,
      height: size.height,
      thumbnail: [
        {
          id: thumbnailUrl(base, img.id, 200),
          type: 'Image',
          format: 'image/jpeg',
          service: [serviceBlock],
        },
      ],
      items: [
        {
          id: `${canvasId}/page`,
          type: 'AnnotationPage',
          items: [
            {
              id: `${canvasId}/page/painting`,
              type: 'Annotation',
              motivation: 'painting',
              target: canvasId,
              body: {
                id: `${service}/full/max/0/default.jpg`,
                type: 'Image',
                format: 'image/jpeg',
                width: served.width,
                height: served.height,
                // The full image is an access-controlled content resource: it has the probe too.
                service: auth ? [serviceBlock, auth.probe('image', img.id)] : [serviceBlock],
              },
            },
          ],
        },
      ],
    };
  });

  const manifest: Record<string, unknown> = {
    // Auth 2.0 §2.1: the auth context comes first.
    '@context': auth ? [auth.context, PRESENTATION_CONTEXT] : PRESENTATION_CONTEXT,
    id,
    type: 'Manifest',
    label: langMap(record.title) ?? { none: [record.id] },
  };
  const summary = langMap(record.description);
  if (summary) manifest.summary = summary;
  if (metadata.length) manifest.metadata = metadata;
  if (record.rights) {
    manifest.requiredStatement = { label: labelMap('rights'), value: noneMap(record.rights)! };
    const uri = rightsUri(record.rights);
    if (uri) manifest.rights = uri;
  }
  const first = record.images[0];
  if (first) {
    manifest.thumbnail = [
      {
        id: thumbnailUrl(base, first.id),
        type: 'Image',
        format: 'image/jpeg',
        service: [imageService(first.id)],
      },
    ];
  }
  manifest.homepage = [
    {
      id: itemUrl(base, record.id),
      type: 'Text',
      label: langMap(record.title) ?? { none: [record.id] },
      format: 'text/html',
    },
  ];
  // The archive's collection of everything, and the item's record as data.
  manifest.partOf = [{ id: `${base}/api/iiif/collection`, type: 'Collection' }];
  manifest.seeAlso = [
    {
      id: recordJsonUrl(base, record.id),
      type: 'Dataset',
      format: 'application/json',
      label: { en: ['Item record (JSON)'], ja: ['資料の書誌データ（JSON）'] },
    },
  ];
  manifest.items = canvases;
  if (auth) manifest.service = [auth.probe('manifest', record.id)];
  return manifest;
}
