import { sql } from 'kysely';
import { newId } from '../core/ids.ts';
import type { Db, Tx } from './database.ts';
import type { WebhookAttemptsTable, WebhookDeliveriesTable, WebhookEndpointsTable } from './schema.ts';
import { appendAudit } from './audit.repo.ts';
import { chunks } from './batching.ts';

/** An endpoint as the API shows it (never its secrets). */
export interface WebhookEndpointRecord {
  id: string;
  organization_id: string | null;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  batch_size: number;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface NewWebhookEndpoint {
  organizationId: string | null;
  url: string;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  batchSize: number;
  sealedSecret: string;
}

export interface WebhookEndpointPatch {
  url?: string | undefined;
  description?: string | null | undefined;
  eventTypes?: string[] | undefined;
  enabled?: boolean | undefined;
  batchSize?: number | undefined;
}

export interface Audited {
  actor: string;
  action: string;
}

export interface DeliveryRecord {
  id: string;
  endpoint_id: string;
  organization_id: string;
  event_id: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  attempt_log: AttemptRecord[];
}

/** One attempt as the deliveries API lists it: the stored row without the keys it is listed under. */
export type AttemptRecord = Omit<WebhookAttemptsTable, 'delivery_id' | 'endpoint_id'>;

/** Attempts listed per delivery, newest last. */
const ATTEMPTS_PER_DELIVERY = 20;

export function toEndpointRecord(row: WebhookEndpointsTable): WebhookEndpointRecord {
  return {
    id: row.id,
    organization_id: row.organization_id,
    url: row.url,
    description: row.description,
    event_types: JSON.parse(row.event_types) as string[],
    enabled: row.enabled === 1,
    disabled_reason: row.disabled_reason,
    batch_size: row.batch_size,
    previous_secret_expires_at: row.previous_secret_expires_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Webhook endpoints and what the API reads of their deliveries. */
export class WebhookEndpointsRepo {
  constructor(private readonly db: Db) {}

  /** A new endpoint receives events appended after it was created: its cursor starts at the log's head. */
  async create(endpoint: NewWebhookEndpoint, audited: Audited, now: string): Promise<WebhookEndpointRecord> {
    return this.db.transaction().execute(async (tx) => {
      const head = await tx.selectFrom('events').select((eb) => eb.fn.max('position').as('head')).executeTakeFirst();
      const row: WebhookEndpointsTable = {
        id: newId('webhookEndpoint'),
        organization_id: endpoint.organizationId,
        url: endpoint.url,
        description: endpoint.description,
        event_types: JSON.stringify(endpoint.eventTypes),
        enabled: endpoint.enabled ? 1 : 0,
        disabled_reason: null,
        batch_size: endpoint.batchSize,
        secret: endpoint.sealedSecret,
        previous_secret: null,
        previous_secret_expires_at: null,
        cursor_position: Number(head?.head ?? 0),
        failing_since: null,
        failed_attempts: 0,
        created_at: now,
        updated_at: now,
        deleted_at: null,
      };
      await tx.insertInto('webhook_endpoints').values(row).execute();
      await audit(tx, row, audited, now);
      return toEndpointRecord(row);
    });
  }

  async getRow(id: string): Promise<WebhookEndpointsTable | undefined> {
    return this.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  }

  async list(filter: { organizationId?: string | undefined }, page: { limit: number; after: string | null }): Promise<WebhookEndpointRecord[]> {
    let query = this.db.selectFrom('webhook_endpoints').selectAll().where('deleted_at', 'is', null);
    if (filter.organizationId !== undefined) query = query.where('organization_id', '=', filter.organizationId);
    if (page.after !== null) query = query.where('id', '>', page.after);
    return (await query.orderBy('id').limit(page.limit + 1).execute()).map(toEndpointRecord);
  }

  async update(id: string, patch: WebhookEndpointPatch, audited: Audited, now: string): Promise<WebhookEndpointRecord | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const values: Partial<WebhookEndpointsTable> = { updated_at: now };
      if (patch.url !== undefined) values.url = patch.url;
      if (patch.description !== undefined) values.description = patch.description;
      if (patch.eventTypes !== undefined) values.event_types = JSON.stringify(patch.eventTypes);
      if (patch.batchSize !== undefined) values.batch_size = patch.batchSize;
      if (patch.enabled !== undefined) {
        values.enabled = patch.enabled ? 1 : 0;
        // Re-enabling starts the failure count afresh; the deliveries still pending go out again.
        if (patch.enabled) Object.assign(values, { disabled_reason: null, failing_since: null, failed_attempts: 0 });
      }
      const row = await tx
        .updateTable('webhook_endpoints')
        .set(values)
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (!row) return undefined;
      if (patch.enabled) await wakeQueues(tx, id, now);
      await audit(tx, row, audited, now);
      return toEndpointRecord(row);
    });
  }

  /** The current secret becomes the previous one, valid until `previousExpiresAt`. */
  async rotateSecret(id: string, sealedSecret: string, previousExpiresAt: string, audited: Audited, now: string) {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .updateTable('webhook_endpoints')
        .set({
          previous_secret: sql<string>`secret`,
          previous_secret_expires_at: previousExpiresAt,
          secret: sealedSecret,
          updated_at: now,
        })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (row) await audit(tx, row, audited, now);
      return row ? toEndpointRecord(row) : undefined;
    });
  }

  /** Soft delete; its pending deliveries are dropped. */
  async delete(id: string, audited: Audited, now: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .updateTable('webhook_endpoints')
        .set({ deleted_at: now, enabled: 0, updated_at: now })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (!row) return false;
      await tx.deleteFrom('webhook_queues').where('endpoint_id', '=', id).execute();
      await tx
        .updateTable('webhook_deliveries')
        .set({ status: 'failed', last_error: 'endpoint deleted', updated_at: now })
        .where('endpoint_id', '=', id)
        .where('status', '=', 'pending')
        .execute();
      await audit(tx, row, audited, now);
      return true;
    });
  }

  async listDeliveries(
    endpointId: string,
    filter: { status?: string | undefined; eventId?: string | undefined },
    page: { limit: number; after: string | null },
  ): Promise<DeliveryRecord[]> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.eventId !== undefined) query = query.where('event_id', '=', filter.eventId);
    if (page.after !== null) query = query.where('id', '>', page.after);
    const rows = await query.orderBy('id').limit(page.limit + 1).execute();
    const attempts = new Map<string, WebhookAttemptsTable[]>();
    for (const slice of chunks(rows, 500)) {
      if (slice.length === 0) continue;
      const found = await this.db
        .selectFrom('webhook_attempts')
        .selectAll()
        .where('delivery_id', 'in', slice.map((row) => row.id))
        .orderBy('id')
        .execute();
      for (const attempt of found) {
        const list = attempts.get(attempt.delivery_id) ?? [];
        list.push(attempt);
        attempts.set(attempt.delivery_id, list);
      }
    }
    return rows.map((row) => toDeliveryRecord(row, attempts.get(row.id) ?? []));
  }

  /**
   * Enqueues new deliveries of the given events (already filtered by the caller) at the end of their
   * queues' order by position. Returns how many were enqueued.
   */
  async redeliver(endpoint: WebhookEndpointsTable, events: Array<{ id: string; position: number; organization_id: string }>, audited: Audited, now: string) {
    return this.db.transaction().execute(async (tx) => {
      await enqueueDeliveries(tx, endpoint.id, events, now);
      await audit(tx, endpoint, audited, now, { events: events.length });
      return events.length;
    });
  }
}

/** Inserts pending deliveries and makes their queues due (without cutting a backoff short). */
export async function enqueueDeliveries(
  tx: Tx,
  endpointId: string,
  events: ReadonlyArray<{ id: string; position: number; organization_id: string }>,
  now: string,
): Promise<void> {
  if (events.length === 0) return;
  for (const slice of chunks(events, 2000)) {
    await tx
      .insertInto('webhook_deliveries')
      .values(
        slice.map((event) => ({
          id: newId('webhookDelivery'),
          endpoint_id: endpointId,
          organization_id: event.organization_id,
          event_id: event.id,
          event_position: event.position,
          status: 'pending',
          attempts: 0,
          next_attempt_at: now,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute();
  }
  const organizations = [...new Set(events.map((event) => event.organization_id))];
  for (const slice of chunks(organizations, 1000)) {
    await tx
      .insertInto('webhook_queues')
      .values(slice.map((organizationId) => ({ endpoint_id: endpointId, organization_id: organizationId, next_attempt_at: now })))
      .onConflict((oc) =>
        oc.columns(['endpoint_id', 'organization_id']).doUpdateSet({ next_attempt_at: sql`coalesce(webhook_queues.next_attempt_at, ${now})` }),
      )
      .execute();
  }
}

/** Every queue of the endpoint that has pending deliveries becomes due now. */
export async function wakeQueues(tx: Tx | Db, endpointId: string, now: string): Promise<void> {
  await tx
    .updateTable('webhook_queues')
    .set({ next_attempt_at: now })
    .where('endpoint_id', '=', endpointId)
    .execute();
}

async function audit(tx: Tx, row: WebhookEndpointsTable, audited: Audited, now: string, details: Record<string, number> = {}) {
  await appendAudit(
    tx,
    {
      organizationId: row.organization_id,
      actor: audited.actor,
      action: audited.action,
      targetType: 'webhook_endpoint',
      targetId: row.id,
      details: { url: row.url, ...details },
    },
    now,
  );
}

function toDeliveryRecord(row: WebhookDeliveriesTable, attempts: WebhookAttemptsTable[]): DeliveryRecord {
  return {
    id: row.id,
    endpoint_id: row.endpoint_id,
    organization_id: row.organization_id,
    event_id: row.event_id,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.next_attempt_at : null,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    created_at: row.created_at,
    updated_at: row.updated_at,
    delivered_at: row.delivered_at,
    attempt_log: attempts.slice(-ATTEMPTS_PER_DELIVERY).map((attempt) => ({
      id: attempt.id,
      webhook_id: attempt.webhook_id,
      attempted_at: attempt.attempted_at,
      status_code: attempt.status_code,
      latency_ms: attempt.latency_ms,
      response_excerpt: attempt.response_excerpt,
      error: attempt.error,
    })),
  };
}
