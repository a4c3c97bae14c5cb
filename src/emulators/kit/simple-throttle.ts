import type { Random } from './seeded-random.ts';

/** Refuse about a fraction of calls, or all beyond a number per subject in each rolling minute. */
export type SimpleThrottleRule = { fraction: number } | { perMinute: number };

/**
 * The throttle of emulators whose provider publishes no bucket model: a seeded fraction of calls, or a
 * per-minute quota per subject. Refused calls still count against the quota, as Google's do.
 */
export class SimpleThrottle<Rule extends SimpleThrottleRule> {
  private current: Rule | undefined;
  private readonly windows = new Map<string, number[]>();
  refused = 0;

  constructor(
    private readonly random: Random,
    private readonly now: () => number,
  ) {}

  set(rule: Rule | undefined): void {
    this.current = rule;
    this.windows.clear();
  }

  /** The rule that refuses this call of `subject`, or undefined when it may go ahead. */
  check(subject: string): Rule | undefined {
    const rule = this.current;
    if (!rule) return undefined;
    let refused: boolean;
    if ('fraction' in rule) {
      refused = this.random() < rule.fraction;
    } else {
      const now = this.now();
      const recent = (this.windows.get(subject) ?? []).filter((at) => now - at < 60_000);
      refused = recent.length >= rule.perMinute;
      recent.push(now);
      this.windows.set(subject, recent);
    }
    if (!refused) return undefined;
    this.refused += 1;
    return rule;
  }
}
