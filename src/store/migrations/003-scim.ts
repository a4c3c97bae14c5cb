import type { Kysely } from 'kysely';
import type { DatabaseCapabilities } from '../database.ts';

/**
 * SCIM connections: the hash of each connection's bearer token, and a narrow index of the attributes SCIM
 * clients look resources up by (userName, externalId, emails, displayName, id). The resources themselves
 * are the connection's source records (raw = the SCIM resource); the index holds live resources only.
 */
export async function up(db: Kysely<any>, _capabilities: DatabaseCapabilities): Promise<void> {
  await db.schema
    .createTable('scim_tokens')
    .addColumn('connection_id', 'text', (c) => c.primaryKey().references('connections.id'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('scim_index')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('resource_type', 'text', (c) => c.notNull())
    // `id`, `username`, `externalid`, `emails.value`, `displayname`.
    .addColumn('attribute', 'text', (c) => c.notNull())
    // Lower-cased for attributes that are not caseExact, so equality is an index lookup.
    .addColumn('value_key', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('scim_index_pk', ['connection_id', 'resource_type', 'attribute', 'value_key', 'resource_id'])
    .execute();
  await db.schema.createIndex('scim_index_by_resource').on('scim_index').columns(['connection_id', 'resource_type', 'resource_id']).execute();
}
