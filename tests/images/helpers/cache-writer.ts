/**
 * A child process of tests/images/cache-shared.test.ts: one writer of a DiskCache directory that
 * other processes use at the same time (a shared CACHE_DIR). argv: dir, key, writer id, rounds,
 * restarts. Writes `rounds` self-checking bodies under `key`; every `restarts`-th round it also
 * opens the directory afresh (a replica starting next to the running ones). Prints one JSON line:
 * { writes, failures: [messages] }.
 */
import { createHash } from 'node:crypto';
import { DiskCache } from '../../../src/lib/images/cache.ts';

const [dir, key, id, roundsArg, restartsArg] = process.argv.slice(2);
const rounds = Number(roundsArg);
const restarts = Number(restartsArg);

/** A body whose last 32 bytes are the SHA-256 of the rest; sizes vary so a torn read shows. */
export function body(writer: number, seq: number): Buffer {
  const size = 128 * 1024 + ((seq * 7 + writer) % 9) * 32 * 1024;
  const buf = Buffer.alloc(size + 32, (writer * 31 + seq) % 251);
  buf.writeUInt32BE(writer, 0);
  buf.writeUInt32BE(seq, 4);
  createHash('sha256').update(buf.subarray(0, size)).digest().copy(buf, size);
  return buf;
}

const failures: string[] = [];
let writes = 0;
let cache = new DiskCache({ dir: dir!, maxBytes: 1 << 30, log: (m) => failures.push(`log: ${m}`) });
for (let seq = 0; seq < rounds; seq++) {
  if (restarts > 0 && seq % restarts === 0) {
    cache = new DiskCache({ dir: dir!, maxBytes: 1 << 30, log: (m) => failures.push(`log: ${m}`) });
    await cache.ready();
  }
  try {
    await cache.put(key!, '', body(Number(id), seq));
    writes++;
  } catch (err) {
    failures.push(`put ${seq}: ${(err as Error).message}`);
  }
}
process.stdout.write(JSON.stringify({ writes, failures }) + '\n');
