import type { Kysely } from 'kysely';
import type { DatabaseCapabilities } from '../database.ts';

/**
 * Event ids a provider's at-least-once push deliveries were already acted on (Okta event hook `uuid`s),
 * per connection: a redelivery queues nothing, whichever process it reaches. Kept a day, then pruned.
 */
export async function up(db: Kysely<any>, _capabilities: DatabaseCapabilities): Promise<void> {
  await db.schema
    .createTable('push_events')
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('push_events_pk', ['connection_id', 'event_id'])
    .execute();
  await db.schema.createIndex('push_events_by_time').on('push_events').columns(['received_at']).execute();
}
