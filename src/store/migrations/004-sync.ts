import { sql, type Kysely } from 'kysely';
import type { DatabaseCapabilities } from '../database.ts';

/**
 * The sync engine: pull connections' sealed credentials, run leases and checkpoints, per-tier schedules,
 * delta cursors, push channels (Google watch channels) and pending OAuth consents.
 */
export async function up(db: Kysely<any>, _capabilities: DatabaseCapabilities): Promise<void> {
  // One sealed JSON document per connection (service-account key, OAuth client secret, refresh token).
  await db.schema
    .createTable('connection_secrets')
    .addColumn('connection_id', 'text', (c) => c.primaryKey().references('connections.id'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('sync_runs').addColumn('trigger', 'text').execute();
  // Where a pull resumes after a crash: written in the same transaction as the records it follows.
  await db.schema.alterTable('sync_runs').addColumn('checkpoint', 'text').execute();
  await db.schema.alterTable('sync_runs').addColumn('progress', 'text').execute();
  // The worker executing the run and until when its claim holds; an expired lease is taken over.
  await db.schema.alterTable('sync_runs').addColumn('lease_owner', 'text').execute();
  await db.schema.alterTable('sync_runs').addColumn('lease_until', 'text').execute();
  await db.schema.alterTable('sync_runs').addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // A run asked for while this one ran too far along to see what prompted it (a push): queued when this one ends.
  await db.schema.alterTable('sync_runs').addColumn('follow_up', 'text').execute();
  // At most one run per connection is queued or running, whichever process asks: the database decides.
  await sql`create unique index sync_runs_one_active on sync_runs (connection_id) where status in ('queued', 'running')`.execute(db);
  await db.schema.createIndex('sync_runs_by_status').on('sync_runs').columns(['status', 'lease_until']).execute();

  await db.schema
    .createTable('sync_schedules')
    .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    // `critical`, `profile`, `full`, or `channels` (renewal of push channels).
    .addColumn('tier', 'text', (c) => c.notNull())
    .addColumn('interval_seconds', 'integer', (c) => c.notNull())
    .addColumn('next_run_at', 'text', (c) => c.notNull())
    .addColumn('last_run_at', 'text')
    .addPrimaryKeyConstraint('sync_schedules_pk', ['connection_id', 'tier'])
    .execute();
  await db.schema.createIndex('sync_schedules_due').on('sync_schedules').columns(['next_run_at']).execute();

  // A delta source's cursor (Graph deltaLink, System Log `next`), written with the records of the round that ended there.
  await db.schema
    .createTable('sync_cursors')
    .addColumn('connection_id', 'text', (c) => c.primaryKey().references('connections.id'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('cursor', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('push_channels')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    // The provider's handle on the channel (Google `resourceId`), needed to stop it.
    .addColumn('resource_id', 'text', (c) => c.notNull())
    // SHA-256 of the token the provider echoes on every notification.
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('stopped_at', 'text')
    .execute();
  await db.schema.createIndex('push_channels_by_connection').on('push_channels').columns(['connection_id', 'expires_at']).execute();

  await db.schema
    .createTable('oauth_states')
    // SHA-256 of the `state` parameter: the value itself travels only through the admin's browser.
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    // Sealed PKCE verifier and redirect URI.
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
}
