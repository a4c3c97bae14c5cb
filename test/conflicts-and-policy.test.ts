import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { allEvents, conflictsOf, group, ingest, member, onlyUser, removed, user, usersOf } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('conflicts, identity join and directory policy', (engine) => {
  const roster = useTestRoster(engine);

  async function org(policy?: unknown) {
    const o = await createOrganization(roster(), 'Policy Co', policy);
    const hris = await createPushConnection(roster(), o.id, { name: 'BambooHR', category: 'hris' });
    const idp = await createPushConnection(roster(), o.id, { name: 'Okta', category: 'idp' });
    return { org: o, hris, idp };
  }

  test('two candidates for one record: identity_ambiguous conflict, no merge, resolved by an admin link', async () => {
    const { org: o, hris, idp } = await org({ identity_join: ['email'] });
    await ingest(roster(), hris.id, [user('W-1', { email: 'sam@acme.test', first_name: 'Sam' })]);
    await ingest(roster(), idp.id, [user('00u-other', { emails: ['sam@acme.test'], email: 'samuel@acme.test' })]);
    const [hrisUser] = await usersOf(roster(), o.id, '&email=sam@acme.test');
    assert.equal((await usersOf(roster(), o.id)).length, 1, 'the IdP account joined by its alias');

    // A second HRIS record with the same address cannot be told apart from the first person.
    const google = await createPushConnection(roster(), o.id, { name: 'Google', category: 'directory' });
    await ingest(roster(), hris.id, [user('W-2', { email: 'other@acme.test' })]);
    await ingest(roster(), idp.id, [user('00u-2', { email: 'other@acme.test', emails: ['x@acme.test'] })]);
    await ingest(roster(), google.id, [user('g-9', { emails: ['sam@acme.test', 'x@acme.test'] })]);
    const users = await usersOf(roster(), o.id);
    assert.equal(users.length, 2, 'no merge, no new person for the ambiguous record');
    const [conflict] = await conflictsOf(roster(), o.id, '&kind=identity_ambiguous&status=open');
    assert.ok(conflict, 'an identity conflict is open');
    assert.equal(conflict.subject_id, `${google.id}/g-9`);
    assert.equal(conflict.details.candidates.length, 2);

    assertError(
      await roster().request('POST', `/v1/conflicts/${conflict.id}/resolve`, { resolution: 'accepted' }),
      400,
      'invalid_resolution',
      'linked or separate',
    );
    const resolved = expectStatus(
      await roster().request('POST', `/v1/conflicts/${conflict.id}/resolve`, { resolution: 'linked', user_id: hrisUser.id }),
      200,
    );
    assert.equal(resolved.status, 'resolved');
    assert.equal(resolved.resolution, 'linked');
    const detail = expectStatus(await roster().request('GET', `/v1/users/${hrisUser.id}?include=sources`), 200);
    assert.ok(detail.sources.some((s: any) => s.connection_id === google.id && s.link_method === 'manual'));
    assertError(await roster().request('POST', `/v1/conflicts/${conflict.id}/resolve`, { resolution: 'linked', user_id: hrisUser.id }), 409, 'conflict_not_open');
  });

  test('an admin accepts a disagreement (it stays closed) or prefers a connection (it wins for that person)', async () => {
    const { org: o, hris, idp } = await org({ attribute_ownership: { title: { owners: ['hris', 'idp'], fallback: [] } } });
    await ingest(roster(), hris.id, [user('W-7', { employee_id: '7', title: 'Engineer' })]);
    await ingest(roster(), idp.id, [user('00u7', { employee_id: '7', title: 'Senior Engineer', email: 'lee@acme.test' })]);
    const person = await onlyUser(roster(), o.id);
    assert.equal(person.title, 'Engineer', 'the first owner wins');
    const [conflict] = await conflictsOf(roster(), o.id, '&status=open');
    assert.equal(conflict.attribute, 'title');

    assertError(
      await roster().request('POST', `/v1/conflicts/${conflict.id}/resolve`, { resolution: 'preferred', connection_id: 'conn_nope' }),
      400,
      'invalid_preference',
      'body.connection_id',
    );
    expectStatus(await roster().request('POST', `/v1/conflicts/${conflict.id}/resolve`, { resolution: 'preferred', connection_id: idp.id }), 200);
    const preferred = await onlyUser(roster(), o.id);
    assert.equal(preferred.title, 'Senior Engineer');
    const update = (await allEvents(roster(), o.id, 'user.updated')).at(-1);
    assert.deepEqual(update.changes.title, { from: 'Engineer', to: 'Senior Engineer' });
    // The pin holds through later changes and raises no new conflict.
    await ingest(roster(), hris.id, [user('W-7', { employee_id: '7', title: 'Staff Engineer' })]);
    assert.equal((await onlyUser(roster(), o.id)).title, 'Senior Engineer');
    assert.equal((await conflictsOf(roster(), o.id, '&status=open')).length, 0);

    await ingest(roster(), hris.id, [user('W-8', { employee_id: '8', department: 'Sales' })]);
    await ingest(roster(), idp.id, [user('00u8', { employee_id: '8', department: 'Marketing' })]);
    await ingest(roster(), hris.id, [user('W-8', { employee_id: '8', department: 'Sales', title: 'AE' })]);
    await ingest(roster(), idp.id, [user('00u8', { employee_id: '8', department: 'Marketing', title: 'Rep' })]);
    const [titleConflict] = await conflictsOf(roster(), o.id, '&status=open');
    assert.equal(titleConflict.attribute, 'title', 'department is HRIS-owned by default, so only title disagrees');
    expectStatus(await roster().request('POST', `/v1/conflicts/${titleConflict.id}/resolve`, { resolution: 'accepted' }), 200);
    await ingest(roster(), idp.id, [user('00u8', { employee_id: '8', department: 'Marketing', title: 'Rep', username: 'rep8' })]);
    assert.equal((await conflictsOf(roster(), o.id, '&status=open')).length, 0, 'the accepted disagreement does not reopen');
    await ingest(roster(), idp.id, [user('00u8', { employee_id: '8', title: 'Lead' })]);
    assert.equal((await conflictsOf(roster(), o.id, '&status=open')).length, 1, 'a new disagreement opens a new conflict');
  });

  test('roles from group and attribute rules, custom attributes from raw fields, managers resolved when they arrive', async () => {
    const { org: o, hris, idp } = await org({
      role_rules: [
        { role: 'admin', group: 'Admins' },
        { role: 'engineer', attribute: 'department', equals: 'Engineering' },
      ],
      custom_attributes: { cost_center: { path: 'raw.costCenter' } },
    });
    await ingest(roster(), hris.id, [
      user('W-1', { employee_id: '1', department: 'Engineering', manager: { employee_id: '2' } }, { costCenter: 'CC-42' }),
    ]);
    const report = await onlyUser(roster(), o.id);
    assert.equal(report.manager_id, null, 'the manager is not known yet');
    assert.deepEqual(report.roles, ['engineer']);
    assert.deepEqual(report.custom_attributes, { cost_center: 'CC-42' });

    await ingest(roster(), hris.id, [user('W-2', { employee_id: '2', department: 'Sales' })]);
    const manager = (await usersOf(roster(), o.id)).find((u) => u.employee_id === '2');
    const updated = (await usersOf(roster(), o.id)).find((u) => u.employee_id === '1');
    assert.equal(updated.manager_id, manager.id, 'the report is re-derived when the manager appears');

    await ingest(roster(), idp.id, [user('00u1', { employee_id: '1', email: 'a@acme.test' }), group('g-admins', 'Admins'), member('g-admins', '00u1')]);
    assert.deepEqual((await usersOf(roster(), o.id)).find((u) => u.employee_id === '1').roles, ['admin', 'engineer']);
    await ingest(roster(), idp.id, [{ kind: 'membership', group_id: 'g-admins', user_id: '00u1', deleted: true }]);
    assert.deepEqual((await usersOf(roster(), o.id)).find((u) => u.employee_id === '1').roles, ['engineer']);
    const roleEvents = (await allEvents(roster(), o.id, 'role.assigned,role.unassigned')).map((e) => [e.type, e.data.role]);
    assert.deepEqual(roleEvents, [
      ['role.assigned', 'engineer'],
      ['role.assigned', 'admin'],
      ['role.unassigned', 'admin'],
    ]);
  });

  test('removal from the only source deactivates, a return reactivates, each announced once', async () => {
    const { org: o, idp } = await org();
    await ingest(roster(), idp.id, [user('00u9', { email: 'kim@acme.test' }), group('g', 'Everyone'), member('g', '00u9')]);
    await ingest(roster(), idp.id, [removed('user', '00u9')]);
    await ingest(roster(), idp.id, [removed('user', '00u9')]);
    const gone = await onlyUser(roster(), o.id);
    assert.equal(gone.state, 'inactive');
    assert.equal(gone.state_reason, 'removed_from_source');
    assert.equal(gone.email, 'kim@acme.test');
    assert.equal(expectStatus(await roster().request('GET', `/v1/users/${gone.id}/groups`), 200).data.length, 0);
    await ingest(roster(), idp.id, [user('00u9', { email: 'kim@acme.test' })]);
    const back = await onlyUser(roster(), o.id);
    assert.equal(back.state, 'active');
    assert.equal(back.id, gone.id);
    const types = (await allEvents(roster(), o.id, 'user.deactivated,user.reactivated,group.member_added,group.member_removed')).map(
      (e) => e.type,
    );
    assert.deepEqual(types, ['group.member_added', 'user.deactivated', 'group.member_removed', 'user.reactivated', 'group.member_added']);
  });
});

forEachEngine('changing the directory policy', (engine) => {
  const roster = useTestRoster(engine);

  test('re-derives existing users at once, with events and no re-fetch', async () => {
    const o = await createOrganization(roster(), 'Remap Co');
    const hris = await createPushConnection(roster(), o.id, { category: 'hris' });
    const idp = await createPushConnection(roster(), o.id, { category: 'idp' });
    await ingest(roster(), hris.id, [user('w1', { employee_id: '1', title: 'Engineer' }, { costCenter: 'CC-7' })]);
    await ingest(roster(), idp.id, [user('o1', { employee_id: '1', email: 'r@acme.test', title: 'Sr. Engineer', department: 'Eng' })]);
    assert.equal((await onlyUser(roster(), o.id)).title, 'Engineer');

    const policy = {
      attribute_ownership: { title: { owners: ['idp'], fallback: ['hris'] } },
      custom_attributes: { cost_center: { path: 'raw.costCenter' } },
      role_rules: [{ role: 'eng', attribute: 'department', equals: 'Eng' }],
    };
    expectStatus(await roster().request('PUT', `/v1/organizations/${o.id}/policy`, policy), 200);
    const after = await onlyUser(roster(), o.id);
    assert.equal(after.title, 'Sr. Engineer', 'the IdP now owns title');
    assert.deepEqual(after.custom_attributes, { cost_center: 'CC-7' }, 'mapped from the stored raw payload');
    assert.deepEqual(after.roles, ['eng']);
    const update = (await allEvents(roster(), o.id, 'user.updated')).at(-1);
    assert.deepEqual(update.changes.title, { from: 'Engineer', to: 'Sr. Engineer' });
    assert.deepEqual(update.source, { connection_id: null, connection_type: null, sync_run_id: null });
    assert.equal((await allEvents(roster(), o.id, 'role.assigned')).length, 1);

    // Writing the same policy again changes nothing and says nothing.
    const before = (await allEvents(roster(), o.id)).length;
    expectStatus(await roster().request('PUT', `/v1/organizations/${o.id}/policy`, policy), 200);
    assert.equal((await allEvents(roster(), o.id)).length, before);
  });
});
