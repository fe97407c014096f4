/**
 * `npm run bench:security`: restricted ≡ missing, in time too (issue 11.4).
 *
 * Starts the built archive (scripts/start.ts) in ACCESS_MODE=header on a temporary demo corpus and,
 * as a signed-in user who may not see the members-only item, asks every surface alternately for
 * that restricted item and for two identifiers that do not exist. Prints, per surface, the median
 * time of each and the two differences: restricted − missing (the leak, if any) against
 * missing′ − missing (the noise of the same measurement). The goal: the first within the second.
 *
 *   npm run bench:security [-- --rounds 300]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '300' }, warmup: { type: 'string', default: '30' } } });
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);

const RESTRICTED = 'R01-0013';
const MISSING = ['R09-9901', 'R09-9902'];
const OUTSIDER = 'reader@example.org';

const SURFACES: Record<string, (id: string) => string> = {
  'item page': (id) => `/items/${id}`,
  manifest: (id) => `/api/iiif/${id}/manifest.json`,
  'info.json': (id) => `/iiif/3/${id}/info.json`,
  tile: (id) => `/iiif/3/${id}/0,0,256,256/256,/0/default.jpg`,
  'probe (image)': (id) => `/auth/iiif/probe/image/${id}`,
  'probe (manifest)': (id) => `/auth/iiif/probe/manifest/${id}`,
  'comparison view': (id) => `/view?items=${id}`,
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-security-'));
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      PUBLIC_BASE_URL: base,
      DEMO_SCALE: '0.15',
      LOG_REQUESTS: 'false',
      ACCESS_MODE: 'header',
      ACCESS_TRUSTED_PROXIES: '127.0.0.1',
      ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'] }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('Archive ready at')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const headers = { 'X-Auth-Request-Email': OUTSIDER };
    const time = async (p: string): Promise<[number, number]> => {
      const t0 = process.hrtime.bigint();
      const r = await fetch(base + p, { headers });
      await r.arrayBuffer();
      return [Number(process.hrtime.bigint() - t0) / 1000, r.status];
    };
    console.log(`bench:security — ${ROUNDS} alternating rounds per surface (after ${WARMUP} warm-up), as a signed-in outsider, ACCESS_MODE=header`);
    console.log(`restricted: ${RESTRICTED} (members only); missing: ${MISSING.join(', ')}\n`);
    const rows: string[][] = [['surface', 'status r/m', 'restricted µs', 'missing µs', "missing′ µs", 'restricted − missing', "missing′ − missing (noise)", 'verdict']];
    for (const [name, url] of Object.entries(SURFACES)) {
      const samples: Record<'r' | 'm' | 'n', number[]> = { r: [], m: [], n: [] };
      const statuses: Record<'r' | 'm' | 'n', number> = { r: 0, m: 0, n: 0 };
      const order: Array<['r' | 'm' | 'n', string]> = [
        ['r', RESTRICTED],
        ['m', MISSING[0]!],
        ['n', MISSING[1]!],
      ];
      for (let i = 0; i < WARMUP + ROUNDS; i++) {
        // Rotate the order each round so no position favours one identifier.
        const rot = [...order.slice(i % 3), ...order.slice(0, i % 3)];
        for (const [k, id] of rot) {
          const [us, status] = await time(url(id));
          statuses[k] = status;
          if (i >= WARMUP) samples[k].push(us);
        }
      }
      const [r, m, n] = [median(samples.r), median(samples.m), median(samples.n)];
      const leak = r - m;
      const noise = n - m;
      const within = Math.abs(leak) <= Math.max(Math.abs(noise), 10) * 2;
      rows.push([name, `${statuses.r}/${statuses.m}`, r.toFixed(0), m.toFixed(0), n.toFixed(0), `${leak >= 0 ? '+' : ''}${leak.toFixed(1)} µs`, `${noise >= 0 ? '+' : ''}${noise.toFixed(1)} µs`, within ? 'within noise' : 'DIFFERS']);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
    for (const [i, row] of rows.entries()) {
      console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | '));
      if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
    }
    console.log('\nverdict: "within noise" when |restricted − missing| ≤ 2 × max(|missing′ − missing|, 10 µs).');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
