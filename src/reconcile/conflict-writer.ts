import { conflictView, type ConflictResolution, type ConflictRow } from '../core/conflicts.ts';
import { newId } from '../core/ids.ts';
import type { EventDraft, JsonObject } from '../core/model.ts';
import type { Tx } from '../store/database.ts';

interface ConflictWriteContext {
  tx: Tx;
  organization_id: string;
  now: string;
  events: EventDraft[];
  counters: { conflicts_opened: number; conflicts_resolved: number };
}

export async function openConflict(
  ctx: ConflictWriteContext,
  conflict: Pick<ConflictRow, 'kind' | 'subject_type' | 'subject_id' | 'attribute' | 'fingerprint'> & { details: JsonObject },
): Promise<ConflictRow> {
  const row: ConflictRow = {
    id: newId('conflict'),
    organization_id: ctx.organization_id,
    ...conflict,
    details: JSON.stringify(conflict.details),
    status: 'open',
    resolution: null,
    resolved_by: null,
    opened_at: ctx.now,
    resolved_at: null,
  };
  await ctx.tx.insertInto('conflicts').values(row).execute();
  ctx.events.push({ type: 'conflict.opened', data: conflictView(row), changes: null });
  ctx.counters.conflicts_opened += 1;
  return row;
}

export async function closeConflicts(
  ctx: ConflictWriteContext,
  conflicts: readonly ConflictRow[],
  resolution: (c: ConflictRow) => ConflictResolution,
  resolvedBy: string | null,
): Promise<void> {
  for (const conflict of conflicts) {
    const closed: ConflictRow = {
      ...conflict,
      status: 'resolved',
      resolution: resolution(conflict),
      resolved_by: resolvedBy,
      resolved_at: ctx.now,
    };
    await ctx.tx
      .updateTable('conflicts')
      .set({ status: closed.status, resolution: closed.resolution, resolved_by: resolvedBy, resolved_at: ctx.now })
      .where('id', '=', conflict.id)
      .execute();
    ctx.events.push({ type: 'conflict.resolved', data: conflictView(closed), changes: null });
    ctx.counters.conflicts_resolved += 1;
  }
}
