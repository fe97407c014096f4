import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, main, usage, type CliIO } from '../../src/cli.ts';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
const hasSqlite = existsSync(path.resolve(import.meta.dirname, '../../src/lib/search/sqlite.ts'));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ingest-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    env: { DATA_DIR: path.join(dir, 'data'), ...env },
    cwd: dir,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('archive CLI', () => {
  it('prints help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(usage());
    for (const name of Object.keys(COMMANDS)) expect(r.out).toContain(`  ${name}`);
    expect((await run(['help', 'load'])).out).toMatch(/^usage: archive load \[--batch <id>\] <file\.xlsx>\.\.\./);
    expect((await run(['status', '--help'])).code).toBe(0);
  });

  it('exits 2 on usage errors', async () => {
    expect((await run([])).code).toBe(2);
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^archive: unknown command "frobnicate"/);
    expect((await run(['load'])).err).toMatch(/^archive load: missing arguments\nusage: archive load/);
    expect((await run(['load', '--nope', 'x.xlsx'])).code).toBe(2);
    expect((await run(['status', 'extra'])).code).toBe(2);
    expect((await run(['demo', '--scale', '7'])).err).toMatch(/--scale must be a number in \(0, 1\]/);
  });

  it('reports configuration errors in one sentence, exit 2', async () => {
    const r = await run(['status'], { PORT: 'eighty' });
    expect(r.code).toBe(2);
    expect(r.err).toBe('archive: configuration error: PORT: must be a whole number, got "eighty"');
  });

  it('exits 2 without a stack trace when run as a program', async () => {
    const r = await promisify(execFile)(process.execPath, [CLI, 'status'], {
      env: { ...process.env, STORE_BACKEND: 'mongodb', DATA_DIR: path.join(dir, 'data') },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('archive: configuration error: STORE_BACKEND: must be one of sqlite, elasticsearch, got "mongodb"');
  });

  describe.skipIf(!hasSqlite)('with the SQLite store', () => {
    it('loads a bibliography, printing skipped rows as file:sheet:row, exit 1', async () => {
      const wb = new ExcelJS.Workbook();
      const ws = wb.addWorksheet('書誌');
      ws.addRow(['第3回納品']);
      ws.addRow(['資料番号', '題名', '画像ファイル', '幅', '謎の列']);
      ws.addRow(['Z-1', '函館港', 'Z-1.jpg', 4000, '']);
      ws.addRow(['Z-2', '長崎', 'Z-2.jpg', '広い', '']);
      const file = path.join(dir, 'R03.xlsx');
      await wb.xlsx.writeFile(file);

      const r = await run(['load', file]);
      expect(r.code).toBe(1);
      expect(r.err.split('\n')).toEqual([
        `${file}:書誌:4: width (幅) "広い" is not a whole number of pixels`,
        `warning: ${file}:書誌: column "謎の列" is not mapped to any field; ignored`,
      ]);
      expect(r.out).toBe('loaded 1 record from 1 file; 1 new, 0 updated; 1 row skipped');
      expect((await run(['status'])).out).toMatch(/^store: sqlite .*archive\.sqlite\nrecords: 1 {3}images: 1 {3}in S3: 0 images\n/);
    });

    it('generates the demo delivery and runs the pipeline on it', async () => {
      const env = { DATA_DIR: path.join(dir, 'demo') };
      const first = await run(['demo', '--scale', '0.05'], env);
      expect(first.code).toBe(0);
      // A progress line every 5 s of drawing (more of them on a loaded machine), always the last one.
      expect(first.err).toMatch(/^generating the demo delivery in .*demo\/delivery …\n( {2}images: \d+\/51\n)* {2}images: 51\/51\ndemo delivery written in [\d.]+ s; running the pipeline on it$/);
      expect(first.out.split('\n').slice(-2)).toEqual([
        'normalized 2 batches (47 images, 59 files looked at); links: 49 new, 0 changed, 0 removed, 0 unchanged',
        'indexed 40 records from 2 workbooks in 2 batches; 40 new, 0 updated; 47 image sizes read from the files',
      ]);
      const second = await run(['demo'], env);
      expect(second.err).toMatch(/already present/);
      expect(second.out.split('\n').slice(-1)).toEqual(['indexed 40 records from 2 workbooks in 2 batches; 0 new, 40 updated; 47 image sizes read from the files']);
      const status = (await run(['status'], env)).out;
      expect(status).toMatch(/^records: 40 {3}images: 47 {3}in S3: 0 images$/m);
      expect(status).toMatch(/^ {2}demo {7}\S+ \(\d+ s ago\), [\d.]+ s, exit 0: reused the demo delivery; indexed 40 records/m);
    });
  });
});
