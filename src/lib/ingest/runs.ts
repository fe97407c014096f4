/**
 * Run records of the ingest stages: a JSON line when a (non-dry) run starts and one when it
 * finishes, appended to `<DATA_DIR>/ingest-runs.jsonl`; a start without its finish is a run that
 * is still going or was killed, and `status` says which stage to re-run. The status command and the admin page show the last run of each
 * stage from it. Kept in a file rather than in the search store so that it works the same for
 * every store backend and survives rebuilding the store; the file is trimmed to the last
 * `KEEP` runs.
 */
import fs from 'node:fs';
import os from 'node:os';
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
  /** Id shared with the run's start line (absent in records written before starts were). */
  id?: string;
  /** Rows skipped and files that could not be read (the first MAX_PROBLEMS), for the admin page. */
  problems?: Array<{ file: string; sheet?: string; row?: number; message: string }>;
}

/** The line written when a run starts. */
export interface RunStart {
  event: 'start';
  id: string;
  stage: Stage;
  startedAt: string;
  pid: number;
  host: string;
}

/** A run that started and has not finished: still running, or killed (state by its process). */
export interface UnfinishedRun extends Omit<RunStart, 'event'> {
  state: 'running' | 'interrupted';
}

/** Most problems kept in one run record. */
export const MAX_PROBLEMS = 100;

export const RUNS_FILE = 'ingest-runs.jsonl';
const KEEP = 500;

export function runsPath(dataDir: string): string {
  return path.join(dataDir, RUNS_FILE);
}

export function appendRun(dataDir: string, run: RunRecord | RunStart): void {
  const file = runsPath(dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.appendFileSync(file, JSON.stringify(run) + '\n');
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  if (lines.length > 4 * KEEP) {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, lines.slice(-2 * KEEP).join('\n') + '\n');
    fs.renameSync(tmp, file);
  }
}

/** Writes the start line of a run; returns its id, to be given to the finished record. */
export function startRun(dataDir: string, stage: Stage, startedAt = new Date()): string {
  const id = `${startedAt.toISOString()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  appendRun(dataDir, { event: 'start', id, stage, startedAt: startedAt.toISOString(), pid: process.pid, host: os.hostname() });
  return id;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Per stage, the latest run that started after the stage's last finished run and has no finish
 * line: `running` while its process (on this host) lives, else `interrupted` (killed, crashed,
 * the machine went down).
 */
export function unfinishedRuns(dataDir: string): Partial<Record<Stage, UnfinishedRun>> {
  let text: string;
  try {
    text = fs.readFileSync(runsPath(dataDir), 'utf8');
  } catch {
    return {};
  }
  const starts = new Map<string, RunStart>();
  const finished = new Set<string>();
  const lastFinished = new Map<Stage, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let r: Partial<RunStart & RunRecord>;
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    if (!r || !STAGES.includes(r.stage as Stage)) continue;
    if (r.event === 'start' && typeof r.id === 'string') starts.set(r.id, r as RunStart);
    else if (typeof r.finishedAt === 'string') {
      if (r.id) finished.add(r.id);
      lastFinished.set(r.stage as Stage, r.startedAt ?? r.finishedAt);
    }
  }
  const out: Partial<Record<Stage, UnfinishedRun>> = {};
  for (const s of starts.values()) {
    if (finished.has(s.id)) continue;
    const after = lastFinished.get(s.stage);
    if (after !== undefined && s.startedAt <= after) continue;
    if (out[s.stage] && out[s.stage]!.startedAt > s.startedAt) continue;
    const { event: _event, ...rest } = s;
    out[s.stage] = { ...rest, state: s.host === os.hostname() && alive(s.pid) ? 'running' : 'interrupted' };
  }
  return out;
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
