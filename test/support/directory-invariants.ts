import assert from 'node:assert/strict';
import type { Database } from '../../src/store/database.ts';

/** What the invariant check counted, for the caller's own assertions. */
export interface StoreCounts {
  users: number;
  groups: number;
  memberships: number;
  events: number;
  eventsByType: Record<string, number>;
}

async function eventData(database: Database, type: string): Promise<Array<Record<string, unknown>>> {
  const rows = await database.db.selectFrom('events').select('data').where('type', '=', type).execute();
  return rows.map((r) => JSON.parse(r.data) as Record<string, unknown>);
}

/**
 * The outbox laws, checked directly in the tables: no canonical change without its event, no event
 * without its change, and per-organization event sequences without gaps or duplicates.
 */
export async function assertOutboxInvariants(database: Database): Promise<StoreCounts> {
  const { db } = database;
  const userIds = (await db.selectFrom('users').select('id').execute()).map((r) => r.id);
  const groupIds = (await db.selectFrom('groups').select('id').execute()).map((r) => r.id);
  const memberships = Number(
    (await db.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n,
  );
  const typeRows = await db
    .selectFrom('events')
    .select(['type', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('type')
    .execute();
  const eventsByType = Object.fromEntries(typeRows.map((r) => [r.type, Number(r.n)]));
  const count = (type: string) => eventsByType[type] ?? 0;

  const created = (await eventData(database, 'user.created')).map((d) => d.id as string);
  const createdSet = new Set(created);
  assert.equal(createdSet.size, created.length, 'a user has more than one user.created event');
  const users = new Set(userIds);
  const withoutEvent = userIds.filter((id) => !createdSet.has(id));
  assert.deepEqual(withoutEvent.slice(0, 5), [], `${withoutEvent.length} users have no user.created event`);
  const withoutUser = created.filter((id) => !users.has(id));
  assert.deepEqual(withoutUser.slice(0, 5), [], `${withoutUser.length} user.created events name no user`);

  const groupsCreated = (await eventData(database, 'group.created')).map((d) => d.id as string);
  const groups = new Set(groupIds);
  const missingGroups = groupsCreated.filter((id) => !groups.has(id));
  assert.deepEqual(missingGroups.slice(0, 5), [], `${missingGroups.length} group.created events name no group`);
  const groupsCreatedSet = new Set(groupsCreated);
  const groupsWithoutEvent = groupIds.filter((id) => !groupsCreatedSet.has(id));
  assert.deepEqual(groupsWithoutEvent.slice(0, 5), [], `${groupsWithoutEvent.length} groups have no group.created event`);

  assert.equal(
    memberships,
    count('group.member_added') - count('group.member_removed'),
    'membership rows differ from member_added − member_removed events',
  );

  const sequences = await db
    .selectFrom('events')
    .select((eb) => [
      'organization_id',
      eb.fn.countAll<number>().as('n'),
      eb.fn.min<number>('sequence').as('low'),
      eb.fn.max<number>('sequence').as('high'),
      eb.fn.count<number>('sequence').distinct().as('distinct'),
    ])
    .groupBy('organization_id')
    .execute();
  const reserved = new Map(
    (await db.selectFrom('organizations').select(['id', 'event_sequence']).execute()).map((o) => [o.id, Number(o.event_sequence)]),
  );
  for (const s of sequences) {
    const n = Number(s.n);
    assert.deepEqual(
      { low: Number(s.low), high: Number(s.high), distinct: Number(s.distinct) },
      { low: 1, high: n, distinct: n },
      `event sequences of ${s.organization_id} are not exactly 1..${n}`,
    );
    assert.equal(reserved.get(s.organization_id), n, `organization ${s.organization_id} reserved sequences beyond its events`);
  }

  const events = typeRows.reduce((sum, r) => sum + Number(r.n), 0);
  return { users: userIds.length, groups: groupIds.length, memberships, events, eventsByType };
}

/**
 * The directory as the sources name it (canonical ids are random, so they are replaced by the
 * external ids linked to them): two stores built from the same statements compare equal.
 */
export async function directorySnapshot(database: Database): Promise<{ users: string[]; groups: string[]; memberships: string[] }> {
  const { db } = database;
  const links = await db.selectFrom('identity_links').select(['canonical_id', 'external_id']).execute();
  const external = new Map(links.map((l) => [l.canonical_id, l.external_id]));
  const name = (id: string | null | undefined) => (id ? (external.get(id) ?? `unlinked:${id}`) : null);

  const users = (await db.selectFrom('users').select('data').execute()).map((r) => {
    const u = JSON.parse(r.data) as Record<string, string | null>;
    return JSON.stringify([name(u.id), u.state, u.state_reason, u.email, u.employee_id, u.title, u.department, name(u.manager_id)]);
  });
  const groups = (await db.selectFrom('groups').select(['id', 'name', 'state']).execute()).map((g) =>
    JSON.stringify([name(g.id), g.name, g.state]),
  );
  const memberships = (await db.selectFrom('memberships').select(['group_id', 'user_id']).execute()).map((m) =>
    JSON.stringify([name(m.group_id), name(m.user_id)]),
  );
  return { users: users.sort(), groups: groups.sort(), memberships: memberships.sort() };
}
