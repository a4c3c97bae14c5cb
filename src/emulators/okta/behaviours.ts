/** Fault injection, latency and request statistics of the Okta emulator, switched per test. */
import { ApiBehaviours } from '../kit/api-behaviours.ts';
import type { FaultKind, FaultRuleBase } from '../kit/faults.ts';
import { seededRandom } from '../kit/seeded-random.ts';

export type { FaultKind } from '../kit/faults.ts';

export interface FaultRule extends FaultRuleBase {
  /** For server-error: 500 (E0000009), 502 or 503; default 500. */
  status?: 500 | 502 | 503;
  /** Only requests whose path starts with this (e.g. `/api/v1/groups`). */
  pathPrefix?: string;
}

export class Behaviours extends ApiBehaviours<FaultRule> {
  constructor(seed: number) {
    super(seededRandom(seed));
  }

  get stats(): { faults: Record<FaultKind, number>; requests: Record<string, number>; maxInFlight: number } {
    return { faults: this.faults.injected, requests: this.requests.requests, maxInFlight: this.requests.maxInFlight };
  }

  /** Counts one API call of `route` (e.g. `GET /api/v1/users`) for as long as `work` runs. */
  observe<T>(route: string, work: () => Promise<T>): Promise<T> {
    return this.requests.observe(route, work);
  }

  /** The fault to inject into a request to `path`, if any; count-based rules are consumed. */
  nextFault(path: string): FaultRule | undefined {
    return this.faults.next((fault) => !fault.pathPrefix || path.startsWith(fault.pathPrefix));
  }
}
