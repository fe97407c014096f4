/**
 * Request-time cost of the stored-grant lookup (src/lib/access/grant-book.ts), as the gate pays it
 * on every request (`AccessGate.gradedUser`), against the peer measured in the same run: the
 * rules-only path (ACCESS_RULES alone, what every request paid before stored grants).
 *
 *   npm run bench:grants                       # 1000 stored grants, 20000 lookups per case
 *   BENCH_GRANTS=10000 BENCH_LOOKUPS=5000 npm run bench:grants
 *
 * Cases, each over the same identities (a mix: matched by a domain grant, by an address grant, by
 * the rules, by nothing):
 *   rules only   the gate without stored grants
 *   warm         grants cached in the process (the state during GRANTS_CACHE_SECONDS)
 *   cold         the cache emptied before every lookup: each lookup reads every grant from the
 *                SQLite store (the first request after a change, or after the cache lifetime)
 * Wall-clock and CPU time per lookup (CPU stays meaningful on a busy machine), and the ratio to
 * rules only. The store is a file-backed SQLite database in a temporary directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { accessStoreFor } from '../src/lib/access/access-open.ts';
import { AccessGate } from '../src/lib/access/gate.ts';
import { GrantBook } from '../src/lib/access/grant-book.ts';
import type { Grant } from '../src/lib/access/grants.ts';
import { loadConfig } from '../src/lib/config.ts';
import { SqliteStore } from '../src/lib/search/sqlite.ts';
import { prng } from './prng.ts';

const GRANTS = Number(process.env.BENCH_GRANTS ?? 1000);
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 20_000);
const COLD_LOOKUPS = Math.min(LOOKUPS, Number(process.env.BENCH_COLD_LOOKUPS ?? 2000));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-grants-'));
try {
  const cfg = loadConfig(
    {
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      ACCESS_MODE: 'header',
      ACCESS_TRUSTED_PROXIES: '127.0.0.1',
      ACCESS_RULES: JSON.stringify({ staff: ['curator@example.org', '*@archive.example.org'], members: ['*@example.ac.jp', 'guest@example.com'] }),
    },
    dir,
  );
  const store = new SqliteStore(path.join(dir, 'archive.sqlite'));
  await store.init();
  const access = (await accessStoreFor(store))!;
  const rand = prng(16);
  const now = Date.now();
  for (let i = 0; i < GRANTS; i++) {
    const domain = `lab${i}.example.org`;
    const g: Grant = {
      id: `g${i}`,
      pattern: i % 2 === 0 ? `*@${domain}` : `reader${i}@${domain}`,
      level: i % 10 === 0 ? 'staff' : 'members',
      ...(i % 3 === 0 ? { until: new Date(now + (1 + Math.floor(rand() * 365)) * 86_400_000).toISOString() } : {}),
      reason: `request ${i}`,
      granted_by: 'curator@example.org',
      granted_at: new Date(now - i * 1000).toISOString(),
    };
    await access.saveGrant(g, { id: `grant.add/${g.granted_at}/${g.id}`, at: g.granted_at, type: 'grant.add', actor: g.granted_by, grant_id: g.id, before: null, after: g });
  }
  const identities: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const k = Math.floor(rand() * GRANTS);
    const r = i % 4;
    identities.push(r === 0 ? `someone${i}@lab${k - (k % 2)}.example.org` : r === 1 ? `reader${k | 1}@lab${k | 1}.example.org` : r === 2 ? `student${i}@example.ac.jp` : `nobody${i}@elsewhere.example.com`);
  }

  const plain = new AccessGate({ access: cfg.access, publicBaseUrl: cfg.publicBaseUrl });
  const book = new GrantBook({ store: async () => access, rules: cfg.access.rules, ttlMs: 3600_000, log: () => {} });
  const graded = new AccessGate({ access: cfg.access, publicBaseUrl: cfg.publicBaseUrl });
  graded.grants = book;

  async function measure(name: string, n: number, before: (() => void) | undefined, gate: AccessGate) {
    // Warm-up, then the timed loop.
    for (let i = 0; i < Math.min(200, n); i++) await gate.gradedUser(identities[i % identities.length]!, undefined, 'header');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let raised = 0;
    for (let i = 0; i < n; i++) {
      before?.();
      const u = await gate.gradedUser(identities[i % identities.length]!, undefined, 'header');
      if (u.grant) raised++;
    }
    const wall = (performance.now() - t0) / n;
    const cpuUs = process.cpuUsage(cpu0);
    const cpu = (cpuUs.user + cpuUs.system) / 1000 / n;
    return { name, n, wall, cpu, raised };
  }

  const rows = [
    await measure('rules only', LOOKUPS, undefined, plain),
    await measure('warm (cached grants)', LOOKUPS, undefined, graded),
    await measure('cold (store read each time)', COLD_LOOKUPS, () => book.invalidate(), graded),
  ];
  const base = rows[0]!;
  console.log(`stored grants: ${GRANTS}; identities: ${identities.length}; store reads in the cold case: ${book.loads}`);
  console.log(`load average: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (${os.cpus().length} CPUs)\n`);
  console.log('| case | lookups | wall µs/lookup | CPU µs/lookup | × rules only (wall) | × rules only (CPU) | raised by a grant |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.n} | ${(r.wall * 1000).toFixed(2)} | ${(r.cpu * 1000).toFixed(2)} | ${(r.wall / base.wall).toFixed(1)} | ${(r.cpu / base.cpu).toFixed(1)} | ${((100 * r.raised) / r.n).toFixed(0)} % |`,
    );
  }
  await store.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
