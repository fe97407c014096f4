/**
 * The gate on plain node:http, in front of everything the process serves — including what the
 * Astro adapter answers before any middleware runs (the built `/_astro/*` bundles and `public/`
 * files). `scripts/start.ts` wraps its request listener with `guard()`.
 *
 * On success the identity is handed to the Astro middleware in a request header carrying this
 * process's secret (`AccessGate.vouch`); any such header a client sends is removed first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IiifResponse } from '../images/server.ts';
import type { ImageEntry } from '../domain.ts';
import { VOUCH_HEADER, type AccessGate, type GateOutcome, type User } from './gate.ts';
import { deniedImageAnswer, type ImageAnswerer } from './images.ts';
import type { AccessLevel } from '../domain.ts';
import { iiifPath } from '../images/http.ts';

const users = new WeakMap<IncomingMessage, User>();

/** The user the gate let in for this request (for the request log), if any. */
export function userOf(req: IncomingMessage): User | undefined {
  return users.get(req);
}

function writeRefusal(res: ServerResponse, outcome: GateOutcome & { allow: false }): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(outcome.status, { ...outcome.headers, 'Content-Length': Buffer.byteLength(outcome.body) });
  res.end(outcome.body);
}

function writeInternalError(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end('Internal server error\n');
}

/** Authenticates the raw request; writes the refusal, or returns the outcome (and vouches for it). */
export async function authenticateNode(gate: AccessGate, req: IncomingMessage, res: ServerResponse): Promise<(GateOutcome & { allow: true }) | undefined> {
  delete req.headers[VOUCH_HEADER];
  const outcome = await gate.authenticate({
    method: req.method,
    url: req.url ?? '/',
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress,
  });
  if (!outcome.allow) {
    writeRefusal(res, outcome);
    return undefined;
  }
  req.headers[VOUCH_HEADER] = gate.vouch(outcome);
  if (outcome.user) users.set(req, outcome.user);
  return outcome;
}

/** Runs `next` only for requests the gate lets through. Never rejects. */
export function guard(gate: AccessGate, req: IncomingMessage, res: ServerResponse, next: (req: IncomingMessage, res: ServerResponse) => void): void {
  authenticateNode(gate, req, res).then(
    (outcome) => {
      if (outcome) next(req, res);
    },
    (err) => {
      console.error('[access] gate failure', err);
      writeInternalError(res);
    },
  );
}

/**
 * The per-image half of the IIIF adapter's `authorize` hook, for a user the gate has let in with
 * `levels`: an image the user may not see is answered here with the answer for a missing one
 * (false); anything else goes on (true).
 */
export function imageAuthorizer(
  levels: readonly AccessLevel[],
  getImage: (id: string) => Promise<ImageEntry | null>,
  denied: () => Promise<ImageAnswerer>,
  write: (res: ServerResponse, r: IiifResponse, withBody: boolean) => Promise<void>,
  /** Called with the path after /iiif/ of a request let through (the audit trail). */
  onAllowed?: (rawPath: string) => void,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') return true;
    const rawPath = iiifPath(req.url) ?? '';
    const answer = await deniedImageAnswer(rawPath, levels, getImage, await denied(), {
      method,
      headers: req.headers as Record<string, string | undefined>,
    });
    if (!answer) {
      onAllowed?.(rawPath);
      return true;
    }
    await write(res, answer, method === 'GET');
    return false;
  };
}

/**
 * The whole `authorize` hook (authenticate, then `imageAuthorizer`), for an IIIF adapter that
 * runs without the front (src/lib/http/front.ts does the two steps itself).
 */
export function iiifAuthorizer(
  gate: AccessGate,
  getImage: (id: string) => Promise<ImageEntry | null>,
  denied: () => Promise<ImageAnswerer>,
  write: (res: ServerResponse, r: IiifResponse, withBody: boolean) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const outcome = await authenticateNode(gate, req, res);
    if (!outcome) return false;
    return imageAuthorizer(outcome.user?.levels ?? [], getImage, denied, write, (p) => gate.audit?.noteRequest(`/iiif/${p}`, outcome.user))(req, res);
  };
}
