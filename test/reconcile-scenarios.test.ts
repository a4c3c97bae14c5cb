import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { allEvents, conflictsOf, ingest, onlyUser, user, usersOf } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('reconciliation scenarios from the field', (engine) => {
  const roster = useTestRoster(engine);

  async function hrisAndIdp() {
    const org = await createOrganization(roster(), 'Acme');
    const hris = await createPushConnection(roster(), org.id, { name: 'Workday', category: 'hris' });
    const idp = await createPushConnection(roster(), org.id, { name: 'Okta', category: 'idp' });
    return { org, hris, idp };
  }

  test('HRIS terminates on Friday, IdP still active until Monday: inactive, conflict opened, closed when the IdP catches up', async () => {
    const { org, hris, idp } = await hrisAndIdp();
    await ingest(roster(), hris.id, [user('W-100', { employee_id: '100', first_name: 'Dana', last_name: 'Scully', state: 'active' })]);
    await ingest(roster(), idp.id, [user('00u100', { employee_id: '100', email: 'dana@acme.test', state: 'active' })]);
    assert.equal((await onlyUser(roster(), org.id)).state, 'active');

    // Friday: the HRIS terminates.
    await ingest(roster(), hris.id, [user('W-100', { employee_id: '100', first_name: 'Dana', last_name: 'Scully', state: 'inactive' })]);
    const friday = await onlyUser(roster(), org.id);
    assert.equal(friday.state, 'inactive');
    assert.equal(friday.state_reason, 'terminated_in_hris');
    assert.equal(friday.state_source, hris.id);
    const open = await conflictsOf(roster(), org.id, '&status=open');
    assert.equal(open.length, 1);
    assert.equal(open[0].attribute, 'state');
    assert.equal(open[0].subject_id, friday.id);
    assert.deepEqual(
      open[0].details.values.map((v: any) => [v.connection_id, v.value]).sort(),
      [[hris.id, 'inactive'], [idp.id, 'active']].sort(),
    );

    // Monday: Okta deactivates too; the sources agree again.
    await ingest(roster(), idp.id, [user('00u100', { employee_id: '100', email: 'dana@acme.test', state: 'inactive' })]);
    assert.equal((await conflictsOf(roster(), org.id, '&status=open')).length, 0);
    const resolved = await conflictsOf(roster(), org.id, '&status=resolved');
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].resolution, 'sources_agree');
    const types = (await allEvents(roster(), org.id)).map((e) => e.type);
    assert.equal(types.filter((t) => t === 'user.deactivated').length, 1);
    assert.equal(types.filter((t) => t === 'conflict.opened').length, 1);
    assert.equal(types.filter((t) => t === 'conflict.resolved').length, 1);
  });

  test('a new hire in the HRIS a week before any email is one person, linked when the IdP account appears', async () => {
    const { org, hris, idp } = await hrisAndIdp();
    const start = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    await ingest(roster(), hris.id, [user('W-200', { employee_id: '200', first_name: 'Fox', last_name: 'Mulder', start_date: start, title: 'Agent' })]);
    const hire = await onlyUser(roster(), org.id);
    assert.equal(hire.state, 'pending');
    assert.equal(hire.state_reason, 'future_start_date');
    assert.equal(hire.email, null);

    await ingest(roster(), idp.id, [user('00u200', { employee_id: '200', email: 'Fox@Acme.test', username: 'fox' })]);
    const linked = await onlyUser(roster(), org.id);
    assert.equal(linked.id, hire.id, 'the IdP account joined the existing person');
    assert.equal(linked.email, 'Fox@Acme.test');
    assert.equal(linked.title, 'Agent');
    const detail = expectStatus(await roster().request('GET', `/v1/users/${hire.id}?include=sources`), 200);
    assert.deepEqual(detail.sources.map((s: any) => [s.connection_id, s.link_method]), [[hris.id, 'new'], [idp.id, 'join']]);
    assert.equal((await allEvents(roster(), org.id, 'user.created')).length, 1);
  });

  test('a contractor only in the IdP is active', async () => {
    const { org, idp } = await hrisAndIdp();
    await ingest(roster(), idp.id, [user('00u300', { email: 'walter@contractor.test', first_name: 'Walter', department: 'Ops' })]);
    const contractor = await onlyUser(roster(), org.id);
    assert.equal(contractor.state, 'active');
    assert.equal(contractor.state_source, idp.id);
    assert.equal(contractor.department, 'Ops', 'an IdP value fills an attribute no HRIS owns for this person');
  });

  test('an email change in the IdP does not create a new user', async () => {
    const { org, idp } = await hrisAndIdp();
    await ingest(roster(), idp.id, [user('00u400', { email: 'jane.doe@acme.test' })]);
    const before = await onlyUser(roster(), org.id);
    await ingest(roster(), idp.id, [user('00u400', { email: 'jane.smith@acme.test' })]);
    const after = await onlyUser(roster(), org.id);
    assert.equal(after.id, before.id);
    assert.equal(after.email, 'jane.smith@acme.test');
    const updates = await allEvents(roster(), org.id, 'user.updated');
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0].changes.email, { from: 'jane.doe@acme.test', to: 'jane.smith@acme.test' });
    // Search by the new address finds the same person; the old one no longer does.
    assert.equal((await usersOf(roster(), org.id, '&email=JANE.SMITH@acme.test'))[0]?.id, before.id);
    assert.equal((await usersOf(roster(), org.id, '&email=jane.doe@acme.test')).length, 0);
  });

  test('the same batch applied three times leaves identical state and one set of events', async () => {
    const { org, hris, idp } = await hrisAndIdp();
    const batch = [
      user('00u500', { employee_id: '500', email: 'a@acme.test', state: 'active' }),
      user('00u501', { employee_id: '501', email: 'b@acme.test', state: 'active' }),
      { kind: 'group', id: '00g1', attributes: { name: 'Engineering' } },
      { kind: 'membership', group_id: '00g1', user_id: '00u500' },
      { kind: 'membership', group_id: '00g1', user_id: '00u501' },
    ];
    await ingest(roster(), hris.id, [user('W-500', { employee_id: '500', department: 'R&D', state: 'active' })]);
    const first = await ingest(roster(), idp.id, batch);
    assert.equal(first.records_changed, 5);
    const stateAfterFirst = await usersOf(roster(), org.id);
    const eventsAfterFirst = await allEvents(roster(), org.id);
    for (let i = 0; i < 2; i += 1) {
      const again = await ingest(roster(), idp.id, batch);
      assert.equal(again.records_unchanged, 5);
      assert.equal(again.events, 0);
    }
    assert.deepEqual(await usersOf(roster(), org.id), stateAfterFirst);
    assert.deepEqual(await allEvents(roster(), org.id), eventsAfterFirst);
    assert.equal(stateAfterFirst.length, 2);
    assert.equal(eventsAfterFirst.filter((e) => e.type === 'group.member_added').length, 2);
  });
});

forEachEngine('future-dated hires', (engine) => {
  let now = new Date('2026-03-02T09:00:00Z');
  const roster = useTestRoster(engine, { clock: () => now });

  test('stay pending until their start date, then become active (and only then)', async () => {
    const org = await createOrganization(roster(), 'Hiring Co');
    const hris = await createPushConnection(roster(), org.id, { name: 'HiBob', category: 'hris' });
    await ingest(roster(), hris.id, [user('H-1', { employee_id: '1', first_name: 'Nia', start_date: '2026-03-09' })]);
    assert.equal((await onlyUser(roster(), org.id)).state, 'pending');

    now = new Date('2026-03-08T23:00:00Z');
    await roster().roster.housekeeping();
    assert.equal((await onlyUser(roster(), org.id)).state, 'pending', 'not a day early');

    now = new Date('2026-03-09T00:30:00Z');
    await roster().roster.housekeeping();
    await roster().roster.housekeeping();
    const started = await onlyUser(roster(), org.id);
    assert.equal(started.state, 'active');
    assert.equal(started.state_reason, null);
    const updates = await allEvents(roster(), org.id, 'user.updated');
    assert.equal(updates.length, 1, 'announced once');
    assert.deepEqual(updates[0].changes.state, { from: 'pending', to: 'active' });
  });
});

forEachEngine('concurrent writers to one organization', (engine) => {
  const roster = useTestRoster(engine);

  test('batches racing from two sources about the same people make one person each, never two', async () => {
    const org = await createOrganization(roster(), 'Race Co');
    const hris = await createPushConnection(roster(), org.id, { category: 'hris' });
    const idp = await createPushConnection(roster(), org.id, { category: 'idp' });
    const people = Array.from({ length: 30 }, (_, i) => i);
    await Promise.all(
      people.flatMap((i) => [
        ingest(roster(), hris.id, [user(`W-${i}`, { employee_id: `${i}`, first_name: `P${i}` })]),
        ingest(roster(), idp.id, [user(`00u${i}`, { employee_id: `${i}`, email: `p${i}@race.test` })]),
      ]),
    );
    const users = await usersOf(roster(), org.id);
    assert.equal(users.length, 30, 'one person per employee id');
    assert.ok(users.every((u) => u.email && u.first_name), 'each joined both sources');
    const created = await allEvents(roster(), org.id, 'user.created');
    assert.equal(created.length, 30);
    const sequences = (await allEvents(roster(), org.id)).map((e) => e.sequence);
    assert.deepEqual(sequences, sequences.map((_, i) => i + 1), 'sequences stay gapless under concurrency');
  });
});
