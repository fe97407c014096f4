/**
 * One of several processes sharing one embedded store (tests/faults/sqlite.test.ts):
 * `node store-worker.ts <file> <name> <rounds>` opens the store the way the server does
 * (openStore -> openSqliteStore), then alternates writes (upserts of its own records) and reads
 * (search, get, getImage, count) and prints one JSON line: {name, writes, reads, errors: [...]}.
 */
import { openSqliteStore } from '../../../src/lib/search/sqlite.ts';

const [file, name = 'w', roundsArg = '200'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: store-worker.ts <file> <name> <rounds>\n');
  process.exit(2);
}
const rounds = Number(roundsArg);
const errors: string[] = [];
let writes = 0;
let reads = 0;
const store = await openSqliteStore(file);
for (let i = 0; i < rounds; i++) {
  try {
    const id = `${name}-${i % 50}`;
    await store.upsert([
      { id, batch: 'R01', title: { ja: `東京 ${name} ${i}`, en: `Tokyo ${name} ${i}` }, images: [{ id: `${id}_p001`, file: `${name}/${i % 50}.jpg` }] },
    ]);
    writes++;
    const r = await store.search({ q: 'Tokyo', pageSize: 5 });
    if (!(r.total >= 1)) errors.push(`round ${i}: search found nothing`);
    if (!(await store.get(id))) errors.push(`round ${i}: ${id} not found after writing it`);
    await store.getImage(`${id}_p001`);
    await store.count();
    reads += 4;
  } catch (e) {
    errors.push(`round ${i}: ${(e as Error).message}`);
  }
}
await store.close();
process.stdout.write(JSON.stringify({ name, writes, reads, errors: errors.slice(0, 20) }) + '\n');
process.exit(errors.length ? 1 : 0);
