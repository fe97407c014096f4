/**
 * The gate on plain node:http, in front of everything the process serves — including what the
 * Astro adapter answers before any middleware runs (the built `/_astro/*` bundles and `public/`
 * files). `scripts/start.ts` wraps its request listener with `guard()`.
 *
 * On success the identity is handed to the Astro middleware in a request header carrying this
 * process's secret (`AccessGate.vouch`); any such header a client sends is removed first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VOUCH_HEADER, type AccessGate, type GateOutcome, type User } from './gate.ts';
import type { IiifHttpOptions } from '../images/http.ts';

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

/** Whether an image server answer is the image (or its 304): what the access audit records. */
export function answeredImage(status: number): boolean {
  return status === 200 || status === 304;
}

/**
 * The gate's part of the IIIF adapter (src/lib/images/http.ts) for one that runs without the front
 * (src/lib/front/front.ts does the same itself): authenticate (`authorize`), then hand the user's
 * levels to the image server, which decides per image, once per resolved source, and answers an
 * image the user may not see exactly like one that does not exist. Served images are noted in the
 * access audit.
 */
export function iiifGate(gate: AccessGate): Required<Pick<IiifHttpOptions, 'authorize' | 'levels' | 'answered'>> {
  return {
    authorize: async (req, res) => (await authenticateNode(gate, req, res)) !== undefined,
    levels: (req) => userOf(req)?.levels ?? [],
    answered: (req, path, status) => {
      if (answeredImage(status)) gate.audit?.noteRequest(`/iiif/${path}`, userOf(req));
    },
  };
}
