import type { Kysely } from 'kysely';
import type { DatabaseCapabilities } from '../database.ts';

/**
 * Groups inside groups. A source's statement that a group is a member of another is a source record of
 * kind `group_nesting` (its parent in `group_external_id`, the child here); the canonical nesting of two
 * active groups is a row of `group_nestings`, from which members are flattened when asked.
 */
export async function up(db: Kysely<any>, _capabilities: DatabaseCapabilities): Promise<void> {
  await db.schema.alterTable('source_records').addColumn('child_group_external_id', 'text').execute();
  await db.schema
    .createTable('group_nestings')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('child_group_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_nestings_pk', ['group_id', 'child_group_id'])
    .execute();
  await db.schema.createIndex('group_nestings_by_child').on('group_nestings').columns(['child_group_id']).execute();
}
