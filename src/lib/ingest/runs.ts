/**
 * Run records of the ingest stages: one JSON line per finished (non-dry) run, appended to
 * `<DATA_DIR>/ingest-runs.jsonl`. The status command and the admin page show the last run of each
 * stage from it. Kept in a file rather than in the search store so that it works the same for
 * every store backend and survives rebuilding the store; the file is trimmed to the last
 * `KEEP` runs.
 */
import fs from 'node:fs';
import path from 'node:path';

export type Stage = 'normalize' | 'index' | 'sync' | 'demo';
export const STAGES: readonly Stage[] = ['normalize', 'index', 'sync', 'demo'];

export interface RunRecord {
  stage: Stage;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  /** The CLI exit code: 0 done, 1 done but something was skipped or failed, 3 failure. */
  exitCode: number;
  /** One line, as printed at the end of the run. */
  summary: string;
  counts: Record<string, number>;
  /** Rows skipped and files that could not be read (the first MAX_PROBLEMS), for the admin page. */
  problems?: Array<{ file: string; sheet?: string; row?: number; message: string }>;
}

/** Most problems kept in one run record. */
export const MAX_PROBLEMS = 100;

export const RUNS_FILE = 'ingest-runs.jsonl';
const KEEP = 500;

export function runsPath(dataDir: string): string {
  return path.join(dataDir, RUNS_FILE);
}

export function appendRun(dataDir: string, run: RunRecord): void {
  const file = runsPath(dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.appendFileSync(file, JSON.stringify(run) + '\n');
  const runs = readRuns(dataDir);
  if (runs.length > 2 * KEEP) {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, runs.slice(-KEEP).map((r) => JSON.stringify(r)).join('\n') + '\n');
    fs.renameSync(tmp, file);
  }
}

/** Every recorded run, oldest first; unreadable lines are skipped. */
export function readRuns(dataDir: string): RunRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(runsPath(dataDir), 'utf8');
  } catch {
    return [];
  }
  const out: RunRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as RunRecord;
      if (r && STAGES.includes(r.stage) && typeof r.finishedAt === 'string') out.push(r);
    } catch {
      // a line cut short by a crash: ignored
    }
  }
  return out;
}

/** The last run of each stage, and the last one that finished with exit code 0. */
export function lastRuns(dataDir: string): Record<Stage, { last?: RunRecord; lastOk?: RunRecord }> {
  const out = Object.fromEntries(STAGES.map((s) => [s, {}])) as Record<Stage, { last?: RunRecord; lastOk?: RunRecord }>;
  for (const r of readRuns(dataDir)) {
    out[r.stage].last = r;
    if (r.exitCode === 0) out[r.stage].lastOk = r;
  }
  return out;
}
