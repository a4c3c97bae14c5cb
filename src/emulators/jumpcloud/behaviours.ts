/**
 * Throttling and fault injection for API calls, switched on and off per test. JumpCloud publishes no rate
 * limits [unverified]: throttling is a plain 429, with a Retry-After only when a rule asks for one.
 */
import { FaultInjector, type FaultKind, type FaultRuleBase } from '../kit/faults.ts';
import { RequestStats } from '../kit/request-stats.ts';
import { seededRandom } from '../kit/seeded-random.ts';
import { SimpleThrottle } from '../kit/simple-throttle.ts';

export type { FaultKind } from '../kit/faults.ts';

export type ThrottleRule =
  /** Refuses about this fraction of requests (0–1), chosen by a seeded generator so runs repeat. */
  | { fraction: number; retryAfterSeconds?: number }
  /** Allows this many requests per API key in each rolling minute, refuses the rest. */
  | { perMinute: number; retryAfterSeconds?: number };

export interface FaultRule extends FaultRuleBase {
  /** For server-error; default 503. */
  status?: 500 | 502 | 503;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

const LOG_KEPT = 2000;

export class Behaviours {
  private readonly throttle: SimpleThrottle<ThrottleRule>;
  private readonly faults: FaultInjector<FaultRule>;
  private readonly requests = new RequestStats();
  /** The latest API requests (method, path, query), oldest first. */
  private log: LoggedRequest[] = [];

  constructor(seed: number, now: () => number) {
    // One generator for throttle and faults, so a seed fixes the whole sequence.
    const random = seededRandom(seed);
    this.throttle = new SimpleThrottle(random, now);
    this.faults = new FaultInjector(random);
  }

  /** Delay added to every API call, so a test can catch a sync part-way through. */
  get latencyMs(): number {
    return this.requests.latencyMs;
  }

  set latencyMs(ms: number) {
    this.requests.latencyMs = ms;
  }

  get stats(): { throttled: number; faults: Record<FaultKind, number>; requests: Record<string, number>; maxInFlight: number; log: LoggedRequest[] } {
    return { throttled: this.throttle.refused, faults: this.faults.injected, requests: this.requests.requests, maxInFlight: this.requests.maxInFlight, log: this.log };
  }

  setThrottle(rule: ThrottleRule | undefined): void {
    this.throttle.set(rule);
  }

  addFault(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  reset(): void {
    this.setThrottle(undefined);
    this.clearFaults();
    this.requests.reset();
    this.log = [];
  }

  /** Counts one API call of `route` (e.g. `GET /api/systemusers`) for as long as `work` runs, and logs it. */
  observe<T>(route: string, request: LoggedRequest, work: () => T | Promise<T>): Promise<T> {
    this.log.push(request);
    if (this.log.length > LOG_KEPT) this.log.splice(0, this.log.length - LOG_KEPT);
    return this.requests.observe(route, work);
  }

  /** Whether to refuse this call with 429; the headers to send with it. */
  checkThrottle(apiKeyLabel: string): { headers: Record<string, string> } | undefined {
    const refusedBy = this.throttle.check(apiKeyLabel);
    if (!refusedBy) return undefined;
    return { headers: refusedBy.retryAfterSeconds === undefined ? {} : { 'retry-after': String(refusedBy.retryAfterSeconds) } };
  }

  /** The fault to inject into this request, if any; count-based rules are consumed. */
  nextFault(): FaultRule | undefined {
    return this.faults.next();
  }
}
