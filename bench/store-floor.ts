/**
 * The store floor of a pull sync: what SQLite itself spends writing the rows a full sync must leave behind,
 * with no Roster code in the way. The rows the full sync wrote for one organization (its source records
 * with their raw payloads, a snapshot mark for each, identity links, identifiers, users, groups,
 * memberships, nestings and events) are copied by `insert … select` into an empty store with the same
 * schema, indexes and foreign keys, table by table, 5,000 rows per transaction.
 * No statement is built or bound in JavaScript, nothing is looked up first and no checkpoint is made (Roster
 * makes them on a thread of its own), so this is a lower bound:
 * a full sync cannot take less than its fetch floor or this, whichever is larger, however it is arranged,
 * because one SQLite database has one writer.
 */
import { sql } from 'kysely';
import type { Database } from '../src/store/database.ts';
import { createStore } from './bench-store.ts';

/** The tables a full sync writes, parents first (the copy keeps foreign keys on). */
const TABLES = ['organizations', 'connections', 'source_records', 'identity_links', 'user_identifiers', 'users', 'groups', 'memberships', 'group_nestings', 'events'] as const;
const ATTACHED = 'store_floor';
/** Rows of one table per transaction of the copy: a full sync commits about 5,000 records at a time. */
const ROWS_PER_TRANSACTION = 5000;

export interface StoreFloorResult {
  seconds: number;
  /** CPU seconds of this process over the same time (every thread; SQLite's work is nearly all of it). */
  cpuSeconds: number;
  rows: number;
  transactions: number;
  /** Seconds spent on each table (source records with their snapshot marks). */
  secondsByTable: Record<string, number>;
}

/**
 * Copies what the full sync wrote for `organizationId` from the SQLite store `database` into a fresh store,
 * and answers how long the copy took. The snapshot marks, gone once the run completed, are written as the
 * sync wrote them: one per source record.
 */
export async function measureStoreFloor(database: Database, organizationId: string): Promise<StoreFloorResult> {
  const copy = await createStore('sqlite', 'bench-store-floor');
  const { db } = database;
  const autocheckpoint = (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db)).rows[0]!.wal_autocheckpoint;
  try {
    await sql`attach database ${copy.where} as ${sql.id(ATTACHED)}`.execute(db);
    // Roster checkpoints on a thread of its own (sqlite-checkpointer.ts): none is counted here either.
    await sql`pragma wal_autocheckpoint = 0`.execute(db);
    const slices: Array<{ table: string; rowids: number[] }> = [];
    for (const table of TABLES) {
      const ids = await sql<{ rowid: number }>`select rowid from ${sql.id('main', table)} where ${ofOrganization(table, organizationId)} order by rowid`.execute(db);
      slices.push({ table, rowids: ids.rows.map((r) => r.rowid) });
    }
    let rows = 0;
    let transactions = 0;
    const secondsByTable: Record<string, number> = {};
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    // Table by table, parents first, as a full sync writes users before the memberships that name them.
    for (const { table, rowids } of slices) {
      const tableStarted = performance.now();
      for (let start = 0; start < rowids.length; start += ROWS_PER_TRANSACTION) {
        const from = rowids[start]!;
        const to = rowids[Math.min(rowids.length, start + ROWS_PER_TRANSACTION) - 1]!;
        await db.transaction().execute(async (tx) => {
          const rowsOf = sql`from ${sql.id('main', table)} where rowid between ${from} and ${to} and ${ofOrganization(table, organizationId)}`;
          rows += Number((await sql`insert into ${sql.id(ATTACHED, table)} select * ${rowsOf}`.execute(tx)).numAffectedRows ?? 0);
          if (table === 'source_records') {
            rows += Number(
              (await sql`insert into ${sql.id(ATTACHED, 'snapshot_records')} (organization_id, run_id, kind, external_id) select organization_id, 'run_store_floor', kind, external_id ${rowsOf}`.execute(tx))
                .numAffectedRows ?? 0,
            );
          }
        });
        transactions += 1;
      }
      if (rowids.length > 0) secondsByTable[table] = (performance.now() - tableStarted) / 1000;
    }
    const cpu = process.cpuUsage(cpuStarted);
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, rows, transactions, secondsByTable };
  } finally {
    await sql`pragma ${sql.raw(`wal_autocheckpoint = ${Number(autocheckpoint)}`)}`.execute(db);
    await sql`detach database ${sql.id(ATTACHED)}`.execute(db).catch(() => undefined);
    await copy.destroy();
  }
}

function ofOrganization(table: string, organizationId: string) {
  return sql`${sql.ref(table === 'organizations' ? 'id' : 'organization_id')} = ${organizationId}`;
}

