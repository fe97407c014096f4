/**
 * A circuit breaker for one remote service: after `threshold` consecutive failures it OPENS and
 * callers fail fast (no request, no queued socket) for a cool-down; then ONE trial call is let
 * through (half-open): success closes the breaker, failure opens it again with a longer cool-down
 * (doubling up to `maxCoolDownMs`). So a dead endpoint costs one request per cool-down instead of
 * one per client request, and the service is used again by itself within `maxCoolDownMs` after it
 * is back.
 *
 * State changes are logged once each (opened with the reason, closed again), never per request.
 */

export class CircuitOpenError extends Error {
  /** Seconds until the next trial call. */
  readonly retryAfterSeconds: number;
  constructor(service: string, reason: string, retryAfterMs: number) {
    super(`${service} is unavailable (${reason}); next try in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'CircuitOpenError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

export interface BreakerOptions {
  /** Name for log lines and errors, e.g. "S3 bucket photos". */
  service: string;
  /** Consecutive failures that open the breaker (default 3). */
  threshold?: number;
  /** First cool-down, ms (default 2 s). */
  coolDownMs?: number;
  /** Longest cool-down, ms (default 10 s). */
  maxCoolDownMs?: number;
  log?: (line: string) => void;
  /** One line for an error in the log (default: its message). */
  describe?: (err: unknown) => string;
  now?: () => number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  readonly service: string;
  readonly #threshold: number;
  readonly #coolDown: number;
  readonly #maxCoolDown: number;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #describe: (err: unknown) => string;
  #failures = 0;
  #openUntil = 0;
  #currentCoolDown: number;
  #trial = false;
  #open = false;
  #reason = '';

  constructor(opts: BreakerOptions) {
    this.service = opts.service;
    this.#threshold = Math.max(1, opts.threshold ?? 3);
    this.#coolDown = opts.coolDownMs ?? 2_000;
    this.#maxCoolDown = Math.max(this.#coolDown, opts.maxCoolDownMs ?? 10_000);
    this.#currentCoolDown = this.#coolDown;
    this.#log = opts.log ?? ((line) => process.stderr.write(line + '\n'));
    this.#now = opts.now ?? (() => performance.now());
    this.#describe = opts.describe ?? ((err) => String((err as Error)?.message ?? err));
  }

  get state(): BreakerState {
    if (!this.#open) return 'closed';
    return this.#now() >= this.#openUntil ? 'half-open' : 'open';
  }

  /** Why it is open (the last failure), or '' when closed. */
  get reason(): string {
    return this.#open ? this.#reason : '';
  }

  /**
   * Run `fn` unless the breaker is open. `isFailure(err)` decides which errors count against the
   * service (an answer like 404 does not); default: every error.
   */
  async run<T>(fn: () => Promise<T>, isFailure: (err: unknown) => boolean = () => true): Promise<T> {
    if (this.#open) {
      const wait = this.#openUntil - this.#now();
      if (wait > 0 || this.#trial) throw new CircuitOpenError(this.service, this.#reason, Math.max(wait, 1000));
      this.#trial = true;
    }
    let trial = this.#trial;
    try {
      const out = await fn();
      this.#success();
      return out;
    } catch (err) {
      if (isFailure(err)) this.#failure(err);
      else this.#success();
      trial = false;
      throw err;
    } finally {
      if (trial) this.#trial = false;
    }
  }

  #success(): void {
    this.#failures = 0;
    this.#trial = false;
    if (this.#open) {
      this.#open = false;
      this.#currentCoolDown = this.#coolDown;
      this.#log(JSON.stringify({ t: new Date().toISOString(), level: 'info', event: 'dependency_recovered', service: this.service }));
    }
  }

  #failure(err: unknown): void {
    this.#failures++;
    this.#reason = this.#describe(err).split('\n')[0]!.slice(0, 200);
    const wasTrial = this.#trial;
    this.#trial = false;
    if (this.#open && wasTrial) {
      this.#currentCoolDown = Math.min(this.#maxCoolDown, this.#currentCoolDown * 2);
      this.#openUntil = this.#now() + this.#currentCoolDown;
      return;
    }
    if (!this.#open && this.#failures >= this.#threshold) {
      this.#open = true;
      this.#openUntil = this.#now() + this.#currentCoolDown;
      this.#log(
        JSON.stringify({ t: new Date().toISOString(), level: 'error', event: 'dependency_unavailable', service: this.service, reason: this.#reason, failures: this.#failures }),
      );
    }
  }
}
