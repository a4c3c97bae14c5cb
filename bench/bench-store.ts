import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openPostgres, openSqlite, quoteIdentifier, type Database } from '../src/store/database.ts';
import { migrateToLatest } from '../src/store/migrator.ts';

export type Engine = 'sqlite' | 'postgres';
export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];
/** How an engine is named in the benchmarks' output. */
export const ENGINE_NAMES: Readonly<Record<Engine, string>> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Where a fresh, empty store lives and how to get rid of it. */
export interface StoreLocation {
  engine: Engine;
  /** SQLite: the database file. PostgreSQL: the schema. */
  where: string;
  open(): Database;
  destroy(): Promise<void>;
}

/**
 * A fresh, migrated store on one engine: a new SQLite file (WAL) in a temporary directory, or a new
 * PostgreSQL schema. Several processes may open the same location (the crash test does).
 */
export async function createStore(
  engine: Engine,
  label: string,
  postgresUrl = DEFAULT_POSTGRES_URL,
): Promise<StoreLocation> {
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  let location: StoreLocation;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `roster-${label}-`));
    const file = join(dir, 'roster.db');
    location = {
      engine,
      where: file,
      open: () => openSqlite(file),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  } else {
    const schema = `${label}_${suffix}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const admin = openPostgres({ url: postgresUrl, poolSize: 1 });
    await sql`create schema ${sql.raw(quoteIdentifier(schema))}`.execute(admin.db);
    await admin.close();
    location = {
      engine,
      where: schema,
      open: () => openPostgres({ url: postgresUrl, schema }),
      destroy: async () => {
        const dropper = openPostgres({ url: postgresUrl, poolSize: 1 });
        // With the job queue's schema, which a Roster on this store creates beside it (pg-boss-queue.ts).
        for (const name of [schema, `${schema}_jobs`]) await sql`drop schema if exists ${sql.raw(quoteIdentifier(name))} cascade`.execute(dropper.db);
        await dropper.close();
      },
    };
  }
  const database = location.open();
  try {
    await migrateToLatest(database);
  } finally {
    await database.close();
  }
  return location;
}

export interface Tenant {
  organizationId: string;
  connectionId: string;
}

/** One organization with one active push connection of an identity provider, inserted directly. */
export async function createTenant(
  database: Database,
  tenant: Tenant = { organizationId: 'org_bench', connectionId: 'conn_bench' },
): Promise<Tenant> {
  const now = new Date().toISOString();
  await database.db
    .insertInto('organizations')
    .values({
      id: tenant.organizationId,
      name: 'Acme Corp',
      policy: '{}',
      event_sequence: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await database.db
    .insertInto('connections')
    .values({
      id: tenant.connectionId,
      organization_id: tenant.organizationId,
      type: 'push',
      category: 'idp',
      name: 'Synthetic IdP',
      state: 'active',
      state_reason: null,
      config: '{}',
      created_at: now,
      updated_at: now,
      deleted_at: null,
    })
    .execute();
  return tenant;
}
