/**
 * The one module that constructs an S3 client. S3-compatible servers (MinIO, s3rver, Ceph, R2)
 * need path-style addressing and a custom endpoint, and several reject the checksums the SDK now
 * adds by default, so checksums are sent only when an operation requires them.
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
  /** Longest wait for a response, ms (default 5 min: a large PUT on a slow link). */
  requestTimeoutMs?: number;
}

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
      httpAgent: { keepAlive: true, maxSockets: opts.maxSockets ?? 50 },
      httpsAgent: { keepAlive: true, maxSockets: opts.maxSockets ?? 50 },
    },
  });
}
