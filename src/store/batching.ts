import type { Database } from './database.ts';

/** Splits `items` into slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** How many rows of `columns` columns fit in one statement on this engine. */
export function rowsPerStatement(database: Pick<Database, 'capabilities'>, columns: number): number {
  return Math.max(1, Math.floor(database.capabilities.maxParameters / columns));
}

/** Runs `query` once per slice of `values` small enough for one `IN (…)` list, and concatenates the results. */
export async function inSlices<V, R>(values: readonly V[], query: (slice: V[]) => Promise<R[]>, size = 1000): Promise<R[]> {
  if (values.length === 0) return [];
  const results: R[] = [];
  for (const slice of chunks(values, size)) results.push(...(await query(slice)));
  return results;
}

/** Groups values by a key, preserving order within each group. */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
