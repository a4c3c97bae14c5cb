import { CompiledQuery, type Compilable, type InsertQueryBuilder, type InsertResult } from 'kysely';
import type { Tx } from './database.ts';
import type { Schema } from './schema.ts';

type Table = keyof Schema & string;
type Row = Readonly<Record<string, unknown>>;

/** One multi-row insert, described once: its table, its columns in order, and what follows the values. */
export interface BulkInsert<T extends Table = Table> {
  readonly table: T;
  readonly columns: readonly string[];
  readonly finish: (insert: InsertQueryBuilder<Schema, T, InsertResult>) => Compilable;
}

/** Describes a bulk insert; `finish` adds what follows the values (an `on conflict` clause). */
export function bulkInsert<T extends Table>(
  table: T,
  columns: readonly (keyof Schema[T] & string)[],
  finish: (insert: InsertQueryBuilder<Schema, T, InsertResult>) => Compilable = (insert) => insert,
): BulkInsert<T> {
  return { table, columns, finish };
}

interface Compiled {
  sql: string;
  /** Parameters of the statement after the rows' values (the constants of an `on conflict` clause). */
  trailing: readonly unknown[];
}

/** Statements compiled per dialect, per insert, per row count; row counts are few (full slices and remainders). */
const compiledByDialect = new WeakMap<object, Map<object, Map<number, Compiled>>>();
const ROW_COUNTS_KEPT = 16;

/**
 * Inserts rows (objects with at least the insert's columns) in statements of at most `maxParameters`
 * values. Building a statement of thousands of rows through the query builder costs about as much as
 * running it, for every batch; here the statement is compiled once per shape (insert, row count) and each
 * batch only binds its values. The SQL text is then the same string every time, which the engine's
 * statement cache finds at once.
 */
export async function insertRows<T extends Table>(tx: Tx, insert: BulkInsert<T>, rows: readonly Row[], maxParameters: number): Promise<void> {
  const width = insert.columns.length;
  const perStatement = Math.max(1, Math.floor(maxParameters / width));
  for (let start = 0; start < rows.length; start += perStatement) {
    const count = Math.min(perStatement, rows.length - start);
    const { sql, trailing } = compiledFor(tx, insert, count);
    const parameters = new Array<unknown>(count * width + trailing.length);
    let p = 0;
    for (let r = start; r < start + count; r++) {
      const row = rows[r]!;
      for (let c = 0; c < width; c++) parameters[p++] = row[insert.columns[c]!];
    }
    for (const value of trailing) parameters[p++] = value;
    await tx.executeQuery(CompiledQuery.raw(sql, parameters));
  }
}

function compiledFor<T extends Table>(tx: Tx, insert: BulkInsert<T>, count: number): Compiled {
  const adapter = tx.getExecutor().adapter;
  let inserts = compiledByDialect.get(adapter);
  if (!inserts) compiledByDialect.set(adapter, (inserts = new Map()));
  let counts = inserts.get(insert);
  if (!counts) inserts.set(insert, (counts = new Map()));
  let compiled = counts.get(count);
  if (compiled) return compiled;
  // Placeholder rows: the builder binds every value of a row list, so the values do not shape the SQL.
  const placeholder = Object.fromEntries(insert.columns.map((column) => [column, '']));
  const query = insert.finish(tx.insertInto(insert.table).values(Array.from({ length: count }, () => placeholder) as never) as InsertQueryBuilder<Schema, T, InsertResult>).compile();
  const bound = count * insert.columns.length;
  if (query.parameters.length < bound) throw new Error(`bulk insert into ${insert.table}: ${query.parameters.length} parameters for ${bound} values`);
  compiled = { sql: query.sql, trailing: query.parameters.slice(bound) };
  if (counts.size >= ROW_COUNTS_KEPT) counts.delete(counts.keys().next().value!);
  counts.set(count, compiled);
  return compiled;
}
