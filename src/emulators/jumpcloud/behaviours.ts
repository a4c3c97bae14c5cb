/**
 * Throttling and fault injection for API calls, switched on and off per test. JumpCloud publishes no rate
 * limits [unverified]: throttling is a plain 429, with a Retry-After only when a rule asks for one.
 */
import { ApiBehaviours } from '../kit/api-behaviours.ts';
import type { FaultKind, FaultRuleBase } from '../kit/faults.ts';
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

export class Behaviours extends ApiBehaviours<FaultRule> {
  private readonly throttle: SimpleThrottle<ThrottleRule>;
  /** The latest API requests (method, path, query), oldest first. */
  private log: LoggedRequest[] = [];

  constructor(seed: number, now: () => number) {
    super(seededRandom(seed));
    this.throttle = new SimpleThrottle(this.random, now);
  }

  get stats(): { throttled: number; faults: Record<FaultKind, number>; requests: Record<string, number>; maxInFlight: number; log: LoggedRequest[] } {
    return { throttled: this.throttle.refused, faults: this.faults.injected, requests: this.requests.requests, maxInFlight: this.requests.maxInFlight, log: this.log };
  }

  setThrottle(rule: ThrottleRule | undefined): void {
    this.throttle.set(rule);
  }

  override reset(): void {
    super.reset();
    this.setThrottle(undefined);
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
