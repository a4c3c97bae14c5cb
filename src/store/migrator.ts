import { Migrator, type Migration, type MigrationResultSet } from 'kysely';
import type { Database } from './database.ts';
import * as initial from './migrations/001-initial.ts';
import * as webhooks from './migrations/002-webhooks.ts';
import * as scim from './migrations/003-scim.ts';
import * as sync from './migrations/004-sync.ts';
import * as pushEvents from './migrations/005-push-events.ts';
import * as groupNesting from './migrations/006-group-nesting.ts';
import * as tombstonedRecords from './migrations/007-tombstoned-records.ts';
import * as sourceHash from './migrations/008-source-hash.ts';

/** The one migration set, shared by both engines; engine differences come in as capabilities. */
function migrations(database: Database): Record<string, Migration> {
  return {
    '001-initial': { up: (db) => initial.up(db, database.capabilities) },
    '002-webhooks': { up: (db) => webhooks.up(db, database.capabilities) },
    '003-scim': { up: (db) => scim.up(db, database.capabilities) },
    '004-sync': { up: (db) => sync.up(db, database.capabilities) },
    '005-push-events': { up: (db) => pushEvents.up(db, database.capabilities) },
    '006-group-nesting': { up: (db) => groupNesting.up(db, database.capabilities) },
    '007-tombstoned-records': { up: (db) => tombstonedRecords.up(db, database.capabilities) },
    '008-source-hash': { up: (db) => sourceHash.up(db, database.capabilities) },
  };
}

export async function migrateToLatest(database: Database): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrations(database) },
    migrationTableName: 'roster_migrations',
    migrationLockTableName: 'roster_migrations_lock',
    // Without it the migrator finds another schema's bookkeeping table and skips creating its own.
    ...(database.schema ? { migrationTableSchema: database.schema } : {}),
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed`, { cause: result.error });
  }
  await database.refreshStatistics();
  return result;
}
