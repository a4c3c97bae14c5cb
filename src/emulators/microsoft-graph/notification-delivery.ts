/**
 * How Graph delivers change and lifecycle notifications: each POST must be acknowledged with a 2xx within
 * 3 s. Another status, no answer in time or no connection is a failed attempt, retried with exponential
 * backoff until it is acknowledged or 4 hours have passed since the first attempt; then Graph drops it.
 * Attempts go out one after another (so drop, duplicate and reorder mean something), but a retry waits for
 * its backoff on a timer of its own, outside the line: later notifications keep flowing meanwhile.
 */
import { DeliveryQueue, type DeliverySwitches } from '../kit/delivery-queue.ts';

export interface Delivery {
  url: string;
  body: string;
  kind: 'change' | 'lifecycle';
  /** 1 for a notification's first POST, 2 for its first retry, and so on. */
  attempt: number;
  /** What the receiver answered; absent when it did not answer in time or could not be reached. */
  status?: number;
  /** How long the attempt took; Graph wants an answer within 3 s. */
  ms?: number;
}

/** An attempt that was not acknowledged. */
export interface DeliveryFailure {
  delivery: Delivery;
  /** `answered 503`, `no answer within 3000 ms`, `could not be reached: …`. */
  error: string;
  /** When the next attempt is due, from this one; absent once given up. */
  retryInMs?: number;
  /** The notification's last attempt: the next would fall outside the retry window, so Graph drops it. */
  gaveUp: boolean;
}

export interface NotificationDeliverySettings {
  /** An attempt not answered with a 2xx within this has failed (Graph: 3 s). */
  ackTimeoutMs: number;
  /** The wait before the first retry; each further retry waits twice as long, up to `maxRetryDelayMs`. */
  firstRetryDelayMs: number;
  maxRetryDelayMs: number;
  /** No attempt is made later than this after the first (Graph: 4 h); 0 turns retries off. */
  retryWindowMs: number;
}

/**
 * Graph's published rules (3 s, 4 h). Graph does not publish its backoff steps [unverified]: a minute,
 * doubling, at most half an hour between attempts, is this emulator's choice.
 */
export const GRAPH_NOTIFICATION_DELIVERY: Readonly<NotificationDeliverySettings> = {
  ackTimeoutMs: 3_000,
  firstRetryDelayMs: 60_000,
  maxRetryDelayMs: 30 * 60_000,
  retryWindowMs: 4 * 3600_000,
};

/** `current` with `changes` applied; a setting that is unknown, not a number or out of range throws. */
export function withDeliverySettings(current: NotificationDeliverySettings, changes: Partial<Record<keyof NotificationDeliverySettings, unknown>>): NotificationDeliverySettings {
  const next = { ...current };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(GRAPH_NOTIFICATION_DELIVERY, name)) throw new Error(`Unknown notification delivery setting '${name}' (known: ${Object.keys(GRAPH_NOTIFICATION_DELIVERY).join(', ')})`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`Notification delivery setting '${name}' must be a number of milliseconds, 0 or more`);
    next[name as keyof NotificationDeliverySettings] = value;
  }
  if (next.ackTimeoutMs === 0) throw new Error('ackTimeoutMs must be above 0');
  // A zero first delay would retry in a tight loop for the whole window.
  if (next.firstRetryDelayMs === 0) throw new Error('firstRetryDelayMs must be above 0');
  if (next.maxRetryDelayMs < next.firstRetryDelayMs) throw new Error('maxRetryDelayMs must not be below firstRetryDelayMs');
  return next;
}

/** Sends one attempt; answers the receiver's status. `signal` aborts once the acknowledgement window is over. */
export type NotificationSender = (delivery: Delivery, signal: AbortSignal) => Promise<number>;

async function postNotification(delivery: Delivery, signal: AbortSignal): Promise<number> {
  const response = await fetch(delivery.url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: delivery.body, signal });
  await response.arrayBuffer();
  return response.status;
}

/** An attempt waiting in line: the notification, and when its first attempt was made (none yet for a first). */
interface QueuedAttempt {
  delivery: Delivery;
  firstAttemptAt: number | undefined;
}

export interface NotificationDeliveriesOptions {
  /** The emulator's clock: the retry window is measured on it. */
  now: () => number;
  settings?: Partial<NotificationDeliverySettings>;
  /** Replaces the HTTP POST (tests that need no receiver). */
  send?: NotificationSender;
}

export class NotificationDeliveries {
  private settings: NotificationDeliverySettings;
  private readonly queue = new DeliveryQueue<QueuedAttempt>((queued) => this.attempt(queued), 0x2545f491);
  /** Retries waiting for their backoff, by timer: a promise that ends when it is queued (or dropped), and its resolver. */
  private readonly retries = new Map<NodeJS.Timeout, { ended: Promise<void>; release: () => void }>();
  private closed = false;
  /** Every attempt the receiver answered, whatever the status. */
  readonly delivered: Delivery[] = [];
  /** Every attempt that was not acknowledged, and what came of it. */
  readonly failures: DeliveryFailure[] = [];

  constructor(private readonly options: NotificationDeliveriesOptions) {
    this.settings = withDeliverySettings({ ...GRAPH_NOTIFICATION_DELIVERY }, options.settings ?? {});
  }

  /** Back to the settings the emulator started with (Graph's, unless its options changed some). */
  restoreSettings(): void {
    this.settings = withDeliverySettings({ ...GRAPH_NOTIFICATION_DELIVERY }, this.options.settings ?? {});
  }

  /** Changes some settings; answers all of them as they now are. */
  configure(changes: Partial<NotificationDeliverySettings>): NotificationDeliverySettings {
    this.settings = withDeliverySettings(this.settings, changes);
    return { ...this.settings };
  }

  setSwitches(switches: DeliverySwitches): void {
    this.queue.setSwitches(switches);
  }

  /** Queues a notification's first attempt; only `switchable` ones are subject to drop, duplicate and reorder. */
  enqueue(delivery: Omit<Delivery, 'attempt' | 'status' | 'ms'>, switchable: boolean): void {
    this.queue.enqueue({ delivery: { ...delivery, attempt: 1 }, firstAttemptAt: undefined }, switchable);
  }

  /** Resolves when every attempt queued so far (and meanwhile) has been made; retries still waiting for their backoff are not awaited. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Resolves when nothing is left to send: every notification acknowledged or given up. A delivery the
   * reorder switch holds back waits for the next notification and is not counted.
   */
  async settled(): Promise<void> {
    for (;;) {
      await this.queue.idle();
      if (this.retries.size === 0) return;
      await Promise.all([...this.retries.values()].map((retry) => retry.ended));
    }
  }

  /** Stops: retries waiting for their backoff are dropped. */
  close(): void {
    this.closed = true;
    for (const [timer, retry] of this.retries) {
      clearTimeout(timer);
      retry.release();
    }
    this.retries.clear();
  }

  private async attempt({ delivery, firstAttemptAt }: QueuedAttempt): Promise<void> {
    const firstAt = firstAttemptAt ?? this.options.now();
    const started = Date.now();
    const answer = await this.send(delivery);
    const record: Delivery = { ...delivery, ...(answer.status === undefined ? {} : { status: answer.status }), ms: Date.now() - started };
    if (answer.status !== undefined) this.delivered.push(record);
    if (answer.status !== undefined && answer.status >= 200 && answer.status <= 299) return;
    const delayMs = Math.min(this.settings.maxRetryDelayMs, this.settings.firstRetryDelayMs * 2 ** (delivery.attempt - 1));
    const gaveUp = this.options.now() + delayMs - firstAt > this.settings.retryWindowMs;
    const error = answer.error ?? `answered ${answer.status}`;
    this.failures.push({ delivery: record, error, ...(gaveUp ? {} : { retryInMs: delayMs }), gaveUp });
    if (!gaveUp) this.retryLater({ delivery: { ...delivery, attempt: delivery.attempt + 1 }, firstAttemptAt: firstAt }, delayMs);
  }

  private async send(delivery: Delivery): Promise<{ status?: number; error?: string }> {
    const windowMs = this.settings.ackTimeoutMs;
    const signal = AbortSignal.timeout(windowMs);
    // The window holds for a replaced sender too, even one that ignores the signal.
    const timedOut = new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    // Once the answer has won the race, the window's late rejection has no one to observe it.
    timedOut.catch(() => undefined);
    try {
      return { status: await Promise.race([(this.options.send ?? postNotification)(delivery, signal), timedOut]) };
    } catch (error) {
      if (signal.aborted) return { error: `no answer within ${windowMs} ms` };
      const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
      return { error: `could not be reached: ${error instanceof Error ? error.message : String(error)}${cause}` };
    }
  }

  private retryLater(queued: QueuedAttempt, delayMs: number): void {
    if (this.closed) return;
    let release!: () => void;
    const ended = new Promise<void>((resolve) => (release = resolve));
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      // Not switchable: a retry is the same notification again, never dropped, duplicated or held back.
      this.queue.enqueue(queued, false);
      release();
    }, delayMs);
    // A retry hours away must not keep a process alive on its own.
    timer.unref();
    this.retries.set(timer, { ended, release });
  }
}
