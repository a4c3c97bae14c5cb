import type { EventDraft, Event, EventSource } from '../core/model.ts';
import { newId } from '../core/ids.ts';
import { sql } from 'kysely';
import { bulkInsert, insertRows } from '../store/bulk-insert.ts';
import { reserveEventSequences, type DatabaseCapabilities, type Tx } from '../store/database.ts';

/** An `events` row's bound columns (position is generated). */
const INSERT_EVENTS = bulkInsert('events', ['id', 'organization_id', 'sequence', 'type', 'occurred_at', 'data', 'changes', 'source']);

/** Arbitrary constant key of the advisory lock that orders event appends across organizations. */
const EVENT_LOG_LOCK = 7_263_591;

/**
 * Appends events for one organization inside the caller's transaction — the same transaction as the change
 * they describe (outbox), so a change and its events commit or vanish together. Reserving the sequences takes
 * the organization row lock, which orders concurrent writers of one organization.
 *
 * `now` is the ISO-8601 UTC time of the change. Returns the events as written, in sequence order.
 */
export async function appendEvents(
  tx: Tx,
  organizationId: string,
  drafts: EventDraft[],
  source: EventSource | null,
  now: string,
  capabilities: Pick<DatabaseCapabilities, 'maxParameters' | 'concurrentWriters'>,
): Promise<Event[]> {
  if (drafts.length === 0) return [];
  const first = await reserveEventSequences(tx, organizationId, drafts.length);
  if (capabilities.concurrentWriters) {
    // Readers follow the log by position. With concurrent writers, positions taken in one order could
    // commit in another and a reader past the later one would never see the earlier. Holding this lock
    // from taking positions to commit makes commit order equal position order. It is taken last in the
    // transaction, so it is held only for the event inserts and the commit.
    await sql`select pg_advisory_xact_lock(${EVENT_LOG_LOCK})`.execute(tx);
  }
  const serialized = drafts.map((draft) => draft.data_json ?? JSON.stringify(draft.data));
  const events: Event[] = drafts.map((draft, index) => ({
    id: newId('event'),
    organization_id: organizationId,
    sequence: first + index,
    type: draft.type,
    occurred_at: now,
    data: draft.data,
    changes: draft.changes,
    source,
  }));
  const sourceJson = source === null ? null : JSON.stringify(source);
  const rows = events.map((event, index) => ({
    id: event.id,
    organization_id: event.organization_id,
    sequence: event.sequence,
    type: event.type,
    occurred_at: event.occurred_at,
    data: serialized[index]!,
    changes: event.changes === null ? null : JSON.stringify(event.changes),
    source: sourceJson,
  }));
  await insertRows(tx, INSERT_EVENTS, rows, capabilities.maxParameters);
  return events;
}
