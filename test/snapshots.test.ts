import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { allEvents, group, ingest, member, user, usersOf } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('snapshots, completeness and the deprovision guard', (engine) => {
  const roster = useTestRoster(engine);
  const people = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => user(`u${from + i}`, { email: `p${from + i}@acme.test`, employee_id: `${from + i}` }));

  async function snapshot(connectionId: string, pages: unknown[][]) {
    const run = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/snapshots`), 201);
    for (const records of pages) {
      expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/snapshots/${run.id}/records`, { records }), 200);
    }
    return expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/snapshots/${run.id}/commit`), 200);
  }

  async function seeded(count: number) {
    const org = await createOrganization(roster(), 'Snapshot Co');
    const idp = await createPushConnection(roster(), org.id, { category: 'idp' });
    const committed = await snapshot(idp.id, [people(count / 2), people(count / 2, count / 2)]);
    assert.equal(committed.status, 'completed');
    assert.equal(committed.counters.users_created, count);
    assert.equal(committed.counters.pages, 2);
    return { org, idp };
  }

  test('a committed snapshot removes only what it did not contain, as deactivation with a reason', async () => {
    const { org, idp } = await seeded(40);
    const run = await snapshot(idp.id, [people(38)]);
    assert.equal(run.status, 'completed');
    assert.equal(run.counters.users_deactivated, 2);
    const inactive = await usersOf(roster(), org.id, '&state=inactive');
    assert.deepEqual(inactive.map((u) => u.email).sort(), ['p38@acme.test', 'p39@acme.test']);
    assert.ok(inactive.every((u) => u.state_reason === 'removed_from_source' && u.state_source === idp.id));
    assert.equal((await usersOf(roster(), org.id)).length, 40, 'never a hard delete');
  });

  test('records sent outside a committed snapshot are never removed; an aborted snapshot removes nothing', async () => {
    const { org, idp } = await seeded(10);
    const run = expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/snapshots`), 201);
    expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/snapshots/${run.id}/records`, { records: people(2) }), 200);
    assertError(await roster().request('POST', `/v1/connections/${idp.id}/snapshots`), 409, 'snapshot_in_progress', run.id);
    const aborted = expectStatus(await roster().request('DELETE', `/v1/connections/${idp.id}/snapshots/${run.id}`), 200);
    assert.equal(aborted.status, 'aborted');
    assert.equal((await usersOf(roster(), org.id, '&state=active')).length, 10);
    assertError(await roster().request('POST', `/v1/connections/${idp.id}/snapshots/${run.id}/commit`), 409, 'snapshot_not_running', 'aborted');
  });

  test('what the source pushes while a snapshot runs is current, and its commit keeps it', async () => {
    const { org, idp } = await seeded(10);
    const run = expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/snapshots`), 201);
    // The snapshot's pages miss u4 (restated by a push meanwhile) and u9 (really gone).
    const pages = people(10).filter((_, i) => i !== 4 && i !== 9);
    expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/snapshots/${run.id}/records`, { records: pages }), 200);
    await ingest(roster(), idp.id, [people(10)[4], user('late', { email: 'late@acme.test' })]);
    const done = expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/snapshots/${run.id}/commit`), 200);
    assert.equal(done.status, 'completed');
    assert.equal(done.counters.users_deactivated, 1);
    assert.deepEqual((await usersOf(roster(), org.id, '&state=inactive')).map((u) => u.email), ['p9@acme.test']);
    assert.equal((await usersOf(roster(), org.id, '&state=active')).length, 10, 'u4 and the late arrival stay');
  });

  test('a snapshot missing 60% of users is held; nothing is deactivated until an admin confirms', async () => {
    const { org, idp } = await seeded(20);
    const held = await snapshot(idp.id, [people(8)]);
    assert.equal(held.status, 'held');
    assert.equal(held.held.would_deactivate, 12);
    assert.equal(held.held.active_users, 20);
    assert.equal((await usersOf(roster(), org.id, '&state=active')).length, 20, 'nothing deactivated while held');
    const heldEvents = await allEvents(roster(), org.id, 'sync.deprovision_held');
    assert.equal(heldEvents.length, 1);
    assert.equal(heldEvents[0].data.id, held.id);
    assert.equal((await allEvents(roster(), org.id, 'user.deactivated')).length, 0);
    const listed = expectStatus(await roster().request('GET', `/v1/sync-runs?organization_id=${org.id}&status=held`), 200);
    assert.deepEqual(listed.data.map((r: any) => r.id), [held.id]);

    const confirmed = expectStatus(await roster().request('POST', `/v1/sync-runs/${held.id}/confirm`), 200);
    assert.equal(confirmed.status, 'completed');
    const inactive = await usersOf(roster(), org.id, '&state=inactive');
    assert.equal(inactive.length, 12);
    assert.ok(inactive.every((u) => u.state_reason === 'deprovision_confirmed'));
    assert.equal((await allEvents(roster(), org.id, 'user.deactivated')).length, 12);
    assertError(await roster().request('POST', `/v1/sync-runs/${held.id}/confirm`), 409, 'sync_run_not_held');
  });

  test('a discarded held run deactivates nobody, and an empty snapshot is held rather than wiping the directory', async () => {
    const { org, idp } = await seeded(20);
    const empty = expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/snapshots`), 201);
    const held = expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/snapshots/${empty.id}/commit`), 200);
    assert.equal(held.status, 'held');
    assert.equal(held.held.would_deactivate, 20);
    const discarded = expectStatus(await roster().request('POST', `/v1/sync-runs/${held.id}/discard`), 200);
    assert.equal(discarded.status, 'discarded');
    assert.equal((await usersOf(roster(), org.id, '&state=active')).length, 20);
    const audit = expectStatus(await roster().request('GET', `/v1/audit-log?organization_id=${org.id}`), 200).data;
    assert.ok(audit.some((a: any) => a.action === 'sync_run.discarded' && a.target_id === held.id));
  });

  test('a snapshot also removes memberships and groups it did not contain', async () => {
    const org = await createOrganization(roster(), 'Groups Co');
    const idp = await createPushConnection(roster(), org.id, { category: 'idp' });
    await snapshot(idp.id, [[...people(3), group('g1', 'Eng'), group('g2', 'Ops'), member('g1', 'u0'), member('g1', 'u1'), member('g2', 'u2')]]);
    const run = await snapshot(idp.id, [[...people(3), group('g1', 'Eng'), member('g1', 'u0')]]);
    assert.equal(run.status, 'completed');
    assert.equal(run.counters.groups_deleted, 1);
    assert.equal(run.counters.memberships_removed, 2);
    const groups = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${org.id}&state=active`), 200).data;
    assert.deepEqual(groups.map((g: any) => g.name), ['Eng']);
    const members = expectStatus(await roster().request('GET', `/v1/groups/${groups[0].id}/members`), 200).data;
    assert.equal(members.length, 1);
  });
});
