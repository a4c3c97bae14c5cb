import { inSlices } from '../store/batching.ts';
import type { ReconcileContext } from './context.ts';

/** Users whose linked records carry one of these identifier values (`employee_id` or lower-cased `email`). */
export async function usersWithIdentifiers(
  ctx: ReconcileContext,
  kind: 'employee_id' | 'email',
  values: readonly string[],
): Promise<Array<{ value: string; user_id: string }>> {
  return inSlices([...new Set(values)], (slice) =>
    ctx.tx
      .selectFrom('user_identifiers')
      .select(['value', 'user_id'])
      .where('organization_id', '=', ctx.organization_id)
      .where('kind', '=', kind)
      .where('value', 'in', slice)
      .execute(),
  );
}

/** The canonical ids that a connection's records of one kind are linked to, by external id. */
export async function linkedCanonicalIds(
  ctx: ReconcileContext,
  connectionId: string,
  kind: 'user' | 'group',
  externalIds: readonly string[],
): Promise<Map<string, string>> {
  const rows = await inSlices([...new Set(externalIds)], (slice) =>
    ctx.tx
      .selectFrom('identity_links')
      .select(['external_id', 'canonical_id'])
      .where('connection_id', '=', connectionId)
      .where('kind', '=', kind)
      .where('external_id', 'in', slice)
      .execute(),
  );
  return new Map(rows.map((r) => [r.external_id, r.canonical_id]));
}

/** A connection's canonical groups by source group id, with their state and stored document. */
export async function linkedGroups(
  ctx: ReconcileContext,
  externalIds: readonly string[],
): Promise<Array<{ external_id: string; id: string; state: string; data: string }>> {
  return inSlices([...new Set(externalIds)], (slice) =>
    ctx.tx
      .selectFrom('identity_links as l')
      .innerJoin('groups as g', 'g.id', 'l.canonical_id')
      .select(['l.external_id', 'g.id', 'g.state', 'g.data'])
      .where('l.connection_id', '=', ctx.connection.id)
      .where('l.kind', '=', 'group')
      .where('l.external_id', 'in', slice)
      .execute(),
  );
}

/** Which of the connection's records of one kind are tombstoned (removed at the source), by external id. */
export async function tombstonedRecords(ctx: ReconcileContext, kind: 'user' | 'group', externalIds: readonly string[]): Promise<Set<string>> {
  const rows = await inSlices([...new Set(externalIds)], (slice) =>
    ctx.tx
      .selectFrom('source_records')
      .select('external_id')
      .where('connection_id', '=', ctx.connection.id)
      .where('kind', '=', kind)
      .where('external_id', 'in', slice)
      // The condition of the partial index source_records_tombstoned, which answers this alone.
      .where('tombstoned_at', 'is not', null)
      .execute(),
  );
  return new Set(rows.map((r) => r.external_id));
}
