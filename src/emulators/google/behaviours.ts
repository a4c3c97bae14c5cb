/** Throttling and fault injection for API calls, switched on and off per test. */
import { ApiBehaviours } from '../kit/api-behaviours.ts';
import type { FaultKind, FaultRuleBase } from '../kit/faults.ts';
import { seededRandom } from '../kit/seeded-random.ts';
import { SimpleThrottle } from '../kit/simple-throttle.ts';

export type { FaultKind } from '../kit/faults.ts';

export type ThrottleReason = 'userRateLimitExceeded' | 'quotaExceeded';

export type ThrottleRule =
  /** Refuses about this fraction of requests (0–1), chosen by a seeded generator so runs repeat. */
  | { fraction: number; reason?: ThrottleReason }
  /** Allows this many requests per subject in each rolling minute, refuses the rest. */
  | { perMinute: number; reason?: ThrottleReason };

export interface FaultRule extends FaultRuleBase {
  /** For server-error: 500 (backendError) or 503 (serviceUnavailable); default 503. */
  status?: 500 | 502 | 503;
}

export type ThrottleVerdict = { reason: ThrottleReason; message: string } | undefined;

const MESSAGES: Record<ThrottleReason, string> = {
  userRateLimitExceeded: 'Quota exceeded for quota metric \'Queries\' and limit \'Queries per minute per user\' of service \'admin.googleapis.com\'.',
  quotaExceeded: 'Quota exceeded for quota metric \'Concurrent requests\' of service \'admin.googleapis.com\'.',
};

export class Behaviours extends ApiBehaviours<FaultRule> {
  private readonly throttle: SimpleThrottle<ThrottleRule>;

  constructor(seed: number, now: () => number) {
    super(seededRandom(seed));
    this.throttle = new SimpleThrottle(this.random, now);
  }

  /** Counters tests read to check what was actually injected and asked. */
  get stats(): { throttled: number; faults: Record<FaultKind, number>; requests: Record<string, number>; maxInFlight: number } {
    return { throttled: this.throttle.refused, faults: this.faults.injected, requests: this.requests.requests, maxInFlight: this.requests.maxInFlight };
  }

  setThrottle(rule: ThrottleRule | undefined): void {
    this.throttle.set(rule);
  }

  override reset(): void {
    super.reset();
    this.setThrottle(undefined);
  }

  /** Counts one API call of `route` (e.g. `GET /admin/directory/v1/users`) for as long as `work` runs. */
  observe<T>(route: string, work: () => Promise<T>): Promise<T> {
    return this.requests.observe(route, work);
  }

  checkThrottle(subject: string): ThrottleVerdict {
    const refusedBy = this.throttle.check(subject);
    if (!refusedBy) return undefined;
    const reason = refusedBy.reason ?? 'userRateLimitExceeded';
    return { reason, message: MESSAGES[reason] };
  }

  /** The fault to inject into this request, if any; count-based rules are consumed. */
  nextFault(): FaultRule | undefined {
    return this.faults.next();
  }
}
