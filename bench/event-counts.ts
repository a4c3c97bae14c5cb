import type { Database } from '../src/store/database.ts';

/** Events written so far, by type: of one organization, or of the whole store. */
export async function eventCounts(database: Database, organizationId?: string): Promise<Map<string, number>> {
  let query = database.db.selectFrom('events').select(['type', (eb) => eb.fn.countAll<number>().as('n')]);
  if (organizationId !== undefined) query = query.where('organization_id', '=', organizationId);
  const rows = await query.groupBy('type').execute();
  return new Map(rows.map((r) => [r.type, Number(r.n)]));
}

/** How many events of each type were written between two counts (types unchanged left out). */
export function difference(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [type, n] of after) if (n !== (before.get(type) ?? 0)) out[type] = n - (before.get(type) ?? 0);
  return out;
}
