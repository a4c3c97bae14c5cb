/** Applies to the next `count` deliveries, or to about this fraction of them. */
export interface DeliverySwitch {
  count?: number;
  fraction?: number;
}

/** How a test makes push deliveries misbehave, as real providers' sometimes do. */
export interface DeliverySwitches {
  drop?: DeliverySwitch;
  duplicate?: DeliverySwitch;
  /** A delivery is held back and sent after the following one. */
  reorder?: DeliverySwitch;
}

/**
 * Push deliveries sent one after another, so "reorder" means something and tests can await `idle()`.
 * Fractions draw from a small generator seeded per emulator, so a run repeats.
 */
export class DeliveryQueue<Item> {
  private switches: DeliverySwitches = {};
  private held: Item | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: (item: Item) => Promise<void>,
    private random: number,
  ) {}

  setSwitches(switches: DeliverySwitches): void {
    this.switches = structuredClone(switches);
  }

  /** Queues `item`; one that is not `switchable` (a handshake, a retry) is never dropped, duplicated or held back. */
  enqueue(item: Item, switchable = true): void {
    if (switchable && this.take('drop')) return;
    if (switchable && !this.held && this.take('reorder')) {
      this.held = item;
      return;
    }
    const batch = [item];
    if (switchable && this.take('duplicate')) batch.push(item);
    if (this.held && switchable) {
      batch.push(this.held);
      this.held = undefined;
    }
    for (const next of batch) this.queue = this.queue.then(() => this.send(next));
  }

  /** Resolves when every queued delivery has been attempted, including ones queued meanwhile. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.queue;
      await seen;
    } while (seen !== this.queue);
  }

  private take(name: keyof DeliverySwitches): boolean {
    const rule = this.switches[name];
    if (!rule) return false;
    if (rule.count !== undefined) {
      if (rule.count <= 0) return false;
      rule.count -= 1;
      return true;
    }
    this.random = (Math.imul(this.random ^ (this.random >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return this.random / 4294967296 < (rule.fraction ?? 0);
  }
}
