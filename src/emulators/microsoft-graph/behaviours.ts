/** Throttling and fault injection for Graph API calls, switched on and off per test. */
import { seededRandom } from './http-kit.ts';

export type GraphThrottleRule =
  /**
   * Graph's resource-unit bucket per app and tenant: `capacity` RU per `windowMs` (Graph: 3,500 / 5,000 /
   * 8,000 per 10 s for small / medium / large tenants). A request costs its route's RU; once the bucket is
   * spent, 429 with Retry-After until enough has refilled.
   */
  | { capacity: number; windowMs?: number; retryAfterSeconds?: number }
  /** Refuses about this fraction of requests (0–1), by a seeded generator so runs repeat. */
  | { fraction: number; retryAfterSeconds?: number };

export type FaultKind = 'server-error' | 'timeout' | 'truncated';

export interface FaultRule {
  kind: FaultKind;
  /** The next `count` requests… */
  count?: number;
  /** …or about this fraction of them. */
  fraction?: number;
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

interface ActiveFault extends FaultRule {
  remaining: number;
}

export class GraphBehaviours {
  private throttle: GraphThrottleRule | undefined;
  private spent: Array<{ at: number; cost: number }> = [];
  private faults: ActiveFault[] = [];
  private readonly random: () => number;
  throttleAnswer: ThrottleAnswerShape = { code: 'TooManyRequests', message: 'Too many requests.' };
  /** Delay added to every API call, so a test can catch a sync part-way through. */
  latencyMs = 0;
  private inFlight = 0;
  readonly stats = {
    throttled: 0,
    faults: { 'server-error': 0, timeout: 0, truncated: 0 } as Record<FaultKind, number>,
    /** API calls answered, by route (e.g. `GET /v1.0/users`). */
    requests: {} as Record<string, number>,
    maxInFlight: 0,
    resourceUnits: 0,
  };

  constructor(
    seed: number,
    private readonly now: () => number,
  ) {
    this.random = seededRandom(seed ^ 0x5eed);
  }

  setThrottle(rule: GraphThrottleRule | undefined): void {
    this.throttle = rule;
    this.spent = [];
  }

  addFault(rule: FaultRule): void {
    if (rule.count === undefined && rule.fraction === undefined) throw new Error('a fault needs count or fraction');
    this.faults.push({ ...rule, remaining: rule.count ?? Number.POSITIVE_INFINITY });
  }

  clearFaults(): void {
    this.faults = [];
  }

  reset(): void {
    this.setThrottle(undefined);
    this.clearFaults();
    this.latencyMs = 0;
    this.throttleAnswer = { code: 'TooManyRequests', message: 'Too many requests.' };
    this.stats.requests = {};
    this.stats.maxInFlight = 0;
  }

  async observe<T>(route: string, work: () => Promise<T>): Promise<T> {
    this.inFlight += 1;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight);
    this.stats.requests[route] = (this.stats.requests[route] ?? 0) + 1;
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return await work();
    } finally {
      this.inFlight -= 1;
    }
  }

  /**
   * Charges a call `cost` RU; a verdict when it is refused. Usage headers (`x-ms-resource-unit`, and
   * `x-ms-throttle-limit-percentage` above 80 %) are written into `headers` either way.
   */
  charge(cost: number, scope: string, headers: Record<string, string>): ThrottleVerdict | undefined {
    headers['x-ms-resource-unit'] = String(cost);
    this.stats.resourceUnits += cost;
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
    this.stats.throttled += 1;
    headers['retry-after'] = String(retryAfterSeconds);
    headers['x-ms-throttle-scope'] = scope;
    headers['x-ms-throttle-information'] = 'ResourceUnitLimitExceeded';
    return { retryAfterSeconds, headers };
  }

  nextFault(): FaultRule | undefined {
    for (const fault of this.faults) {
      if (fault.remaining <= 0) continue;
      const hit = fault.count !== undefined ? true : this.random() < (fault.fraction ?? 0);
      if (!hit) continue;
      fault.remaining -= 1;
      this.stats.faults[fault.kind] += 1;
      return fault;
    }
    this.faults = this.faults.filter((fault) => fault.remaining > 0);
    return undefined;
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
