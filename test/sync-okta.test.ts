import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import okta from '@okta/okta-sdk-nodejs';
import { READ_SCOPES, startOktaEmulator, type OktaEmulator, type OktaUser } from '../src/emulators/okta/index.ts';
import { OBJECTS_FETCHED_PER_DELIVERY } from '../src/sync/pull-connections.ts';
import { createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { becomesActive, eventually, fastSyncConfig, firstRun, getConnection, runEnded, userByEmail, usersOf } from './support/pull-sync.ts';
import { apiTokenCredentials, createOktaConnection, oktaConfig, oktaMembershipCount, oktaUsers, serviceAppCredentials, syncedOktaGroups } from './support/okta-sync.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/**
 * An Okta connection end to end, against the Okta emulator through a real Roster: created with an API
 * token, validated and fully synced (DEPROVISIONED people included, as inactive), kept current by delta
 * rounds (lastUpdated, lastMembershipUpdated, the System Log) and by an event hook, deactivating only what
 * a complete enumeration lost, paced by Okta's rate-limit headers, and stopped by a revoked token.
 */
forEachEngine('Okta connection through the sync engine', (engine) => {
  const roster = useTestRoster(engine, { config: fastSyncConfig() });
  let emulator: OktaEmulator;
  let organizationId: string;
  let connectionId: string;
  // Hours between scheduled runs: every run in these tests is one the test asked for (or an event hook).
  const quiet = { critical_seconds: 3600, profile_seconds: 3600, full_seconds: 86_400 };

  before(async () => {
    // Seed 33 holds people in every status but PASSWORD_EXPIRED (2 DEPROVISIONED, 2 SUSPENDED, STAGED, PROVISIONED…).
    emulator = await startOktaEmulator({ users: 60, groups: 14, seed: 33 });
  });
  after(async () => {
    await emulator?.close();
  });

  const runsOf = async (id = connectionId) => expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${id}`), 200).data as any[];
  /** Waits for the connection's runs (an event hook's delta round, say) to end, then asks for one. */
  const sync = async (kind: string, id = connectionId) => {
    await eventually('no run under way', async () => ((await runsOf(id)).some((run) => run.status === 'queued' || run.status === 'running') ? undefined : true));
    const answer = expectStatus(await roster().request('POST', `/v1/connections/${id}/sync`, { kind }), 202) as any;
    assert.equal(answer.created, true);
    return runEnded(roster(), answer.run.id);
  };
  const person = (user: OktaUser) => userByEmail(roster(), organizationId, user.profile.email);
  const active = () => oktaUsers(emulator).filter((user) => user.status === 'ACTIVE');
  const groupNamed = async (name: string) => (expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200) as any).data.find((g: any) => g.name === name);
  const memberIds = async (groupId: string) => ((expectStatus(await roster().request('GET', `/v1/groups/${groupId}/members?limit=200`), 200) as any).data as any[]).map((m) => m.user_id);
  const expectedState = (user: OktaUser) =>
    ({ ACTIVE: 'active', RECOVERY: 'active', PASSWORD_EXPIRED: 'active', LOCKED_OUT: 'active', SUSPENDED: 'suspended', DEPROVISIONED: 'inactive', STAGED: 'pending', PROVISIONED: 'pending' })[user.status];

  test('a new connection is validated, activated and fully synced: every status (DEPROVISIONED inactive), profile, manager, custom attributes, groups, memberships', async () => {
    organizationId = (await createOrganization(roster(), 'Okta customer')).id;
    const created = await createOktaConnection(roster(), organizationId, { config: oktaConfig(emulator, { schedule: quiet }), credentials: apiTokenCredentials(emulator.apiToken) });
    connectionId = created.id;
    assert.equal(created.state, 'validating');
    assert.equal(created.category, 'idp');
    assert.equal(JSON.stringify(created).includes(emulator.apiToken), false, 'the token is never answered');

    const first = await firstRun(roster(), connectionId);
    assert.equal(first.kind, 'full');
    const run = await runEnded(roster(), first.id);
    assert.equal(run.status, 'completed', JSON.stringify(run));

    const everyone = oktaUsers(emulator);
    const deprovisioned = everyone.filter((user) => user.status === 'DEPROVISIONED');
    assert.ok(deprovisioned.length >= 2);
    const synced = await usersOf(roster(), organizationId);
    assert.equal(synced.length, everyone.length, 'every user, DEPROVISIONED ones included (the plain list omits them)');
    for (const user of everyone) {
      const found = synced.find((candidate) => candidate.email === user.profile.email);
      assert.equal(found?.state, expectedState(user), `${user.status} ${user.profile.email}`);
    }
    for (const user of deprovisioned) assert.equal((await person(user)).state_reason, 'deactivated_in_idp');

    const sample = active()[9]!;
    const mapped = await person(sample);
    assert.equal(mapped.employee_id, sample.profile.employeeNumber);
    assert.equal(mapped.department, sample.profile.department);
    assert.equal(mapped.title, sample.profile.title);
    assert.equal(mapped.username, sample.profile.login);
    assert.equal(mapped.display_name, sample.profile.displayName);
    const manager = emulator.org.userById(sample.profile.managerId as string)!;
    assert.equal(mapped.manager_id, (await person(manager)).id, 'managerId → the manager');
    const withCustom = everyone.find((user) => user.profile.employmentType !== undefined)!;
    assert.equal((await person(withCustom)).custom_attributes.employmentType, withCustom.profile.employmentType);

    const groups = (expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200) as any).data as any[];
    assert.deepEqual(groups.map((g) => g.name).sort(), syncedOktaGroups(emulator).map((g) => g.profile.name).sort(), 'OKTA_GROUP and APP_GROUP, not Everyone');
    const memberships = await roster().database.db.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organizationId).executeTakeFirstOrThrow();
    assert.equal(Number(memberships.n), oktaMembershipCount(emulator));
  });

  test("Okta's own client (@okta/okta-sdk-nodejs) lists the users and groups Roster synced", async () => {
    const client = new okta.Client({ orgUrl: emulator.url, token: emulator.apiToken });
    const emails: string[] = [];
    for await (const user of await client.userApi.listUsers({ limit: 25 })) emails.push(user!.profile!.email!);
    // As Okta's own list, the SDK's leaves DEPROVISIONED users out until asked for them.
    const listed = emails.length;
    for await (const user of await client.userApi.listUsers({ filter: 'status eq "DEPROVISIONED"' })) emails.push(user!.profile!.email!);
    assert.ok(emails.length > listed);
    const groups: string[] = [];
    for await (const group of await client.groupApi.listGroups()) if (group!.type !== 'BUILT_IN') groups.push(group!.profile!.name!);

    const synced = await usersOf(roster(), organizationId);
    assert.deepEqual(synced.map((u) => u.email).sort(), emails.sort());
    const rosterGroups = (expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200) as any).data as any[];
    assert.deepEqual(rosterGroups.map((g) => g.name).sort(), groups.sort());
  });

  test('an event hook is created and verified, and a change in Okta arrives through it within seconds', async () => {
    const hook = await eventually('a verified event hook', async () => emulator.control.eventHooks().find((h) => h.verificationStatus === 'VERIFIED'));
    const verification = emulator.control.verifications().find((v) => v.hookId === hook.id);
    assert.equal(verification?.ok, true, 'the receiver answered the challenge');
    const channel = await roster().database.db.selectFrom('push_channels').selectAll().where('connection_id', '=', connectionId).executeTakeFirstOrThrow();
    assert.equal(channel.resource_id, hook.id);
    assert.equal(new URL(hook.channel.config.uri).pathname, `/push/${connectionId}/okta/${channel.id}`, 'the URI names the channel whose token the hook carries');
    assert.equal(hook.channel.config.authScheme?.value, undefined, 'Okta never reads the secret back');

    const target = active()[3]!;
    emulator.control.updateUser(target.id, { department: 'Hooked' });
    await eventually('the hooked change', async () => ((await person(target))?.department === 'Hooked' ? true : undefined), 10_000);
    const suspended = active()[4]!;
    emulator.control.suspendUser(suspended.id);
    await eventually('the hooked suspension', async () => ((await person(suspended))?.state === 'suspended' ? true : undefined), 10_000);
  });

  test('an event hook an admin deleted in Okta is noticed at the next channel check and replaced', async () => {
    const [old] = emulator.control.eventHooks().filter((h) => h.verificationStatus === 'VERIFIED');
    emulator.control.deleteEventHook(old!.id);
    const db = roster().database.db;
    await db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connectionId).where('tier', '=', 'channels').execute();
    await roster().roster.sync.scheduler.tick();
    const replaced = await eventually('a new verified hook', async () => emulator.control.eventHooks().find((h) => h.id !== old!.id && h.verificationStatus === 'VERIFIED'));
    const rows = await db.selectFrom('push_channels').select(['resource_id', 'stopped_at']).where('connection_id', '=', connectionId).execute();
    assert.ok(rows.find((r) => r.resource_id === old!.id)?.stopped_at, 'the deleted hook is marked stopped');
    assert.equal(rows.find((r) => r.resource_id === replaced.id)?.stopped_at, null);
    const target = active()[6]!;
    emulator.control.updateUser(target.id, { department: 'Through the new hook' });
    await eventually('a change through the new hook', async () => ((await person(target))?.department === 'Through the new hook' ? true : undefined), 10_000);
    // A live hook is left alone at the next check.
    await db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connectionId).where('tier', '=', 'channels').execute();
    await roster().roster.sync.scheduler.tick();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(emulator.control.eventHooks().filter((h) => h.verificationStatus === 'VERIFIED').length, 1);
  });

  test('duplicate and reordered deliveries are harmless; a redelivered batch changes nothing; a wrong Authorization is refused', async () => {
    const [a, b] = active().slice(10, 12);
    const before = (await eventsOf(roster(), organizationId)).length;
    emulator.control.setDeliverySwitches({ duplicate: { count: 2 }, reorder: { count: 1 } });
    emulator.control.updateUser(a!.id, { title: 'Twice' });
    await new Promise((resolve) => setImmediate(resolve));
    emulator.control.updateUser(b!.id, { title: 'Reordered' });
    await emulator.control.deliveriesIdle();
    await eventually('both changes', async () => {
      const [x, y] = await Promise.all([person(a!), person(b!)]);
      return x?.title === 'Twice' && y?.title === 'Reordered' ? true : undefined;
    });
    // The same batch once more, as Okta's at-least-once delivery may send it: its uuids are on record
    // (in the store, for any process a redelivery reaches), so it fetches nothing.
    const last = emulator.control.deliveries().at(-1)!.delivery;
    const uuids = (JSON.parse(last.body).data.events as Array<{ uuid: string }>).map((e) => e.uuid);
    const recorded = await roster().database.db.selectFrom('push_events').select('event_id').where('connection_id', '=', connectionId).where('event_id', 'in', uuids).execute();
    assert.equal(recorded.length, uuids.length, 'every uuid acted on is recorded');
    const fetchesBefore = { ...emulator.control.stats().requests }['GET /api/v1/users/:id'] ?? 0;
    const again = await fetch(last.uri, { method: 'POST', headers: last.headers, body: last.body });
    assert.equal(again.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal({ ...emulator.control.stats().requests }['GET /api/v1/users/:id'] ?? 0, fetchesBefore, 'a redelivered batch fetches nothing');
    // Housekeeping forgets uuids after a day (Okta redelivers within minutes).
    const db = roster().database.db;
    await db.insertInto('push_events').values({ connection_id: connectionId, event_id: 'old-uuid', received_at: new Date(Date.now() - 25 * 3600_000).toISOString() }).execute();
    await roster().roster.housekeeping();
    const left = await db.selectFrom('push_events').select('event_id').where('connection_id', '=', connectionId).execute();
    assert.equal(left.some((r) => r.event_id === 'old-uuid'), false);
    assert.ok(uuids.every((uuid) => left.some((r) => r.event_id === uuid)), 'fresh uuids stay');
    const updates = (await eventsOf(roster(), organizationId)).slice(before).filter((e) => e.type === 'user.updated');
    assert.equal(updates.length, 2, updates.map((e) => e.data.email).join(', '));
    emulator.control.setDeliverySwitches({});

    const forged = await fetch(last.uri, { method: 'POST', headers: { ...last.headers, authorization: 'forged' }, body: last.body });
    assert.equal(forged.status, 401);
    const challenge = await fetch(last.uri, { headers: { 'x-okta-verification-challenge': 'abc123' } });
    assert.deepEqual(await challenge.json(), { verification: 'abc123' });
  });

  test('a delivery naming more objects than are fetched one by one starts one delta round instead', async () => {
    const last = emulator.control.deliveries().at(-1)!.delivery;
    const named = oktaUsers(emulator).slice(0, OBJECTS_FETCHED_PER_DELIVERY + 5);
    assert.equal(named.length, OBJECTS_FETCHED_PER_DELIVERY + 5, 'the org has enough users');
    const runsBefore = new Set((await runsOf()).map((run) => run.id));
    const fetchesBefore = { ...emulator.control.stats().requests }['GET /api/v1/users/:id'] ?? 0;
    const events = named.map((user) => ({ uuid: randomUUID(), published: new Date().toISOString(), eventType: 'user.account.update_profile', target: [{ id: user.id, type: 'User' }] }));
    const body = JSON.stringify({ eventType: 'com.okta.event_hook', eventTypeVersion: '1.0', cloudEventsVersion: '0.1', source: emulator.url, eventId: randomUUID(), data: { events } });
    const answer = await fetch(last.uri, { method: 'POST', headers: last.headers, body });
    assert.equal(answer.status, 200);
    const round = await eventually('the delta round the delivery asked for', async () => (await runsOf()).find((run) => !runsBefore.has(run.id) && run.trigger === 'push'));
    assert.equal(round.kind, 'delta');
    assert.equal((await runEnded(roster(), round.id)).status, 'completed');
    assert.equal(({ ...emulator.control.stats().requests }['GET /api/v1/users/:id'] ?? 0) - fetchesBefore, 0, 'no user fetched one by one');
  });

  test('a membership change through the event hook starts a delta round that lists the group again', async () => {
    const group = syncedOktaGroups(emulator).find((g) => g.type === 'OKTA_GROUP' && g.profile.name.startsWith('Project'))!;
    const joiner = active().find((user) => !emulator.org.memberIdsOf(group.id).includes(user.id))!;
    emulator.control.addMember(group.id, joiner.id);
    const canonical = await groupNamed(group.profile.name);
    const joinerId = (await person(joiner)).id;
    await eventually('the new membership', async () => ((await memberIds(canonical.id)).includes(joinerId) ? true : undefined), 10_000);
    const pushed = (await runsOf()).find((run) => run.trigger === 'push');
    assert.equal(pushed?.kind, 'delta');
  });

  test('a delta round applies what changed since its cursor: profile, deactivation, deletion for good, new user and group, membership removal', async () => {
    emulator.control.setDeliverySwitches({ drop: { fraction: 1 } });
    const [changed, deactivated, deleted, leaver] = active().slice(20, 24);
    const group = syncedOktaGroups(emulator).find((g) => g.type === 'OKTA_GROUP' && emulator.org.memberIdsOf(g.id).includes(leaver!.id))!;
    // Deleting a person takes them out of their groups too: those groups' memberships moved.
    const movedGroups = new Set([group.id, ...syncedOktaGroups(emulator).filter((g) => emulator.org.memberIdsOf(g.id).includes(deleted!.id)).map((g) => g.id)]);
    emulator.control.updateUser(changed!.id, { title: 'Delta title', employmentType: 'FTE' });
    emulator.control.deactivateUser(deactivated!.id);
    emulator.control.deleteUser(deleted!.id);
    emulator.control.removeMember(group.id, leaver!.id);
    const newcomer = emulator.control.createUser({ profile: { login: 'newcomer@example.com', email: 'newcomer@example.com', firstName: 'New', lastName: 'Comer' } });
    const team = emulator.control.createGroup({ name: 'Delta team', description: 'made between rounds' });
    emulator.control.addMember(team.id, newcomer.id);
    const requestsBefore = emulator.control.stats().requests;

    const run = await sync('delta');
    assert.equal(run.kind, 'delta');
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal((await person(changed!)).title, 'Delta title');
    assert.equal((await person(changed!)).custom_attributes.employmentType, 'FTE');
    assert.equal((await person(deactivated!)).state, 'inactive');
    assert.equal((await person(deactivated!)).state_reason, 'deactivated_in_idp');
    const gone = await person(deleted!);
    assert.equal(gone.state, 'inactive', 'deleted for good: Okta answers 404, a tombstone');
    assert.equal(gone.state_reason, 'removed_from_source');
    assert.equal((await userByEmail(roster(), organizationId, 'newcomer@example.com'))?.state, 'active');
    const canonicalTeam = await groupNamed('Delta team');
    assert.deepEqual(await memberIds(canonicalTeam.id), [(await userByEmail(roster(), organizationId, 'newcomer@example.com')).id]);
    assert.equal((await memberIds((await groupNamed(group.profile.name)).id)).includes((await person(leaver!)).id), false, 'the group was listed again in full');

    // Incremental: only the groups whose membership moved (and the new one) were listed again.
    const requests = emulator.control.stats().requests;
    const delta = (route: string) => (requests[route] ?? 0) - (requestsBefore[route] ?? 0);
    assert.equal(delta('GET /api/v1/groups/:id/users'), movedGroups.size + 1);
    assert.equal(delta('GET /api/v1/logs'), 1);
    emulator.control.setDeliverySwitches({});

    // A critical run of a delta source is a delta round.
    assert.equal((await sync('critical')).kind, 'delta');
  });

  test('a cursor the source cannot read makes the delta round a full run, which says why', async () => {
    await roster().database.db.updateTable('sync_cursors').set({ cursor: '{"v":0}' }).where('connection_id', '=', connectionId).execute();
    const run = await sync('delta');
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.kind, 'full');
    assert.match(run.progress.fallback, /cursor_expired/);
    const stored = await roster().database.db.selectFrom('sync_cursors').select('cursor').where('connection_id', '=', connectionId).executeTakeFirstOrThrow();
    assert.equal(JSON.parse(stored.cursor).v, 1, 'the full run left a fresh cursor');
  });

  test("a full run's cursor starts from Okta's clock, not Roster's: with Okta a minute behind, a change right after it arrives in the next round", async () => {
    emulator.control.setDeliverySwitches({ drop: { fraction: 1 } });
    emulator.control.advanceTime(-60_000);
    try {
      assert.equal((await sync('full')).status, 'completed');
      const cursor = JSON.parse((await roster().database.db.selectFrom('sync_cursors').select('cursor').where('connection_id', '=', connectionId).executeTakeFirstOrThrow()).cursor);
      assert.ok(Date.parse(cursor.users) <= emulator.now(), `the cursor (${cursor.users}) is not ahead of Okta`);
      const target = active()[27]!;
      emulator.control.updateUser(target.id, { title: 'Changed on a slow clock' });
      const round = await sync('delta');
      assert.equal(round.kind, 'delta');
      assert.equal((await person(target)).title, 'Changed on a slow clock');
    } finally {
      emulator.control.advanceTime(60_000);
      emulator.control.setDeliverySwitches({});
    }
  });

  test('a user gone from Okta is deactivated only by a complete full enumeration; DEPROVISIONED people are never taken for removed', async () => {
    emulator.control.setDeliverySwitches({ drop: { fraction: 1 } });
    const gone = active()[30]!;
    emulator.control.deleteUser(gone.id);
    assert.equal((await sync('profile')).status, 'completed');
    assert.equal((await person(gone)).state, 'active', 'a profile run removes nobody');

    const activeBefore = (await usersOf(roster(), organizationId, '&state=active')).length;
    emulator.control.injectFault({ kind: 'server-error', count: 1000, pathPrefix: '/api/v1/groups' });
    const failed = await sync('full');
    emulator.control.clearFaults();
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /^provider_/);
    assert.equal((await usersOf(roster(), organizationId, '&state=active')).length, activeBefore, 'nobody deactivated by a partial enumeration');
    await eventually('the connection to be in error', async () => ((await getConnection(roster(), connectionId)).state === 'error' ? true : undefined));

    const full = await sync('full');
    assert.equal(full.status, 'completed', JSON.stringify(full));
    const removed = await person(gone);
    assert.equal(removed.state, 'inactive');
    assert.equal(removed.state_reason, 'removed_from_source');
    for (const user of oktaUsers(emulator).filter((u) => u.status === 'DEPROVISIONED')) {
      assert.equal((await person(user)).state_reason, 'deactivated_in_idp', `${user.profile.email} is listed by the DEPROVISIONED filter`);
    }
    await becomesActive(roster(), connectionId, 'the connection to be active again');
    emulator.control.setDeliverySwitches({});
  });

  test('rate limits: Remaining running low pauses requests before any 429; a spent bucket (429 E0000047) waits for its reset', async () => {
    const metric = async (source: string) => {
      const text = await (await fetch(`${roster().baseUrl}/metrics`)).text();
      return Number(new RegExp(`roster_provider_throttled_total\\{connection_type="okta",source="${source}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    // Another app of the org has spent most of the groups bucket: Roster's calls bring Remaining to its reserve.
    emulator.control.setRateLimits({ groups: { limit: 100, windowMs: 3000 } });
    emulator.control.consumeRateLimit('groups', 88);
    const pacingBefore = await metric('pacing');
    const paced = await sync('full');
    assert.equal(paced.status, 'completed', JSON.stringify(paced));
    assert.equal(emulator.control.stats().throttled.groups ?? 0, 0, 'no 429: Roster paused on X-Rate-Limit-Remaining first');
    assert.ok((await metric('pacing')) > pacingBefore, 'the pause is counted');

    emulator.control.setRateLimits({ groups: { limit: 100, windowMs: 2000 } });
    emulator.control.consumeRateLimit('groups', 100);
    const responsesBefore = await metric('response');
    const throttled = await sync('full');
    assert.equal(throttled.status, 'completed', JSON.stringify(throttled));
    assert.ok((emulator.control.stats().throttled.groups ?? 0) > 0, 'Okta answered 429 E0000047');
    assert.ok((await metric('response')) > responsesBefore);
    emulator.control.reset();
  });

  test('a service app (private_key_jwt) connects too, with its own event hook, deleted with the connection; STAGED users follow staged_state', async () => {
    const other = (await createOrganization(roster(), 'Okta service app customer')).id;
    const created = await createOktaConnection(roster(), other, {
      config: oktaConfig(emulator, { schedule: quiet, staged_state: 'active' }),
      credentials: serviceAppCredentials(emulator, [...READ_SCOPES, 'okta.eventHooks.manage']),
    });
    assert.equal(JSON.stringify(created).includes('PRIVATE KEY'), false);
    const first = await firstRun(roster(), created.id);
    assert.equal((await runEnded(roster(), first.id)).status, 'completed');
    const staged = oktaUsers(emulator).find((user) => user.status === 'STAGED')!;
    assert.equal((await userByEmail(roster(), other, staged.profile.email)).state, 'active', 'staged_state: active');

    const channel = await eventually('its event hook', async () => roster().database.db.selectFrom('push_channels').selectAll().where('connection_id', '=', created.id).executeTakeFirst());
    assert.equal(emulator.control.eventHooks().find((hook) => hook.id === channel.resource_id)?.verificationStatus, 'VERIFIED');
    expectStatus(await roster().request('DELETE', `/v1/connections/${created.id}`), 204);
    assert.equal(emulator.control.eventHooks().some((hook) => hook.id === channel.resource_id), false, 'deactivated and deleted in Okta');
    assert.equal(emulator.control.eventHooks().length, 1, "the other connection's hook stays");
  });

  test('a deactivated service app makes the connection invalid_credentials', async () => {
    const app = await emulator.control.createServiceApp([...READ_SCOPES]);
    const other = (await createOrganization(roster(), 'Okta app to revoke')).id;
    const created = await createOktaConnection(roster(), other, {
      config: oktaConfig(emulator, { schedule: quiet, push: false }),
      credentials: { method: 'service_app', client_id: app.clientId, private_key: app.privateKey },
    });
    const first = await firstRun(roster(), created.id);
    assert.equal((await runEnded(roster(), first.id)).status, 'completed');

    emulator.control.deactivateServiceApp(app.clientId);
    // The token Roster holds is revoked with the app: the next call is refused, and so is a new token.
    const failed = await sync('full', created.id);
    assert.equal(failed.status, 'failed');
    const broken = await eventually('invalid_credentials', async () => {
      const connection = await getConnection(roster(), created.id);
      return connection.state === 'invalid_credentials' ? connection : undefined;
    });
    assert.doesNotMatch(JSON.stringify(broken), /PRIVATE KEY|eyJ/);
  });

  test('a revoked API token (401 E0000011) makes the connection invalid_credentials', async () => {
    emulator.control.revokeApiToken(emulator.apiToken);
    const failed = await sync('full');
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /401/);
    assert.equal(failed.error.includes(emulator.apiToken), false);
    const broken = await eventually('invalid_credentials', async () => {
      const connection = await getConnection(roster(), connectionId);
      return connection.state === 'invalid_credentials' ? connection : undefined;
    });
    assert.match(broken.state_reason, /401/);
    const types = (await eventsOf(roster(), organizationId)).map((e) => e.type);
    assert.ok(types.includes('connection.state_changed'));
  });
});
