/**
 * `astro dev` on the same road as `npm start`: an Astro integration that puts the node:http front
 * (./front.ts: canonical URL, gate, the IIIF adapter, security headers) in front of Vite's dev
 * server, with Vite's `next` in the place of Astro's production handler. Nothing is copied: the
 * same `createFront` and `serveArchive` run in both.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

type Next = (err?: unknown) => void;

interface DevServer {
  middlewares: { use(fn: (req: IncomingMessage, res: ServerResponse, next: Next) => void): void };
}

export function archiveFront(): { name: string; hooks: Record<string, (arg: { server: DevServer }) => void> } {
  return {
    name: 'archive-front',
    hooks: {
      'astro:server:setup': ({ server }) => {
        const nexts = new WeakMap<IncomingMessage, Next>();
        let front: Promise<RequestListener> | undefined;
        server.middlewares.use((req, res, next) => {
          // Vite's own module and HMR requests stay Vite's (they never reach a production server).
          if (req.url?.startsWith('/@') || req.url?.startsWith('/node_modules/') || req.url?.startsWith('/src/')) return next();
          nexts.set(req, next);
          front ??= import('./serve.ts').then(({ archiveListener }) => archiveListener((rq) => nexts.get(rq)!()));
          front.then((listener) => listener(req, res), next);
        });
      },
    },
  };
}
