/**
 * S3 object keys of images: the ONE place they are derived. The sync stage writes objects under
 * these keys (and records each key in the store through `markUploaded`); the IIIF image server
 * reads objects under the same keys.
 *
 * Keys are flat ASCII below the prefix: `<prefix><image id><extension>` — for most images the file
 * name (`photos/R01-0001.jpg`), for a name that is not plain ASCII the id derived from the record
 * (`photos/R01-0021_p001.jpg`), for a generic name reused by another round the batch-qualified id
 * (`photos/R02_001.jpg`). A re-digitised photo delivered again for the same record keeps its id,
 * so it overwrites its own object (last write wins) and never another record's.
 */
import path from 'node:path';

const SAFE_EXT = /^\.[a-z0-9]{1,8}$/;

export interface KeyedImage {
  /** The image id (IIIF identifier); needed for file names that are not ASCII. */
  id?: string;
  /** Path of the file below the clean image root ('/'-separated). */
  file: string;
  /** The key recorded by the sync stage; when set it is the key. */
  s3Key?: string;
}

/**
 * The object key of an image: its recorded `s3Key` when there is one, else `<prefix><id><lower-case
 * extension>`; without an id, `<prefix><basename>`. Image ids are unique archive-wide and ASCII,
 * so two images never share a key, even when two rounds deliver the same file name (the second
 * one's id is batch-qualified, see docs/ingest.md). For an image whose id is its file name's stem
 * (`R01-0001.jpg` → id R01-0001) the key is the file name, as it always was.
 */
export function objectKey(image: KeyedImage, prefix: string): string {
  if (typeof image.s3Key === 'string' && image.s3Key !== '') return image.s3Key;
  const base = path.posix.basename(String(image.file ?? '').replace(/\\/g, '/'));
  if (!image.id) return `${prefix}${base}`;
  const ext = path.posix.extname(base).normalize('NFKC').toLowerCase();
  return `${prefix}${image.id}${SAFE_EXT.test(ext) ? ext : ''}`;
}
