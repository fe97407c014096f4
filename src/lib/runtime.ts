/**
 * Composition root of the server process: builds each backing service once, from the validated
 * configuration, and hands it out. Routes and middleware call these; nothing else constructs a
 * store or an image source.
 */
import { config } from './config.ts';
import { openStore } from './search/open.ts';
import type { SearchStore } from './search/store.ts';
import { ManifestService } from './iiif/service.ts';
import type { ImageServer } from './images/server.ts';
import { AccessGate } from './access/gate.ts';
import { scopedStore } from './access/scope.ts';
import { probeService, AUTH_CONTEXT } from './access/iiif-auth.ts';
import { accessStoreFor } from './access/access-open.ts';
import type { AccessStore } from './access/access-store.ts';
import { GrantBook } from './access/grant-book.ts';
import { GrantAdmin } from './access/grants-admin.ts';
import { AccessAudit } from './access/audit.ts';

/**
 * `make()` once, shared; but a FAILED attempt is not kept: the next call after a back-off (1 s,
 * doubling to 10 s) tries again, and calls meanwhile get the same error at once (so a dependency
 * that is down is not hammered, and is used again by itself within seconds after it is back).
 */
export function retryingOnce<T>(make: () => Promise<T>, maxBackoffMs = 10_000): () => Promise<T> {
  let current: Promise<T> | undefined;
  let failure: { err: unknown; at: number; backoff: number } | undefined;
  return () => {
    if (current) return current;
    if (failure && performance.now() - failure.at < failure.backoff) return Promise.reject(failure.err);
    const backoff = failure ? Math.min(maxBackoffMs, failure.backoff * 2) : 1000;
    current = make().then(
      (value) => {
        failure = undefined;
        return value;
      },
      (err: unknown) => {
        current = undefined;
        failure = { err, at: performance.now(), backoff };
        throw err;
      },
    );
    return current;
  };
}

const openConfiguredStore = retryingOnce(() => openStore(config()));

/**
 * The store as the current request may see it: reads obey the request's access scope (set by the
 * middleware; see src/lib/access/scope.ts), and refuse to run outside one.
 */
export function store(): Promise<SearchStore> {
  return rawStore().then(scopedStore);
}

/** The store without per-user authorisation: for identifier-to-file lookups and health checks only. */
export function rawStore(): Promise<SearchStore> {
  return openConfiguredStore();
}

const GATE = Symbol.for('iiif-archive.access-gate');

/**
 * The access gate (src/lib/access/gate.ts), one per process: the node:http server in
 * scripts/start.ts and the middleware inside the built app are two module graphs, and both must use
 * the same instance (key cache, hand-over secret, access-token key), so it lives on globalThis.
 */
export function access(): AccessGate {
  const g = globalThis as { [GATE]?: AccessGate };
  if (!g[GATE]) {
    const gate = new AccessGate({ access: config().access, publicBaseUrl: config().publicBaseUrl });
    // Stored grants raise users above the rules; sign-outs are shared through the store.
    gate.grants = grantBook();
    gate.tokens.useStore(accessStore);
    gate.audit = accessAudit();
    g[GATE] = gate;
  }
  return g[GATE];
}

const ACCESS_STORE = Symbol.for('iiif-archive.access-store');
const GRANT_BOOK = Symbol.for('iiif-archive.grant-book');
const ACCESS_AUDIT = Symbol.for('iiif-archive.access-audit');

/**
 * Grants, audit trail and token revocations (src/lib/access/access-store.ts), beside the records
 * in the same store. One per process (globalThis, like the gate), opened on first use.
 */
export function accessStore(): Promise<AccessStore | null> {
  const g = globalThis as { [ACCESS_STORE]?: Promise<AccessStore | null> };
  g[ACCESS_STORE] ??= rawStore()
    .then(accessStoreFor)
    .catch((e: unknown) => {
      g[ACCESS_STORE] = undefined; // tried again by the next use
      throw e;
    });
  return g[ACCESS_STORE];
}

/** The stored grants as the gate consults them, cached for GRANTS_CACHE_SECONDS (grant-book.ts). */
export function grantBook(): GrantBook {
  const g = globalThis as { [GRANT_BOOK]?: GrantBook };
  g[GRANT_BOOK] ??= new GrantBook({ store: accessStore, rules: config().access.rules, ttlMs: config().grants.cacheSeconds * 1000 });
  return g[GRANT_BOOK];
}

/** Grant management for the staff page and the JSON API; null when the store keeps no grants. */
export async function grantAdmin(): Promise<GrantAdmin | null> {
  const store = await accessStore();
  return store && new GrantAdmin({ store, book: grantBook() });
}

/** The access audit (audit.ts): first access per user, restricted item and day. */
export function accessAudit(): AccessAudit {
  const g = globalThis as { [ACCESS_AUDIT]?: AccessAudit };
  g[ACCESS_AUDIT] ??= new AccessAudit({
    store: accessStore,
    item: async (id) => (await rawStore()).get(id),
    image: async (id) => (await rawStore()).getImage(id),
    retentionDays: config().grants.auditRetentionDays,
  });
  return g[ACCESS_AUDIT];
}

/** IIIF Auth 2.0 probe services, when the gate advertises the flow (not in ACCESS_MODE=none). */
function probes(): ((kind: 'image' | 'manifest', id: string) => Record<string, unknown>) | undefined {
  const gate = access();
  return gate.advertisesAuth ? (kind, id) => probeService(gate.publicBaseUrl, kind, id) : undefined;
}

const manifestService = retryingOnce(
  async () =>
    new ManifestService({
      store: await store(),
      sizeOf: async (imageId) => (await imageServer()).sizeOf(imageId),
      base: config().publicBaseUrl,
      auth: probes() && { context: AUTH_CONTEXT, probe: probes()! },
      limits: (await imageServer()).limits,
    }),
);

export function manifests(): Promise<ManifestService> {
  return manifestService();
}

const IMAGE_SERVER = Symbol.for('iiif-archive.image-server.retrying');
const IMAGE_SOURCE = Symbol.for('iiif-archive.image-source');

/**
 * For /readyz (src/lib/health.ts): with IMAGE_SOURCE=s3, a HEAD on the object of the first image
 * the store lists, through the image server's own client, deadline and circuit breaker.
 */
export async function probeImageSource(): Promise<string> {
  await imageServer();
  const source = (globalThis as { [IMAGE_SOURCE]?: { probe?: (id: string) => Promise<string> } })[IMAGE_SOURCE];
  if (!source?.probe) return `${config().images.source}: nothing to probe`;
  const hit = (await (await rawStore()).search({ pageSize: 1 })).hits[0];
  const id = hit?.record.images?.[0]?.id;
  if (!id) return `${config().images.source}: no image recorded yet`;
  return source.probe(id);
}

/**
 * The IIIF Image API server, built once per process from the configuration. It lives on
 * globalThis (like the access gate) so that the node:http front (src/lib/front/, which answers every
 * /iiif/ request through src/lib/images/http.ts) and Astro's bundled routes (manifests need image
 * sizes) share one server: one derivative cache, one processing queue. Identifiers resolve through the store (`getImage(id)`: `file` below IMAGE_ROOT,
 * or with IMAGE_SOURCE=s3 the object named by src/lib/storage/keys.ts). The server is
 * built by src/lib/images/compose.ts on first use (sharp with it), so processes that never serve
 * images (CLI, tests of other parts) do not load libvips.
 */
export function imageServer(): Promise<ImageServer> {
  const slot = globalThis as { [IMAGE_SERVER]?: () => Promise<ImageServer> };
  slot[IMAGE_SERVER] ??= retryingOnce(async () => {
    const { composeImageServer } = await import('./images/compose.ts');
    const log = (message: string, err?: unknown) => console.error(`[iiif] ${message}`, err ?? '');
    const lookup = async (id: string) => (await rawStore()).getImage(id);
    const { server, s3Source } = await composeImageServer(config(), lookup, log, {
      auth: probes() && { context: AUTH_CONTEXT, services: (id: string) => [probes()!('image', id)] },
      // Every request through the front carries the user's levels; one without fails closed.
      enforceAccess: true,
    });
    if (s3Source) (globalThis as { [IMAGE_SOURCE]?: unknown })[IMAGE_SOURCE] = s3Source;
    return server;
  });
  return slot[IMAGE_SERVER]();
}
