import { newId } from '../core/ids.ts';
import type { JsonObject } from '../core/model.ts';
import type { Db, Tx } from './database.ts';
import type { AuditLogTable } from './schema.ts';

/**
 * The audit log of admin actions: who (which API key) did what to which resource. Rows are written in the
 * same transaction as the action, so an action that rolled back leaves no trace and one that committed
 * always has one.
 */
export interface AuditEntry {
  organizationId: string | null;
  /** The API key id that acted. */
  actor: string;
  /** `<resource>.<verb>`, e.g. `connection.paused`. */
  action: string;
  targetType: string;
  targetId: string;
  details?: JsonObject;
}

export interface AuditRecord {
  id: string;
  organization_id: string | null;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  details: JsonObject;
  occurred_at: string;
}

export async function appendAudit(tx: Tx | Db, entry: AuditEntry, now: string): Promise<void> {
  await tx
    .insertInto('audit_log')
    .values({
      id: newId('audit'),
      organization_id: entry.organizationId,
      actor: entry.actor,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId,
      details: JSON.stringify(entry.details ?? {}),
      occurred_at: now,
    })
    .execute();
}

export interface AuditFilter {
  /** Only this organization's entries (a scoped caller always sets it). */
  organizationId?: string | undefined;
}

export class AuditRepo {
  constructor(private readonly db: Db) {}

  /** Entries in order, at most `limit + 1` after `after` (the extra row tells a next page exists). */
  async list(filter: AuditFilter, page: { limit: number; after: string | null }): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('audit_log').selectAll();
    if (filter.organizationId !== undefined) query = query.where('organization_id', '=', filter.organizationId);
    if (page.after !== null) query = query.where('id', '>', page.after);
    const rows = await query.orderBy('id').limit(page.limit + 1).execute();
    return rows.map(toAuditRecord);
  }
}

function toAuditRecord(row: AuditLogTable): AuditRecord {
  return { ...row, details: JSON.parse(row.details) as JsonObject };
}
