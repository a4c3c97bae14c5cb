/**
 * Throttling and fault injection for API calls, switched on and off per test. JumpCloud publishes no rate
 * limits [unverified]: throttling is a plain 429, with a Retry-After only when a rule asks for one.
 */

export type ThrottleRule =
  /** Refuses about this fraction of requests (0–1), chosen by a seeded generator so runs repeat. */
  | { fraction: number; retryAfterSeconds?: number }
  /** Allows this many requests per API key in each rolling minute, refuses the rest. */
  | { perMinute: number; retryAfterSeconds?: number };

export type FaultKind = 'server-error' | 'timeout' | 'truncated';

export interface FaultRule {
  kind: FaultKind;
  /** Applies to the next `count` requests… */
  count?: number;
  /** …or to about this fraction of requests. */
  fraction?: number;
  /** For server-error; default 503. */
  status?: 500 | 502 | 503;
}

interface ActiveFault extends FaultRule {
  remaining: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

const LOG_KEPT = 2000;

export class Behaviours {
  private throttle: ThrottleRule | undefined;
  private readonly windows = new Map<string, number[]>();
  private faults: ActiveFault[] = [];
  private state: number;
  /** Delay added to every API call, so a test can catch a sync part-way through. */
  latencyMs = 0;
  private inFlight = 0;
  readonly stats = {
    throttled: 0,
    faults: { 'server-error': 0, timeout: 0, truncated: 0 } as Record<FaultKind, number>,
    /** API calls answered, by route (e.g. `GET /api/systemusers`). */
    requests: {} as Record<string, number>,
    maxInFlight: 0,
    /** The latest API requests (method, path, query), oldest first. */
    log: [] as LoggedRequest[],
  };

  constructor(
    seed: number,
    private readonly now: () => number,
  ) {
    this.state = seed >>> 0;
  }

  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  setThrottle(rule: ThrottleRule | undefined): void {
    this.throttle = rule;
    this.windows.clear();
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
    this.stats.requests = {};
    this.stats.maxInFlight = 0;
    this.stats.log = [];
  }

  /** Counts one API call of `route` for as long as `work` runs, after the configured latency. */
  async observe<T>(route: string, request: LoggedRequest, work: () => T | Promise<T>): Promise<T> {
    this.inFlight += 1;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight);
    this.stats.requests[route] = (this.stats.requests[route] ?? 0) + 1;
    this.stats.log.push(request);
    if (this.stats.log.length > LOG_KEPT) this.stats.log.splice(0, this.stats.log.length - LOG_KEPT);
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return await work();
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Whether to refuse this call with 429; the headers to send with it. */
  checkThrottle(apiKeyLabel: string): { headers: Record<string, string> } | undefined {
    const rule = this.throttle;
    if (!rule) return undefined;
    let refused: boolean;
    if ('fraction' in rule) {
      refused = this.random() < rule.fraction;
    } else {
      const now = this.now();
      const recent = (this.windows.get(apiKeyLabel) ?? []).filter((at) => now - at < 60_000);
      refused = recent.length >= rule.perMinute;
      recent.push(now);
      this.windows.set(apiKeyLabel, recent);
    }
    if (!refused) return undefined;
    this.stats.throttled += 1;
    return { headers: rule.retryAfterSeconds === undefined ? {} : { 'retry-after': String(rule.retryAfterSeconds) } };
  }

  /** The fault to inject into this request, if any; count-based rules are consumed. */
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
