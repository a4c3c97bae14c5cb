/** Throttling and fault injection for Graph API calls, switched on and off per test. */
import { ApiBehaviours } from '../kit/api-behaviours.ts';
import type { FaultKind, FaultRuleBase } from '../kit/faults.ts';
import { seededRandom } from '../kit/seeded-random.ts';

export type { FaultKind } from '../kit/faults.ts';

export type GraphThrottleRule =
  /**
   * Graph's resource-unit bucket per app and tenant: `capacity` RU per `windowMs` (Graph: 3,500 / 5,000 /
   * 8,000 per 10 s for small / medium / large tenants). A request costs its route's RU; once the bucket is
   * spent, 429 with Retry-After until enough has refilled.
   */
  | { capacity: number; windowMs?: number; retryAfterSeconds?: number }
  /** Refuses about this fraction of requests (0–1), by a seeded generator so runs repeat. */
  | { fraction: number; retryAfterSeconds?: number };

export interface FaultRule extends FaultRuleBase {
  /** For server-error; default 503. */
  status?: 500 | 502 | 503 | 504;
}

/**
 * The throttled answer. Its body is not documented exactly [unverified]; `TooManyRequests` is what Graph
 * is seen to send, and tests may change it.
 */
export interface ThrottleAnswerShape {
  code: string;
  message: string;
}

export interface ThrottleVerdict {
  retryAfterSeconds: number;
  /** Headers of a refused call: Retry-After and `x-ms-throttle-scope`. */
  headers: Record<string, string>;
}

/** The tenant size Graph picks a bucket by; the limits per 10 s are Graph's published ones. */
export const RESOURCE_UNIT_LIMITS = { small: 3_500, medium: 5_000, large: 8_000 } as const;

export class GraphBehaviours extends ApiBehaviours<FaultRule> {
  private throttle: GraphThrottleRule | undefined;
  private spent: Array<{ at: number; cost: number }> = [];
  private throttled = 0;
  private resourceUnits = 0;
  throttleAnswer: ThrottleAnswerShape = { code: 'TooManyRequests', message: 'Too many requests.' };

  constructor(
    seed: number,
    private readonly now: () => number,
  ) {
    super(seededRandom(seed ^ 0x5eed));
  }

  get stats(): { throttled: number; faults: Record<FaultKind, number>; requests: Record<string, number>; maxInFlight: number; resourceUnits: number } {
    return { throttled: this.throttled, faults: this.faults.injected, requests: this.requests.requests, maxInFlight: this.requests.maxInFlight, resourceUnits: this.resourceUnits };
  }

  setThrottle(rule: GraphThrottleRule | undefined): void {
    this.throttle = rule;
    this.spent = [];
  }

  override reset(): void {
    super.reset();
    this.setThrottle(undefined);
    this.throttleAnswer = { code: 'TooManyRequests', message: 'Too many requests.' };
  }

  /** Counts one API call of `route` (e.g. `GET /v1.0/users`) for as long as `work` runs. */
  observe<T>(route: string, work: () => Promise<T>): Promise<T> {
    return this.requests.observe(route, work);
  }

  /**
   * Charges a call `cost` RU; a verdict when it is refused. Usage headers (`x-ms-resource-unit`, and
   * `x-ms-throttle-limit-percentage` above 80 %) are written into `headers` either way.
   */
  charge(cost: number, scope: string, headers: Record<string, string>): ThrottleVerdict | undefined {
    headers['x-ms-resource-unit'] = String(cost);
    this.resourceUnits += cost;
    const rule = this.throttle;
    if (!rule) return undefined;
    if ('fraction' in rule) {
      if (this.random() >= rule.fraction) return undefined;
      return this.refuse(rule.retryAfterSeconds ?? 1, scope, headers);
    }
    const windowMs = rule.windowMs ?? 10_000;
    const now = this.now();
    this.spent = this.spent.filter((entry) => now - entry.at < windowMs);
    const used = this.spent.reduce((sum, entry) => sum + entry.cost, 0);
    if (used + cost > rule.capacity) {
      // Enough has refilled once the oldest charges leave the window.
      let freed = 0;
      let waitMs = windowMs;
      for (const entry of this.spent) {
        freed += entry.cost;
        if (used - freed + cost <= rule.capacity) {
          waitMs = entry.at + windowMs - now;
          break;
        }
      }
      return this.refuse(rule.retryAfterSeconds ?? Math.max(1, Math.ceil(waitMs / 1000)), scope, headers);
    }
    this.spent.push({ at: now, cost });
    const percentage = (used + cost) / rule.capacity;
    if (percentage > 0.8) headers['x-ms-throttle-limit-percentage'] = percentage.toFixed(1);
    return undefined;
  }

  private refuse(retryAfterSeconds: number, scope: string, headers: Record<string, string>): ThrottleVerdict {
    this.throttled += 1;
    headers['retry-after'] = String(retryAfterSeconds);
    headers['x-ms-throttle-scope'] = scope;
    headers['x-ms-throttle-information'] = 'ResourceUnitLimitExceeded';
    return { retryAfterSeconds, headers };
  }

  /** The fault to inject into this request, if any; count-based rules are consumed. */
  nextFault(): FaultRule | undefined {
    return this.faults.next();
  }
}

/**
 * What a request costs in resource units, as Graph publishes it: a user read 2 (1 with `$select`), a
 * group's members 3, transitive members 5; other calls 1.
 */
export function resourceUnitCost(route: string, query: URLSearchParams): number {
  const selected = query.has('$select');
  if (/\/transitiveMembers$/.test(route)) return 5;
  if (/\/members$/.test(route)) return selected ? 2 : 3;
  if (/^GET \/v1\.0\/users/.test(route)) return selected ? 1 : 2;
  return 1;
}
