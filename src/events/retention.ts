import type { Database } from '../store/database.ts';

/** Rows deleted per statement, so purging a large backlog never holds one long transaction. */
const PURGE_BATCH = 5000;

/**
 * Deletes events older than the retention window. Positions follow commit time, so the expired events
 * are a prefix of the log: the purge walks it from the start and stops at the first event it keeps
 * (no index on time, no scan of what stays). Deleting old rows never shifts a position, so consumers'
 * cursors stay valid; one that fell behind the retention resumes at the oldest event kept.
 */
export async function purgeExpiredEvents(database: Database, retentionDays: number | null, now: Date): Promise<number> {
  if (retentionDays === null) return 0;
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
  let purged = 0;
  for (;;) {
    const oldest = await database.db
      .selectFrom('events')
      .select(['position', 'occurred_at'])
      .orderBy('position')
      .limit(PURGE_BATCH)
      .execute();
    const expired = oldest.findIndex((e) => e.occurred_at >= cutoff);
    const prefix = expired === -1 ? oldest : oldest.slice(0, expired);
    if (prefix.length === 0) return purged;
    await database.db.deleteFrom('events').where('position', '<=', prefix[prefix.length - 1]!.position).execute();
    purged += prefix.length;
    if (prefix.length < oldest.length || oldest.length < PURGE_BATCH) return purged;
  }
}
