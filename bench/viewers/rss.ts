/**
 * Resident memory of a server: VmRSS / VmHWM from /proc/<pid>/status, summed over a process and
 * its descendants (lighttpd + its iipsrv FastCGI workers), sampled on an interval.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

export interface ProcMem {
  rssKb: number;
  hwmKb: number;
  /** RssAnon (heap, malloc arenas, thread stacks) and RssFile (mapped binaries and libraries). */
  anonKb: number;
  fileKb: number;
}

/** VmRSS and VmHWM of `pid` (kB), or undefined when it is gone. */
export function procMem(pid: number): ProcMem | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const rss = /VmRSS:\s+(\d+) kB/.exec(s);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(s);
  if (!rss || !hwm) return undefined; // a zombie has no memory lines
  const kb = (re: RegExp) => Number(re.exec(s)?.[1] ?? 0);
  return { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]), anonKb: kb(/RssAnon:\s+(\d+) kB/), fileKb: kb(/RssFile:\s+(\d+) kB/) };
}

/** Reset VmHWM to the current RSS (Linux ≥ 4.0, own or root's processes). */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Every descendant of `root` (children, grandchildren, …), from one scan of /proc. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may contain spaces and parentheses, so split after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [pid, pp] of parent) if (pp === p) (out.push(pid), walk(pid));
  };
  walk(root);
  return out;
}

/** The program's name (basename of argv[0]; a Node main thread's comm is "MainThread"). */
export function commOf(pid: number): string {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return argv0.split('/').pop() || readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

export interface Sample {
  /** ms since the sampler started */
  t: number;
  /** summed VmRSS, MB */
  mb: number;
  /** of which RssAnon and RssFile, MB */
  anonMb: number;
  fileMb: number;
  /** processes counted */
  procs: number;
}

/**
 * Samples the summed VmRSS of `root` and (with `tree`) its descendants every `intervalMs`.
 * `seen` collects every pid counted, with its command name, so the caller can report them, read
 * their VmHWM at the end and make sure none is left running.
 */
export class RssSampler {
  readonly samples: Sample[] = [];
  readonly seen = new Map<number, string>();
  #timer: NodeJS.Timeout | undefined;
  #t0 = performance.now();
  readonly root: number;
  readonly tree: boolean;
  constructor(root: number, tree: boolean) {
    this.root = root;
    this.tree = tree;
  }

  pids(): number[] {
    return this.tree ? [this.root, ...descendants(this.root)] : [this.root];
  }

  sample(): Sample {
    let kb = 0;
    let anon = 0;
    let file = 0;
    let procs = 0;
    for (const pid of this.pids()) {
      const m = procMem(pid);
      if (!m) continue;
      kb += m.rssKb;
      anon += m.anonKb;
      file += m.fileKb;
      procs++;
      if (!this.seen.has(pid)) this.seen.set(pid, commOf(pid));
    }
    const s = { t: performance.now() - this.#t0, mb: kb / 1024, anonMb: anon / 1024, fileMb: file / 1024, procs };
    this.samples.push(s);
    return s;
  }

  start(intervalMs = 250): void {
    this.#t0 = performance.now();
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Forget the samples so far and count time from now (the load starts). */
  rebase(): void {
    this.samples.length = 0;
    this.#t0 = performance.now();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }

  get maxMb(): number {
    return this.peak?.mb ?? 0;
  }

  /** The sample with the highest RSS. */
  get peak(): Sample | undefined {
    return this.samples.reduce<Sample | undefined>((m, s) => (!m || s.mb > m.mb ? s : m), undefined);
  }

  /** Summed VmHWM (MB) of the processes alive now: the exact peak for one process; for several, an upper bound of their simultaneous peak. */
  hwmMb(): number {
    let kb = 0;
    for (const pid of this.pids()) kb += procMem(pid)?.hwmKb ?? 0;
    return kb / 1024;
  }

  resetPeaks(): boolean {
    return this.pids().every((pid) => resetPeak(pid));
  }
}
