import type { CanonicalUser } from '../core/model.ts';
import type { Database } from '../store/database.ts';
import { groupBy } from '../store/batching.ts';
import type { Reconciler } from './reconciler.ts';
import { reconcileRoles } from './role-step.ts';
import { recomputeUsers } from './user-step.ts';

/**
 * Future-dated hires are `pending` until their start date; nothing a source sends marks that day, so
 * this re-derives the pending people whose date has come. Re-deriving is idempotent, so any number of
 * processes may run it at once.
 */
export async function activateDueHires(database: Database, reconciler: Reconciler, now: Date): Promise<number> {
  const today = now.toISOString().slice(0, 10);
  const pending = await database.db
    .selectFrom('users')
    .select(['id', 'data'])
    .where('state', '=', 'pending')
    .execute();
  const due = pending
    .map((row) => JSON.parse(row.data) as CanonicalUser)
    .filter((user) => user.state_reason === 'future_start_date' && user.start_date !== null && user.start_date <= today && user.state_source);
  for (const [connectionId, users] of groupBy(due, (user) => user.state_source!)) {
    const ids = users.map((u) => u.id);
    await reconciler.adjust(connectionId, async (ctx) => {
      await recomputeUsers(ctx, ids);
      await reconcileRoles(ctx, new Set(ids));
    });
  }
  return due.length;
}
