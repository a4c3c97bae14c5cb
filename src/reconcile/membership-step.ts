import { chunks, groupBy, inSlices } from '../store/batching.ts';
import { bulkInsert, insertRows } from '../store/bulk-insert.ts';
import type { ReconcileContext } from './context.ts';
import { linkedCanonicalIds, linkedGroups, tombstonedRecords } from './lookups.ts';
import type { ChangedMembershipRecord } from './source-record-writer.ts';

export interface MembershipInputs {
  changed: readonly ChangedMembershipRecord[];
  /** User records of the connection that got a canonical user in this transaction. */
  linkedUsers: readonly string[];
  /** User records of the connection tombstoned in this transaction. */
  removedUsers: readonly string[];
  /** Source groups that became active canonical groups in this transaction. */
  activatedGroups: readonly string[];
}

type Pair = { group_id: string; user_id: string };

const INSERT_MEMBERSHIPS = bulkInsert('memberships', ['organization_id', 'group_id', 'user_id', 'created_at']);

/**
 * Canonical membership of a user in a group holds exactly when the group's connection has a live
 * membership record for them, the group is active and the user's record in that connection is live.
 * Re-evaluates every pair the transaction could have changed and writes the difference.
 */
export async function reconcileMemberships(ctx: ReconcileContext, inputs: MembershipInputs): Promise<Set<string>> {
  const touchedUsers = new Set<string>();
  const pairs = new Map<string, { group: string; user: string; live: boolean }>();
  const keyOf = (g: string, u: string) => JSON.stringify([g, u]);
  for (const m of inputs.changed) {
    pairs.set(keyOf(m.group_external_id, m.user_external_id), { group: m.group_external_id, user: m.user_external_id, live: !m.tombstoned });
  }
  const implied = [
    ...(await membershipRecords(ctx, 'user_external_id', [...inputs.linkedUsers, ...inputs.removedUsers])),
    ...(await membershipRecords(ctx, 'group_external_id', inputs.activatedGroups)),
  ];
  for (const m of implied) {
    const key = keyOf(m.group_external_id!, m.user_external_id!);
    if (!pairs.has(key)) pairs.set(key, { group: m.group_external_id!, user: m.user_external_id!, live: m.tombstoned_at === null });
  }
  if (pairs.size === 0) return touchedUsers;

  const all = [...pairs.values()];
  // A group's canonical id with its state in one joined read.
  const groupRows = await linkedGroups(ctx, all.map((p) => p.group));
  const userIds = [...new Set(all.map((p) => p.user))];
  // A user's canonical id, and whether their record is removed: two narrow reads instead of each record's row.
  const users = await linkedCanonicalIds(ctx, ctx.connection.id, 'user', userIds);
  const removedUserRecords = await tombstonedRecords(ctx, 'user', userIds);
  const groups = new Map(groupRows.map((g) => [g.external_id, g.id]));
  const activeGroups = new Set(groupRows.filter((g) => g.state === 'active').map((g) => g.id));

  const wanted: Pair[] = [];
  const unwanted: Pair[] = [];
  for (const p of all) {
    const groupId = groups.get(p.group);
    const userId = users.get(p.user);
    if (!groupId || !userId) continue;
    const pair = { group_id: groupId, user_id: userId };
    if (p.live && activeGroups.has(groupId) && !removedUserRecords.has(p.user)) wanted.push(pair);
    else unwanted.push(pair);
  }
  const existing = await existingPairs(ctx, [...wanted, ...unwanted]);
  const toAdd = wanted.filter((p) => !existing.has(`${p.group_id}\u0000${p.user_id}`));
  const toRemove = unwanted.filter((p) => existing.has(`${p.group_id}\u0000${p.user_id}`));

  await insertRows(ctx.tx, INSERT_MEMBERSHIPS, toAdd.map((p) => ({ organization_id: ctx.organization_id, ...p, created_at: ctx.now })), ctx.maxParameters);
  for (const p of toAdd) {
    ctx.events.push({ type: 'group.member_added', data: { organization_id: ctx.organization_id, ...p }, changes: null });
    touchedUsers.add(p.user_id);
  }
  ctx.counters.memberships_added += toAdd.length;
  await removeMemberships(ctx, toRemove);
  for (const p of toRemove) touchedUsers.add(p.user_id);
  return touchedUsers;
}

export async function removeMemberships(ctx: ReconcileContext, pairs: readonly Pair[]): Promise<void> {
  for (const [groupId, members] of groupBy(pairs, (p) => p.group_id)) {
    for (const slice of chunks(members.map((m) => m.user_id), 1000)) {
      await ctx.tx.deleteFrom('memberships').where('group_id', '=', groupId).where('user_id', 'in', slice).execute();
    }
  }
  for (const p of pairs) {
    ctx.events.push({ type: 'group.member_removed', data: { organization_id: ctx.organization_id, ...p }, changes: null });
  }
  ctx.counters.memberships_removed += pairs.length;
}

async function membershipRecords(ctx: ReconcileContext, column: 'user_external_id' | 'group_external_id', ids: readonly string[]) {
  return inSlices([...new Set(ids)], (slice) =>
    ctx.tx
      .selectFrom('source_records')
      .select(['group_external_id', 'user_external_id', 'tombstoned_at'])
      .where('connection_id', '=', ctx.connection.id)
      .where('kind', '=', 'membership')
      .where(column, 'in', slice)
      .execute(),
  );
}

async function existingPairs(ctx: ReconcileContext, pairs: readonly Pair[]): Promise<Set<string>> {
  const rows = await inSlices([...new Set(pairs.map((p) => p.user_id))], (slice) =>
    ctx.tx.selectFrom('memberships').select(['group_id', 'user_id']).where('user_id', 'in', slice).execute(),
  );
  return new Set(rows.map((r) => `${r.group_id}\u0000${r.user_id}`));
}
