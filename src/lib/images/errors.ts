/**
 * The one error type of the image server. It carries the HTTP status the client gets, a sentence
 * it can read and, rarely, headers (Retry-After on 503); anything that is not an `IiifError`
 * reaching the top of a request is a server fault (500, logged).
 */
export class IiifError extends Error {
  readonly status: number;
  readonly headers: Record<string, string> | undefined;

  constructor(status: number, message: string, headers?: Record<string, string>) {
    super(message);
    this.name = 'IiifError';
    this.status = status;
    this.headers = headers;
  }
}

export const badRequest = (message: string): IiifError => new IiifError(400, message);
export const notFound = (message: string): IiifError => new IiifError(404, message);
/**
 * The answer for an identifier the store does not know — and, word for word, for an image the user
 * may not see (the server must not tell the two apart: src/lib/images/server.ts).
 */
export const noSuchImage = (id: string): IiifError => notFound(`No image with identifier ${quote(id)}`);
/** 503 with Retry-After (seconds): the server is busy, the request may be repeated later. */
export const busy = (message: string, retryAfterSeconds: number): IiifError =>
  new IiifError(503, message, { 'Retry-After': String(Math.max(1, Math.round(retryAfterSeconds))) });

/** Quote untrusted text for an error message: bounded length, control characters escaped. */
export function quote(value: string, max = 80): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}
