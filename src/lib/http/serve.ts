/**
 * The archive's request listener, composed once from the process-wide services: the front
 * (./front.ts) with the access gate, the image server and the store's image lookup of
 * src/lib/runtime.ts, in front of `app` (Astro's handler under `npm start`, Vite's under
 * `astro dev`).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { config } from '../config.ts';
import { access, deniedImageServer, imageServer, rawStore } from '../runtime.ts';
import { createFront } from './front.ts';

export function archiveListener(app: (req: IncomingMessage, res: ServerResponse) => void): RequestListener {
  return createFront({
    gate: access(),
    images: imageServer,
    getImage: async (id) => (await rawStore()).getImage(id),
    denied: deniedImageServer,
    app,
    logRequests: config().logRequests,
  });
}
