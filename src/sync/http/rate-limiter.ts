import type { Clock } from './clock.ts';

export interface PacingOptions {
  requestsPerSecond?: number;
  requestsPerMinute?: number;
  /** Requests allowed back to back before pacing starts; default 1 (strictly even spacing). */
  burst?: number;
}

/**
 * Token bucket with reservations: each caller takes a token now, possibly driving the balance negative,
 * and waits until its token would have been refilled. Waiters therefore line up in arrival order at
 * exactly the configured rate, with no polling loop.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerMs: number,
    private readonly capacity: number,
    private readonly clock: Clock,
  ) {
    if (!(ratePerMs > 0) || !(capacity >= 1)) throw new Error('TokenBucket needs a positive rate and a capacity of at least 1');
    this.tokens = capacity;
    this.updatedAt = clock.now();
  }

  /** Reserves one token; returns how long the caller must wait before using it. */
  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.ratePerMs);
    this.updatedAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.ratePerMs);
  }
}

export function bucketsFor(pacing: PacingOptions | undefined, clock: Clock): TokenBucket[] {
  if (!pacing) return [];
  const burst = pacing.burst ?? 1;
  const buckets: TokenBucket[] = [];
  if (pacing.requestsPerSecond !== undefined) buckets.push(new TokenBucket(pacing.requestsPerSecond / 1000, burst, clock));
  if (pacing.requestsPerMinute !== undefined) buckets.push(new TokenBucket(pacing.requestsPerMinute / 60_000, burst, clock));
  return buckets;
}

/** Counting semaphore: at most `limit` holders; waiters are served first in, first out. */
export class ConcurrencyGate {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new Error('ConcurrencyGate needs a limit of at least 1');
  }

  get inFlight(): number {
    return this.active;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.active < this.limit) {
      this.active += 1;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(grant);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal?.reason);
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    // The releasing holder handed its slot straight to us, so `active` is unchanged.
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active -= 1;
    };
  }
}
