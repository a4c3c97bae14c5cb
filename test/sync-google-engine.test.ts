import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { admin, auth } from '@googleapis/admin';
import { googleWorkspaceType } from '../src/connectors/google/google.connection.ts';
import { startGoogleEmulator, type GoogleEmulator } from '../src/emulators/google/index.ts';
import { JwtBearerStrategy } from '../src/sync/credentials/jwt-bearer.strategy.ts';
import { ProviderHttpClient } from '../src/sync/http/provider-http-client.ts';
import { assertError, createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { createGoogleConnection, emulatorConfig, serviceAccountCredentials } from './support/google-sync.ts';
import { becomesActive, eventually, fastSyncConfig, firstRun, getConnection, runEnded, userByEmail, usersOf } from './support/pull-sync.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/**
 * A Google Workspace connection end to end, the way an operator runs one: created through the API with a
 * service account, validated, synced in the background by the engine's workers, kept current by watch
 * channel notifications and scheduled polls, and held to completeness and the deprovision guard.
 */
forEachEngine('Google Workspace connection through the sync engine', (engine) => {
  const roster = useTestRoster(engine, { config: fastSyncConfig() });
  let emulator: GoogleEmulator;
  let organizationId: string;
  let connectionId: string;

  before(async () => {
    emulator = await startGoogleEmulator({ users: 150, groups: 8, seed: 5 });
  });
  after(async () => {
    await emulator?.close();
  });

  const liveUsers = () => emulator.org.userIds().map((id) => emulator.org.userById(id)!).filter((u) => !u.deletionTime);
  const runsOf = async () => expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${connectionId}`), 200).data as any[];

  test('a new connection is validated, activated and fully synced in the background, with progress', async () => {
    organizationId = (await createOrganization(roster(), 'Workspace customer')).id;
    const created = await createGoogleConnection(roster(), organizationId, {
      config: emulatorConfig(emulator, { schedule: { critical_seconds: 3600, profile_seconds: 3600, full_seconds: 86_400 } }),
      credentials: serviceAccountCredentials(emulator),
    });
    connectionId = created.id;
    assert.equal(created.state, 'validating');
    assert.equal(created.category, 'directory');
    assert.equal(JSON.stringify(created).includes('PRIVATE KEY'), false, 'credentials are never answered');

    const first = await firstRun(roster(), connectionId);
    assert.equal(first.kind, 'full');
    assert.equal(first.trigger, 'activation');
    const run = await runEnded(roster(), first.id);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.progress.phase, 'members');
    assert.ok(run.progress.records >= 150 && run.progress.pages >= 3, JSON.stringify(run.progress));
    assert.ok(run.counters.users_created >= 150);

    const synced = await usersOf(roster(), organizationId);
    assert.equal(synced.length, liveUsers().length);
    const groups = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}`), 200).data;
    assert.equal(groups.length, emulator.org.groupIds().length);
    const memberships = await roster().database.db.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organizationId).executeTakeFirstOrThrow();
    const userMembers = emulator.org.groupIds().reduce((sum, id) => sum + emulator.org.membersOf(id).filter((m) => m.type === 'USER' && emulator.org.userById(m.id)?.deletionTime === undefined).length, 0);
    assert.ok(userMembers > 0);
    assert.equal(Number(memberships.n), userMembers, 'every user membership of every group');
    const types = (await eventsOf(roster(), organizationId)).map((e) => e.type);
    assert.ok(types.includes('connection.activated') && types.includes('sync.started') && types.includes('sync.completed'));

    // The stored credentials are sealed: the database holds no key material in the clear.
    const row = await roster().database.db.selectFrom('connection_secrets').select('sealed').where('connection_id', '=', connectionId).executeTakeFirstOrThrow();
    assert.doesNotMatch(row.sealed, /PRIVATE KEY|client_email/);
  });

  test('groups inside groups are recorded as nestings, never as memberships, and members are flattened on request', async () => {
    // Two levels: the child inside the parent, the grandchild inside the child; a profile run lists them.
    const withPeople = emulator.org.groupIds().filter((id) => emulator.org.membersOf(id).some((m) => m.type === 'USER'));
    const [parentId, childId, grandchildId] = withPeople.slice(-3) as [string, string, string];
    emulator.control.addMember(parentId, childId);
    emulator.control.addMember(childId, grandchildId);
    const profile = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'profile' }), 202) as any;
    assert.equal((await runEnded(roster(), profile.run.id)).status, 'completed');
    const groupsByName = new Map(
      ((expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200) as any).data as any[]).map((g) => [g.name, g]),
    );
    const canonical = (googleId: string) => groupsByName.get(emulator.org.findGroup(googleId)!.name)!;
    const personIds = new Map((await usersOf(roster(), organizationId)).map((u) => [u.email, u.id]));
    const idOfUser = (googleId: string) => personIds.get(emulator.org.userById(googleId)!.primaryEmail);
    const liveUserMembers = (googleGroup: string) =>
      emulator.org.membersOf(googleGroup).filter((m) => m.type === 'USER' && !emulator.org.userById(m.id)?.deletionTime).map((m) => idOfUser(m.id)!);
    // Everyone in a group or, at any depth, in a group inside it (the emulator's own view).
    const flattened = (googleGroup: string, seen = new Set<string>()): Set<string> => {
      seen.add(googleGroup);
      const out = new Set(liveUserMembers(googleGroup));
      for (const m of emulator.org.membersOf(googleGroup)) if (m.type === 'GROUP' && !seen.has(m.id)) for (const id of flattened(m.id, seen)) out.add(id);
      return out;
    };
    const list = async (path: string) => ((expectStatus(await roster().request('GET', path), 200) as any).data as any[]);
    const parent = canonical(parentId);
    const child = canonical(childId);

    const children = await list(`/v1/groups/${parent.id}/groups?limit=200`);
    assert.deepEqual(children.map((g) => g.id).sort(), emulator.org.membersOf(parentId).filter((m) => m.type === 'GROUP').map((m) => canonical(m.id).id).sort());
    const direct = await list(`/v1/groups/${parent.id}/members?limit=200`);
    assert.deepEqual(new Set(direct.map((m) => m.user_id)), new Set(liveUserMembers(parentId)), 'direct members are users only');
    const transitive = await list(`/v1/groups/${parent.id}/members?transitive=true&limit=200`);
    assert.equal(new Set(transitive.map((m) => m.user_id)).size, transitive.length, 'each person once');
    assert.deepEqual(new Set(transitive.map((m) => m.user_id)), flattened(parentId));
    assert.ok(transitive.every((m) => m.group_id === parent.id));
    assert.ok(flattened(parentId).size > liveUserMembers(parentId).length, 'the nested groups add people');
    assert.ok(liveUserMembers(grandchildId).every((id) => transitive.some((m) => m.user_id === id)), 'two levels down');
    const memberships = await roster().database.db.selectFrom('memberships').select('user_id').where('group_id', '=', parent.id).execute();
    assert.equal(memberships.length, liveUserMembers(parentId).length, 'no nested group became a membership');
    const added = (await eventsOf(roster(), organizationId)).filter((e) => e.type === 'group.nested_group_added');
    assert.ok(added.some((e) => e.data.group_id === parent.id && e.data.child_group_id === child.id));
    assertError(await roster().request('GET', `/v1/groups/${parent.id}/members?transitive=yes`), 400, 'invalid_request', 'query.transitive');

    // Google stops listing the child inside the parent: a complete full run removes the nesting.
    emulator.control.removeMember(parentId, childId);
    const full = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'full' }), 202) as any;
    assert.equal((await runEnded(roster(), full.run.id)).status, 'completed');
    assert.equal((await list(`/v1/groups/${parent.id}/groups?limit=200`)).some((g) => g.id === child.id), false);
    const removed = (await eventsOf(roster(), organizationId)).filter((e) => e.type === 'group.nested_group_removed');
    assert.deepEqual(removed.map((e) => [e.data.group_id, e.data.child_group_id]), [[parent.id, child.id]]);
    assert.deepEqual(new Set((await list(`/v1/groups/${parent.id}/members?transitive=true&limit=200`)).map((m) => m.user_id)), flattened(parentId));
    emulator.control.removeMember(childId, grandchildId);
  });

  test("Google's own client (@googleapis/admin) lists the users and groups Roster synced", { timeout: 60_000 }, async () => {
    const strategy = new JwtBearerStrategy({
      http: new ProviderHttpClient(),
      tokenUrl: emulator.tokenUrl,
      issuer: emulator.serviceAccountKey.client_email,
      subject: `admin@${emulator.org.domain}`,
      scope: googleWorkspaceType.definition.auth.flatMap((a) => ('scopes' in a ? a.scopes : [])).join(' '),
      privateKey: emulator.serviceAccountKey.private_key,
    });
    const client = new auth.OAuth2();
    client.setCredentials({ access_token: (await strategy.issue()).header.value.replace(/^Bearer /, '') });
    const directory = admin({ version: 'directory_v1', rootUrl: `${emulator.url}/`, auth: client });
    const emails: string[] = [];
    let pageToken: string | undefined;
    do {
      const res = await directory.users.list({ customer: 'my_customer', maxResults: 100, ...(pageToken ? { pageToken } : {}) });
      emails.push(...(res.data.users ?? []).map((user) => user.primaryEmail!));
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken);
    const groups = (await directory.groups.list({ customer: 'my_customer' })).data.groups ?? [];

    const synced = await usersOf(roster(), organizationId);
    assert.deepEqual(synced.map((u) => u.email).sort(), emails.sort());
    const rosterGroups = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200).data as any[];
    assert.deepEqual(rosterGroups.map((g) => g.name).sort(), groups.map((g) => g.name!).sort());
  });

  test('a watch channel is opened, and a change in Google arrives through its notification within seconds', async () => {
    const channel = await eventually('a watch channel', async () => emulator.control.channels()[0]);
    assert.match(channel.resourceUri, /users/);
    const target = liveUsers()[3]!;
    emulator.control.updateUser(target.id, { organizations: [{ department: 'Notified', title: 'Pushed', primary: true }] });
    const person = await eventually('the pushed change', async () => {
      const user = await userByEmail(roster(), organizationId, target.primaryEmail);
      return user?.department === 'Notified' ? user : undefined;
    }, 10_000);
    assert.equal(person.title, 'Pushed');
  });

  test('duplicate and reordered notifications are harmless: one update event per real change', async () => {
    const [a, b] = liveUsers().slice(10, 12);
    const before = (await eventsOf(roster(), organizationId)).length;
    emulator.control.setNotificationSwitches({ duplicate: { count: 2 }, reorder: { count: 1 } });
    emulator.control.updateUser(a!.id, { organizations: [{ department: 'Twice', primary: true }] });
    emulator.control.updateUser(b!.id, { organizations: [{ department: 'Reordered', primary: true }] });
    await emulator.control.notificationsIdle();
    await eventually('both changes', async () => {
      const [x, y] = await Promise.all([userByEmail(roster(), organizationId, a!.primaryEmail), userByEmail(roster(), organizationId, b!.primaryEmail)]);
      return x?.department === 'Twice' && y?.department === 'Reordered' ? true : undefined;
    });
    // Let any duplicate fetch land, then count.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const updates = (await eventsOf(roster(), organizationId)).slice(before).filter((e) => e.type === 'user.updated');
    assert.equal(updates.length, 2, updates.map((e) => e.data.email).join(', '));
    emulator.control.setNotificationSwitches({});
  });

  test('a channel near its expiry is replaced: the new one is opened first, then the old one stopped', async () => {
    const [old] = emulator.control.channels();
    assert.ok(old);
    const db = roster().database.db;
    await db.updateTable('push_channels').set({ expires_at: new Date(Date.now() + 60_000).toISOString() }).where('id', '=', old.id).execute();
    await db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connectionId).where('tier', '=', 'channels').execute();
    const renewed = await eventually('a new channel', async () => {
      const open = emulator.control.channels();
      return open.length === 1 && open[0]!.id !== old.id ? open[0] : undefined;
    });
    const rows = await db.selectFrom('push_channels').select(['id', 'stopped_at']).where('connection_id', '=', connectionId).execute();
    assert.ok(rows.find((r) => r.id === old.id)?.stopped_at, 'the old channel is marked stopped');
    assert.equal(rows.find((r) => r.id === renewed.id)?.stopped_at, null);
    // Notifications now come through the new channel.
    const target = liveUsers()[7]!;
    emulator.control.updateUser(target.id, { organizations: [{ department: 'Renewed', primary: true }] });
    await eventually('a change through the new channel', async () => ((await userByEmail(roster(), organizationId, target.primaryEmail))?.department === 'Renewed' ? true : undefined));
  });

  test('a notification with a wrong channel token is refused', async () => {
    const channel = emulator.control.channels()[0]!;
    const response = await fetch(`${roster().baseUrl}/push/${connectionId}/google-workspace`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-channel-id': channel.id, 'x-goog-channel-token': 'forged', 'x-goog-resource-state': 'update' },
      body: JSON.stringify({ id: liveUsers()[0]!.id }),
    });
    assert.equal(response.status, 401);
  });

  test('a change whose notification was lost arrives with the next scheduled poll', async () => {
    emulator.control.setNotificationSwitches({ drop: { count: 1 } });
    const target = liveUsers()[20]!;
    emulator.control.suspendUser(target.id);
    await emulator.control.notificationsIdle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await userByEmail(roster(), organizationId, target.primaryEmail)).state, 'active', 'the notification was dropped');
    // The critical tier falls due; the scheduler (not a test call) queues the run.
    await roster().database.db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connectionId).where('tier', '=', 'critical').execute();
    const person = await eventually('the polled change', async () => {
      const user = await userByEmail(roster(), organizationId, target.primaryEmail);
      return user?.state === 'suspended' ? user : undefined;
    });
    assert.equal(person.state, 'suspended');
    const critical = (await runsOf()).find((r) => r.kind === 'critical')!;
    assert.equal(critical.trigger, 'schedule');
    assert.equal((await runEnded(roster(), critical.id)).status, 'completed');
  });

  test('sync now answers the run under way instead of starting a second one', async () => {
    const first = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'full' }), 202) as any;
    const second = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, {}), 202) as any;
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.run.id, first.run.id);
    assert.equal((await runEnded(roster(), first.run.id)).status, 'completed');
    assertError(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'everything' }), 400, 'invalid_request', 'body.kind');
  });

  test("a critical run reads the critical groups' members again: a removal from one takes effect at once, other groups wait for a full run", async () => {
    const groups = emulator.org.groupIds().map((id) => emulator.org.findGroup(id)!);
    const userMembers = (groupId: string) => emulator.org.membersOf(groupId).filter((m) => m.type === 'USER');
    const [admins, other] = groups.filter((g) => userMembers(g.id).length >= 2);
    assert.ok(admins && other, 'two groups with people in them');
    const canonical = async (name: string) =>
      (expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200) as any).data.find((g: any) => g.name === name);
    const emailOf = (id: string) => emulator.org.userById(id)!.primaryEmail;
    const memberIdsOf = async (name: string) => {
      const group = await canonical(name);
      return new Set(((expectStatus(await roster().request('GET', `/v1/groups/${group.id}/members?limit=200`), 200) as any).data as any[]).map((m) => m.user_id));
    };
    const personId = async (id: string) => (await userByEmail(roster(), organizationId, emailOf(id))).id;

    expectStatus(await roster().request('PATCH', `/v1/connections/${connectionId}`, { config: emulatorConfig(emulator, { critical_groups: [admins.id] }) }), 200);
    const leaving = userMembers(admins.id)[0]!.id;
    const joining = liveUsers().find((u) => !emulator.org.membersOf(admins.id).some((m) => m.id === u.id))!.id;
    const leavingOther = userMembers(other.id)[0]!.id;
    assert.ok((await memberIdsOf(admins.name)).has(await personId(leaving)));
    emulator.control.removeMember(admins.id, leaving);
    emulator.control.addMember(admins.id, joining);
    emulator.control.removeMember(other.id, leavingOther);
    const sequenceBefore = (await eventsOf(roster(), organizationId)).at(-1)!.sequence;

    const critical = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'critical' }), 202) as any;
    assert.equal((await runEnded(roster(), critical.run.id)).status, 'completed');
    const adminMembers = await memberIdsOf(admins.name);
    assert.equal(adminMembers.has(await personId(leaving)), false, 'removed from the critical group by the critical run');
    assert.equal(adminMembers.has(await personId(joining)), true, 'added to the critical group by the critical run');
    assert.equal((await memberIdsOf(other.name)).has(await personId(leavingOther)), true, 'another group waits for a full run');
    const events = (await eventsOf(roster(), organizationId)).filter((e) => e.sequence > sequenceBefore && e.type.startsWith('group.member'));
    assert.deepEqual(events.map((e) => e.type).sort(), ['group.member_added', 'group.member_removed']);

    const full = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'full' }), 202) as any;
    assert.equal((await runEnded(roster(), full.run.id)).status, 'completed');
    assert.equal((await memberIdsOf(other.name)).has(await personId(leavingOther)), false, 'the full run removes it');
    expectStatus(await roster().request('PATCH', `/v1/connections/${connectionId}`, { config: emulatorConfig(emulator) }), 200);
  });

  test('a user Google lists as deleted is deactivated, not deleted, by the next poll when its notification was lost', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    const gone = liveUsers()[31]!;
    emulator.control.deleteUser(gone.id);
    const critical = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'critical' }), 202) as any;
    assert.equal((await runEnded(roster(), critical.run.id)).status, 'completed');
    const person = await userByEmail(roster(), organizationId, gone.primaryEmail);
    assert.equal(person.state, 'inactive', 'showDeleted=true says so: a statement, not an absence');
    assert.equal(person.state_reason, 'removed_from_source');
    // Listed as deleted for days: the next polls change nothing.
    const before = (await eventsOf(roster(), organizationId)).length;
    const again = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'critical' }), 202) as any;
    assert.equal((await runEnded(roster(), again.run.id)).status, 'completed');
    assert.deepEqual((await eventsOf(roster(), organizationId)).slice(before).map((e) => e.type), ['sync.started', 'sync.completed']);
  });

  test('a user no longer listed at all is deactivated, not deleted, only by a complete full sync', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    const gone = liveUsers()[30]!;
    // Deleted past Google's recovery window: not even showDeleted lists it.
    emulator.control.deleteUser(gone.id);
    emulator.control.purgeUser(gone.id);
    const profile = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'profile' }), 202) as any;
    assert.equal((await runEnded(roster(), profile.run.id)).status, 'completed');
    assert.equal((await userByEmail(roster(), organizationId, gone.primaryEmail)).state, 'active', 'a profile run removes nobody');

    const full = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, {}), 202) as any;
    assert.equal((await runEnded(roster(), full.run.id)).status, 'completed');
    const person = await userByEmail(roster(), organizationId, gone.primaryEmail);
    assert.equal(person.state, 'inactive');
    assert.equal(person.state_reason, 'removed_from_source');
  });

  test('a full sync whose pages fail mid-way deactivates nobody; the connection is in error until a sync succeeds', async () => {
    const activeBefore = (await usersOf(roster(), organizationId, '&state=active')).length;
    const victims = liveUsers().slice(40, 44);
    for (const user of victims) emulator.control.deleteUser(user.id);
    emulator.control.injectFault({ kind: 'server-error', count: 1000, status: 500 });
    const run = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, {}), 202) as any;
    const failed = await runEnded(roster(), run.run.id);
    emulator.control.clearFaults();
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /^provider_/);
    assert.equal((await usersOf(roster(), organizationId, '&state=active')).length, activeBefore, 'nobody deactivated by a partial pull');
    const broken = await eventually('the connection to be in error', async () => {
      const connection = await getConnection(roster(), connectionId);
      return connection.state === 'error' ? connection : undefined;
    });
    assert.match(broken.state_reason, /provider_/);
    const types = (await eventsOf(roster(), organizationId)).map((e) => e.type);
    assert.ok(types.includes('sync.failed'));

    // Sync now works from `error`; the success brings the connection back.
    const retry = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, {}), 202) as any;
    const retried = await runEnded(roster(), retry.run.id);
    assert.equal(retried.status, 'completed', JSON.stringify(retried));
    // The connection's health follows the run's end.
    await becomesActive(roster(), connectionId, 'the connection to be active again');
    for (const user of victims) assert.equal((await userByEmail(roster(), organizationId, user.primaryEmail)).state, 'inactive');
  });

  test('throttling (403 userRateLimitExceeded) slows a full sync down without failing it', async () => {
    const throttledBefore = emulator.control.stats().throttled;
    emulator.control.setThrottle({ fraction: 0.3, reason: 'userRateLimitExceeded' });
    const run = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, {}), 202) as any;
    const ended = await runEnded(roster(), run.run.id);
    emulator.control.setThrottle(undefined);
    assert.equal(ended.status, 'completed', JSON.stringify(ended));
    assert.ok(emulator.control.stats().throttled > throttledBefore, 'requests were throttled');
    const metrics = await (await fetch(`${roster().baseUrl}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? 0);
    assert.ok(value(/roster_provider_throttled_total\{connection_type="google-workspace",source="response"\} (\d+)/) > 0, 'throttling is counted');
    assert.ok(value(/roster_sync_runs_total\{kind="full",status="completed"\} (\d+)/) >= 3, 'runs are counted');
    assert.ok(value(/roster_sync_runs_total\{kind="full",status="failed"\} (\d+)/) >= 1);
  });

  test('a mass removal is held by the deprovision guard until an admin settles it', async () => {
    const victims = liveUsers().slice(60, 90);
    for (const user of victims) emulator.control.deleteUser(user.id);
    const run = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, {}), 202) as any;
    const held = await runEnded(roster(), run.run.id);
    assert.equal(held.status, 'held');
    assert.equal(held.held.would_deactivate, victims.length);
    assert.equal((await userByEmail(roster(), organizationId, victims[0]!.primaryEmail)).state, 'active');
    const types = (await eventsOf(roster(), organizationId)).map((e) => e.type);
    assert.ok(types.includes('sync.deprovision_held'));
    // While it waits for an admin, the nightly full run does not pile up a second held run.
    const runsBefore = (await runsOf()).length;
    await roster().database.db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connectionId).where('tier', '=', 'full').execute();
    await roster().roster.sync.scheduler.tick();
    assert.equal((await runsOf()).length, runsBefore, 'no full run is scheduled over a held one');
    // A held run is not under way: the connection syncs again. What a later run states is current for the
    // held one too: a newcomer and a person who came back are not removed when the admin confirms.
    const newcomer = emulator.control.createUser({ primaryEmail: `newcomer@${emulator.org.domain}`, name: { givenName: 'New', familyName: 'Comer' } });
    const returning = emulator.control.undeleteUser(victims[1]!.id);
    const critical = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'critical' }), 202) as any;
    assert.equal((await runEnded(roster(), critical.run.id)).status, 'completed');
    expectStatus(await roster().request('POST', `/v1/sync-runs/${held.id}/confirm`), 200);
    const removed = await userByEmail(roster(), organizationId, victims[0]!.primaryEmail);
    assert.equal(removed.state, 'inactive');
    assert.equal(removed.state_reason, 'deprovision_confirmed');
    assert.equal((await userByEmail(roster(), organizationId, newcomer.primaryEmail)).state, 'active', 'created after the hold');
    assert.equal((await userByEmail(roster(), organizationId, returning.primaryEmail)).state, 'active', 'back in Google after the hold');
    emulator.control.setNotificationSwitches({});
  });

  test('a pull connection takes no records from the ingest API: its source is what it lists', async () => {
    const record = { kind: 'user', id: 'x1', attributes: { email: 'fed@outside.test' } };
    assertError(await roster().request('POST', `/v1/connections/${connectionId}/records`, { records: [record] }), 409, 'not_a_push_connection', 'google-workspace');
    assertError(await roster().request('POST', `/v1/connections/${connectionId}/snapshots`), 409, 'not_a_push_connection');
  });

  test('bad input is refused with the field named, and provider URLs on private addresses need the allow-list', async () => {
    assertError(
      await roster().request('POST', `/v1/organizations/${organizationId}/connections`, { type: 'google-workspace', name: 'x', credentials: { method: 'service_account', subject: 'nobody' } }),
      400,
      'invalid_request',
      'body.credentials',
    );
    assertError(
      await roster().request('POST', `/v1/organizations/${organizationId}/connections`, {
        type: 'google-workspace',
        name: 'x',
        config: { api_base_url: 'http://10.1.2.3/admin/directory/v1' },
        credentials: serviceAccountCredentials(emulator),
      }),
      400,
      'url_not_allowed',
      'ROSTER_PROVIDER_ALLOWED_HOSTS',
    );
  });

  test('a validation the provider failed (not the credentials) leaves the connection in error; a successful sync now activates it fully', async () => {
    emulator.control.injectFault({ kind: 'server-error', count: 1000, status: 503 });
    const created = await createGoogleConnection(roster(), organizationId, {
      name: 'Second Google',
      config: emulatorConfig(emulator, { push: false }),
      credentials: serviceAccountCredentials(emulator),
    });
    const broken = await eventually('validation to fail', async () => {
      const connection = await getConnection(roster(), created.id);
      return connection.state === 'validating' ? undefined : connection;
    });
    emulator.control.clearFaults();
    assert.equal(broken.state, 'error');
    assert.match(broken.state_reason, /provider_/);
    const schedules = () => roster().database.db.selectFrom('sync_schedules').select('tier').where('connection_id', '=', created.id).execute();
    assert.equal((await schedules()).length, 0, 'not scheduled before it worked once');

    const run = expectStatus(await roster().request('POST', `/v1/connections/${created.id}/sync`, {}), 202) as any;
    assert.equal((await runEnded(roster(), run.run.id)).status, 'completed');
    await becomesActive(roster(), created.id);
    await eventually('its schedule', async () => ((await schedules()).length === 3 ? true : undefined));
    assert.deepEqual((await schedules()).map((r) => r.tier).sort(), ['critical', 'full', 'profile']);
  });

  test('new settings are checked like at creation, and the schedule follows them', async () => {
    assertError(
      await roster().request('PATCH', `/v1/connections/${connectionId}`, { config: { ...emulatorConfig(emulator), schedule: { critical_seconds: 0 } } }),
      400,
      'invalid_request',
      'body.config.schedule.critical_seconds',
    );
    assertError(await roster().request('PATCH', `/v1/connections/${connectionId}`, { config: { surprise: true } }), 400, 'invalid_request', 'body.config');
    const updated = expectStatus(
      await roster().request('PATCH', `/v1/connections/${connectionId}`, { config: emulatorConfig(emulator, { schedule: { critical_seconds: 120, profile_seconds: 3600, full_seconds: 86_400 } }) }),
      200,
    ) as any;
    assert.equal(updated.config.schedule.critical_seconds, 120);
    assert.equal(updated.config.push, true, 'defaults are filled in');
    const critical = await roster().database.db.selectFrom('sync_schedules').select('interval_seconds').where('connection_id', '=', connectionId).where('tier', '=', 'critical').executeTakeFirstOrThrow();
    assert.equal(critical.interval_seconds, 120);
  });
});
