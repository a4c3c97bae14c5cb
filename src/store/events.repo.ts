import type { Event } from '../core/model.ts';
import type { Db, Tx } from './database.ts';

export interface EventQuery {
  /** Global log position to read after (0: from the beginning). */
  after: number;
  organization_id?: string | undefined;
  types?: string[] | undefined;
  limit: number;
}

export interface StoredEvent extends Event {
  position: number;
}

/** Reads the append-only event log in commit order (its global position). */
export class EventsRepo {
  constructor(private readonly db: Db) {}

  async list(query: EventQuery): Promise<StoredEvent[]> {
    let q = this.db.selectFrom('events').selectAll().where('position', '>', query.after).orderBy('position').limit(query.limit);
    if (query.organization_id !== undefined) q = q.where('organization_id', '=', query.organization_id);
    if (query.types !== undefined && query.types.length > 0) q = q.where('type', 'in', query.types);
    const rows = await q.execute();
    return rows.map((row) => ({
      position: row.position,
      id: row.id,
      type: row.type as Event['type'],
      organization_id: row.organization_id,
      sequence: row.sequence,
      occurred_at: row.occurred_at,
      data: JSON.parse(row.data),
      changes: row.changes === null ? null : JSON.parse(row.changes),
      source: row.source === null ? null : JSON.parse(row.source),
    }));
  }

  /** Position of the newest event (0 when the log is empty). */
  head(organizationId?: string): Promise<number> {
    return eventLogHead(this.db, organizationId);
  }
}

/** Position of the newest event, of one organization or of the whole log; usable inside a transaction. */
export async function eventLogHead(db: Db | Tx, organizationId?: string): Promise<number> {
  let q = db.selectFrom('events').select((eb) => eb.fn.max('position').as('head'));
  if (organizationId !== undefined) q = q.where('organization_id', '=', organizationId);
  const row = await q.executeTakeFirst();
  return Number(row?.head ?? 0);
}
