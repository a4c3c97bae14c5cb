import { sql } from 'kysely';
import type { IncomingRecordInput } from '../src/reconcile/incoming.ts';
import type { Database } from '../src/store/database.ts';

/** The plain table the floor writes to: one row per record, keyed as a source record is. */
type FloorSchema = {
  bench_floor: { kind: string; external_id: string; raw: string };
};

const FLOOR_COLUMNS = 3;

export async function createFloorTable(database: Database): Promise<void> {
  await database.db.schema
    .createTable('bench_floor')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('bench_floor_pk', ['kind', 'external_id'])
    .execute();
}

export async function dropFloorTable(database: Database): Promise<void> {
  await sql`drop table bench_floor`.execute(database.db);
}

/**
 * The least any store must do with a page: write each record with its payload, in one transaction.
 * The reconciler's time divided by this is the price of reconciliation itself.
 */
export async function insertFloorPage(database: Database, page: readonly IncomingRecordInput[]): Promise<void> {
  const rows = page.map((record) => ({
    kind: record.kind,
    external_id: record.kind === 'membership' ? JSON.stringify([record.group_id, record.user_id]) : record.id,
    raw: JSON.stringify(record),
  }));
  const perStatement = Math.floor(database.capabilities.maxParameters / FLOOR_COLUMNS);
  const db = database.db.withTables<FloorSchema>();
  await db.transaction().execute(async (tx) => {
    for (let start = 0; start < rows.length; start += perStatement) {
      await tx.insertInto('bench_floor').values(rows.slice(start, start + perStatement)).execute();
    }
  });
}
