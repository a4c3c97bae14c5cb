import { sql, type Kysely } from 'kysely';
import type { DatabaseCapabilities } from '../database.ts';

/**
 * The tombstoned source records, in a unique partial index of their own: they are few against the live
 * ones, so asking whether records are removed reads this small index instead of each (wide) record's
 * row, and a live record's write adds nothing to it.
 */
export async function up(db: Kysely<any>, _capabilities: DatabaseCapabilities): Promise<void> {
  await db.schema
    .createIndex('source_records_tombstoned')
    .unique()
    .on('source_records')
    .columns(['connection_id', 'kind', 'external_id'])
    .where(sql.ref('tombstoned_at'), 'is not', null)
    .execute();
}
