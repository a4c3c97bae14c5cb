import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Schema } from './schema.ts';
import { startCheckpointer } from './sqlite-checkpointer.ts';

/**
 * What the rest of Roster needs to know about the engine underneath, as capabilities rather than names
 * (the core never asks "is this SQLite?").
 */
export interface DatabaseCapabilities {
  /** Several connections write concurrently, so writers must take row locks (`FOR UPDATE`). */
  concurrentWriters: boolean;
  /** Column type for the global, monotonically increasing event position. */
  serialColumnType: 'integer-autoincrement' | 'bigserial';
  /** Largest number of bound parameters one statement may carry. */
  maxParameters: number;
}

export type Db = Kysely<Schema>;
export type Tx = Transaction<Schema>;

export interface Database {
  readonly db: Db;
  readonly capabilities: DatabaseCapabilities;
  readonly description: string;
  /** The schema Roster's tables live in, when not the engine's default. */
  readonly schema?: string | undefined;
  /**
   * Brings the query planner's statistics up to date after bulk writes. PostgreSQL plans an `IN (…)`
   * lookup as a scan of every record of a connection when a table was filled faster than autovacuum
   * analyzes it; SQLite's planner needs nothing.
   */
  refreshStatistics(): Promise<void>;
  close(): Promise<void>;
}

// pg returns BIGINT as strings by default; event positions stay far below 2^53.
pg.types.setTypeParser(20, (value: string) => Number(value));

export function openSqlite(file: string): Database {
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('cache_size = -65536');
  sqlite.pragma('temp_store = MEMORY');
  // Checkpoints run in a worker (sqlite-checkpointer.ts); this one only catches a log the worker let grow.
  sqlite.pragma('wal_autocheckpoint = 50000');
  // A log that grew under load is cut back once checkpointed, instead of staying at its largest.
  sqlite.pragma('journal_size_limit = 67108864');
  const checkpointer = startCheckpointer(file);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    db,
    capabilities: { concurrentWriters: false, serialColumnType: 'integer-autoincrement', maxParameters: 32_000 },
    description: `sqlite:${file}`,
    refreshStatistics: async () => undefined,
    close: async () => {
      await db.destroy();
      await checkpointer.stop();
    },
  };
}

const STATEMENT_CACHE_SIZE = 200;

/**
 * Kysely prepares every statement anew; batch writes repeat the same SQL (same table, same row count)
 * thousands of times, and preparing a multi-row insert costs as much as running it. This keeps the most
 * recent prepared statements by SQL text. better-sqlite3 runs one statement at a time on one
 * connection, so reusing them is safe.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  return new Proxy(sqlite, {
    get(target, property, receiver) {
      if (property !== 'prepare') return Reflect.get(target, property, receiver);
      return (source: string) => {
        let statement = cache.get(source);
        if (statement) {
          cache.delete(source);
        } else {
          statement = prepare(source);
          if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
        }
        cache.set(source, statement);
        return statement;
      };
    },
  });
}

export interface PostgresOptions {
  url: string;
  /** Schema to use instead of `public` (tests isolate themselves this way). */
  schema?: string;
  poolSize?: number;
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    ...(options.schema ? { options: `-c search_path=${quoteIdentifier(options.schema)}` } : {}),
  });
  // Roster's working set is meant to stay in memory, where probing an index for each id of a batch beats
  // scanning the table; the default cost (4, for disks) has the planner scan tables of links and records
  // for batches of 1,000 ids. Queued before any query of the new session; a session that cannot take it
  // fails that query too.
  pool.on('connect', (client) => {
    client.query('set random_page_cost = 1.1').catch(() => undefined);
  });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    capabilities: { concurrentWriters: true, serialColumnType: 'bigserial', maxParameters: 60_000 },
    description: `postgres${options.schema ? `(schema ${options.schema})` : ''}`,
    schema: options.schema,
    refreshStatistics: async () => {
      await sql`analyze source_records, scim_index, snapshot_records, identity_links, user_identifiers, users, groups, memberships, conflicts, unresolved_references`.execute(db);
    },
    close: () => db.destroy(),
  };
}

export function quoteIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`Invalid SQL identifier '${name}'`);
  return `"${name}"`;
}

export interface StorageConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
}

/** SQLite under the data directory by default; PostgreSQL when a database URL is configured. */
export function openDatabase(config: StorageConfig): Database {
  if (config.databaseUrl) return openPostgres({ url: config.databaseUrl });
  mkdirSync(config.dataDir, { recursive: true });
  return openSqlite(join(config.dataDir, 'roster.db'));
}

/**
 * Locks the organization row for the rest of the transaction and hands out `count` event sequences.
 * Every write to an organization's canonical state goes through here, which serializes reconciliations
 * of one organization while leaving other organizations free.
 */
export async function reserveEventSequences(tx: Tx, organizationId: string, count: number): Promise<number> {
  const row = await tx
    .updateTable('organizations')
    .set({ event_sequence: sql`event_sequence + ${count}` })
    .where('id', '=', organizationId)
    .returning('event_sequence')
    .executeTakeFirstOrThrow();
  return row.event_sequence - count + 1;
}
