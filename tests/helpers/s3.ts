/** Connection settings (src/lib/storage/s3.ts's shape) for an s3rver bucket on loopback. */
export function s3rverSettings(endpoint: string, bucket: string, prefix = 'photos/') {
  return { endpoint, region: 'us-east-1', bucket, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', prefix, forcePathStyle: true };
}
