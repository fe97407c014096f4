/**
 * The bounded processing queue in front of every libvips job (renders, pyramid builds).
 *
 * At most `concurrency` jobs run at once, and together they may claim at most `memoryBudget` bytes
 * of their estimated working memory; a job over the whole budget runs only when it is alone. Jobs
 * that cannot start wait in FIFO order (no overtaking, so a large job is not starved by small
 * ones), at most `maxWaiting` of them and at most `maxWaitMs` each. Beyond that the request is
 * refused at once with 503 and Retry-After: under overload the server sheds work instead of
 * exhausting memory or CPU.
 */
import { busy } from './errors.ts';

export interface QueueOptions {
  concurrency: number;
  maxWaiting: number;
  /** Bytes of estimated working memory all running jobs may claim together. */
  memoryBudget: number;
  /** Longest wait in the queue before giving up with 503 (default 30 s). */
  maxWaitMs?: number;
}

interface Waiter {
  cost: number;
  start: () => void;
  timer: NodeJS.Timeout;
}

export interface QueueStats {
  running: number;
  waiting: number;
  memoryInUse: number;
  rejected: number;
  completed: number;
}

export class RenderQueue {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  readonly #budget: number;
  readonly #maxWaitMs: number;
  readonly #waiting: Waiter[] = [];
  #running = 0;
  #memory = 0;
  #rejected = 0;
  #completed = 0;
  /** Moving average of job durations (ms), for Retry-After. */
  #avgMs = 50;

  constructor(opts: QueueOptions) {
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency));
    this.#maxWaiting = Math.max(0, Math.floor(opts.maxWaiting));
    this.#budget = Math.max(1, opts.memoryBudget);
    this.#maxWaitMs = opts.maxWaitMs ?? 30_000;
  }

  stats(): QueueStats {
    return { running: this.#running, waiting: this.#waiting.length, memoryInUse: this.#memory, rejected: this.#rejected, completed: this.#completed };
  }

  #fits(cost: number): boolean {
    if (this.#running === 0) return true;
    return this.#running < this.#concurrency && this.#memory + cost <= this.#budget;
  }

  #retryAfter(): number {
    // Time for the queue ahead to drain with the current parallelism, at least a second.
    return Math.ceil(((this.#waiting.length + this.#running) * this.#avgMs) / this.#concurrency / 1000) + 1;
  }

  /**
   * Run `job` when there is room; 503 (IiifError) when the queue is full or the wait too long.
   * `first`: the job goes ahead of the waiting ones (a pyramid build that many waiting tiles of a
   * viewer need: it unblocks them all), still within the concurrency and the memory budget.
   */
  async run<T>(estimatedBytes: number, job: () => Promise<T>, opts: { first?: boolean } = {}): Promise<T> {
    const cost = Math.min(Math.max(0, estimatedBytes), this.#budget);
    if (this.#waiting.length === 0 && this.#fits(cost)) return this.#start(cost, job);
    if (this.#waiting.length >= this.#maxWaiting && !opts.first) {
      this.#rejected++;
      throw busy('The image server is busy; try again shortly', this.#retryAfter());
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        start: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const i = this.#waiting.indexOf(waiter);
          if (i >= 0) this.#waiting.splice(i, 1);
          this.#rejected++;
          reject(busy('The image server is busy; try again shortly', this.#retryAfter()));
          this.#drain();
        }, this.#maxWaitMs),
      };
      if (opts.first) this.#waiting.unshift(waiter);
      else this.#waiting.push(waiter);
    });
    return this.#start(cost, job, true);
  }

  async #start<T>(cost: number, job: () => Promise<T>, reserved = false): Promise<T> {
    if (!reserved) {
      this.#running++;
      this.#memory += cost;
    }
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      this.#avgMs = this.#avgMs * 0.9 + (performance.now() - t0) * 0.1;
      this.#running--;
      this.#memory -= cost;
      this.#completed++;
      this.#drain();
    }
  }

  /** Start waiting jobs, in order, while they fit. Slots are reserved here, before they resume. */
  #drain(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      if (!this.#fits(next.cost)) return;
      this.#waiting.shift();
      this.#running++;
      this.#memory += next.cost;
      next.start();
    }
  }
}
