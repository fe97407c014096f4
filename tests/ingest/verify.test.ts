/**
 * `archive sync --verify` (issue 18, item 8): an object deleted behind the archive's back stays
 * "in S3" for a plain sync and status; --verify compares the store's upload records with the
 * bucket (bounded: HEAD per object when there are few, one LIST snapshot otherwise), uploads again
 * what is missing, and status shows when the bucket was last verified.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { createS3Client } from '../../src/lib/storage/s3.ts';
import { image, workbook } from './fixtures/delivery.ts';
import { ACCESS_KEY, REGION, SECRET_KEY, startS3, type S3Fixture } from './helpers/s3.ts';

let tmp: string;
let s3: S3Fixture;
let client: S3Client;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-verify-'));
  s3 = await startS3();
  client = createS3Client({ region: REGION, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, prefix: 'photos/', forcePathStyle: true, endpoint: s3.endpoint });
});
afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

const cli = (argv: string[], env: Record<string, string>) => runCli(tmp, argv, env);

async function setUp(name: string, count: number) {
  await client.send(new CreateBucketCommand({ Bucket: name }));
  const env = {
    DATA_DIR: path.join(tmp, name, 'data'),
    IMAGE_ROOT: path.join(tmp, name, 'clean'),
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: name,
    S3_REGION: REGION,
    S3_ACCESS_KEY_ID: ACCESS_KEY,
    S3_SECRET_ACCESS_KEY: SECRET_KEY,
  };
  const dir = path.join(tmp, name, 'delivery', 'R01');
  const rows = [];
  for (let i = 1; i <= count; i++) {
    const id = `R01-${String(i).padStart(4, '0')}`;
    await image(path.join(dir, `${id}.jpg`), 16, 16, 60 + (i % 100));
    rows.push({ id, images: `${id}.jpg` });
  }
  await workbook(path.join(dir, '書誌_R01.xlsx'), { 書誌: rows });
  expect((await cli(['normalize', path.join(tmp, name, 'delivery')], env)).code).toBe(0);
  expect((await cli(['index'], env)).code).toBe(0);
  expect((await cli(['sync'], env)).code).toBe(0);
  return env;
}

const exists = (bucket: string, key: string) =>
  client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    () => false,
  );

describe('archive sync --verify', () => {
  for (const [name, count, how] of [
    ['verify-few', 3, 'HEAD per object'],
    ['verify-many', 70, 'one LIST snapshot'],
  ] as const) {
    it(`finds an object deleted behind the archive's back and uploads it again (${count} images: ${how})`, async () => {
      const env = await setUp(name, count);
      expect((await cli(['status'], env)).out).toContain('bucket never verified');
      await client.send(new DeleteObjectCommand({ Bucket: name, Key: 'photos/R01-0002.jpg' }));

      // A plain sync trusts its records: nothing to do, and the object stays missing.
      const plain = await cli(['sync'], env);
      expect(plain.out).toMatch(new RegExp(`uploaded 0 objects .*${count} already recorded`));
      expect(await exists(name, 'photos/R01-0002.jpg')).toBe(false);

      const dry = await cli(['sync', '--verify', '--dry-run'], env);
      expect(dry.err).toContain('missing from the bucket: photos/R01-0002.jpg (its upload was recorded)');
      expect(await exists(name, 'photos/R01-0002.jpg')).toBe(false);

      const before = s3.log.length;
      const v = await cli(['sync', '--verify'], env);
      const requests = s3.log.slice(before).map((r) => r.kind);
      expect(v.code).toBe(0);
      expect(v.err).toContain('missing from the bucket: photos/R01-0002.jpg (its upload was recorded); uploaded again');
      expect(v.out).toContain(`verified ${count} recorded uploads: ${count - 1} in the bucket, 1 missing (uploaded again)`);
      expect(await exists(name, 'photos/R01-0002.jpg')).toBe(true);
      // Bounded: one HEAD per object when there are few, else one LIST page; one PUT for the missing one.
      const heads = requests.filter((k) => k === 'head').length;
      if (count < 64) expect(heads).toBe(count);
      else expect([heads, requests.filter((k) => k === 'list').length]).toEqual([0, 1]);
      expect(requests.filter((k) => k === 'put')).toHaveLength(1);

      const status = await cli(['status'], env);
      expect(status.out).toMatch(new RegExp(`bucket last verified \\d{4}-\\d\\d-\\d\\dT.*: ${count} recorded uploads checked, 1 missing \\(1 uploaded again\\)`));
      // Verified again: all there.
      expect((await cli(['sync', '--verify'], env)).out).toContain(`verified ${count} recorded uploads: ${count} in the bucket, 0 missing`);
    });
  }
});
