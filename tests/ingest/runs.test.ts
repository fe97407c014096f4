/**
 * Run records (issue 12, item 5): each stage writes its run record when it starts and completes it
 * when it ends, so `archive status` shows a run that was killed, and which stage to re-run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { unfinishedRuns } from '../../src/lib/ingest/runs.ts';
import { image, workbook } from './fixtures/delivery.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-runs-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const cli = (argv: string[], env: Record<string, string>) => runCli(tmp, argv, env);

const runsModule = path.resolve('src/lib/ingest/runs.ts');

describe('run records', () => {
  it('a run killed mid-way shows as interrupted in status, with the stage to re-run; a finished run clears it', async () => {
    const dataDir = path.join(tmp, 'data');
    const env = { DATA_DIR: dataDir, IMAGE_ROOT: path.join(tmp, 'clean') };
    await image(path.join(tmp, 'delivery', 'R01', 'R01-0001.jpg'), 20, 20);
    await workbook(path.join(tmp, 'delivery', 'R01', '書誌_R01.xlsx'), { 書誌: [{ id: 'R01-0001', images: 'R01-0001.jpg' }] });
    expect((await cli(['normalize', path.join(tmp, 'delivery')], env)).code).toBe(0);

    // A process that starts an index run and is killed (SIGKILL) before it finishes.
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `const { startRun } = await import(${JSON.stringify(runsModule)}); startRun(${JSON.stringify(dataDir)}, 'index'); process.kill(process.pid, 'SIGKILL');`],
      { encoding: 'utf8' },
    );
    expect(child.signal).toBe('SIGKILL');
    expect(unfinishedRuns(dataDir)).toMatchObject({ index: { stage: 'index', pid: child.pid, state: 'interrupted' } });
    const status = await cli(['status'], env);
    expect(status.out).toMatch(new RegExp(`index +INTERRUPTED: started .*process ${child.pid} .*never finished; run archive index again`));
    expect(status.out).not.toMatch(/normalize +INTERRUPTED/);
    const json = JSON.parse((await cli(['status', '--json'], env)).out);
    expect(json.unfinished.index.state).toBe('interrupted');

    // Re-running the stage completes a run of its own: the interruption is history.
    expect((await cli(['index'], env)).code).toBe(0);
    expect(unfinishedRuns(dataDir)).toEqual({});
    expect((await cli(['status'], env)).out).not.toMatch(/INTERRUPTED/);
  });
});
