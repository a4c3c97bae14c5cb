import { sql, type Kysely } from 'kysely';
import type { DatabaseCapabilities } from '../database.ts';

export async function up(db: Kysely<any>, capabilities: DatabaseCapabilities): Promise<void> {
  await db.schema
    .createTable('organizations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('event_sequence', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('connections')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('state_reason', 'text')
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .execute();
  await db.schema.createIndex('connections_by_org').on('connections').columns(['organization_id', 'id']).execute();

  await db.schema
    .createTable('source_records')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('group_external_id', 'text')
    .addColumn('user_external_id', 'text')
    .addColumn('raw', 'text', (c) => c.notNull())
    .addColumn('normalized', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('tombstoned_at', 'text')
    .addColumn('tombstone_reason', 'text')
    .addPrimaryKeyConstraint('source_records_pk', ['connection_id', 'kind', 'external_id'])
    .execute();
  await db.schema
    .createIndex('source_records_memberships_by_user')
    .on('source_records')
    .columns(['connection_id', 'kind', 'user_external_id'])
    .execute();
  await db.schema
    .createIndex('source_records_memberships_by_group')
    .on('source_records')
    .columns(['connection_id', 'kind', 'group_external_id'])
    .execute();

  await db.schema
    .createTable('snapshot_records')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('snapshot_records_pk', ['run_id', 'kind', 'external_id'])
    .execute();

  await db.schema
    .createTable('identity_links')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('canonical_id', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('identity_links_pk', ['connection_id', 'kind', 'external_id'])
    .execute();
  await db.schema.createIndex('identity_links_by_canonical').on('identity_links').columns(['canonical_id']).execute();

  await db.schema
    .createTable('user_identifiers')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_identifiers_pk', ['connection_id', 'external_id', 'kind', 'value'])
    .execute();
  await db.schema
    .createIndex('user_identifiers_lookup')
    .on('user_identifiers')
    .columns(['organization_id', 'kind', 'value'])
    .execute();

  await db.schema
    .createTable('unresolved_references')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('ref_key', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('unresolved_references_pk', ['organization_id', 'ref_key', 'user_id'])
    .execute();
  await db.schema.createIndex('unresolved_references_by_user').on('unresolved_references').columns(['user_id']).execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('employee_id', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('pins', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('users_by_org').on('users').columns(['organization_id', 'id']).execute();
  await db.schema.createIndex('users_by_state').on('users').columns(['organization_id', 'state']).execute();
  await db.schema.createIndex('users_by_email').on('users').columns(['organization_id', 'email']).execute();
  await db.schema.createIndex('users_by_updated').on('users').columns(['organization_id', 'updated_at']).execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('groups_by_org').on('groups').columns(['organization_id', 'id']).execute();

  await db.schema
    .createTable('memberships')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('memberships_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema.createIndex('memberships_by_user').on('memberships').columns(['user_id']).execute();

  await db.schema
    .createTable('conflicts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('subject_type', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('attribute', 'text')
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('resolution', 'text')
    .addColumn('resolved_by', 'text')
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('resolved_at', 'text')
    .execute();
  await db.schema.createIndex('conflicts_by_org').on('conflicts').columns(['organization_id', 'status', 'id']).execute();
  await db.schema.createIndex('conflicts_by_subject').on('conflicts').columns(['subject_id', 'status']).execute();

  const events = db.schema.createTable('events');
  await (capabilities.serialColumnType === 'bigserial'
    ? events.addColumn('position', sql`bigserial`, (c) => c.primaryKey())
    : events.addColumn('position', 'integer', (c) => c.primaryKey().autoIncrement())
  )
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('changes', 'text')
    .addColumn('source', 'text')
    .addUniqueConstraint('events_org_sequence', ['organization_id', 'sequence'])
    .execute();

  await db.schema
    .createTable('sync_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('counters', 'text', (c) => c.notNull())
    .addColumn('held', 'text')
    .addColumn('error', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sync_runs_by_org').on('sync_runs').columns(['organization_id', 'id']).execute();
  await db.schema.createIndex('sync_runs_by_connection').on('sync_runs').columns(['connection_id', 'id']).execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_by_org').on('audit_log').columns(['organization_id', 'id']).execute();
}
