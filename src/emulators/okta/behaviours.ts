/** Fault injection, latency and request statistics of the Okta emulator, switched per test. */

export type FaultKind = 'server-error' | 'timeout' | 'truncated';

export interface FaultRule {
  kind: FaultKind;
  /** Applies to the next `count` API requests… */
  count?: number;
  /** …or to about this fraction of them. */
  fraction?: number;
  /** For server-error: 500 (E0000009), 502 or 503; default 500. */
  status?: 500 | 502 | 503;
  /** Only requests whose path starts with this (e.g. `/api/v1/groups`). */
  pathPrefix?: string;
}

interface ActiveFault extends FaultRule {
  remaining: number;
}

export class Behaviours {
  private faults: ActiveFault[] = [];
  private state: number;
  private inFlight = 0;
  /** Delay added to every API call, so a test can catch a sync part-way through. */
  latencyMs = 0;
  readonly stats = {
    faults: { 'server-error': 0, timeout: 0, truncated: 0 } as Record<FaultKind, number>,
    /** API calls answered, by route (e.g. `GET /api/v1/users`). */
    requests: {} as Record<string, number>,
    maxInFlight: 0,
  };

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  addFault(rule: FaultRule): void {
    if (rule.count === undefined && rule.fraction === undefined) throw new Error('a fault needs count or fraction');
    this.faults.push({ ...rule, remaining: rule.count ?? Number.POSITIVE_INFINITY });
  }

  clearFaults(): void {
    this.faults = [];
  }

  reset(): void {
    this.clearFaults();
    this.latencyMs = 0;
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

  /** The fault to inject into a request to `path`, if any; count-based rules are consumed. */
  nextFault(path: string): FaultRule | undefined {
    for (const fault of this.faults) {
      if (fault.remaining <= 0 || (fault.pathPrefix && !path.startsWith(fault.pathPrefix))) continue;
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
