import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startJumpCloudEmulator, type JumpCloudEmulator } from '../src/emulators/jumpcloud/index.ts';
import { assertError, createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { becomesActive, eventually, fastSyncConfig, firstRun, getConnection, runEnded, runsOf, userByEmail, usersOf } from './support/pull-sync.ts';
import { apiKeyCredentials, createJumpCloudConnection, jumpCloudConfig, requestRun } from './support/jumpcloud-sync.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/**
 * A JumpCloud connection end to end, the way an operator runs one: created through the API with an admin
 * API key, validated, synced in the background, kept current by re-polls (JumpCloud has no delta API and
 * no webhooks), and held to completeness — including scans during which users come and go, which offset
 * paging would otherwise turn into users skipped (and then deactivated) or never seen.
 */
forEachEngine('JumpCloud connection through the sync engine', (engine) => {
  const roster = useTestRoster(engine, { config: fastSyncConfig() });
  let emulator: JumpCloudEmulator;
  let organizationId: string;
  let connectionId: string;

  before(async () => {
    emulator = await startJumpCloudEmulator({ users: 250, groups: 6, seed: 7 });
  });
  after(async () => {
    await emulator?.close();
  });

  const byEmail = (email: string) => userByEmail(roster(), organizationId, email);
  const activeEmails = async () => new Set((await usersOf(roster(), organizationId)).filter((u) => u.state !== 'inactive').map((u) => u.email as string));
  const liveEmails = () => new Set(emulator.org.listUsers().map((u) => u.email));
  const listRequests = () => emulator.control.stats().requests['GET /api/systemusers'] ?? 0;

  test('a new connection is validated, activated and fully synced, with JumpCloud states and fields mapped', async () => {
    organizationId = (await createOrganization(roster(), 'JumpCloud customer')).id;
    const created = await createJumpCloudConnection(roster(), organizationId, { config: jumpCloudConfig(emulator), credentials: apiKeyCredentials(emulator.apiKey) });
    connectionId = created.id;
    assert.equal(created.state, 'validating');
    assert.equal(created.category, 'idp');
    assert.equal(JSON.stringify(created).includes(emulator.apiKey), false, 'the key is never answered');

    const first = await firstRun(roster(), connectionId);
    assert.equal(first.kind, 'full');
    const run = await runEnded(roster(), first.id);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.ok(run.progress.pages >= 3, JSON.stringify(run.progress));

    const synced = await usersOf(roster(), organizationId);
    assert.equal(synced.length, 250);
    const users = emulator.org.listUsers();
    const staged = users.find((u) => u.state === 'STAGED')!;
    const suspended = users.find((u) => u.state === 'SUSPENDED')!;
    assert.equal((await byEmail(staged.email)).state, 'pending', 'STAGED is not active: pending until activated');
    assert.equal((await byEmail(staged.email)).state_reason, 'pending_in_source');
    assert.equal((await byEmail(suspended.email)).state, 'suspended');

    const report = users.find((u) => u.manager !== null && u.state === 'ACTIVATED' && u.attributes.length > 0)!;
    const manager = emulator.org.user(report.manager!)!;
    const person = await byEmail(report.email);
    assert.equal(person.state, 'active');
    assert.equal(person.employee_id, report.employeeIdentifier);
    assert.equal(person.title, report.jobTitle);
    assert.equal(person.department, report.department);
    assert.equal(person.username, report.username);
    assert.equal(person.display_name, report.displayname);
    assert.equal(person.manager_id, (await byEmail(manager.email)).id, 'manager (a systemuser id) resolves to the manager');
    assert.deepEqual(person.custom_attributes, Object.fromEntries(report.attributes.map((a) => [a.name, a.value])));

    const groups = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}`), 200).data as any[];
    assert.deepEqual(groups.map((g) => g.name).sort(), emulator.org.listGroups().map((g) => g.name).sort());
    const memberships = await roster().database.db.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organizationId).executeTakeFirstOrThrow();
    const expected = emulator.org.listGroups().reduce((sum, g) => sum + emulator.org.membersOf(g.id).length, 0);
    assert.equal(Number(memberships.n), expected);

    // Every list request asked for full pages in a stable order.
    const asked = emulator.control.stats().log.filter((r) => r.path === '/api/systemusers');
    assert.ok(asked.every((r) => r.query.limit === '100' && r.query.sort === '_id'), JSON.stringify(asked[0]));
    const row = await roster().database.db.selectFrom('connection_secrets').select('sealed').where('connection_id', '=', connectionId).executeTakeFirstOrThrow();
    assert.equal(row.sealed.includes(emulator.apiKey), false, 'the key is sealed at rest');
  });

  test('a change in JumpCloud is picked up within one cycle by the critical re-poll the scheduler queues', async () => {
    const [retitled, suspended] = emulator.org.listUsers().filter((u) => u.state === 'ACTIVATED').slice(20, 22);
    emulator.control.updateUser(retitled!._id, { jobTitle: 'Principal Engineer', department: 'Platform' });
    emulator.control.suspendUser(suspended!._id);
    const before = (await eventsOf(roster(), organizationId)).length;
    await roster().database.db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connectionId).where('tier', '=', 'critical').execute();
    await eventually('the re-polled change', async () => ((await byEmail(suspended!.email))?.state === 'suspended' ? true : undefined));
    const person = await byEmail(retitled!.email);
    assert.equal(person.title, 'Principal Engineer');
    assert.equal(person.department, 'Platform');
    const critical = (await runsOf(roster(), connectionId)).find((r) => r.kind === 'critical')!;
    assert.equal(critical.trigger, 'schedule');
    assert.equal((await runEnded(roster(), critical.id)).status, 'completed');
    const updates = (await eventsOf(roster(), organizationId)).slice(before).filter((e) => e.type.startsWith('user.'));
    assert.deepEqual(updates.map((e) => e.data.email).sort(), [retitled!.email, suspended!.email].sort(), 'one event per changed user');
  });

  test('a re-poll restates the users unchanged since they were stored, unmapped; the daily full run maps every one again', async () => {
    const user = emulator.org.listUsers().filter((u) => u.state === 'ACTIVATED')[30]!;
    const db = roster().database.db;
    const record = () =>
      db.selectFrom('source_records').select(['normalized', 'source_hash']).where('connection_id', '=', connectionId).where('kind', '=', 'user').where('external_id', '=', user._id).executeTakeFirstOrThrow();
    const stored = await record();
    assert.ok(stored.source_hash, 'a listed record keeps the hash of what it was mapped from');
    // A stored statement other than what the mapping makes of the item (as a corrected mapping would see it):
    // only mapping the item again can notice.
    const altered = JSON.stringify({ ...JSON.parse(stored.normalized), title: 'Not from the mapping' });
    await db.updateTable('source_records').set({ normalized: altered, content_hash: 'not-from-the-mapping' }).where('connection_id', '=', connectionId).where('kind', '=', 'user').where('external_id', '=', user._id).execute();
    const before = (await eventsOf(roster(), organizationId)).length;

    const critical = await runEnded(roster(), (await requestRun(roster(), connectionId, 'critical')).id);
    assert.equal(critical.status, 'completed');
    assert.equal((await record()).normalized, altered, 'restated, not mapped');
    assert.ok(critical.counters.records_unchanged >= 249, JSON.stringify(critical.counters));

    const full = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    assert.equal(full.status, 'completed');
    assert.equal((await record()).normalized, stored.normalized, 'the full run mapped the item again');
    assert.equal((await byEmail(user.email)).title, user.jobTitle);
    const changes = (await eventsOf(roster(), organizationId)).slice(before).filter((e) => e.type.startsWith('user.') || e.type.startsWith('group.'));
    assert.deepEqual(changes, [], 'restating and re-mapping change nothing in the directory');
  });

  test('a profile run picks up memberships; a failed login (a volatile field) is no change', async () => {
    const group = emulator.org.listGroups()[0]!;
    const newcomer = emulator.org.listUsers().find((u) => !emulator.org.membersOf(group.id).includes(u._id))!;
    emulator.control.addMember(group.id, newcomer._id);
    emulator.control.recordFailedLogin(emulator.org.listUsers()[3]!._id);
    const before = (await eventsOf(roster(), organizationId)).length;
    const run = await runEnded(roster(), (await requestRun(roster(), connectionId, 'profile')).id);
    assert.equal(run.status, 'completed');
    const types = (await eventsOf(roster(), organizationId)).slice(before).map((e) => e.type);
    assert.deepEqual(types.filter((t) => t.startsWith('user.') || t.startsWith('group.')), ['group.member_added']);
  });

  test('a user removed in JumpCloud is deactivated only by a complete full sync; a full sync that fails removes nobody', async () => {
    const gone = emulator.org.listUsers()[40]!;
    emulator.control.deleteUser(gone._id);
    assert.equal((await runEnded(roster(), (await requestRun(roster(), connectionId, 'profile')).id)).status, 'completed');
    assert.equal((await byEmail(gone.email)).state, 'active', 'a profile run removes nobody');
    assert.equal((await runEnded(roster(), (await requestRun(roster(), connectionId, 'critical')).id)).status, 'completed');
    assert.equal((await byEmail(gone.email)).state, 'active', 'nor does a critical one');

    // Pages failing part-way: the enumeration is not complete, so nothing is removed.
    emulator.control.injectFault({ kind: 'server-error', count: 1000, status: 500 });
    const failed = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    emulator.control.clearFaults();
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /^provider_/);
    assert.equal((await byEmail(gone.email)).state, 'active');
    await eventually('the connection to be in error', async () => ((await getConnection(roster(), connectionId)).state === 'error' ? true : undefined));

    const full = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    assert.equal(full.status, 'completed', JSON.stringify(full));
    const person = await byEmail(gone.email);
    assert.equal(person.state, 'inactive');
    assert.equal(person.state_reason, 'removed_from_source');
    await becomesActive(roster(), connectionId, 'the connection to be active again');
  });

  test('users removed while a full scan pages through them: nobody the shifted pages would have skipped is deactivated', async () => {
    const activeBefore = await activeEmails();
    const requestsBefore = listRequests();
    const victims = new Set(emulator.org.userIds().slice(0, 5).map((id) => emulator.org.user(id)!.email));
    // Five users of the first page leave between the first and the second page request: every later user
    // moves five places back, and plain offset paging would never list the five who then stand at 95–99.
    // A full run that missed them would deactivate them (five is within the deprovision guard).
    emulator.control.drift({ beforeRequest: 2, remove: 5 });
    const run = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(emulator.control.driftHistory().at(-1)!.removed.length, 5);
    assert.ok(listRequests() - requestsBefore > 3, 'the moved listing was read again');
    assert.equal(run.counters.users_deactivated, 0, 'the five who left were listed before they left; nobody else is missing');
    assert.deepEqual(await activeEmails(), activeBefore);

    // The next full run, on a quiet directory, removes exactly the five who left.
    const next = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    assert.equal(next.status, 'completed');
    const activeAfter = await activeEmails();
    assert.deepEqual(new Set([...activeBefore].filter((email) => !activeAfter.has(email))), victims);
    assert.deepEqual(activeAfter, new Set([...liveEmails()].filter((email) => activeBefore.has(email))), 'everyone still in JumpCloud is still active');
  });

  test('users added while a scan pages through them: the scan ends with every user, none deactivated', async () => {
    const activeBefore = await activeEmails();
    // Newcomers whose ids sort first land on the page already read: plain offset paging misses them all.
    emulator.control.drift({ beforeRequest: 2, insert: 6, insertAt: 'start' });
    const run = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    const newcomers = emulator.control.driftHistory().at(-1)!.inserted.map((id) => emulator.org.user(id)!.email);
    assert.equal(newcomers.length, 6);
    for (const email of newcomers) assert.equal((await byEmail(email))?.state, 'active', `${email} was listed`);
    const activeAfter = await activeEmails();
    assert.deepEqual([...activeBefore].filter((email) => !activeAfter.has(email)), [], 'nobody deactivated');
    const inRoster = new Set((await usersOf(roster(), organizationId)).filter((u) => u.state !== 'inactive').map((u) => u.email));
    assert.deepEqual([...liveEmails()].filter((email) => !inRoster.has(email)), [], 'every JumpCloud user is in Roster');
  });

  test('a directory that keeps moving under every scan fails the full run instead of completing it partially', async () => {
    const activeBefore = await activeEmails();
    emulator.control.drift({ beforeRequest: 2, remove: 1, times: 20 });
    const run = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    emulator.control.clearDrift();
    assert.equal(run.status, 'failed');
    assert.match(run.error, /provider_response_invalid: .*changed during 3 scans/);
    assert.deepEqual(await activeEmails(), activeBefore, 'nobody deactivated by a run that never saw a whole listing');
    // Each of the three scans lost one user to the drift; the next quiet full run removes exactly them.
    assert.equal([...activeBefore].filter((email) => !liveEmails().has(email)).length, 3);
    const retry = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    assert.equal(retry.status, 'completed');
    assert.deepEqual(await activeEmails(), new Set([...activeBefore].filter((email) => liveEmails().has(email))));
  });

  test('throttling (429) slows a full sync down without failing it', async () => {
    const throttledBefore = emulator.control.stats().throttled;
    emulator.control.setThrottle({ fraction: 0.3 });
    const ended = await runEnded(roster(), (await requestRun(roster(), connectionId, 'full')).id);
    emulator.control.setThrottle(undefined);
    assert.equal(ended.status, 'completed', JSON.stringify(ended));
    assert.ok(emulator.control.stats().throttled > throttledBefore, 'requests were throttled');
    const metrics = await (await fetch(`${roster().baseUrl}/metrics`)).text();
    assert.ok(Number(/roster_provider_throttled_total\{connection_type="jumpcloud",source="response"\} (\d+)/.exec(metrics)?.[1] ?? 0) > 0, 'throttling is counted');
    // A Retry-After is honoured when JumpCloud sends one: the run waits it out, then goes on.
    const refusedBefore = emulator.control.stats().throttled;
    emulator.control.setThrottle({ fraction: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    const waiting = await requestRun(roster(), connectionId, 'critical');
    await eventually('a refused request', async () => (emulator.control.stats().throttled > refusedBefore ? true : undefined));
    emulator.control.setThrottle(undefined);
    const paced = await runEnded(roster(), waiting.id);
    assert.equal(paced.status, 'completed', JSON.stringify(paced));
    assert.ok(Date.now() - started >= 900, 'the run waited for the Retry-After');
  });

  test('an API key of a multi-tenant admin works with its org_id, and is refused without one', async () => {
    const otherOrg = (await createOrganization(roster(), 'Managed tenant')).id;
    const withOrg = await createJumpCloudConnection(roster(), otherOrg, { name: 'Tenant', config: jumpCloudConfig(emulator, { org_id: emulator.orgId }), credentials: apiKeyCredentials(emulator.multiTenantApiKey) });
    await becomesActive(roster(), withOrg.id, 'the tenant connection to be active');
    const first = await eventually('its first run', async () => (expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${withOrg.id}`), 200).data as any[])[0]);
    assert.equal((await runEnded(roster(), first.id)).status, 'completed');
    // The emulator refuses this key without x-org-id: every call of the connector carried it.
    assert.equal((await usersOf(roster(), otherOrg)).length, emulator.org.userCount);

    const noOrg = await createJumpCloudConnection(roster(), otherOrg, { name: 'Tenant without org', config: jumpCloudConfig(emulator), credentials: apiKeyCredentials(emulator.multiTenantApiKey) });
    const refused = await eventually('validation to fail', async () => {
      const connection = await getConnection(roster(), noOrg.id);
      return connection.state === 'validating' ? undefined : connection;
    });
    assert.equal(refused.state, 'invalid_credentials');
    assert.match(refused.state_reason, /401/);
    assert.equal(refused.state_reason.includes(emulator.multiTenantApiKey), false);

    assertError(
      await roster().request('POST', `/v1/organizations/${otherOrg}/connections`, { type: 'jumpcloud', name: 'x', config: { org_id: 'tenant-1' }, credentials: { method: 'api_key', api_key: 'k' } }),
      400,
      'invalid_request',
      'body.config.org_id',
    );
    assertError(await roster().request('POST', `/v1/organizations/${otherOrg}/connections`, { type: 'jumpcloud', name: 'x', credentials: { method: 'oauth' } }), 400, 'invalid_request', 'body.credentials');
  });

  test('a revoked API key (401) moves the connection to invalid_credentials, naming no secret', async () => {
    emulator.control.revokeApiKey(emulator.apiKey);
    const run = await runEnded(roster(), (await requestRun(roster(), connectionId, 'critical')).id);
    assert.equal(run.status, 'failed');
    assert.match(run.error, /provider_http_status: .*answered 401/);
    const connection = await eventually('the connection to be invalid_credentials', async () => {
      const current = await getConnection(roster(), connectionId);
      return current.state === 'invalid_credentials' ? current : undefined;
    });
    assert.match(connection.state_reason, /401/);
    const everything = JSON.stringify([run, connection, await eventsOf(roster(), organizationId)]);
    assert.equal(everything.includes(emulator.apiKey), false, 'the key is in no run, state or event');
    assertError(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'full' }), 409, 'connection_not_active');
  });
});
