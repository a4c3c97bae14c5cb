import type { CanonicalUser } from '../core/model.ts';
import { deriveRoles, type GroupRef } from '../core/roles.ts';
import { groupBy, inSlices } from '../store/batching.ts';
import type { ReconcileContext } from './context.ts';
import { writeUsers } from './user-step.ts';

/**
 * Re-derives roles for users whose attributes or memberships changed in this transaction, and emits
 * `role.assigned` / `role.unassigned` for each difference. Roles are announced by their own events, so
 * the stored user's `roles` is updated without a `user.updated`.
 */
export async function reconcileRoles(ctx: ReconcileContext, userIds: ReadonlySet<string>): Promise<void> {
  const rules = ctx.policy.role_rules;
  if (rules.length === 0 || userIds.size === 0) return;
  const ids = [...userIds];
  const rows = await inSlices(ids, (slice) => ctx.tx.selectFrom('users').selectAll().where('id', 'in', slice).execute());
  const needsGroups = rules.some((r) => 'group' in r);
  const memberships = needsGroups
    ? await inSlices(ids, (slice) =>
        ctx.tx
          .selectFrom('memberships as m')
          .innerJoin('groups as g', 'g.id', 'm.group_id')
          .select(['m.user_id', 'g.id', 'g.name'])
          .where('m.user_id', 'in', slice)
          .where('g.state', '=', 'active')
          .execute(),
      )
    : [];
  const groupsOf = groupBy(memberships, (m) => m.user_id);

  const writes: Array<Record<string, string | null>> = [];
  for (const row of rows) {
    const user = JSON.parse(row.data) as CanonicalUser;
    const groups: GroupRef[] = (groupsOf.get(user.id) ?? []).map((m) => ({ id: m.id, name: m.name }));
    const roles = user.state === 'inactive' ? [] : deriveRoles(user, groups, rules);
    const before = new Set(user.roles);
    const after = new Set(roles);
    const assigned = roles.filter((r) => !before.has(r));
    const unassigned = user.roles.filter((r) => !after.has(r));
    if (assigned.length === 0 && unassigned.length === 0) continue;
    user.roles = roles;
    writes.push({ ...row, data: JSON.stringify(user) });
    for (const role of assigned) {
      ctx.events.push({ type: 'role.assigned', data: { organization_id: ctx.organization_id, user_id: user.id, role }, changes: null });
    }
    for (const role of unassigned) {
      ctx.events.push({ type: 'role.unassigned', data: { organization_id: ctx.organization_id, user_id: user.id, role }, changes: null });
    }
  }
  await writeUsers(ctx, writes);
}
