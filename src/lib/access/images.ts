/**
 * Per-image authorisation for the IIIF Image API. An image inherits its item's access level
 * (`ImageEntry.access`); an image the user may not see must be answered exactly like an image
 * that does not exist. The answer is therefore produced by an image server whose lookup finds
 * nothing (`deniedImageServer` in runtime.ts): same status, headers and body as for a missing
 * identifier, whatever wording the image server uses.
 */
import { parseRequest } from '../images/request.ts';
import type { IiifHttpRequest, IiifResponse } from '../images/server.ts';
import { canSee, type AccessLevel, type ImageEntry } from '../domain.ts';

/** The identifier an info or image request under /iiif/ names (raw path after /iiif/), if any. */
export function iiifImageId(rawPath: string): string | undefined {
  const parsed = parseRequest(rawPath);
  return parsed.kind === 'info' || parsed.kind === 'image' ? parsed.id : undefined;
}

export interface ImageAnswerer {
  handle(path: string, req?: IiifHttpRequest): Promise<IiifResponse>;
}

/**
 * undefined when the request may go on to the image server; otherwise the not-found answer to
 * send instead. `getImage` is the store's unscoped lookup.
 */
export async function deniedImageAnswer(
  rawPath: string,
  levels: readonly AccessLevel[],
  getImage: (id: string) => Promise<ImageEntry | null>,
  denied: ImageAnswerer,
  req: IiifHttpRequest,
): Promise<IiifResponse | undefined> {
  const id = iiifImageId(rawPath);
  if (id === undefined) return undefined;
  const entry = await getImage(id);
  if (entry && canSee(levels, entry.access)) return undefined;
  return denied.handle(rawPath, req);
}
