/**
 * A one-line progress bar with counts and rates, redrawn in place on a terminal. Given no writer
 * (output is not a TTY) it prints nothing: logs and pipes get only the summary at the end.
 */

export interface Progress {
  /** Report `done` of `total` (0 = unknown), optionally with bytes so far. */
  update(done: number, total?: number, bytes?: number): void;
  /** Clear the line. */
  end(): void;
}

const QUIET: Progress = { update() {}, end() {} };

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The text of one progress line (exported for tests). */
export function progressLine(label: string, done: number, total: number, seconds: number, bytes?: number, width = 24): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const parts = [label.padEnd(10)];
  if (total > 0) {
    const f = Math.min(1, done / total);
    const full = Math.round(f * width);
    parts.push(`[${'#'.repeat(full)}${'.'.repeat(width - full)}]`, `${done}/${total}`, `${Math.floor(f * 100)}%`.padStart(4));
  } else parts.push(String(done));
  parts.push(`${rate >= 100 ? Math.round(rate) : rate.toFixed(1)}/s`);
  if (bytes !== undefined && seconds > 0) parts.push(`${size(bytes / seconds)}/s`);
  if (total > 0 && rate > 0 && done < total) parts.push(`ETA ${duration((total - done) / rate)}`);
  return parts.join(' ');
}

/** A progress bar writing to `write` (a TTY), redrawn at most every `intervalMs`. */
export function progressBar(write: ((text: string) => void) | undefined, label: string, intervalMs = 100): Progress {
  if (!write) return QUIET;
  const started = performance.now();
  let last = 0;
  let shown = false;
  return {
    update(done, total = 0, bytes) {
      const t = performance.now();
      if (t - last < intervalMs && done !== total) return;
      last = t;
      shown = true;
      write(`\r\x1b[2K${progressLine(label, done, total, (t - started) / 1000, bytes)}`);
    },
    end() {
      if (shown) write('\r\x1b[2K');
      shown = false;
    },
  };
}
