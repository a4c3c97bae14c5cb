import { diffObjects, hasChanges } from '../core/changes.ts';
import { fingerprint, type ConflictRow } from '../core/conflicts.ts';
import { deriveUser, managerKey, referenceKey, type Disagreement, type LinkedUserRecord } from '../core/derive-user.ts';
import type { CanonicalUser, EventDraft, FieldChanges, JsonObject, OwnedUserAttribute } from '../core/model.ts';
import { chunks, groupBy, inSlices } from '../store/batching.ts';
import { bulkInsert, insertRows } from '../store/bulk-insert.ts';
import type { ReconcileContext } from './context.ts';
import { closeConflicts, openConflict } from './conflict-writer.ts';
import { linkedCanonicalIds, usersWithIdentifiers } from './lookups.ts';

const WRITE_USERS = bulkInsert('users', ['id', 'organization_id', 'state', 'email', 'employee_id', 'data', 'pins', 'created_at', 'updated_at'], (insert) =>
  insert.onConflict((oc) =>
    oc.column('id').doUpdateSet((eb) => ({
      state: eb.ref('excluded.state'),
      email: eb.ref('excluded.email'),
      employee_id: eb.ref('excluded.employee_id'),
      data: eb.ref('excluded.data'),
      updated_at: eb.ref('excluded.updated_at'),
    })),
  ),
);
const INSERT_UNRESOLVED = bulkInsert('unresolved_references', ['organization_id', 'ref_key', 'user_id'], (insert) => insert.onConflict((oc) => oc.doNothing()));

interface UserRow {
  id: string;
  data: string;
  pins: string;
}

/** What `recomputeUsers` did besides writing: whom it held back, and the records whose person it created. */
export interface RecomputeOutcome {
  /** New users not created yet: their manager is not known (only when the context defers them). */
  deferred: Set<string>;
  /** The connection's records whose person was created in this call. */
  createdRecords: string[];
}

/**
 * Re-derives the given canonical users from every record linked to them, writes what changed and
 * queues its events (then the conflicts the derivation found). New users (no row yet) are created —
 * unless the context defers new users awaiting their manager and this one's is not known yet: then it
 * is created once the manager arrives (`usersAwaiting`) or the listing ends (`usersDeferred`), with one
 * `user.created` instead of a `user.created` without the manager and a `user.updated` with it.
 */
export async function recomputeUsers(ctx: ReconcileContext, userIds: readonly string[]): Promise<RecomputeOutcome> {
  const outcome: RecomputeOutcome = { deferred: new Set(), createdRecords: [] };
  if (userIds.length === 0) return outcome;
  const { tx } = ctx;
  const rows = (await inSlices(userIds, (slice) =>
    tx.selectFrom('users').select(['id', 'data', 'pins']).where('id', 'in', slice).execute(),
  )) as UserRow[];
  const current = new Map(rows.map((r) => [r.id, r]));
  const records = await loadLinkedRecords(ctx, userIds);
  const managers = await resolveManagers(ctx, [...records.values()].flat());
  const conflicts = await loadAttributeConflicts(ctx, userIds);

  const writes: Array<Record<string, string | null>> = [];
  const unresolved: Array<{ organization_id: string; ref_key: string; user_id: string }> = [];
  for (const userId of userIds) {
    const linked = records.get(userId) ?? [];
    const row = current.get(userId);
    let awaitingManager = false;
    for (const record of linked) {
      const key = managerKey(record);
      if (key && !managers.has(key)) {
        unresolved.push({ organization_id: ctx.organization_id, ref_key: key, user_id: userId });
        awaitingManager = true;
      }
    }
    if (!row) {
      if (awaitingManager && ctx.defer_new_users_awaiting_manager) {
        outcome.deferred.add(userId);
        continue;
      }
      for (const record of linked) if (record.connection.id === ctx.connection.id) outcome.createdRecords.push(record.external_id);
    }
    const before = row ? (JSON.parse(row.data) as CanonicalUser) : null;
    const pins = row ? (JSON.parse(row.pins) as Partial<Record<OwnedUserAttribute, string>>) : {};
    const derived = deriveUser(linked, { policy: ctx.policy, pins, managers, today: ctx.today });
    const a = derived.attributes as Record<OwnedUserAttribute, any>;
    const after: CanonicalUser = {
      id: userId,
      organization_id: ctx.organization_id,
      state: derived.state,
      state_reason: derived.state_reason,
      state_source: derived.sources.state ?? null,
      state_changed_at: before && before.state === derived.state ? before.state_changed_at : ctx.now,
      email: a.email,
      emails: derived.emails,
      username: a.username,
      employee_id: a.employee_id,
      first_name: a.first_name,
      last_name: a.last_name,
      display_name: a.display_name,
      department: a.department,
      title: a.title,
      manager_id: a.manager_id,
      start_date: a.start_date,
      end_date: a.end_date,
      custom_attributes: derived.custom_attributes,
      roles: before?.roles ?? [],
      created_at: before?.created_at ?? ctx.now,
      updated_at: ctx.now,
    };
    const changes = before ? diffObjects(before as unknown as JsonObject, after as unknown as JsonObject) : null;
    if (!changes || hasChanges(changes)) {
      const dataJson = JSON.stringify(after);
      ctx.events.push({ ...userEvent(ctx, before, after, changes), data_json: dataJson });
      writes.push({
        id: userId,
        organization_id: ctx.organization_id,
        state: after.state,
        email: after.email?.toLowerCase() ?? null,
        employee_id: after.employee_id,
        data: dataJson,
        pins: row?.pins ?? '{}',
        created_at: after.created_at,
        updated_at: after.updated_at,
      });
    }
    await reconcileConflicts(ctx, userId, derived.disagreements, pins, conflicts.get(userId) ?? []);
  }

  await writeUsers(ctx, writes);
  // A new user may have been deferred before, with references of its own to clear.
  await replaceUnresolved(ctx, userIds, unresolved);
  return outcome;
}

/** The event for a new or changed user: deactivation and reactivation are their own types. Counts it. */
function userEvent(ctx: ReconcileContext, before: CanonicalUser | null, after: CanonicalUser, changes: FieldChanges | null): EventDraft {
  const data = after as unknown as JsonObject;
  if (!before) {
    ctx.counters.users_created += 1;
    return { type: 'user.created', data, changes: null };
  }
  if (before.state !== 'inactive' && after.state === 'inactive') {
    ctx.counters.users_deactivated += 1;
    return { type: 'user.deactivated', data, changes };
  }
  if (before.state === 'inactive' && after.state !== 'inactive') {
    ctx.counters.users_reactivated += 1;
    return { type: 'user.reactivated', data, changes };
  }
  ctx.counters.users_updated += 1;
  return { type: 'user.updated', data, changes };
}

export async function writeUsers(ctx: ReconcileContext, writes: Array<Record<string, string | null>>): Promise<void> {
  await insertRows(ctx.tx, WRITE_USERS, writes, ctx.maxParameters);
}

async function loadLinkedRecords(ctx: ReconcileContext, userIds: readonly string[]): Promise<Map<string, LinkedUserRecord[]>> {
  const needsRaw = Object.values(ctx.policy.custom_attributes).some((rule) => rule.path.startsWith('raw.'));
  const rows = await inSlices(userIds, (slice) =>
    ctx.tx
      .selectFrom('identity_links as l')
      .innerJoin('source_records as r', (join) =>
        join
          .onRef('r.connection_id', '=', 'l.connection_id')
          .onRef('r.kind', '=', 'l.kind')
          .onRef('r.external_id', '=', 'l.external_id'),
      )
      .select(['l.canonical_id', 'r.connection_id', 'r.external_id', 'r.normalized', 'r.tombstoned_at', 'r.tombstone_reason'])
      .$if(needsRaw, (qb) => qb.select('r.raw'))
      .where('l.canonical_id', 'in', slice)
      .where('l.kind', '=', 'user')
      .execute(),
  );
  const out = new Map<string, LinkedUserRecord[]>();
  for (const row of rows) {
    const connection = ctx.connections.get(row.connection_id);
    if (!connection) continue;
    const list = out.get(row.canonical_id) ?? [];
    // A deleted connection no longer speaks for anyone: its records count as removed.
    const gone = connection.deleted_at ? { at: connection.deleted_at, reason: 'connection_deleted' } : null;
    list.push({
      connection,
      external_id: row.external_id,
      attributes: JSON.parse(row.normalized),
      raw: 'raw' in row ? JSON.parse(row.raw as string) : null,
      tombstoned_at: row.tombstoned_at ?? gone?.at ?? null,
      tombstone_reason: row.tombstoned_at ? row.tombstone_reason : (gone?.reason ?? null),
    });
    out.set(row.canonical_id, list);
  }
  return out;
}

/** Resolves manager references to canonical ids; a reference matching several people stays unresolved. */
async function resolveManagers(ctx: ReconcileContext, records: readonly LinkedUserRecord[]): Promise<Map<string, string>> {
  const keys = [...new Set(records.map(managerKey).filter((k): k is string => k !== null))];
  const resolved = new Map<string, string>();
  if (keys.length === 0) return resolved;
  const candidates = new Map<string, Set<string>>();
  const add = (key: string, userId: string) => candidates.set(key, (candidates.get(key) ?? new Set()).add(userId));

  for (const kind of ['employee_id', 'email'] as const) {
    const values = keys.filter((k) => k.startsWith(`${kind}:`)).map((k) => k.slice(kind.length + 1));
    for (const row of await usersWithIdentifiers(ctx, kind, values)) add(referenceKey.identifier(kind, row.value), row.user_id);
  }
  const external = keys.filter((k) => k.startsWith('ext:'));
  const split = external.map((key) => {
    const [, connectionId, ...rest] = key.split(':');
    return { connectionId: connectionId!, externalId: rest.join(':') };
  });
  for (const [connectionId, refs] of groupBy(split, (r) => r.connectionId)) {
    const links = await linkedCanonicalIds(ctx, connectionId, 'user', refs.map((r) => r.externalId));
    for (const [externalId, userId] of links) add(referenceKey.external(connectionId, externalId), userId);
  }
  for (const [key, users] of candidates) if (users.size === 1) resolved.set(key, [...users][0]!);
  return resolved;
}

async function replaceUnresolved(
  ctx: ReconcileContext,
  userIds: readonly string[],
  rows: Array<{ organization_id: string; ref_key: string; user_id: string }>,
): Promise<void> {
  for (const slice of chunks(userIds, 1000)) {
    await ctx.tx.deleteFrom('unresolved_references').where('user_id', 'in', slice).execute();
  }
  await insertRows(ctx.tx, INSERT_UNRESOLVED, rows, ctx.maxParameters);
}

/**
 * Users of the connection held back awaiting their manager (`RecomputeOutcome.deferred`) and not created
 * since: a listing that ended, or a run that stopped, leaves them to be created without the manager.
 */
export async function usersDeferred(ctx: ReconcileContext): Promise<string[]> {
  const rows = await ctx.tx
    .selectFrom('unresolved_references as r')
    .innerJoin('identity_links as l', (join) => join.onRef('l.canonical_id', '=', 'r.user_id').on('l.connection_id', '=', ctx.connection.id).on('l.kind', '=', 'user'))
    .leftJoin('users as u', 'u.id', 'r.user_id')
    .select('r.user_id')
    .distinct()
    .where('r.organization_id', '=', ctx.organization_id)
    .where('u.id', 'is', null)
    .orderBy('r.user_id')
    .execute();
  return rows.map((r) => r.user_id);
}

/** Users whose unresolved references now point at someone: they are re-derived in the same transaction. */
export async function usersAwaiting(ctx: ReconcileContext, referenceKeys: readonly string[]): Promise<string[]> {
  const rows = await inSlices([...new Set(referenceKeys)], (slice) =>
    ctx.tx
      .selectFrom('unresolved_references')
      .select('user_id')
      .where('organization_id', '=', ctx.organization_id)
      .where('ref_key', 'in', slice)
      .execute(),
  );
  return [...new Set(rows.map((r) => r.user_id))];
}

async function loadAttributeConflicts(ctx: ReconcileContext, userIds: readonly string[]): Promise<Map<string, ConflictRow[]>> {
  const rows = (await inSlices(userIds, (slice) =>
    ctx.tx
      .selectFrom('conflicts')
      .selectAll()
      .where('subject_id', 'in', slice)
      .where('kind', '=', 'attribute')
      .where((eb) => eb.or([eb('status', '=', 'open'), eb('resolution', '=', 'accepted')]))
      .execute(),
  )) as ConflictRow[];
  return groupBy(rows, (r) => r.subject_id);
}

/**
 * Opens a conflict for each new disagreement between owners, refreshes the details of one still open,
 * and closes those whose sources agree again. A disagreement an admin accepted stays closed while the
 * values are the same; an attribute pinned by an admin raises none.
 */
async function reconcileConflicts(
  ctx: ReconcileContext,
  userId: string,
  disagreements: readonly Disagreement[],
  pins: Partial<Record<OwnedUserAttribute, string>>,
  existing: readonly ConflictRow[],
): Promise<void> {
  const open = new Map(existing.filter((c) => c.status === 'open').map((c) => [c.attribute!, c]));
  const accepted = new Set(existing.filter((c) => c.resolution === 'accepted').map((c) => `${c.attribute}\u0000${c.fingerprint}`));
  const current = new Set<string>();
  for (const d of disagreements) {
    if (pins[d.attribute]) continue;
    const values = [...d.values].sort((x, y) => x.connection_id.localeCompare(y.connection_id));
    const print = fingerprint(values);
    if (accepted.has(`${d.attribute}\u0000${print}`)) continue;
    current.add(d.attribute);
    const details = { attribute: d.attribute, winner: d.winner, values } as unknown as JsonObject;
    const already = open.get(d.attribute);
    if (already) {
      if (already.fingerprint !== print) {
        await ctx.tx
          .updateTable('conflicts')
          .set({ fingerprint: print, details: JSON.stringify(details) })
          .where('id', '=', already.id)
          .execute();
      }
      continue;
    }
    await openConflict(ctx, { kind: 'attribute', subject_type: 'user', subject_id: userId, attribute: d.attribute, fingerprint: print, details });
  }
  const settled = [...open.values()].filter((c) => !current.has(c.attribute!));
  await closeConflicts(ctx, settled, () => 'sources_agree', null);
}
