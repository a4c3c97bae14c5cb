import { inSlices } from '../store/batching.ts';
import { bulkInsert, insertRows } from '../store/bulk-insert.ts';
import type { ReconcileContext } from './context.ts';
import { linkedGroups } from './lookups.ts';
import type { ChangedNestingRecord } from './source-record-writer.ts';

export interface NestingInputs {
  changed: readonly ChangedNestingRecord[];
  /** Source groups that became active canonical groups in this transaction. */
  activatedGroups: readonly string[];
}

type Pair = { group_id: string; child_group_id: string };

const INSERT_NESTINGS = bulkInsert('group_nestings', ['organization_id', 'group_id', 'child_group_id', 'created_at']);

/**
 * A canonical group is inside another exactly when the connection has a live nesting record for the
 * pair and both groups are active. Re-evaluates every pair the transaction could have changed and
 * writes the difference, as `group.nested_group_added` / `_removed` events. (A deleted group's nestings
 * go with it in the group step.)
 */
export async function reconcileNestings(ctx: ReconcileContext, inputs: NestingInputs): Promise<void> {
  const pairs = new Map<string, { group: string; child: string; live: boolean }>();
  const keyOf = (g: string, c: string) => JSON.stringify([g, c]);
  for (const n of inputs.changed) pairs.set(keyOf(n.group_external_id, n.child_group_external_id), { group: n.group_external_id, child: n.child_group_external_id, live: !n.tombstoned });
  // A group that only now became active may complete nestings stated before it was.
  for (const n of await nestingRecords(ctx, inputs.activatedGroups)) {
    const key = keyOf(n.group_external_id!, n.child_group_external_id!);
    if (!pairs.has(key)) pairs.set(key, { group: n.group_external_id!, child: n.child_group_external_id!, live: n.tombstoned_at === null });
  }
  if (pairs.size === 0) return;

  const all = [...pairs.values()];
  const groupRows = await linkedGroups(ctx, all.flatMap((p) => [p.group, p.child]));
  const groups = new Map(groupRows.map((g) => [g.external_id, g.id]));
  const active = new Set(groupRows.filter((g) => g.state === 'active').map((g) => g.id));
  const wanted: Pair[] = [];
  const unwanted: Pair[] = [];
  for (const p of all) {
    const group_id = groups.get(p.group);
    const child_group_id = groups.get(p.child);
    if (!group_id || !child_group_id || group_id === child_group_id) continue;
    if (p.live && active.has(group_id) && active.has(child_group_id)) wanted.push({ group_id, child_group_id });
    else unwanted.push({ group_id, child_group_id });
  }
  const existing = await existingPairs(ctx, [...wanted, ...unwanted]);
  const toAdd = wanted.filter((p) => !existing.has(`${p.group_id}\u0000${p.child_group_id}`));
  const toRemove = unwanted.filter((p) => existing.has(`${p.group_id}\u0000${p.child_group_id}`));
  await insertRows(ctx.tx, INSERT_NESTINGS, toAdd.map((p) => ({ organization_id: ctx.organization_id, ...p, created_at: ctx.now })), ctx.maxParameters);
  for (const p of toAdd) ctx.events.push({ type: 'group.nested_group_added', data: { organization_id: ctx.organization_id, ...p }, changes: null });
  await removeNestings(ctx, toRemove);
}

/** Removes nestings (a deleted group's, or ones the source stopped stating), each with its event. */
export async function removeNestings(ctx: ReconcileContext, pairs: readonly Pair[]): Promise<void> {
  for (const p of pairs) {
    await ctx.tx.deleteFrom('group_nestings').where('group_id', '=', p.group_id).where('child_group_id', '=', p.child_group_id).execute();
    ctx.events.push({ type: 'group.nested_group_removed', data: { organization_id: ctx.organization_id, ...p }, changes: null });
  }
}

/** The nestings a group is in, as parent or as child. */
export async function nestingsOf(ctx: ReconcileContext, groupIds: readonly string[]): Promise<Pair[]> {
  const rows = await inSlices([...new Set(groupIds)], (slice) =>
    ctx.tx
      .selectFrom('group_nestings')
      .select(['group_id', 'child_group_id'])
      .where((eb) => eb.or([eb('group_id', 'in', slice), eb('child_group_id', 'in', slice)]))
      .execute(),
  );
  const unique = new Map(rows.map((r) => [`${r.group_id}\u0000${r.child_group_id}`, r]));
  return [...unique.values()];
}

async function nestingRecords(ctx: ReconcileContext, groups: readonly string[]) {
  if (groups.length === 0) return [];
  return inSlices([...new Set(groups)], (slice) =>
    ctx.tx
      .selectFrom('source_records')
      .select(['group_external_id', 'child_group_external_id', 'tombstoned_at'])
      .where('connection_id', '=', ctx.connection.id)
      .where('kind', '=', 'group_nesting')
      .where((eb) => eb.or([eb('group_external_id', 'in', slice), eb('child_group_external_id', 'in', slice)]))
      .execute(),
  );
}

async function existingPairs(ctx: ReconcileContext, pairs: readonly Pair[]): Promise<Set<string>> {
  const rows = await nestingsOf(ctx, pairs.map((p) => p.group_id));
  return new Set(rows.map((r) => `${r.group_id}\u0000${r.child_group_id}`));
}
