import type { Kysely } from 'kysely';
import type { DatabaseCapabilities } from '../database.ts';

/**
 * What a listed record was mapped from: a hash of the provider item as received and of the mapping that
 * read it. A later listing that finds the same hash on a live record knows the item and its mapping are
 * unchanged, and restates the record without mapping the item again. Null for records stated otherwise
 * (pushes, delta items, SCIM), which a listing then maps.
 */
export async function up(db: Kysely<any>, _capabilities: DatabaseCapabilities): Promise<void> {
  await db.schema.alterTable('source_records').addColumn('source_hash', 'text').execute();
}
