/**
 * S3 object keys of images: the ONE place they are derived. The sync stage writes objects under
 * these keys (and records each key in the store through `markUploaded`); the IIIF image server
 * reads objects under the same keys.
 *
 * Keys are flat ASCII below the prefix: `<prefix><file name>` (`photos/R01-0001.jpg`), so a
 * re-digitised photo delivered again under the same name overwrites its object (last write wins).
 * A file name that is not plain ASCII (`[A-Za-z0-9._-]`, not starting with a dot) gets a stable
 * ASCII key from the record instead: `<prefix><image id><extension>` (`photos/R01-0021_p001.jpg`);
 * the image id is already ASCII, unique archive-wide and derived from the record id and page.
 */
import path from 'node:path';

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/;
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
 * The object key of an image: its recorded `s3Key` when there is one, else `<prefix><basename>`
 * for an ASCII-safe file name, else `<prefix><id><lower-case extension>`.
 */
export function objectKey(image: KeyedImage, prefix: string): string {
  if (typeof image.s3Key === 'string' && image.s3Key !== '') return image.s3Key;
  const base = path.posix.basename(String(image.file ?? '').replace(/\\/g, '/'));
  if (SAFE_NAME.test(base) || !image.id) return `${prefix}${base}`;
  const ext = path.posix.extname(base).normalize('NFKC').toLowerCase();
  return `${prefix}${image.id}${SAFE_EXT.test(ext) ? ext : ''}`;
}
