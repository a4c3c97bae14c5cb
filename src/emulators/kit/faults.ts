import type { Random } from './seeded-random.ts';

export type FaultKind = 'server-error' | 'timeout' | 'truncated';

/** What every emulator's fault rule has; providers add their own status codes and filters. */
export interface FaultRuleBase {
  kind: FaultKind;
  /** Applies to the next `count` requests… */
  count?: number;
  /** …or to about this fraction of requests. */
  fraction?: number;
}

interface ActiveFault<Rule> {
  rule: Rule;
  remaining: number;
}

/**
 * The faults a test switched on, and how many of each were injected. Fraction rules draw from `random`,
 * which the emulator may share with its throttle so one seed fixes the whole sequence.
 */
export class FaultInjector<Rule extends FaultRuleBase> {
  private faults: Array<ActiveFault<Rule>> = [];
  readonly injected: Record<FaultKind, number> = { 'server-error': 0, timeout: 0, truncated: 0 };

  constructor(private readonly random: Random) {}

  add(rule: Rule): void {
    if (rule.count === undefined && rule.fraction === undefined) throw new Error('a fault needs count or fraction');
    this.faults.push({ rule: { ...rule }, remaining: rule.count ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault to inject into this request, if any; count-based rules are consumed. */
  next(applies: (rule: Rule) => boolean = () => true): Rule | undefined {
    for (const fault of this.faults) {
      if (fault.remaining <= 0 || !applies(fault.rule)) continue;
      const hit = fault.rule.count !== undefined ? true : this.random() < (fault.rule.fraction ?? 0);
      if (!hit) continue;
      fault.remaining -= 1;
      this.injected[fault.rule.kind] += 1;
      return fault.rule;
    }
    this.faults = this.faults.filter((fault) => fault.remaining > 0);
    return undefined;
  }
}
