export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a uniform wait in
 * [0, min(cap, base·2^(n-1))]. Spreading retries over the whole window avoids synchronized retry waves
 * from many connections hitting the same provider.
 */
export function fullJitterDelay(retry: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(retry - 1, 0), 40));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns milliseconds from `now`,
 * never negative; undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
