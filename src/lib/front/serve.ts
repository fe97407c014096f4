/**
 * The archive's request listener, composed once from the process-wide services: the front
 * (./front.ts) with the access gate and the image server of src/lib/runtime.ts, in front of `app` (Astro's handler under `npm start`, Vite's under
 * `astro dev`).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { config } from '../config.ts';
import { access, imageServer } from '../runtime.ts';
import { createFront } from './front.ts';

export function archiveListener(app: (req: IncomingMessage, res: ServerResponse) => void): RequestListener {
  return createFront({
    gate: access(),
    images: imageServer,
    app,
    logRequests: config().logRequests,
  });
}
