import { diffObjects, hasChanges } from '../core/changes.ts';
import { newId } from '../core/ids.ts';
import type { CanonicalGroup, JsonObject } from '../core/model.ts';
import { rankIn } from '../core/policy.ts';
import { chunks, inSlices } from '../store/batching.ts';
import type { ReconcileContext } from './context.ts';
import { linkedGroups } from './lookups.ts';
import { removeMemberships } from './membership-step.ts';
import { nestingsOf, removeNestings } from './nesting-step.ts';
import type { ChangedGroupRecord } from './source-record-writer.ts';

export interface GroupStepResult {
  /** Source group ids that became (or became again) an active canonical group in this step. */
  activated: string[];
}

/** Whether this connection's groups become canonical groups under the organization's policy. */
export function materializesGroups(ctx: Pick<ReconcileContext, 'policy' | 'connection'>): boolean {
  const rule = ctx.policy.groups;
  return rankIn(rule.owners, ctx.connection) >= 0 || rankIn(rule.fallback, ctx.connection) >= 0;
}

/** Each source group is one canonical group; a tombstoned source group soft-deletes it and its memberships. */
export async function reconcileGroups(
  ctx: ReconcileContext,
  changed: readonly ChangedGroupRecord[],
  options: { force?: boolean } = {},
): Promise<GroupStepResult> {
  const result: GroupStepResult = { activated: [] };
  if (changed.length === 0 || (!options.force && !materializesGroups(ctx))) return result;
  const links = await linkedGroups(ctx, changed.map((g) => g.external_id));
  const existing = new Map(links.map((l) => [l.external_id, JSON.parse(l.data) as CanonicalGroup]));
  const writes: CanonicalGroup[] = [];
  const newLinks: Array<{ external_id: string; group_id: string }> = [];
  const deleted: string[] = [];

  for (const record of changed) {
    const before = existing.get(record.external_id);
    if (record.tombstoned) {
      if (!before || before.state === 'deleted') continue;
      const after: CanonicalGroup = { ...before, state: 'deleted', updated_at: ctx.now };
      writes.push(after);
      deleted.push(after.id);
      ctx.counters.groups_deleted += 1;
      ctx.events.push({ type: 'group.deleted', data: after as unknown as JsonObject, changes: diffObjects(before as any, after as any) });
      continue;
    }
    const after: CanonicalGroup = {
      id: before?.id ?? newId('group'),
      organization_id: ctx.organization_id,
      connection_id: ctx.connection.id,
      external_id: record.external_id,
      name: record.attributes.name,
      description: record.attributes.description ?? null,
      email: record.attributes.email ?? null,
      state: 'active',
      created_at: before?.created_at ?? ctx.now,
      updated_at: ctx.now,
    };
    if (!before) {
      newLinks.push({ external_id: record.external_id, group_id: after.id });
      writes.push(after);
      result.activated.push(record.external_id);
      ctx.counters.groups_created += 1;
      ctx.events.push({ type: 'group.created', data: after as unknown as JsonObject, changes: null });
      continue;
    }
    const changes = diffObjects(before as unknown as JsonObject, after as unknown as JsonObject);
    if (!hasChanges(changes)) continue;
    if (before.state === 'deleted') result.activated.push(record.external_id);
    writes.push(after);
    ctx.counters.groups_updated += 1;
    ctx.events.push({ type: before.state === 'deleted' ? 'group.created' : 'group.updated', data: after as unknown as JsonObject, changes });
  }

  for (const slice of chunks(newLinks, Math.floor(ctx.maxParameters / 7))) {
    await ctx.tx
      .insertInto('identity_links')
      .values(
        slice.map((l) => ({
          organization_id: ctx.organization_id,
          connection_id: ctx.connection.id,
          kind: 'group',
          external_id: l.external_id,
          canonical_id: l.group_id,
          method: 'new',
          created_at: ctx.now,
        })),
      )
      .execute();
  }
  for (const slice of chunks(writes, Math.floor(ctx.maxParameters / 8))) {
    await ctx.tx
      .insertInto('groups')
      .values(
        slice.map((g) => ({
          id: g.id,
          organization_id: g.organization_id,
          connection_id: g.connection_id,
          name: g.name,
          state: g.state,
          data: JSON.stringify(g),
          created_at: g.created_at,
          updated_at: g.updated_at,
        })),
      )
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          name: eb.ref('excluded.name'),
          state: eb.ref('excluded.state'),
          data: eb.ref('excluded.data'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }
  if (deleted.length > 0) {
    const members = await inSlices(deleted, (slice) =>
      ctx.tx.selectFrom('memberships').select(['group_id', 'user_id']).where('group_id', 'in', slice).execute(),
    );
    await removeMemberships(ctx, members);
    await removeNestings(ctx, await nestingsOf(ctx, deleted));
  }
  return result;
}
