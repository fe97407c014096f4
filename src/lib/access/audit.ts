/**
 * Who consulted restricted items: the access half of the audit trail (grant changes are written
 * by grants-admin.ts with the change itself).
 *
 * `note()` is called for every allowed page, manifest and image request and stays off the hot path
 * of tiles: it is synchronous, and after the first request of a user for an item or image on a day
 * it is one lookup in a Set. Only the first request of a (day, user, item/image) looks the item up
 * (its access level; open items are not logged per user) and queues an event, which is written in
 * a batch a moment later (`flushMs`) with insert-or-ignore: the event id is per day, user and item,
 * so the store keeps the first access of the day across images, kinds and processes.
 *
 * Retention: events older than AUDIT_RETENTION_DAYS are deleted by the writer, at most once an hour.
 */
import { accessEventId, type AccessKind, type AccessStore, type AuditEvent } from './access-store.ts';
import type { AccessLevel } from '../domain.ts';

export interface AuditUser {
  id: string;
  level: AccessLevel;
  grant?: string;
}

export interface AccessAuditOptions {
  store: () => Promise<AccessStore | null>;
  /** The access level of an item, or null if there is no such item. */
  item: (id: string) => Promise<{ access?: AccessLevel } | null>;
  /** The item and access level of an image, or null. */
  image: (id: string) => Promise<{ itemId: string; access: AccessLevel } | null>;
  retentionDays: number;
  /** Delay before queued events are written (default 1000 ms). */
  flushMs?: number;
  now?: () => Date;
  log?: (message: string) => void;
}

const MAX_SEEN = 200_000;
const MAX_QUEUE = 10_000;
const PRUNE_EVERY_MS = 3600_000;

/** Path of a consultation: /items/{id} (page), /api/iiif/{id}/manifest.json, /iiif/{2|3}/{imageId}/… */
export function consultation(path: string): { kind: AccessKind; id: string } | undefined {
  let m = /^\/items\/([^/]+)\/?$/.exec(path);
  if (m) return { kind: 'page', id: safeDecode(m[1]!) };
  m = /^\/api\/iiif\/([^/]+)\/manifest\.json$/.exec(path);
  if (m) return { kind: 'manifest', id: safeDecode(m[1]!) };
  m = /^\/iiif\/[23]\/([^/]+)\/(info\.json$|[^/]+\/[^/]+\/[^/]+\/[^/]+$)/.exec(path);
  if (m) return { kind: 'image', id: safeDecode(m[1]!) };
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export class AccessAudit {
  readonly #opts: AccessAuditOptions;
  readonly #now: () => Date;
  readonly #log: (message: string) => void;
  #day = '';
  readonly #seen = new Set<string>();
  #queue: AuditEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #pending = new Set<Promise<unknown>>();
  #lastPrune = 0;
  /** Item lookups made (tests count them to show that repeated tiles cost none). */
  lookups = 0;

  constructor(opts: AccessAuditOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => new Date());
    this.#log = opts.log ?? ((m) => console.error(`[audit] ${m}`));
  }

  /** `note()` for a request path that consults an item (see `consultation`); other paths are ignored. */
  noteRequest(path: string, user: AuditUser | null | undefined): void {
    if (!user) return;
    const c = consultation(path);
    if (c) this.note(c.kind, c.id, user);
  }

  /** Records that `user` was allowed `kind` of `id` (an item id, or an image id for images). Never throws, never waits. */
  note(kind: AccessKind, id: string, user: AuditUser | null | undefined): void {
    if (!user) return;
    const now = this.#now();
    const day = now.toISOString().slice(0, 10);
    if (day !== this.#day || this.#seen.size >= MAX_SEEN) {
      this.#day = day;
      this.#seen.clear();
    }
    const key = `${kind === 'image' ? 'i' : 'r'}\u0000${user.id}\u0000${id}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    const work = this.#resolve(kind, id, user, now).catch((e: unknown) => {
      this.#seen.delete(key);
      this.#log(`access to ${id} by ${user.id} not recorded: ${(e as Error).message}`);
    });
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
  }

  async #resolve(kind: AccessKind, id: string, user: AuditUser, now: Date): Promise<void> {
    this.lookups++;
    let itemId: string;
    let access: AccessLevel;
    if (kind === 'image') {
      const entry = await this.#opts.image(id);
      if (!entry) return;
      itemId = entry.itemId;
      access = entry.access;
    } else {
      const record = await this.#opts.item(id);
      if (!record) return;
      itemId = id;
      access = record.access ?? 'open';
    }
    if (access === 'open') return;
    const event: AuditEvent = {
      id: accessEventId(user.id, itemId, now),
      at: now.toISOString(),
      type: 'access',
      actor: user.id,
      item_id: itemId,
      kind,
      level: user.level,
      ...(user.grant ? { grant_id: user.grant } : {}),
    };
    if (this.#queue.some((e) => e.id === event.id)) return;
    if (this.#queue.length >= MAX_QUEUE) {
      this.#log(`audit queue full (${MAX_QUEUE} events): access to ${itemId} by ${user.id} dropped`);
      return;
    }
    this.#queue.push(event);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush().catch((e: unknown) => this.#log(`audit write failed: ${(e as Error).message}`));
    }, this.#opts.flushMs ?? 1000);
    this.#timer.unref?.();
  }

  /** Writes what is queued now (tests and shutdown call it; otherwise a timer does). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const events = this.#queue;
    this.#queue = [];
    const store = await this.#opts.store();
    if (!store) return;
    if (events.length > 0) {
      try {
        await store.appendAudit(events);
      } catch (e) {
        // Keep them for the next attempt (bounded by MAX_QUEUE).
        this.#queue = [...events, ...this.#queue].slice(0, MAX_QUEUE);
        throw e;
      }
    }
    const now = this.#now().getTime();
    if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now;
      await store.pruneAudit(new Date(now - this.#opts.retentionDays * 86_400_000).toISOString());
    }
  }
}
