import { createHash } from 'node:crypto';

/** The stored columns of an event that make its envelope. */
export interface EventRow {
  id: string;
  type: string;
  organization_id: string;
  sequence: number;
  occurred_at: string;
  data: string;
  changes: string | null;
  source: string | null;
}

/**
 * The event envelope as the events API returns it, built from the stored JSON text without parsing it again:
 * these bytes are what is signed and sent.
 */
export function envelopeJson(row: EventRow): string {
  return (
    `{"id":${JSON.stringify(row.id)},"type":${JSON.stringify(row.type)},"organization_id":${JSON.stringify(row.organization_id)},` +
    `"sequence":${row.sequence},"occurred_at":${JSON.stringify(row.occurred_at)},"data":${row.data},` +
    `"changes":${row.changes ?? 'null'},"source":${row.source ?? 'null'}}`
  );
}

/** One message of one event (its id is the event id) or a batch (`[...]`, an id derived from its events). */
export function messageOf(rows: readonly EventRow[]): { id: string; body: string } {
  if (rows.length === 1) return { id: rows[0]!.id, body: envelopeJson(rows[0]!) };
  // The same events always make the same id, so a retried batch is recognizable as a duplicate.
  const digest = createHash('sha256').update(rows.map((row) => row.id).join(',')).digest('base64url').slice(0, 32);
  return { id: `msg_${digest}`, body: `[${rows.map(envelopeJson).join(',')}]` };
}
