/**
 * The one module that constructs an S3 client. S3-compatible servers (MinIO, s3rver, Ceph, R2)
 * need path-style addressing and a custom endpoint, and several reject the checksums the SDK now
 * adds by default, so checksums are sent only when an operation requires them.
 *
 * Every request has deadlines that THROW (with the installed @smithy/node-http-handler,
 * `requestTimeout` alone only logs a warning; `throwOnRequestTimeout` makes it an error):
 *  - connectionTimeout: the TCP (and TLS) connection;
 *  - requestTimeout: from sending the request to the response headers;
 *  - socketTimeout: idle time on the socket while the body streams.
 * A hung endpoint therefore frees its socket after the deadline, and the bounded pool (maxSockets)
 * cannot fill up with requests that never end. The SDK retries (standard mode: exponential backoff
 * with jitter) up to `maxAttempts`. Callers that serve clients also pass an AbortSignal with their
 * own overall deadline, and go through a circuit breaker (breaker.ts).
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';

/** Endpoint, region, bucket, credentials, key prefix and addressing, as config.ts reads them. */
export type S3Settings = Config['s3'];

export interface S3ClientOptions {
  /** Attempts per request including the first (default 3); the sync stage retries itself and passes 1. */
  maxAttempts?: number;
  /** Sockets per host (default 50). */
  maxSockets?: number;
  /** Longest wait for a connection, ms (default 10 s). */
  connectionTimeoutMs?: number;
  /** Longest wait from sending to the response headers, ms (default 5 min: a large PUT on a slow link). */
  requestTimeoutMs?: number;
  /** Longest silence on the socket, ms (default 60 s). */
  socketTimeoutMs?: number;
}

/** Deadlines for reading images while serving clients: short, so a hung S3 is noticed within seconds. */
export const IMAGE_READ_TIMEOUTS: Required<Omit<S3ClientOptions, 'maxSockets'>> = {
  maxAttempts: 2,
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 5_000,
  socketTimeoutMs: 10_000,
};

export function createS3Client(s3: S3Settings, opts: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: s3.region,
    ...(s3.endpoint && { endpoint: s3.endpoint }),
    forcePathStyle: s3.forcePathStyle,
    ...(s3.accessKeyId && s3.secretAccessKey && { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: opts.maxAttempts ?? 3,
    requestHandler: {
      connectionTimeout: opts.connectionTimeoutMs ?? 10_000,
      requestTimeout: opts.requestTimeoutMs ?? 300_000,
      throwOnRequestTimeout: true,
      socketTimeout: opts.socketTimeoutMs ?? 60_000,
      httpAgent: { keepAlive: true, maxSockets: opts.maxSockets ?? 50 },
      httpsAgent: { keepAlive: true, maxSockets: opts.maxSockets ?? 50 },
    },
  });
}

/** HTTP status and S3 error code of an SDK error, for log lines ("503 SlowDown", "timeout"). */
export function describeS3Error(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  const code = e?.Code ?? (e?.name && e.name !== 'Error' ? e.name : undefined) ?? e?.code;
  const parts: string[] = [];
  if (status) parts.push(`HTTP ${status}`);
  if (code) parts.push(String(code));
  const msg = String(e?.message ?? err).split('\n')[0]!.slice(0, 200);
  if (msg && !parts.includes(msg) && msg !== 'UnknownError') parts.push(msg);
  return parts.join(' ') || 'unknown error';
}

/**
 * True when an S3 error says the service is unavailable (timeouts, refused or reset connections,
 * 5xx, throttling), as opposed to an answer about the object (404, 412, 403).
 */
export function isS3Unavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && status > 0) return status >= 500 || status === 429;
  const name = String(e?.name ?? '');
  const code = String(e?.code ?? '');
  return (
    /Timeout|Abort|NetworkingError|RequestTimeout/i.test(name) ||
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|ECONNABORTED|UND_ERR)/.test(code) ||
    /socket hang up|ECONNRESET|ECONNREFUSED|timed out|aborted|premature close/i.test(String((err as Error)?.message ?? ''))
  );
}
