import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, createOrganization, createPushConnection, createScopedKey, expectStatus } from './support/api.ts';
import { allEvents, group, ingest, member, user, usersOf } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('ingest validation, directory reads and the events API', (engine) => {
  const roster = useTestRoster(engine);

  async function setup() {
    const org = await createOrganization(roster(), 'Reads Co');
    const idp = await createPushConnection(roster(), org.id, { category: 'idp' });
    return { org, idp };
  }

  test('bad records are refused whole with a message naming the field, and nothing is written', async () => {
    const { org, idp } = await setup();
    const good = user('ok-1', { email: 'ok@acme.test' });
    const cases: Array<[unknown, string]> = [
      [{ records: [good, user('bad', { email: 'x@acme.test', state: 'fired' })] }, 'records.1.attributes.state'],
      [{ records: [good, user('bad', { email: 'x@acme.test', shoe_size: 44 })] }, 'shoe_size'],
      [{ records: [good, { kind: 'user', id: '', attributes: {} }] }, 'records.1.id'],
      [{ records: [good, { kind: 'user', id: 'x' }] }, 'records.1.attributes'],
      [{ records: [good, { kind: 'person', id: 'x' }] }, 'records.1.kind'],
      [{ records: [good, { kind: 'user', id: 'a\u0000b', attributes: {} }] }, 'records.1.id'],
      [{ records: [good, user('bad', { start_date: '2026-13' })] }, 'records.1.attributes.start_date'],
      [{ records: [] }, 'records'],
      [{ records: [good], extra: true }, 'extra'],
    ];
    for (const [body, field] of cases) {
      assertError(await roster().request('POST', `/v1/connections/${idp.id}/records`, body), 400, 'invalid_request', field);
    }
    const tooMany = { records: Array.from({ length: 5001 }, (_, i) => user(`u${i}`, {})) };
    assertError(await roster().request('POST', `/v1/connections/${idp.id}/records`, tooMany), 400, 'invalid_request', 'records');
    assert.equal((await usersOf(roster(), org.id)).length, 0, 'no partial write');
    assertError(await roster().request('POST', `/v1/connections/conn_unknown/records`, { records: [good] }), 404, 'connection_not_found');
  });

  test('a paused connection refuses records until resumed', async () => {
    const { org, idp } = await setup();
    expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/pause`), 200);
    assertError(await roster().request('POST', `/v1/connections/${idp.id}/records`, { records: [user('p', {})] }), 409, 'connection_not_active', 'paused');
    expectStatus(await roster().request('POST', `/v1/connections/${idp.id}/resume`), 200);
    await ingest(roster(), idp.id, [user('p', {})]);
    assert.equal((await usersOf(roster(), org.id)).length, 1);
  });

  test('users filter by state, email, group and updated_after, page by cursor, and show sources and raw on request', async () => {
    const { org, idp } = await setup();
    await ingest(roster(), idp.id, [
      ...Array.from({ length: 25 }, (_, i) => user(`u${i}`, { email: `u${i}@acme.test`, state: i < 5 ? 'suspended' : 'active' }, { okta: i })),
      group('g1', 'Engineering'),
      member('g1', 'u7'),
      member('g1', 'u8'),
    ]);
    const firstPage = expectStatus(await roster().request('GET', `/v1/users?organization_id=${org.id}&limit=10`), 200);
    assert.equal(firstPage.data.length, 10);
    const all = await usersOf(roster(), org.id);
    assert.equal(all.length, 25);
    assert.equal(new Set(all.map((u) => u.id)).size, 25, 'pages do not overlap');
    assert.equal((await usersOf(roster(), org.id, '&state=suspended')).length, 5);
    const [u7] = await usersOf(roster(), org.id, '&email=U7@ACME.TEST');
    assert.equal(u7.email, 'u7@acme.test');
    const groupId = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${org.id}`), 200).data[0].id;
    assert.deepEqual((await usersOf(roster(), org.id, `&group=${groupId}`)).map((u) => u.email).sort(), ['u7@acme.test', 'u8@acme.test']);

    const mark = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await ingest(roster(), idp.id, [user('u3', { email: 'u3@acme.test', title: 'Boss', state: 'suspended' }, { okta: 3 })]);
    assert.deepEqual((await usersOf(roster(), org.id, `&updated_after=${encodeURIComponent(mark)}`)).map((u) => u.email), ['u3@acme.test']);

    const withRaw = expectStatus(await roster().request('GET', `/v1/users/${u7.id}?include=sources,raw`), 200);
    assert.deepEqual(withRaw.sources[0].raw, { okta: 7 });
    assert.equal(withRaw.sources[0].external_id, 'u7');
    const withoutRaw = expectStatus(await roster().request('GET', `/v1/users/${u7.id}?include=sources`), 200);
    assert.equal('raw' in withoutRaw.sources[0], false);
    assertError(await roster().request('GET', `/v1/users/${u7.id}?include=everything`), 400, 'invalid_request', 'include');
    assertError(await roster().request('GET', `/v1/users?state=gone`), 400, 'invalid_request', 'state');
    assertError(await roster().request('GET', `/v1/users?updated_after=yesterday`), 400, 'invalid_request', 'updated_after');
    assertError(await roster().request('GET', `/v1/users/user_nope`), 404, 'user_not_found');
    assertError(await roster().request('GET', `/v1/users?cursor=***`), 400, 'invalid_cursor');
  });

  test('events: ordered, per-organization sequences without gaps, filters by type, resumable by cursor', async () => {
    const { org, idp } = await setup();
    await ingest(roster(), idp.id, [user('a', { email: 'a@acme.test' }), user('b', { email: 'b@acme.test' })]);
    await ingest(roster(), idp.id, [user('a', { email: 'a@acme.test', title: 'CTO' })]);
    const events = await allEvents(roster(), org.id);
    assert.deepEqual(
      events.map((e) => e.sequence),
      events.map((_, i) => i + 1),
    );
    assert.deepEqual(events.map((e) => e.type).filter((t) => t.startsWith('user.')), ['user.created', 'user.created', 'user.updated']);
    const update = events.find((e) => e.type === 'user.updated');
    assert.deepEqual(update.changes, { title: { from: null, to: 'CTO' } });
    assert.equal(update.data.title, 'CTO');
    assert.deepEqual(update.source, { connection_id: idp.id, connection_type: 'push', sync_run_id: null });

    const page1 = expectStatus(await roster().request('GET', `/v1/events?organization_id=${org.id}&types=user.created&limit=1`), 200);
    assert.equal(page1.data.length, 1);
    const page2 = expectStatus(
      await roster().request('GET', `/v1/events?organization_id=${org.id}&types=user.created&limit=10&after=${page1.next_cursor}`),
      200,
    );
    assert.equal(page2.data.length, 1);
    assert.notEqual(page2.data[0].id, page1.data[0].id);
    const tail = expectStatus(await roster().request('GET', `/v1/events?organization_id=${org.id}&after=${page2.next_cursor}&types=user.created`), 200);
    assert.equal(tail.data.length, 0);
    assert.equal(tail.next_cursor, page2.next_cursor, 'an empty page returns a cursor to poll from');
    assertError(await roster().request('GET', `/v1/events?types=user.exploded`), 400, 'invalid_request', 'user.exploded');
    assertError(await roster().request('GET', `/v1/events?after=bm9wZQ`), 400, 'invalid_cursor');
  });

  test('tenant isolation: a key of one organization never reads or writes another organization’s directory', async () => {
    const a = await setup();
    const b = await setup();
    await ingest(roster(), a.idp.id, [user('a1', { email: 'a1@a.test' }), group('ga', 'A team'), member('ga', 'a1')]);
    await ingest(roster(), b.idp.id, [user('b1', { email: 'b1@b.test', title: 'x' })]);
    await ingest(roster(), b.idp.id, [user('b1', { email: 'b1@b.test', title: 'y' })]);
    const bHris = await createPushConnection(roster(), b.org.id, { category: 'hris' });
    await ingest(roster(), bHris.id, [user('bh', { email: 'b1@b.test', state: 'inactive' })]);
    const bRun = expectStatus(await roster().request('POST', `/v1/connections/${b.idp.id}/snapshots`), 201);
    const keyA = (await createScopedKey(roster(), a.org.id)).key;
    const bUser = (await usersOf(roster(), b.org.id))[0];
    const bGroupless = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${b.org.id}`), 200).data;
    assert.equal(bGroupless.length, 0);
    const bConflicts = expectStatus(await roster().request('GET', `/v1/conflicts?organization_id=${b.org.id}`), 200).data;
    assert.ok(bConflicts.length > 0, 'organization B has a conflict to hide');
    const as = { key: keyA };

    const hidden: Array<[string, string, unknown?]> = [
      ['GET', `/v1/users/${bUser.id}`],
      ['GET', `/v1/users/${bUser.id}/groups`],
      ['GET', `/v1/users?organization_id=${b.org.id}`],
      ['GET', `/v1/groups?organization_id=${b.org.id}`],
      ['GET', `/v1/memberships?organization_id=${b.org.id}`],
      ['GET', `/v1/conflicts?organization_id=${b.org.id}`],
      ['GET', `/v1/conflicts/${bConflicts[0].id}`],
      ['POST', `/v1/conflicts/${bConflicts[0].id}/resolve`, { resolution: 'accepted' }],
      ['GET', `/v1/events?organization_id=${b.org.id}`],
      ['GET', `/v1/sync-runs?organization_id=${b.org.id}`],
      ['GET', `/v1/sync-runs/${bRun.id}`],
      ['POST', `/v1/sync-runs/${bRun.id}/confirm`],
      ['POST', `/v1/sync-runs/${bRun.id}/discard`],
      ['POST', `/v1/connections/${b.idp.id}/records`, { records: [user('evil', {})] }],
      ['POST', `/v1/connections/${b.idp.id}/snapshots`],
      ['POST', `/v1/connections/${b.idp.id}/snapshots/${bRun.id}/records`, { records: [user('evil', {})] }],
      ['POST', `/v1/connections/${b.idp.id}/snapshots/${bRun.id}/commit`],
      ['DELETE', `/v1/connections/${b.idp.id}/snapshots/${bRun.id}`],
    ];
    for (const [method, path, body] of hidden) {
      const response = await roster().request(method, path, body, as);
      assert.equal(response.status, 404, `${method} ${path} must look absent to another organization's key: ${response.text}`);
    }
    // Unfiltered lists show only the key's own organization.
    for (const path of ['/v1/users', '/v1/groups', '/v1/memberships', '/v1/conflicts', '/v1/sync-runs', '/v1/events']) {
      const page = expectStatus(await roster().request('GET', path, undefined, as), 200);
      assert.ok(page.data.length > 0 || path === '/v1/conflicts' || path === '/v1/sync-runs', `${path} shows A's own data`);
      for (const item of page.data) assert.equal(item.organization_id, a.org.id, `${path} leaked ${JSON.stringify(item)}`);
    }
    // Nothing of B changed.
    assert.equal((await usersOf(roster(), b.org.id)).length, 1);
    assert.equal(expectStatus(await roster().request('GET', `/v1/sync-runs/${bRun.id}`), 200).status, 'running');
    assert.equal((await allEvents(roster(), b.org.id)).filter((e) => e.type === 'conflict.resolved').length, 0);
  });
});

forEachEngine('reconciliation metrics', (engine) => {
  const roster = useTestRoster(engine);

  test('ingest moves the records, events and reconcile-duration metrics', async () => {
    const org = await createOrganization(roster(), 'Metrics Co');
    const idp = await createPushConnection(roster(), org.id);
    await ingest(roster(), idp.id, [user('m1', { email: 'm1@acme.test' }), user('m2', {}), group('g', 'G'), member('g', 'm1')]);
    const text = (await roster().request('GET', '/metrics', undefined, { key: null })).text;
    assert.match(text, /roster_records_ingested_total\{kind="user"\} 2\b/);
    assert.match(text, /roster_records_ingested_total\{kind="membership"\} 1\b/);
    assert.match(text, /roster_events_written_total\{type="user\.created"\} 2\b/);
    assert.match(text, /roster_events_written_total\{type="group\.member_added"\} 1\b/);
    assert.match(text, /roster_reconcile_duration_seconds_count [1-9]/);
  });
});
