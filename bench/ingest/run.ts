/**
 * Benchmark of the ingest pipeline's normalize and sync stages, each against a peer measured in the
 * same run on the same data, printed as one table.
 *
 *   node bench/ingest/run.ts
 *   BENCH_FILES=20000 BENCH_PUTS=1000 node bench/ingest/run.ts      # smaller
 *   BENCH_KEEP=1 node bench/ingest/run.ts                            # keep the temp dir
 *
 * normalize  a generated raw delivery of BENCH_FILES files (default 73,000) in 20 drifting batch
 *            folders (full-width digits, round-NN, dates, sub-batches; classification subfolders;
 *            reference-only shots; three bibliography versions, a request form and junk per
 *            batch), into an empty clean tree; again with nothing changed; then a new delivery
 *            (one more batch). Peer: `cp -rs`, coreutils' mirrored tree of symlinks of the same
 *            delivery (less work: no rules, no meta.json, no diff).
 * sync PUT   BENCH_PUTS objects (default 3,000) of 32 KiB to s3rver with 16 workers, store records
 *            flushed as it goes. Peer: a bare AWS SDK loop, PutObject with 16 in flight, same
 *            files, same server, same client settings.
 * sync again BENCH_FILES images (0-byte files of the normalize run): (a) all recorded in the store
 *            (a re-run after a complete sync); (b) a fresh store and every object in the bucket
 *            (the objects are written straight into s3rver's directory, in its own layout, to set
 *            this up in seconds). Peers: HEAD per object with 16 in flight — what a sync that asked
 *            the server about every object would do — measured on BENCH_HEADS keys (default 5,000)
 *            and projected to all; and a bare LIST of the prefix.
 *
 * s3rver runs in its own process on 127.0.0.1 (tests/ingest/helpers/s3rver-process.ts), so its work
 * is not on the measured event loop; on a 2-core machine it still competes for the CPU, which the
 * peers share equally. Bounded: sizes are fixed, and the whole run stops after BENCH_SECONDS
 * (default 1200).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { normalize, normalizeProblems } from '../../src/lib/ingest/normalize.ts';
import { syncToS3 } from '../../src/lib/ingest/sync.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { ItemInput } from '../../src/lib/search/store.ts';
import { objectKey } from '../../src/lib/storage/keys.ts';
import { createS3Client } from '../../src/lib/storage/s3.ts';
import { startS3rverProcess } from '../../tests/ingest/helpers/s3.ts';
import { BATCHES, writeBatch, writeDelivery } from './delivery.ts';

const FILES = Number(process.env.BENCH_FILES ?? 73_000);
const PUTS = Number(process.env.BENCH_PUTS ?? 3_000);
const HEADS = Math.min(Number(process.env.BENCH_HEADS ?? 5_000), FILES);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1200);
const PREFIX = 'photos/';
const CREDS = { region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', prefix: PREFIX, forcePathStyle: true };

const watchdog = setTimeout(() => {
  console.error(`bench/ingest: stopped after ${SECONDS} s (BENCH_SECONDS)`);
  process.exit(1);
}, SECONDS * 1000);
watchdog.unref();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ingest-'));
const log = (s: string) => process.stderr.write(`${s}\n`);

async function timed<T>(fn: () => Promise<T> | T): Promise<{ s: number; user: number; sys: number; value: T }> {
  await settle();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { s, user: c.user / 1e6, sys: c.system / 1e6, value };
}

/** "some" I/O pressure of the last 10 s (Linux PSI), or undefined. */
function ioPressure(): number | undefined {
  try {
    return Number(/avg10=([\d.]+)/.exec(fs.readFileSync('/proc/pressure/io', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/** Flush dirty pages and wait (at most 20 s) until the disk is quiet, so a phase does not pay for the last one's writes. */
async function settle(): Promise<void> {
  spawnSync('sync');
  for (let i = 0; i < 40 && (ioPressure() ?? 0) > 2; i++) await new Promise((r) => setTimeout(r, 500));
}

const cpu = (t: { user: number; sys: number }) => `${t.user.toFixed(1)} + ${t.sys.toFixed(1)} s`;

// ------------------------------------------------------------------------------------------------

interface Row {
  what: string;
  figure: string;
  cpu: string;
  goal: string;
  peer: string;
  peerFigure: string;
  peerCpu: string;
  ratio: string;
}
const rows: Row[] = [];

const startLoad = os.loadavg().map((x) => x.toFixed(1)).join(' ');

async function main() {
  log(`bench/ingest in ${tmp} (${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);

  // ---------------------------------------------------------------------------------------- normalize
  const delivery = path.join(tmp, 'delivery');
  const gen = await timed(() => writeDelivery(delivery, FILES));
  log(`delivery of ${FILES} files written in ${gen.s.toFixed(1)} s`);
  const clean = path.join(tmp, 'clean');

  // cp -rs, with its CPU time from bash's `times` (children: user, system)
  const cp = await timed(() => spawnSync('bash', ['-c', 'cp -rs "$1" "$2" && times', 'bash', delivery, path.join(tmp, 'cp-rs')], { encoding: 'utf8' }));
  if (cp.value.status !== 0) throw new Error(`cp -rs failed: ${cp.value.stderr}`);
  const [cu, cs] = (cp.value.stdout.trim().split('\n')[1] ?? '').split(/\s+/).map((t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  });
  const cpCpu = { user: cu ?? NaN, sys: cs ?? NaN };

  const full = await timed(() => normalize({ deliveries: [delivery], cleanRoot: clean }));
  const images = full.value.batches.reduce((n, b) => n + b.images, 0);
  if (normalizeProblems(full.value).length) throw new Error(normalizeProblems(full.value).join('\n'));
  log(`normalize: ${full.value.files} files, ${images} images linked, ${full.value.totals.added} links in ${full.s.toFixed(2)} s`);
  const again = await timed(() => normalize({ deliveries: [delivery], cleanRoot: clean }));
  if (again.value.totals.added + again.value.totals.changed + again.value.totals.removed !== 0) throw new Error('re-run changed the tree');
  const newDelivery = path.join(tmp, 'delivery-2');
  const newFiles = writeBatch(newDelivery, BATCHES + 1, Math.floor(FILES / BATCHES));
  const inc = await timed(() => normalize({ deliveries: [newDelivery], cleanRoot: clean }));
  const cps = cp.s;
  rows.push(
    { what: `normalize: ${FILES.toLocaleString('en')} files into an empty clean tree`, figure: `${full.s.toFixed(2)} s`, cpu: cpu(full), goal: '< 5 s', peer: 'cp -rs (same delivery)', peerFigure: `${cps.toFixed(2)} s`, peerCpu: cpu(cpCpu), ratio: `${(full.s / cps).toFixed(2)}×` },
    { what: 'normalize: the same again, nothing changed', figure: `${again.s.toFixed(2)} s`, cpu: cpu(again), goal: '', peer: 'cp -rs', peerFigure: `${cps.toFixed(2)} s`, peerCpu: cpu(cpCpu), ratio: `${(again.s / cps).toFixed(2)}×` },
    { what: `normalize: a new delivery (${newFiles.toLocaleString('en')} files, 1 batch)`, figure: `${inc.s.toFixed(2)} s`, cpu: cpu(inc), goal: '', peer: 'cp -rs', peerFigure: `${cps.toFixed(2)} s`, peerCpu: cpu(cpCpu), ratio: `${(inc.s / cps).toFixed(2)}×` },
  );

  // ---------------------------------------------------------------------------------------- s3rver
  const s3dir = path.join(tmp, 's3rver');
  fs.mkdirSync(s3dir);
  const server = await startS3rverProcess(s3dir);
  // A new client (new keep-alive sockets) for each measured phase: s3rver closes idle sockets after
  // 5 s, and a request sent on one it just closed fails with "socket hang up".
  const clients: Array<ReturnType<typeof createS3Client>> = [];
  const fresh = () => {
    const c = createS3Client({ ...CREDS, endpoint: server.url }, { maxAttempts: 1, maxSockets: 64 });
    clients.push(c);
    return c;
  };
  let client = fresh();
  try {
    // ------------------------------------------------------------------------------------ PUT rate
    const putRoot = path.join(tmp, 'put-clean');
    fs.mkdirSync(path.join(putRoot, 'P'), { recursive: true });
    const items: ItemInput[] = [];
    for (let i = 1; i <= PUTS; i++) {
      const id = `P-${String(i).padStart(5, '0')}`;
      fs.writeFileSync(path.join(putRoot, 'P', `${id}.jpg`), randomBytes(32 * 1024));
      items.push({ id, batch: 'P', title: { en: id }, images: [{ id, file: `P/${id}.jpg` }] });
    }
    const putStore = new SqliteStore(path.join(tmp, 'put.sqlite'));
    await putStore.init();
    await putStore.upsert(items);
    for (const b of ['put-ours', 'put-peer', 'present']) await client.send(new CreateBucketCommand({ Bucket: b }));

    client = fresh();
    const peerPut = await timed(async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < items.length) {
            const it = items[next++]!;
            const body = await fs.promises.readFile(path.join(putRoot, it.images[0]!.file));
            await client.send(new PutObjectCommand({ Bucket: 'put-peer', Key: `${PREFIX}${it.id}.jpg`, Body: body, ContentLength: body.length, ContentType: 'image/jpeg' }));
          }
        }),
      );
    });
    client = fresh();
    const ours = await timed(() => syncToS3({ store: putStore, client, bucket: 'put-ours', prefix: PREFIX, cleanRoot: putRoot, concurrency: 16 }));
    if (ours.value.uploaded !== PUTS || ours.value.failed.length) throw new Error(`sync: ${JSON.stringify(ours.value.failed.slice(0, 3))}`);
    const ourRate = PUTS / ours.s;
    const peerRate = PUTS / peerPut.s;
    rows.push({
      what: `sync: PUT ${PUTS.toLocaleString('en')} × 32 KiB, 16 workers (incl. store records)`,
      figure: `${ourRate.toFixed(0)} PUT/s`,
      cpu: cpu(ours),
      goal: '≥ 300 PUT/s',
      peer: 'bare SDK PutObject loop, 16 in flight',
      peerFigure: `${peerRate.toFixed(0)} PUT/s`,
      peerCpu: cpu(peerPut),
      ratio: `${(ourRate / peerRate).toFixed(2)}×`,
    });
    await putStore.close();

    // ------------------------------------------------------------------------------ re-runs at scale
    const store = new SqliteStore(path.join(tmp, 'rerun.sqlite'));
    await store.init();
    const all: ItemInput[] = [];
    for (const b of fs.readdirSync(clean)) {
      for (const e of fs.readdirSync(path.join(clean, b), { withFileTypes: true })) {
        if (!e.isSymbolicLink() || !/\.jpg$/.test(e.name)) continue;
        const id = e.name.slice(0, -4);
        all.push({ id, batch: b, title: { en: id }, images: [{ id, file: `${b}/${e.name}` }] });
      }
    }
    const load = await timed(async () => {
      for (let i = 0; i < all.length; i += 5000) await store.upsert(all.slice(i, i + 5000));
    });
    log(`store: ${all.length} records upserted in ${load.s.toFixed(1)} s (setup)`);

    // every object present in the bucket, written in s3rver's own layout (setup)
    const put = await timed(() => {
      const md5 = createHash('md5').update('').digest('hex');
      const meta = JSON.stringify({ 'content-type': 'image/jpeg' });
      const dir = path.join(s3dir, 'present', 'photos');
      fs.mkdirSync(dir, { recursive: true });
      for (const it of all) {
        const key = objectKey({ id: it.images[0]!.id, file: it.images[0]!.file }, PREFIX).slice(PREFIX.length);
        fs.writeFileSync(path.join(dir, `${key}._S3rver_object`), '');
        fs.writeFileSync(path.join(dir, `${key}._S3rver_object.md5`), md5);
        fs.writeFileSync(path.join(dir, `${key}._S3rver_metadata.json`), meta);
      }
    });
    log(`bucket: ${all.length} objects written into s3rver's directory in ${put.s.toFixed(1)} s (setup)`);

    // (b) fresh store, everything in the bucket: LIST snapshot, records, no PUT
    client = fresh();
    const cold = await timed(() => syncToS3({ store, client, bucket: 'present', prefix: PREFIX, cleanRoot: clean, concurrency: 16 }));
    if (cold.value.present !== all.length || cold.value.uploaded !== 0) throw new Error(`cold re-run: ${JSON.stringify({ ...cold.value, failed: cold.value.failed.length })}`);
    client = fresh();
    const list = await timed(async () => {
      let token: string | undefined;
      let n = 0;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: 'present', Prefix: PREFIX, MaxKeys: 1000, ContinuationToken: token }));
        n += page.Contents?.length ?? 0;
        token = page.NextContinuationToken;
      } while (token);
      return n;
    });
    // (a) everything recorded: the re-run after a complete sync
    const warm = await timed(() => syncToS3({ store, client, bucket: 'present', prefix: PREFIX, cleanRoot: clean, concurrency: 16 }));
    if (warm.value.alreadyMarked !== all.length || warm.value.requests.list + warm.value.requests.head + warm.value.requests.put !== 0) {
      throw new Error(`warm re-run made requests: ${JSON.stringify(warm.value.requests)}`);
    }
    client = fresh();
    const heads = await timed(async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < HEADS) {
            const it = all[next++]!;
            await client.send(new HeadObjectCommand({ Bucket: 'present', Key: objectKey({ id: it.id, file: it.images[0]!.file }, PREFIX) }));
          }
        }),
      );
    });
    const headAll = (heads.s / HEADS) * all.length;
    const n = all.length.toLocaleString('en');
    rows.push(
      {
        what: `sync again: ${n} images, all recorded (0 requests)`,
        figure: `${warm.s.toFixed(2)} s`,
        cpu: cpu(warm),
        goal: '< 15 s',
        peer: `HEAD each, 16 in flight (${HEADS.toLocaleString('en')} measured, projected)`,
        peerFigure: `${headAll.toFixed(1)} s`,
        peerCpu: cpu({ user: (heads.user / HEADS) * all.length, sys: (heads.sys / HEADS) * all.length }),
        ratio: `${(warm.s / headAll).toFixed(3)}×`,
      },
      {
        what: `sync again: ${n} in the bucket, store knows none (${cold.value.listing.pages} LIST pages)`,
        figure: `${cold.s.toFixed(2)} s`,
        cpu: cpu(cold),
        goal: '',
        peer: `bare LIST of the prefix (${list.value.toLocaleString('en')} keys)`,
        peerFigure: `${list.s.toFixed(2)} s`,
        peerCpu: cpu(list),
        ratio: `${(cold.s / list.s).toFixed(2)}×`,
      },
    );
    await store.close();
  } finally {
    for (const c of clients) c.destroy();
    await server.stop();
  }

  // ------------------------------------------------------------------------------------------ table
  const head: Row = { what: 'measurement', figure: 'wall', cpu: 'CPU user + sys', goal: 'goal', peer: 'peer (same run, same data)', peerFigure: 'peer wall', peerCpu: 'peer CPU', ratio: 'ours/peer (wall)' };
  const cols = Object.keys(head) as Array<keyof Row>;
  const w = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => [...r[c]].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => `| ${cols.map((c) => r[c] + ' '.repeat(w[c] - [...r[c]].length)).join(' | ')} |`;
  console.log(
    `\ningest pipeline — ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), Node ${process.versions.node}; load average at the start ${startLoad}, at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
  );
  console.log('CPU is this process (or cp) only; s3rver runs in its own process. PUT/s: higher is better; ratios of PUT/s are ours/peer, of times ours/peer.\n');
  console.log(line(head));
  console.log(`|${cols.map((c) => '-'.repeat(w[c] + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
}

try {
  await main();
} finally {
  if (process.env.BENCH_KEEP) log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}
