/**
 * Okta's org-wide rate limits: a bucket per endpoint family, each with a limit per window (a minute in
 * Okta; shorter in tests), published on every response as X-Rate-Limit-Limit/-Remaining/-Reset (Reset in
 * epoch seconds); an exhausted bucket answers 429 E0000047 until it resets. Buckets are shared by every
 * client of the org, which is why a client paces on Remaining instead of counting its own calls.
 */

export type BucketName = 'users' | 'user' | 'groups' | 'logs' | 'eventHooks' | 'token' | 'other';

export interface RateLimitRule {
  limit: number;
  /** 60 000 in Okta. */
  windowMs: number;
}

/** The legacy per-minute table: users list 600, user GET 1,000–2,000, groups 500–600, logs 50–120. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<BucketName, RateLimitRule>> = {
  users: { limit: 600, windowMs: 60_000 },
  user: { limit: 2000, windowMs: 60_000 },
  groups: { limit: 500, windowMs: 60_000 },
  logs: { limit: 120, windowMs: 60_000 },
  eventHooks: { limit: 100, windowMs: 60_000 },
  token: { limit: 600, windowMs: 60_000 },
  other: { limit: 1200, windowMs: 60_000 },
};

export const DEFAULT_CONCURRENCY_LIMIT = 75;

interface Window {
  startedAt: number;
  used: number;
}

export interface RateVerdict {
  allowed: boolean;
  headers: Record<string, string>;
}

export class RateLimits {
  private rules: Record<BucketName, RateLimitRule>;
  private readonly windows = new Map<BucketName, Window>();
  concurrencyLimit = DEFAULT_CONCURRENCY_LIMIT;
  private inFlight = 0;
  /** 429s answered, by bucket (and `concurrency`). */
  readonly refused: Record<string, number> = {};

  constructor(
    private readonly now: () => number,
    rules: Partial<Record<BucketName, RateLimitRule>> = {},
  ) {
    this.rules = { ...DEFAULT_RATE_LIMITS, ...rules };
  }

  setRules(rules: Partial<Record<BucketName, RateLimitRule>>): void {
    this.rules = { ...this.rules, ...rules };
    for (const name of Object.keys(rules) as BucketName[]) this.windows.delete(name);
  }

  reset(): void {
    this.rules = { ...DEFAULT_RATE_LIMITS };
    this.windows.clear();
    this.concurrencyLimit = DEFAULT_CONCURRENCY_LIMIT;
  }

  rulesNow(): Record<BucketName, RateLimitRule> {
    return { ...this.rules };
  }

  private window(bucket: BucketName): Window {
    const rule = this.rules[bucket];
    const now = this.now();
    let window = this.windows.get(bucket);
    if (!window || now >= window.startedAt + rule.windowMs) {
      window = { startedAt: now, used: 0 };
      this.windows.set(bucket, window);
    }
    return window;
  }

  private headersOf(bucket: BucketName, window: Window): Record<string, string> {
    const rule = this.rules[bucket];
    return {
      'x-rate-limit-limit': String(rule.limit),
      'x-rate-limit-remaining': String(Math.max(0, rule.limit - window.used)),
      // Rounded up, so a client that waits until Reset never arrives before the window has turned.
      'x-rate-limit-reset': String(Math.ceil((window.startedAt + rule.windowMs) / 1000)),
    };
  }

  /** Counts one call against `bucket`; refused once the window's calls are spent (refused calls do not count). */
  take(bucket: BucketName): RateVerdict {
    const window = this.window(bucket);
    if (window.used >= this.rules[bucket].limit) {
      this.refused[bucket] = (this.refused[bucket] ?? 0) + 1;
      return { allowed: false, headers: this.headersOf(bucket, window) };
    }
    window.used += 1;
    return { allowed: true, headers: this.headersOf(bucket, window) };
  }

  /** Another client of the org spends `calls` of the bucket's window. */
  consume(bucket: BucketName, calls: number): void {
    const window = this.window(bucket);
    window.used = Math.min(this.rules[bucket].limit, window.used + calls);
  }

  /** Enters a request into the org's concurrency count; false (and not entered) when the org is at its limit. */
  enter(): boolean {
    if (this.inFlight >= this.concurrencyLimit) {
      this.refused.concurrency = (this.refused.concurrency ?? 0) + 1;
      return false;
    }
    this.inFlight += 1;
    return true;
  }

  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }
}

/** Which bucket an API path draws on. */
export function bucketOf(path: string): BucketName {
  if (path === '/oauth2/v1/token') return 'token';
  if (path === '/api/v1/users') return 'users';
  if (path.startsWith('/api/v1/users/')) return 'user';
  if (path.startsWith('/api/v1/groups')) return 'groups';
  if (path === '/api/v1/logs') return 'logs';
  if (path.startsWith('/api/v1/eventHooks')) return 'eventHooks';
  return 'other';
}
