import { sql } from 'kysely';
import { newId } from '../core/ids.ts';
import { chunks } from './batching.ts';
import type { EventRow } from '../events/webhooks/envelope.ts';
import type { Database, Tx } from './database.ts';
import type { WebhookEndpointsTable } from './schema.ts';
import { enqueueDeliveries } from './webhook-endpoints.repo.ts';

/** A pending delivery with the event it carries. */
export interface PendingDelivery extends EventRow {
  delivery_id: string;
  created_at: string;
}

export interface AttemptOutcome {
  webhookId: string;
  statusCode: number | null;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
}

export interface QueueKey {
  endpoint_id: string;
  organization_id: string;
}

/**
 * The delivery worker's reads and writes. Queues are claimed with a lease (a conditional UPDATE; on
 * PostgreSQL over rows picked `FOR UPDATE SKIP LOCKED`), so any number of processes can share the work and
 * each (endpoint, organization) queue is sent by one of them at a time.
 */
export class WebhookDeliveriesRepo {
  constructor(private readonly database: Database) {}

  private get db() {
    return this.database.db;
  }

  async endpoint(id: string): Promise<WebhookEndpointsTable | undefined> {
    return this.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Turns events past one endpoint's cursor into deliveries and moves the cursor, in one transaction.
   * Returns how many events were read (0: caught up, or another process holds the endpoint).
   */
  async fanOut(endpointId: string, limit: number, now: string): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      let query = tx
        .selectFrom('webhook_endpoints')
        .select(['id', 'organization_id', 'event_types', 'cursor_position'])
        .where('id', '=', endpointId)
        .where('enabled', '=', 1)
        .where('deleted_at', 'is', null);
      if (this.database.capabilities.concurrentWriters) query = query.forUpdate().skipLocked();
      const endpoint = await query.executeTakeFirst();
      if (!endpoint) return 0;
      const events = await tx
        .selectFrom('events')
        .select(['position', 'id', 'organization_id', 'type'])
        .where('position', '>', endpoint.cursor_position)
        .orderBy('position')
        .limit(limit)
        .execute();
      if (events.length === 0) return 0;
      const types = JSON.parse(endpoint.event_types) as string[];
      const all = types.includes('*');
      const matching = events.filter(
        (event) => (endpoint.organization_id === null || event.organization_id === endpoint.organization_id) && (all || types.includes(event.type)),
      );
      await enqueueDeliveries(tx, endpointId, matching, now);
      await tx
        .updateTable('webhook_endpoints')
        .set({ cursor_position: events[events.length - 1]!.position })
        .where('id', '=', endpointId)
        .execute();
      return events.length;
    });
  }

  async enabledEndpointIds(): Promise<string[]> {
    const rows = await this.db.selectFrom('webhook_endpoints').select('id').where('enabled', '=', 1).where('deleted_at', 'is', null).execute();
    return rows.map((row) => row.id);
  }

  /** Leases up to `limit` due queues of enabled endpoints, skipping the given endpoints. */
  async claimQueues(owner: string, limit: number, excludeEndpoints: string[], now: string, leaseUntil: string): Promise<QueueKey[]> {
    if (limit <= 0) return [];
    const exclude = excludeEndpoints.length === 0 ? sql`` : sql`and q.endpoint_id not in (${sql.join(excludeEndpoints)})`;
    const lock = this.database.capabilities.concurrentWriters ? sql`for update of q skip locked` : sql``;
    const result = await sql<QueueKey>`
      update webhook_queues set lease_owner = ${owner}, lease_until = ${leaseUntil}
      where (endpoint_id, organization_id) in (
        select q.endpoint_id, q.organization_id from webhook_queues q
        join webhook_endpoints e on e.id = q.endpoint_id and e.enabled = 1 and e.deleted_at is null
        where q.next_attempt_at <= ${now} and (q.lease_until is null or q.lease_until < ${now}) ${exclude}
        order by q.next_attempt_at
        limit ${limit}
        ${lock}
      )
      and (lease_until is null or lease_until < ${now})
      returning endpoint_id, organization_id`.execute(this.db);
    return result.rows;
  }

  async releaseAllLeases(): Promise<void> {
    await this.db.updateTable('webhook_queues').set({ lease_owner: null, lease_until: null }).where('lease_owner', 'is not', null).execute();
  }

  /** Keeps the lease; false when it was lost (expired and taken by another process). */
  async extendLease(queue: QueueKey, owner: string, leaseUntil: string): Promise<boolean> {
    const result = await this.db
      .updateTable('webhook_queues')
      .set({ lease_until: leaseUntil })
      .where('endpoint_id', '=', queue.endpoint_id)
      .where('organization_id', '=', queue.organization_id)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Gives the queue back: due at `nextAttemptAt`, or idle (null) when nothing is pending. */
  async releaseQueue(queue: QueueKey, owner: string, nextAttemptAt: string | null, now: string): Promise<void> {
    const pending = sql<number>`exists (select 1 from webhook_deliveries d where d.endpoint_id = ${queue.endpoint_id}
      and d.organization_id = ${queue.organization_id} and d.status = 'pending')`;
    await this.db
      .updateTable('webhook_queues')
      .set({
        lease_owner: null,
        lease_until: null,
        next_attempt_at:
          nextAttemptAt === null ? sql<string | null>`case when ${pending} then ${now} else null end` : nextAttemptAt,
      })
      .where('endpoint_id', '=', queue.endpoint_id)
      .where('organization_id', '=', queue.organization_id)
      .where('lease_owner', '=', owner)
      .execute();
  }

  /** The next pending deliveries of a queue, in event order. */
  async pending(queue: QueueKey, limit: number): Promise<PendingDelivery[]> {
    return this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('events as e', 'e.position', 'd.event_position')
      .select([
        'd.id as delivery_id',
        'd.created_at',
        'e.id',
        'e.type',
        'e.organization_id',
        'e.sequence',
        'e.occurred_at',
        'e.data',
        'e.changes',
        'e.source',
      ])
      .where('d.endpoint_id', '=', queue.endpoint_id)
      .where('d.organization_id', '=', queue.organization_id)
      .where('d.status', '=', 'pending')
      .orderBy('d.event_position')
      .orderBy('d.id')
      .limit(limit)
      .execute();
  }

  /** Pending deliveries whose event was purged by retention can never be sent: they fail. */
  async failOrphans(queue: QueueKey, now: string): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', last_error: 'event purged by retention', updated_at: now })
      .where('endpoint_id', '=', queue.endpoint_id)
      .where('organization_id', '=', queue.organization_id)
      .where('status', '=', 'pending')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('events').select('position').whereRef('events.position', '=', 'webhook_deliveries.event_position'))))
      .execute();
  }

  /** Records one attempt for each of `deliveryIds` and, on success or give-up, settles them. */
  async recordAttempt(
    endpointId: string,
    deliveryIds: string[],
    outcome: AttemptOutcome,
    settle: 'delivered' | 'failed' | 'pending',
    nextAttemptAt: string,
    now: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('webhook_deliveries')
        .set({
          status: settle,
          attempts: sql`attempts + 1`,
          next_attempt_at: nextAttemptAt,
          last_status_code: outcome.statusCode,
          last_error: outcome.error,
          updated_at: now,
          ...(settle === 'delivered' ? { delivered_at: now } : {}),
        })
        .where('id', 'in', deliveryIds)
        .execute();
      await tx
        .insertInto('webhook_attempts')
        .values(
          deliveryIds.map((deliveryId) => ({
            id: newId('webhookAttempt'),
            delivery_id: deliveryId,
            endpoint_id: endpointId,
            webhook_id: outcome.webhookId,
            attempted_at: now,
            status_code: outcome.statusCode,
            latency_ms: outcome.latencyMs,
            response_excerpt: outcome.excerpt,
            error: outcome.error,
          })),
        )
        .execute();
    });
  }

  /**
   * Settles many delivered messages of one endpoint in one transaction. The worker sends a queue's
   * messages one by one but records successes in groups: a crash before the write only means those
   * messages are sent again, with the same `webhook-id`, which at-least-once delivery allows.
   */
  async recordDelivered(endpointId: string, delivered: ReadonlyArray<{ deliveryIds: string[]; outcome: AttemptOutcome; at: string }>): Promise<void> {
    if (delivered.length === 0) return;
    const last = delivered[delivered.length - 1]!;
    const ids = delivered.flatMap((d) => d.deliveryIds);
    await this.db.transaction().execute(async (tx) => {
      for (const slice of chunks(ids, 1000)) {
        await tx
          .updateTable('webhook_deliveries')
          .set({
            status: 'delivered',
            attempts: sql`attempts + 1`,
            next_attempt_at: last.at,
            last_status_code: last.outcome.statusCode,
            last_error: null,
            updated_at: last.at,
            delivered_at: last.at,
          })
          .where('id', 'in', slice)
          .execute();
      }
      const attempts = delivered.flatMap(({ deliveryIds, outcome, at }) =>
        deliveryIds.map((deliveryId) => ({
          id: newId('webhookAttempt'),
          delivery_id: deliveryId,
          endpoint_id: endpointId,
          webhook_id: outcome.webhookId,
          attempted_at: at,
          status_code: outcome.statusCode,
          latency_ms: outcome.latencyMs,
          response_excerpt: outcome.excerpt,
          error: outcome.error,
        })),
      );
      for (const slice of chunks(attempts, Math.floor(this.database.capabilities.maxParameters / 9))) {
        await tx.insertInto('webhook_attempts').values(slice).execute();
      }
    });
  }

  /** The endpoint answered: its failure streak ends. */
  async endpointSucceeded(endpointId: string): Promise<void> {
    await this.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: null, failed_attempts: 0 })
      .where('id', '=', endpointId)
      .where('failing_since', 'is not', null)
      .execute();
  }

  /** Counts a failed attempt; returns the endpoint's streak (since when, how many). */
  async endpointFailed(endpointId: string, now: string): Promise<{ failing_since: string; failed_attempts: number } | undefined> {
    return this.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: sql`coalesce(failing_since, ${now})`, failed_attempts: sql`failed_attempts + 1` })
      .where('id', '=', endpointId)
      .returning(['failing_since', 'failed_attempts'])
      .executeTakeFirst() as Promise<{ failing_since: string; failed_attempts: number } | undefined>;
  }

  /** Disables an enabled endpoint inside `tx`; false if it was already disabled (another process won). */
  async disable(tx: Tx, endpointId: string, reason: string, now: string): Promise<boolean> {
    const result = await tx
      .updateTable('webhook_endpoints')
      .set({ enabled: 0, disabled_reason: reason, updated_at: now })
      .where('id', '=', endpointId)
      .where('enabled', '=', 1)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Repairs a queue left idle while deliveries are pending (a wake-up lost to a race between processes). */
  async wakeStrandedQueues(now: string): Promise<void> {
    await sql`update webhook_queues set next_attempt_at = ${now}
      where next_attempt_at is null and exists (select 1 from webhook_deliveries d
        where d.endpoint_id = webhook_queues.endpoint_id and d.organization_id = webhook_queues.organization_id and d.status = 'pending')`.execute(
      this.db,
    );
  }
}
