import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { WebhookConfig } from '../../config.ts';
import type { SecretBox } from '../../security/secret-box.ts';
import type { Database } from '../../store/database.ts';
import type { WebhookEndpointsTable } from '../../store/schema.ts';
import { WebhookDeliveriesRepo, type QueueKey } from '../../store/webhook-deliveries.repo.ts';
import { appendEvents } from '../event-log.ts';
import { messageOf } from './envelope.ts';
import type { WebhookSender } from './webhook-sender.ts';

export interface DeliveryWorkerDeps {
  database: Database;
  secretBox: SecretBox;
  sender: WebhookSender;
  config: WebhookConfig;
  clock: () => Date;
  logger: FastifyBaseLogger;
}

/** Events read from the outbox per endpoint per round. */
const FAN_OUT_LIMIT = 5000;
/** Deliveries read ahead per queue. */
const READ_AHEAD = 100;
const SWEEP_INTERVAL_MS = 1000;
const LEASE_MARGIN_MS = 5000;

interface DeliveredMessage {
  deliveryIds: string[];
  outcome: Parameters<WebhookDeliveriesRepo['recordDelivered']>[1][number]['outcome'];
  at: string;
}

/** Full jitter: a random wait in [0, min(cap, base·2^(attempt-1))]. */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.floor(random() * ceiling);
}

/**
 * Delivers the outbox to webhook endpoints. Each round turns new events into deliveries (per endpoint
 * cursor), then leases due (endpoint, organization) queues and sends each queue in event order. Queues
 * run concurrently and independently, so a slow endpoint or organization only holds its own queue and
 * at most `perEndpointConcurrency` of the `concurrency` slots.
 */
export class DeliveryWorker {
  private readonly repo: WebhookDeliveriesRepo;
  private readonly owner = `worker_${randomUUID()}`;
  private readonly inFlight = new Map<string, number>();
  private readonly tasks = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: AbortController | undefined;
  private lastSweep = 0;
  /** Opened secrets by their sealed text (a rotation seals a new one). */
  private readonly opened = new Map<string, string>();

  constructor(private readonly deps: DeliveryWorkerDeps) {
    this.repo = new WebhookDeliveriesRepo(deps.database);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming work and waits for the requests in flight (bounded by the request timeout). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.abort();
    await this.loop;
    await Promise.allSettled([...this.tasks]);
  }

  /** Makes an idle worker look for work now (after new events or a redelivery). */
  nudge(): void {
    this.wake?.abort();
  }

  private now(): string {
    return this.deps.clock().toISOString();
  }

  private leaseUntil(): string {
    // Renewed after every request, so it only has to outlast one request and its bookkeeping.
    return new Date(this.deps.clock().getTime() + this.deps.config.timeoutMs + LEASE_MARGIN_MS).toISOString();
  }

  private async run(): Promise<void> {
    if (!this.deps.database.capabilities.concurrentWriters) {
      // An embedded database has one process: leases left by a previous one that died are void.
      await this.repo.releaseAllLeases().catch((error) => this.deps.logger.error({ err: error }, 'could not release stale webhook leases'));
    }
    while (this.running) {
      let busy = false;
      try {
        busy = await this.round();
      } catch (error) {
        // A background loop logs and goes on; the next round retries.
        this.deps.logger.error({ err: error }, 'webhook delivery round failed');
      }
      if (!this.running) break;
      this.wake = new AbortController();
      await sleep(busy ? 1 : this.deps.config.pollIntervalMs, undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
  }

  private async round(): Promise<boolean> {
    let busy = false;
    for (const endpointId of await this.repo.enabledEndpointIds()) {
      if ((await this.repo.fanOut(endpointId, FAN_OUT_LIMIT, this.now())) === FAN_OUT_LIMIT) busy = true;
    }
    if (Date.now() - this.lastSweep > SWEEP_INTERVAL_MS) {
      this.lastSweep = Date.now();
      await this.repo.wakeStrandedQueues(this.now());
    }
    const { concurrency, perEndpointConcurrency } = this.deps.config;
    const free = concurrency - this.tasks.size;
    if (free <= 0) return busy;
    const full = [...this.inFlight].filter(([, count]) => count >= perEndpointConcurrency).map(([id]) => id);
    const claimed = await this.repo.claimQueues(this.owner, free, full, this.now(), this.leaseUntil());
    for (const queue of claimed) {
      const count = this.inFlight.get(queue.endpoint_id) ?? 0;
      if (count >= perEndpointConcurrency) {
        await this.repo.releaseQueue(queue, this.owner, this.now(), this.now());
        continue;
      }
      this.inFlight.set(queue.endpoint_id, count + 1);
      const task = this.drain(queue)
        .catch((error) => this.deps.logger.error({ err: error, ...queue }, 'webhook queue failed'))
        .finally(() => {
          const left = (this.inFlight.get(queue.endpoint_id) ?? 1) - 1;
          if (left <= 0) this.inFlight.delete(queue.endpoint_id);
          else this.inFlight.set(queue.endpoint_id, left);
          this.tasks.delete(task);
          this.nudge();
        });
      this.tasks.add(task);
    }
    return busy || claimed.length > 0;
  }

  /**
   * Sends one queue's pending deliveries in order until it is empty, fails, or the worker stops.
   * Successes are recorded in groups (see `recordDelivered`): before the queue is read again, before a
   * failure is recorded, and when the drain ends.
   */
  private async drain(queue: QueueKey): Promise<void> {
    let nextAttemptAt: string | null = null;
    let renewedAt = Date.now();
    const delivered: DeliveredMessage[] = [];
    const flush = async () => {
      await this.repo.recordDelivered(queue.endpoint_id, delivered.splice(0));
    };
    try {
      while (this.running) {
        const endpoint = await this.repo.endpoint(queue.endpoint_id);
        if (!endpoint || endpoint.enabled !== 1 || endpoint.deleted_at !== null) return;
        await flush();
        const pending = await this.repo.pending(queue, Math.max(READ_AHEAD, endpoint.batch_size));
        if (pending.length === 0) {
          await this.repo.failOrphans(queue, this.now());
          return;
        }
        for (let i = 0; i < pending.length && this.running; i += endpoint.batch_size) {
          const batch = pending.slice(i, i + endpoint.batch_size);
          const delay = await this.sendBatch(endpoint, queue, batch, delivered, flush);
          if (delay !== null) {
            nextAttemptAt = delay;
            return;
          }
          // Renew the lease once half of it is used, not after every request.
          if (Date.now() - renewedAt > LEASE_MARGIN_MS / 2) {
            if (!(await this.repo.extendLease(queue, this.owner, this.leaseUntil()))) return;
            renewedAt = Date.now();
          }
        }
      }
    } finally {
      await flush();
      await this.repo.releaseQueue(queue, this.owner, nextAttemptAt, this.now());
    }
  }

  /**
   * Sends one message; returns when to retry the queue, or null to go on with the next message. A
   * success is added to `delivered` for the drain to record; a failure is recorded at once, after the
   * successes before it.
   */
  private async sendBatch(
    endpoint: WebhookEndpointsTable,
    queue: QueueKey,
    batch: Awaited<ReturnType<WebhookDeliveriesRepo['pending']>>,
    delivered: DeliveredMessage[],
    flush: () => Promise<void>,
  ): Promise<string | null> {
    const { config, clock } = this.deps;
    const message = messageOf(batch);
    const result = await this.deps.sender.send(endpoint.url, { ...message, secrets: this.secretsOf(endpoint) });
    const now = clock();
    const ids = batch.map((delivery) => delivery.delivery_id);
    const outcome = {
      webhookId: message.id,
      statusCode: result.statusCode,
      latencyMs: result.latencyMs,
      excerpt: result.excerpt,
      error: result.error,
    };
    if (result.ok) {
      delivered.push({ deliveryIds: ids, outcome, at: now.toISOString() });
      if (endpoint.failing_since !== null) await this.repo.endpointSucceeded(endpoint.id);
      endpoint.failing_since = null;
      return null;
    }
    await flush();
    const oldest = Math.min(...batch.map((delivery) => Date.parse(delivery.created_at)));
    const giveUp = now.getTime() - oldest >= config.retryForMs;
    const attempts = (await this.attemptsOf(batch[0]!.delivery_id)) + 1;
    const retryAt = new Date(now.getTime() + backoffMs(attempts, config.retryBaseMs, config.retryCapMs)).toISOString();
    await this.repo.recordAttempt(endpoint.id, ids, outcome, giveUp ? 'failed' : 'pending', retryAt, now.toISOString());
    await this.countFailure(endpoint, queue, now);
    if (giveUp) {
      this.deps.logger.warn({ endpoint: endpoint.id, deliveries: ids }, 'webhook delivery failed for good after retrying');
      return null;
    }
    return retryAt;
  }

  private async attemptsOf(deliveryId: string): Promise<number> {
    const row = await this.deps.database.db.selectFrom('webhook_deliveries').select('attempts').where('id', '=', deliveryId).executeTakeFirst();
    return row?.attempts ?? 0;
  }

  private secretsOf(endpoint: WebhookEndpointsTable): string[] {
    const secrets = [this.open(endpoint.secret)];
    if (endpoint.previous_secret !== null && endpoint.previous_secret_expires_at !== null && endpoint.previous_secret_expires_at > this.now()) {
      secrets.push(this.open(endpoint.previous_secret));
    }
    return secrets;
  }

  private open(sealed: string): string {
    let secret = this.opened.get(sealed);
    if (secret === undefined) {
      if (this.opened.size > 1000) this.opened.clear();
      secret = this.deps.secretBox.open(sealed);
      this.opened.set(sealed, secret);
    }
    return secret;
  }

  /** Sustained failure (every attempt failing for long enough, often enough) disables the endpoint. */
  private async countFailure(endpoint: WebhookEndpointsTable, queue: QueueKey, now: Date): Promise<void> {
    const { config, database } = this.deps;
    const streak = await this.repo.endpointFailed(endpoint.id, now.toISOString());
    if (!streak) return;
    endpoint.failing_since = streak.failing_since;
    const failingFor = now.getTime() - Date.parse(streak.failing_since);
    if (failingFor < config.disableAfterMs || streak.failed_attempts < config.disableAfterAttempts) return;
    const reason = `every delivery attempt failed since ${streak.failing_since} (${streak.failed_attempts} attempts)`;
    const at = now.toISOString();
    await database.db.transaction().execute(async (tx) => {
      if (!(await this.repo.disable(tx, endpoint.id, reason, at))) return;
      await appendEvents(
        tx,
        endpoint.organization_id ?? queue.organization_id,
        [
          {
            type: 'webhook_endpoint.disabled',
            data: {
              id: endpoint.id,
              url: endpoint.url,
              organization_id: endpoint.organization_id,
              enabled: false,
              disabled_reason: reason,
              failing_since: streak.failing_since,
              failed_attempts: streak.failed_attempts,
            },
            changes: { enabled: { from: true, to: false } },
          },
        ],
        null,
        at,
        database.capabilities,
      );
    });
    endpoint.enabled = 0;
    this.deps.logger.warn({ endpoint: endpoint.id, reason }, 'webhook endpoint disabled after sustained failure');
  }
}
