import { FaultInjector, type FaultRuleBase } from './faults.ts';
import { RequestStats } from './request-stats.ts';
import type { Random } from './seeded-random.ts';

/**
 * What every emulator's behaviours have: injected faults, added latency and request counts, switched per
 * test. Providers extend it with their throttle and the stats shape their control API reports.
 */
export class ApiBehaviours<Rule extends FaultRuleBase> {
  protected readonly faults: FaultInjector<Rule>;
  protected readonly requests = new RequestStats();

  /** `random` is shared with the provider's throttle, so one seed fixes the whole sequence. */
  constructor(protected readonly random: Random) {
    this.faults = new FaultInjector(random);
  }

  /** Delay added to every API call, so a test can catch a sync part-way through. */
  get latencyMs(): number {
    return this.requests.latencyMs;
  }

  set latencyMs(ms: number) {
    this.requests.latencyMs = ms;
  }

  addFault(rule: Rule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Clears faults, latency and request counts; fault counts are kept, as they always were. */
  reset(): void {
    this.clearFaults();
    this.requests.reset();
  }
}
