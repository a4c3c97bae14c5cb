import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertError, auditOf, createOrganization, createPushConnection, eventsOf, expectStatus } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('HTTP connections', (engine) => {
  const roster = useTestRoster(engine);

  it('creates a push connection active, with a connection.activated event and an audit entry', async () => {
    const org = await createOrganization(roster());
    const connection = await createPushConnection(roster(), org.id, { name: 'Okta', category: 'idp', config: { region: 'eu' } });
    assert.match(connection.id, /^conn_[0-9a-z]{26}$/);
    assert.deepEqual(
      { ...connection, id: undefined, created_at: undefined, updated_at: undefined },
      {
        id: undefined,
        organization_id: org.id,
        type: 'push',
        category: 'idp',
        name: 'Okta',
        state: 'active',
        state_reason: null,
        config: { region: 'eu' },
        created_at: undefined,
        updated_at: undefined,
      },
    );
    const events = await eventsOf(roster(), org.id);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'connection.activated');
    assert.equal(events[0]!.sequence, 1);
    assert.deepEqual(events[0]!.data, connection);
    assert.deepEqual(events[0]!.changes, { state: { from: null, to: 'active' } });
    assert.deepEqual(events[0]!.source, { connection_id: connection.id, connection_type: 'push', sync_run_id: null });
    const audit = await auditOf(roster(), org.id);
    assert.equal(audit.at(-1).action, 'connection.created');
    assert.equal(audit.at(-1).target_id, connection.id);
  });

  it('requires a category for push connections', async () => {
    const org = await createOrganization(roster());
    const response = await roster().request('POST', `/v1/organizations/${org.id}/connections`, { type: 'push', name: 'x' });
    assertError(response, 400, 'invalid_request', 'body.category');
  });

  it('gets, lists and filters connections', async () => {
    const a = await createOrganization(roster(), 'A');
    const b = await createOrganization(roster(), 'B');
    const a1 = await createPushConnection(roster(), a.id, { name: 'a1' });
    const a2 = await createPushConnection(roster(), a.id, { name: 'a2', category: 'hris' });
    const b1 = await createPushConnection(roster(), b.id, { name: 'b1' });
    assert.deepEqual(expectStatus(await roster().request('GET', `/v1/connections/${a2.id}`), 200), a2);
    const ofA = expectStatus(await roster().request('GET', `/v1/connections?organization_id=${a.id}`), 200);
    assert.deepEqual(ofA, { data: [a1, a2], next_cursor: null });
    const firstPage = expectStatus(await roster().request('GET', `/v1/connections?organization_id=${a.id}&limit=1`), 200);
    assert.deepEqual(firstPage.data, [a1]);
    const secondPage = expectStatus(
      await roster().request('GET', `/v1/connections?organization_id=${a.id}&limit=1&cursor=${firstPage.next_cursor}`),
      200,
    );
    assert.deepEqual(secondPage, { data: [a2], next_cursor: null });
    const all = expectStatus(await roster().request('GET', '/v1/connections?limit=1000'), 200);
    const ids = all.data.map((connection: { id: string }) => connection.id);
    for (const id of [a1.id, a2.id, b1.id]) assert.ok(ids.includes(id));
    assertError(
      await roster().request('GET', '/v1/connections?organization_id=org_01j00000000000000000000000'),
      404,
      'organization_not_found',
    );
  });

  it('renames and reconfigures a connection without touching its state', async () => {
    const org = await createOrganization(roster());
    const connection = await createPushConnection(roster(), org.id);
    const renamed = expectStatus(await roster().request('PATCH', `/v1/connections/${connection.id}`, { name: 'Renamed' }), 200);
    assert.equal(renamed.name, 'Renamed');
    assert.deepEqual(renamed.config, {});
    const reconfigured = expectStatus(await roster().request('PATCH', `/v1/connections/${connection.id}`, { config: { a: 1 } }), 200);
    assert.equal(reconfigured.name, 'Renamed');
    assert.deepEqual(reconfigured.config, { a: 1 });
    assert.equal(reconfigured.state, 'active');
    assertError(await roster().request('PATCH', `/v1/connections/${connection.id}`, { state: 'paused' }), 400, 'invalid_request', 'body.state');
    assertError(await roster().request('PATCH', `/v1/connections/${connection.id}`, {}), 400, 'invalid_request', 'name and/or config');
    const actions = (await auditOf(roster(), org.id)).map((entry) => entry.action);
    assert.deepEqual(actions.slice(-2), ['connection.updated', 'connection.updated']);
    assert.equal((await eventsOf(roster(), org.id)).length, 1, 'renaming is not a state change');
  });

  it('pauses and resumes, appending connection.state_changed events in order', async () => {
    const org = await createOrganization(roster());
    const connection = await createPushConnection(roster(), org.id);
    const paused = expectStatus(
      await roster().request('POST', `/v1/connections/${connection.id}/pause`, { reason: 'maintenance window' }),
      200,
    );
    assert.equal(paused.state, 'paused');
    assert.equal(paused.state_reason, 'maintenance window');
    const resumed = expectStatus(await roster().request('POST', `/v1/connections/${connection.id}/resume`), 200);
    assert.equal(resumed.state, 'active');
    assert.equal(resumed.state_reason, null);
    const events = await eventsOf(roster(), org.id);
    assert.deepEqual(
      events.map((event) => [event.sequence, event.type]),
      [
        [1, 'connection.activated'],
        [2, 'connection.state_changed'],
        [3, 'connection.state_changed'],
      ],
    );
    assert.deepEqual(events[1]!.changes, {
      state: { from: 'active', to: 'paused' },
      state_reason: { from: null, to: 'maintenance window' },
    });
    assert.deepEqual(events[1]!.data, paused);
    assert.deepEqual(events[2]!.changes, {
      state: { from: 'paused', to: 'active' },
      state_reason: { from: 'maintenance window', to: null },
    });
    const actions = (await auditOf(roster(), org.id)).map((entry) => entry.action);
    assert.deepEqual(actions.slice(-2), ['connection.paused', 'connection.resumed']);
  });

  it('refused transitions write neither events nor audit entries', async () => {
    const org = await createOrganization(roster());
    const connection = await createPushConnection(roster(), org.id);
    const before = { events: (await eventsOf(roster(), org.id)).length, audit: (await auditOf(roster(), org.id)).length };
    assertError(await roster().request('POST', `/v1/connections/${connection.id}/resume`), 409, 'invalid_state_transition');
    assert.equal((await eventsOf(roster(), org.id)).length, before.events);
    assert.equal((await auditOf(roster(), org.id)).length, before.audit);
    const row = await roster().database.db.selectFrom('organizations').select('event_sequence').where('id', '=', org.id).executeTakeFirstOrThrow();
    assert.equal(row.event_sequence, before.events, 'no sequence was reserved by the refused transition');
  });

  it('deletes softly: state_changed to deleting, connection.deleted, then 404 everywhere', async () => {
    const org = await createOrganization(roster());
    const connection = await createPushConnection(roster(), org.id);
    await roster().request('POST', `/v1/connections/${connection.id}/pause`);
    const response = await roster().request('DELETE', `/v1/connections/${connection.id}`);
    assert.equal(response.status, 204);
    assert.equal(response.text, '');
    const events = await eventsOf(roster(), org.id);
    assert.deepEqual(
      events.slice(-2).map((event) => [event.type, event.changes?.state ?? null]),
      [
        ['connection.state_changed', { from: 'paused', to: 'deleting' }],
        ['connection.deleted', null],
      ],
    );
    assert.equal(events.at(-1)!.data.id, connection.id);
    const row = await roster().database.db.selectFrom('connections').selectAll().where('id', '=', connection.id).executeTakeFirstOrThrow();
    assert.equal(row.state, 'deleting');
    assert.notEqual(row.deleted_at, null);
    for (const [method, path] of [
      ['GET', `/v1/connections/${connection.id}`],
      ['PATCH', `/v1/connections/${connection.id}`],
      ['POST', `/v1/connections/${connection.id}/pause`],
      ['POST', `/v1/connections/${connection.id}/resume`],
      ['DELETE', `/v1/connections/${connection.id}`],
    ] as const) {
      const body = method === 'PATCH' ? { name: 'x' } : undefined;
      assertError(await roster().request(method, path, body), 404, 'connection_not_found', connection.id);
    }
    const listed = expectStatus(await roster().request('GET', `/v1/connections?organization_id=${org.id}`), 200);
    assert.deepEqual(listed.data, []);
    assert.equal((await auditOf(roster(), org.id)).at(-1).action, 'connection.deleted');
  });

  it('gives every organization its own gap-free event sequence under concurrent changes', async () => {
    const org = await createOrganization(roster());
    const connections = await Promise.all([1, 2, 3, 4].map((i) => createPushConnection(roster(), org.id, { name: `c${i}` })));
    await Promise.all(connections.map((connection) => roster().request('POST', `/v1/connections/${connection.id}/pause`)));
    const sequences = (await eventsOf(roster(), org.id)).map((event) => event.sequence);
    assert.deepEqual(sequences, [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('lets exactly one of two concurrent pauses of one connection win', async () => {
    const org = await createOrganization(roster());
    const connection = await createPushConnection(roster(), org.id);
    const results = await Promise.all([1, 2].map(() => roster().request('POST', `/v1/connections/${connection.id}/pause`)));
    assert.deepEqual(results.map((result) => result.status).sort(), [200, 409]);
    assert.equal((await eventsOf(roster(), org.id)).filter((event) => event.type === 'connection.state_changed').length, 1);
  });
});
