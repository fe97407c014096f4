/**
 * The one error type of the image server. It carries the HTTP status the client gets and a
 * sentence it can read; anything that is not an `IiifError` reaching the top of a request is a
 * server fault (500, logged).
 */
export class IiifError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'IiifError';
    this.status = status;
  }
}

export const badRequest = (message: string): IiifError => new IiifError(400, message);
export const notFound = (message: string): IiifError => new IiifError(404, message);

/** Quote untrusted text for an error message: bounded length, control characters escaped. */
export function quote(value: string, max = 80): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}
