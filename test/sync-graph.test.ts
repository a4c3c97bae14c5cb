import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Client } from '@microsoft/microsoft-graph-client';
import { GRAPH_USER_SELECT } from '../src/connectors/microsoft-graph/graph.definition.ts';
import { startGraphEmulator, type GraphEmulator } from '../src/emulators/microsoft-graph/index.ts';
import { OBJECTS_FETCHED_PER_DELIVERY } from '../src/sync/pull-connections.ts';
import { createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { becomesActive, eventually, fastSyncConfig, firstRun, getConnection, runEnded, runsOf as runsOfConnection, userByEmail, usersOf } from './support/pull-sync.ts';
import { createGraphConnection, graphConfig, graphCredentials, graphUserMemberships, liveGraphUsers } from './support/graph-sync.ts';
import { forEachEngine, startTestRoster, useTestRoster } from './support/roster.ts';

// Hours between scheduled runs: every run in these tests is one the test asked for (or a notification).
const quiet = { critical_seconds: 3600, profile_seconds: 3600, full_seconds: 86_400 };

/**
 * A Microsoft Entra ID connection end to end, against the Graph emulator through a real Roster: created
 * with an app's client credentials, validated and fully synced in the background, kept current by delta
 * rounds and change notifications, falling back to a full sync when Graph forgets a delta token, and
 * holding up under throttling and a revoked secret.
 */
forEachEngine('Microsoft Graph connection through the sync engine', (engine) => {
  const roster = useTestRoster(engine, { config: fastSyncConfig() });
  let emulator: GraphEmulator;
  let organizationId: string;
  let connectionId: string;

  before(async () => {
    emulator = await startGraphEmulator({ users: 60, groups: 6, seed: 11, delta: { pageSize: 25, membersPerChunk: 4 } });
  });
  after(async () => {
    await emulator?.close();
  });

  const runsOf = async () => expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${connectionId}`), 200).data as any[];
  // Pushes queue runs of their own (a delta round per group change, a follow-up): a test's run starts from an idle connection.
  const sync = async (kind: string) => {
    await eventually('the connection to be idle', async () => {
      const runs = expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${connectionId}&limit=20`), 200).data as any[];
      return runs.every((run) => run.status !== 'queued' && run.status !== 'running') ? true : undefined;
    });
    return (expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind }), 202) as any).run;
  };
  /** Groups inside groups as `parent>child` display names, Roster's and the emulator's. */
  const nestingPairs = async () => {
    const names = new Map(((expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200) as any).data as any[]).map((g) => [g.id, g.name]));
    const rows = await roster().database.db.selectFrom('group_nestings').select(['group_id', 'child_group_id']).where('organization_id', '=', organizationId).execute();
    return rows.map((r) => `${names.get(r.group_id)}>${names.get(r.child_group_id)}`).sort();
  };
  const emulatorNestings = () =>
    emulator.tenant
      .groupIds()
      .filter((id) => emulator.tenant.findGroup(id))
      .flatMap((id) => emulator.tenant.membersOf(id).filter((m) => m.type === 'group' && emulator.tenant.findGroup(m.id)).map((m) => `${emulator.tenant.findGroup(id)!.displayName}>${emulator.tenant.findGroup(m.id)!.displayName}`))
      .sort();
  const mailUsers = () => liveGraphUsers(emulator).filter((user) => user.mail !== null && user.accountEnabled);
  const graphUser = async (mail: string) => userByEmail(roster(), organizationId, mail);

  test('a new connection is validated, activated and fully synced: users with state, department, employee id and manager; groups; memberships', async () => {
    organizationId = (await createOrganization(roster(), 'Entra customer')).id;
    const created = await createGraphConnection(roster(), organizationId, { config: graphConfig(emulator, { schedule: quiet }), credentials: graphCredentials(emulator) });
    connectionId = created.id;
    assert.equal(created.state, 'validating');
    assert.equal(created.category, 'idp');
    assert.equal(JSON.stringify(created).includes(emulator.app.clientSecret), false, 'the secret is never answered');

    const first = await firstRun(roster(), connectionId);
    assert.equal(first.kind, 'full');
    const run = await runEnded(roster(), first.id);
    assert.equal(run.status, 'completed', JSON.stringify(run));

    const synced = await usersOf(roster(), organizationId);
    assert.equal(synced.length, liveGraphUsers(emulator).length);
    const disabled = liveGraphUsers(emulator).filter((user) => !user.accountEnabled && user.mail);
    for (const user of disabled) assert.equal((await graphUser(user.mail!)).state, 'suspended', 'accountEnabled=false is a suspended account');

    const sample = mailUsers()[5]!;
    const person = await graphUser(sample.mail!);
    assert.equal(person.department, sample.department);
    assert.equal(person.title, sample.jobTitle);
    assert.equal(person.employee_id, sample.employeeId);
    assert.equal(person.username, sample.userPrincipalName);
    const boss = emulator.tenant.managerOf(sample.id)!;
    const bossInRoster = synced.find((user) => user.username === boss.userPrincipalName);
    assert.equal(person.manager_id, bossInRoster.id, 'the manager comes from $expand=manager');
    // A user without a mailbox still syncs, under its userPrincipalName.
    const mailless = liveGraphUsers(emulator).find((user) => user.mail === null)!;
    assert.ok(synced.some((user) => user.username === mailless.userPrincipalName && user.email === null));

    const groups = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200).data as any[];
    assert.equal(groups.length, emulator.tenant.groupCount);
    const memberships = await roster().database.db.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organizationId).executeTakeFirstOrThrow();
    assert.equal(Number(memberships.n), graphUserMemberships(emulator), 'every direct user membership; nested groups are not users');
    assert.deepEqual(await nestingPairs(), emulatorNestings(), 'every group inside a group, as a nesting');
    assert.ok(emulatorNestings().length > 0, 'the emulated tenant nests groups');
    const cursor = await roster().database.db.selectFrom('sync_cursors').select('cursor').where('connection_id', '=', connectionId).executeTakeFirst();
    assert.match(cursor?.cursor ?? '', /deltatoken/, 'the full run left a delta cursor taken before it listed');
  });

  test("Microsoft's own client (@microsoft/microsoft-graph-client) pages the same users and reads the same delta round", async () => {
    const token = await (await fetch(emulator.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: emulator.app.clientSecret, scope: 'https://graph.microsoft.com/.default' }),
    })).json() as { access_token: string };
    // The client attaches its auth provider's token only over https; the emulator is plain http on loopback.
    const client = Client.init({
      baseUrl: emulator.url,
      defaultVersion: 'v1.0',
      authProvider: (done) => done(null, token.access_token),
      fetchOptions: { headers: { authorization: `Bearer ${token.access_token}` } },
    });
    // It also takes absolute links as links only on Graph's own https hosts: hand it the path of each.
    const follow = (link: string) => client.api(link.slice(emulator.apiBaseUrl.length));
    const upns: string[] = [];
    let page = await client.api('/users').select(GRAPH_USER_SELECT).top(20).get();
    for (;;) {
      upns.push(...page.value.map((user: { userPrincipalName: string }) => user.userPrincipalName));
      if (!page['@odata.nextLink']) break;
      page = await follow(page['@odata.nextLink']).get();
    }
    const synced = await usersOf(roster(), organizationId);
    assert.deepEqual(upns.sort(), synced.map((user) => user.username).sort());

    // A delta round from "now", through the client: the change it reports is the one Roster applies next.
    let round = await client.api('/users/delta').query({ $deltatoken: 'latest' }).get();
    const target = mailUsers()[9]!;
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    emulator.control.updateUser(target.id, { jobTitle: 'Seen by both' });
    round = await follow(round['@odata.deltaLink']).get();
    assert.deepEqual(round.value.map((user: { id: string }) => user.id), [target.id]);
    assert.equal(round.value[0].jobTitle, 'Seen by both');
    const run = await runEnded(roster(), (await sync('delta')).id);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal((await graphUser(target.mail!)).title, 'Seen by both');
    emulator.control.setNotificationSwitches({});
  });

  test('one delta round applies updates, disabled accounts, @removed users (both reasons) and members@delta split over pages, once each', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    const [moved, blocked, binned, purged] = mailUsers().slice(10, 14);
    emulator.control.updateUser(moved!.id, { department: 'Delta Dept' });
    emulator.control.updateUser(blocked!.id, { accountEnabled: false });
    emulator.control.deleteUser(binned!.id);
    emulator.control.deleteUser(purged!.id, true);
    // Enough members for several members@delta chunks, spread over pages of two items, sent twice.
    const group = emulator.tenant.groupIds().find((id) => emulator.tenant.findGroup(id))!;
    const joiners = mailUsers().filter((user) => !emulator.tenant.membersOf(group).some((m) => m.id === user.id)).slice(0, 9);
    for (const user of joiners) emulator.control.addMember(group, user.id);
    const leaver = emulator.tenant.membersOf(group).find((m) => m.type === 'user' && !joiners.some((j) => j.id === m.id))!;
    emulator.control.removeMember(group, leaver.id);
    // A group put inside another, and one taken out, arrive as nestings through members@delta.
    const existingNesting = emulator.tenant.groupIds().flatMap((id) => emulator.tenant.membersOf(id).filter((m) => m.type === 'group').map((m) => [id, m.id] as const))[0]!;
    emulator.control.removeMember(existingNesting[0], existingNesting[1]);
    const [outer, inner] = emulator.tenant.groupIds().filter((id) => id !== existingNesting[0] && !emulator.tenant.membersOf(id).some((m) => m.type === 'group'));
    emulator.control.addMember(outer!, inner!);
    emulator.control.configureDelta({ pageSize: 2 });
    emulator.control.setDeltaSwitches({ duplicate: { count: 3 } });
    const before = (await eventsOf(roster(), organizationId)).length;

    const run = await runEnded(roster(), (await sync('delta')).id);
    emulator.control.configureDelta({ pageSize: 25 });
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.kind, 'delta');
    assert.equal(run.progress.fallback, undefined);
    assert.equal((await graphUser(moved!.mail!)).department, 'Delta Dept');
    assert.equal((await graphUser(blocked!.mail!)).state, 'suspended');
    for (const gone of [binned!, purged!]) assert.equal((await graphUser(gone.mail!)).state, 'inactive', `${gone.userPrincipalName} is deactivated by @removed`);

    const rosterGroup = (expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}&limit=200`), 200).data as any[]).find((g) => g.name === emulator.tenant.findGroup(group)!.displayName);
    const members = await roster().database.db.selectFrom('memberships').select('user_id').where('group_id', '=', rosterGroup.id).execute();
    const idOf = new Map((await usersOf(roster(), organizationId)).map((user) => [user.id, user.username]));
    const names = new Set(members.map((row) => idOf.get(row.user_id)));
    for (const user of joiners) assert.ok(names.has(user.userPrincipalName), `${user.userPrincipalName} joined`);
    assert.ok(!names.has(emulator.tenant.findUser(leaver.id)!.userPrincipalName), 'the removed member left');
    assert.deepEqual(await nestingPairs(), emulatorNestings(), 'the nesting added and the one removed, through members@delta');

    const events = (await eventsOf(roster(), organizationId)).slice(before);
    const movedEvents = events.filter((e) => e.type === 'user.updated' && e.data.username === moved!.userPrincipalName);
    assert.equal(movedEvents.length, 1, 'duplicated items are harmless: one event per real change');
    assert.equal(events.filter((e) => e.type === 'group.member_added').length, joiners.length);
    emulator.control.setNotificationSwitches({});
  });

  /**
   * A new title for `target`, then a delta round with the emulator's `switches` on; answers the person after
   * it, the users fetched one by one and the attributes its user.updated events changed.
   */
  const titleThroughDelta = async (target: { id: string; mail: string | null }, title: string, switches: Parameters<GraphEmulator['control']['setDeltaSwitches']>[0]) => {
    const fetchesBefore = { ...emulator.control.stats().requests }['GET /v1.0/users/:id'] ?? 0;
    emulator.control.updateUser(target.id, { jobTitle: title });
    emulator.control.setDeltaSwitches(switches);
    const before = (await eventsOf(roster(), organizationId)).length;
    const run = await runEnded(roster(), (await sync('delta')).id);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    const updates = (await eventsOf(roster(), organizationId)).slice(before).filter((e) => e.type === 'user.updated');
    return {
      person: await graphUser(target.mail!),
      fetches: ({ ...emulator.control.stats().requests }['GET /v1.0/users/:id'] ?? 0) - fetchesBefore,
      changed: updates.map((e) => Object.keys(e.changes ?? {}).sort()),
    };
  };

  test('a delta item without manager@delta keeps the manager: the user is read whole instead of mapped as having none', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    const target = mailUsers().find((user) => emulator.tenant.managerOf(user.id)?.mail && !emulator.tenant.userState(user.id)!.removed)!;
    const boss = await graphUser(emulator.tenant.managerOf(target.id)!.mail!);
    assert.equal((await graphUser(target.mail!)).manager_id, boss.id);
    const { person, fetches, changed } = await titleThroughDelta(target, 'Same Manager', { withoutRelations: { count: 1 } });
    assert.equal(person.title, 'Same Manager');
    assert.equal(person.manager_id, boss.id, 'the manager the change did not touch is kept');
    assert.equal(fetches, 1, 'the user was fetched once');
    assert.deepEqual(changed, [['title']]);
    emulator.control.setNotificationSwitches({});
  });

  test('a delta item that carries only its id and relations is read whole, so no attribute is blanked', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    const target = mailUsers()[20]!;
    const { person, fetches, changed } = await titleThroughDelta(target, 'Minimal Title', { minimal: { count: 1 } });
    assert.equal(person.title, 'Minimal Title', 'the change arrived through the whole user');
    assert.equal(person.email, target.mail, 'nothing the minimal item lacked was blanked');
    assert.equal(person.department, target.department);
    assert.equal(fetches, 1, 'the user was fetched once');
    assert.deepEqual(changed, [['title']]);
    emulator.control.setNotificationSwitches({});
  });

  test('subscriptions are created after the validation handshake, and a change arrives through a notification within seconds', async () => {
    const subscriptions = await eventually('two subscriptions', async () => (emulator.control.subscriptions().length === 2 ? emulator.control.subscriptions() : undefined));
    assert.deepEqual(subscriptions.map((s) => s.resource).sort(), ['/groups', '/users']);
    const address = `${roster().baseUrl.replace("127.0.0.1", "localhost")}/push/${connectionId}/microsoft-graph`;
    for (const subscription of subscriptions) {
      assert.equal(subscription.notificationUrl, address);
      assert.equal(subscription.lifecycleNotificationUrl, address);
    }
    const handshakes = emulator.control.handshakes().filter((h) => h.url === address);
    assert.ok(handshakes.length >= 4 && handshakes.every((h) => h.ok), 'both URLs of both subscriptions answered the validation token');
    const rows = await roster().database.db.selectFrom('push_channels').select(['id', 'resource_id']).where('connection_id', '=', connectionId).where('stopped_at', 'is', null).execute();
    assert.deepEqual(rows.map((r) => r.id).sort(), subscriptions.map((s) => s.id).sort(), 'each subscription is a channel');

    const runsBefore = (await runsOf()).length;
    const target = mailUsers()[20]!;
    emulator.control.updateUser(target.id, { department: 'Notified' });
    await eventually('the notified change', async () => ((await graphUser(target.mail!))?.department === 'Notified' ? true : undefined), 10_000);
    assert.equal((await runsOf()).length, runsBefore, 'a user notification is answered by fetching that user, not by a run');
    assert.ok(emulator.control.deliveredNotifications().some((d) => d.kind === 'change' && d.status === 202));
  });

  test('a group change notification and a missed lifecycle event start delta rounds; reauthorizationRequired is answered', async () => {
    const group = emulator.tenant.groupIds().find((id) => emulator.tenant.findGroup(id))!;
    const joiner = mailUsers().find((user) => !emulator.tenant.membersOf(group).some((m) => m.id === user.id))!;
    emulator.control.addMember(group, joiner.id);
    const pushed = await eventually('a delta round started by the notification', async () => (await runsOf()).find((r) => r.kind === 'delta' && r.trigger === 'push'));
    assert.equal((await runEnded(roster(), pushed.id)).status, 'completed');

    const users = emulator.control.subscriptions().find((s) => s.resource === '/users')!;
    emulator.control.lifecycle(users.id, 'missed');
    await emulator.control.notificationsIdle();
    await eventually('a second push delta round', async () => ((await runsOf()).filter((r) => r.kind === 'delta' && r.trigger === 'push').length >= 2 ? true : undefined));

    emulator.control.lifecycle(users.id, 'reauthorizationRequired');
    assert.equal(emulator.control.awaitsReauthorization(users.id), true);
    await eventually('the reauthorize call', async () => (emulator.control.awaitsReauthorization(users.id) ? undefined : true));
  });

  test('a notification POST naming many users is acted on once: one delta round, not a fetch per entry', async () => {
    const users = emulator.control.subscriptions().find((s) => s.resource === '/users')!;
    const named = mailUsers().slice(0, OBJECTS_FETCHED_PER_DELIVERY + 10);
    const fetchesBefore = { ...emulator.control.stats().requests }['GET /v1.0/users/:id'] ?? 0;
    const runsBefore = new Set((await runsOf()).map((run) => run.id));
    const entry = (id: string) => ({
      subscriptionId: users.id,
      clientState: users.clientState,
      changeType: 'updated',
      resource: `Users/${id}`,
      tenantId: emulator.tenant.tenantId,
      resourceData: { '@odata.type': '#Microsoft.Graph.User', '@odata.id': `Users/${id}`, id },
    });
    // Every user twice, as Graph's retries and overlapping batches deliver them.
    const body = { value: [...named, ...named].map((user) => entry(user.id)) };
    const answer = await fetch(users.notificationUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(answer.status, 202);
    const round = await eventually('the delta round the POST asked for', async () => (await runsOf()).find((run) => !runsBefore.has(run.id) && run.trigger === 'push'));
    assert.equal(round.kind, 'delta');
    assert.equal((await runEnded(roster(), round.id)).status, 'completed');
    assert.equal(({ ...emulator.control.stats().requests }['GET /v1.0/users/:id'] ?? 0) - fetchesBefore, 0, 'no user fetched one by one');
  });

  test('subscriptions near their expiry are replaced: new ones are created first, then the old ones deleted', async () => {
    const old = emulator.control.subscriptions().map((s) => s.id);
    const db = roster().database.db;
    await db.updateTable('push_channels').set({ expires_at: new Date(Date.now() + 60_000).toISOString() }).where('connection_id', '=', connectionId).execute();
    await db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connectionId).where('tier', '=', 'channels').execute();
    await eventually('two new subscriptions, the old ones gone', async () => {
      const now = emulator.control.subscriptions().map((s) => s.id);
      return now.length === 2 && now.every((id) => !old.includes(id)) ? true : undefined;
    });
    // The provider forgets a channel just before Roster records it stopped.
    const rows = await eventually('the old channels marked stopped', async () => {
      const found = await db.selectFrom('push_channels').select(['id', 'stopped_at']).where('connection_id', '=', connectionId).execute();
      return old.every((id) => found.find((r) => r.id === id)?.stopped_at) ? found : undefined;
    });
    for (const id of old) assert.ok(rows.find((r) => r.id === id)?.stopped_at, 'the old channel is marked stopped');
    const target = mailUsers()[22]!;
    emulator.control.updateUser(target.id, { department: 'Renewed' });
    await eventually('a change through the new subscription', async () => ((await graphUser(target.mail!))?.department === 'Renewed' ? true : undefined), 10_000);
  });

  test('a subscription Graph removed is opened again, with its sibling, and a delta round catches up', async () => {
    const before = emulator.control.subscriptions().map((s) => s.id);
    const users = emulator.control.subscriptions().find((s) => s.resource === '/users')!;
    emulator.control.lifecycle(users.id, 'subscriptionRemoved');
    await emulator.control.notificationsIdle();
    const now = await eventually('two new subscriptions', async () => {
      const ids = emulator.control.subscriptions().map((s) => s.id);
      return ids.length === 2 && ids.every((id) => !before.includes(id)) ? ids : undefined;
    });
    assert.deepEqual(emulator.control.subscriptions().map((s) => s.resource).sort(), ['/groups', '/users']);
    const rows = await eventually('the removed one and its sibling marked stopped', async () => {
      const found = await roster().database.db.selectFrom('push_channels').select(['id', 'stopped_at']).where('connection_id', '=', connectionId).execute();
      return before.every((id) => found.find((r) => r.id === id)?.stopped_at) ? found : undefined;
    });
    for (const id of now) assert.equal(rows.find((r) => r.id === id)?.stopped_at, null);
    for (const id of before) assert.ok(rows.find((r) => r.id === id)?.stopped_at, 'the removed one and its sibling are marked stopped');
  });

  test('notifications with a wrong clientState or an unknown subscription are refused; the handshake echoes the token', async () => {
    const users = emulator.control.subscriptions().find((s) => s.resource === '/users')!;
    const url = `${roster().baseUrl}/push/${connectionId}/microsoft-graph`;
    const forged = (subscriptionId: string, clientState: string) => ({
      value: [{ subscriptionId, clientState, changeType: 'updated', resource: 'Users/x', resourceData: { '@odata.type': '#Microsoft.Graph.User', id: mailUsers()[0]!.id } }],
    });
    for (const body of [forged(users.id, 'forged'), forged('00000000-0000-4000-8000-000000000000', users.clientState!)]) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 401);
    }
    const handshake = await fetch(`${url}?validationToken=${encodeURIComponent('Validation: a <b>token</b>')}`, { method: 'POST', headers: { 'content-type': 'text/plain' } });
    assert.equal(handshake.status, 200);
    assert.match(handshake.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await handshake.text(), 'Validation: a <b>token</b>');
  });

  test('an expired delta token turns a delta round into a full resync, which says why (410 Gone, then syncStateNotFound)', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    for (const mode of ['gone', 'syncStateNotFound'] as const) {
      const target = mailUsers()[25]!;
      emulator.control.updateUser(target.id, { jobTitle: `After ${mode}` });
      emulator.control.expireDeltaTokens(mode);
      const run = await runEnded(roster(), (await sync('delta')).id);
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.equal(run.kind, 'full');
      assert.match(run.progress.fallback, mode === 'gone' ? /cursor_expired.*410/ : /cursor_expired.*syncStateNotFound/);
      assert.equal((await graphUser(target.mail!)).title, `After ${mode}`);
      // The resync left a fresh cursor: the next round is a delta round again.
      const next = await runEnded(roster(), (await sync('delta')).id);
      assert.equal(next.kind, 'delta');
      assert.equal(next.status, 'completed');
    }
    emulator.control.setNotificationSwitches({});
  });

  test('a user no longer listed is deactivated by a complete full sync, not by a partial one', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    const gone = mailUsers()[30]!;
    emulator.control.deleteUser(gone.id, true);
    const profile = await runEnded(roster(), (await sync('profile')).id);
    assert.equal(profile.status, 'completed');
    assert.equal((await graphUser(gone.mail!)).state, 'active', 'a profile run removes nobody');
    const full = await runEnded(roster(), (await sync('full')).id);
    assert.equal(full.status, 'completed');
    const person = await graphUser(gone.mail!);
    assert.equal(person.state, 'inactive');
    assert.equal(person.state_reason, 'removed_from_source');
    emulator.control.setNotificationSwitches({});
  });

  test('throttling (429 with Retry-After from a spent resource-unit bucket) slows a full sync down without failing it', async () => {
    const before = emulator.control.stats().throttled;
    emulator.control.setThrottle({ capacity: 6, windowMs: 1000 });
    const run = await runEnded(roster(), (await sync('full')).id);
    emulator.control.setThrottle(undefined);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.ok(emulator.control.stats().throttled > before, 'requests were throttled');
    const metrics = await (await fetch(`${roster().baseUrl}/metrics`)).text();
    assert.match(metrics, /roster_provider_throttled_total\{connection_type="microsoft-graph",source="response"\} [1-9]/);
  });

  test('what Graph keeps beyond the canonical fields is in the raw payload: an extension attribute becomes a custom attribute by policy', async () => {
    emulator.control.setNotificationSwitches({ drop: { fraction: 1 } });
    const policy = { custom_attributes: { cost_center: { path: 'raw.onPremisesExtensionAttributes.extensionAttribute1' }, on_premises_id: { path: 'raw.onPremisesImmutableId' } } };
    expectStatus(await roster().request('PATCH', `/v1/organizations/${organizationId}`, { policy }), 200);
    const target = mailUsers()[33]!;
    emulator.control.updateUser(target.id, { onPremisesImmutableId: 'b64-anchor==', onPremisesExtensionAttributes: { ...target.onPremisesExtensionAttributes, extensionAttribute1: 'CC-1234' } });
    assert.equal((await runEnded(roster(), (await sync('delta')).id)).status, 'completed');
    const { cost_center, on_premises_id } = (await graphUser(target.mail!)).custom_attributes;
    assert.deepEqual({ cost_center, on_premises_id }, { cost_center: 'CC-1234', on_premises_id: 'b64-anchor==' });
    expectStatus(await roster().request('PATCH', `/v1/organizations/${organizationId}`, { policy: { custom_attributes: {} } }), 200);
    emulator.control.setNotificationSwitches({});
  });

  test('a token endpoint that is down leaves the connection in error, not invalid_credentials, until it answers again', async () => {
    // Microsoft's token endpoint answering 503 to every attempt: nothing says the secret is wrong.
    const down = createServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}'));
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const downUrl = `http://127.0.0.1:${(down.address() as AddressInfo).port}/${emulator.tenant.tenantId}/oauth2/v2.0/token`;
    // The token Roster holds is refused from now on: the next run needs a new one.
    emulator.control.revokeAccessTokens();
    try {
      expectStatus(await roster().request('PATCH', `/v1/connections/${connectionId}`, { config: graphConfig(emulator, { schedule: quiet, token_url: downUrl }) }), 200);
      const run = await runEnded(roster(), (await sync('full')).id);
      assert.equal(run.status, 'failed');
      assert.match(run.error, /^token_endpoint_unavailable: /);
      const broken = await eventually('the connection to be in error', async () => {
        const connection = await getConnection(roster(), connectionId);
        return connection.state === 'active' ? undefined : connection;
      });
      assert.equal(broken.state, 'error', 'not invalid_credentials: nothing said the secret was wrong');
      assert.match(broken.state_reason, /token_endpoint_unavailable/);
    } finally {
      down.close();
      expectStatus(await roster().request('PATCH', `/v1/connections/${connectionId}`, { config: graphConfig(emulator, { schedule: quiet }) }), 200);
    }
    // The schedule goes on from `error`: the next run that gets a token succeeds and the connection is active again.
    assert.equal((await runEnded(roster(), (await sync('full')).id)).status, 'completed');
    await becomesActive(roster(), connectionId, 'active again once the endpoint answers');
  });

  test('a revoked client secret moves the connection to invalid_credentials, naming the cause without the secret', async () => {
    const oldSecret = emulator.app.clientSecret;
    const newSecret = emulator.control.rotateClientSecret();
    emulator.control.revokeAccessTokens();
    const run = await runEnded(roster(), (await sync('full')).id);
    assert.equal(run.status, 'failed');
    assert.match(run.error, /invalid_client/);
    const broken = await eventually('invalid_credentials', async () => {
      const connection = await getConnection(roster(), connectionId);
      return connection.state === 'invalid_credentials' ? connection : undefined;
    });
    assert.match(broken.state_reason, /token_request_failed/);
    for (const text of [JSON.stringify(run), JSON.stringify(broken)]) assert.equal(text.includes(oldSecret) || text.includes(newSecret), false);

    // The admin pastes the new secret: validated again, active again.
    expectStatus(await roster().request('PUT', `/v1/connections/${connectionId}/credentials`, { credentials: graphCredentials(emulator, newSecret) }), 200);
    await becomesActive(roster(), connectionId, 'active again');
  });
});

/**
 * A tiny HTTP proxy standing for Roster's public URL: it answers 503 to the first notification POST (a POST
 * that is not a validation handshake) and forwards every other request to `forwardTo`'s address.
 */
async function proxyRefusingFirstNotification() {
  let target = '';
  const refused: string[] = [];
  const forwarded: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const notification = req.method === 'POST' && !new URL(req.url ?? '/', 'http://proxy').searchParams.has('validationToken');
    if (notification && refused.length === 0) {
      refused.push(body.toString('utf8'));
      return void res.writeHead(503).end();
    }
    if (notification) forwarded.push(body.toString('utf8'));
    const answer = await fetch(`${target}${req.url}`, { method: req.method ?? 'GET', headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' }, ...(req.method === 'GET' ? {} : { body }) });
    const answered = Buffer.from(await answer.arrayBuffer());
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' }).end(answered);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused,
    forwarded,
    forwardTo: (url: string) => void (target = url),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

forEachEngine('a Graph change notification Roster did not acknowledge', (engine) => {
  test('is retried by the emulator, as Graph does, and the change reaches the directory with no sync run', async () => {
    const emulator = await startGraphEmulator({ users: 20, groups: 2, seed: 5, notificationDelivery: { firstRetryDelayMs: 200 } });
    const proxy = await proxyRefusingFirstNotification();
    const roster = await startTestRoster(engine, { config: { ...fastSyncConfig(), publicUrl: proxy.url } });
    proxy.forwardTo(roster.baseUrl);
    try {
      const organizationId = (await createOrganization(roster, 'Entra customer, refused once')).id;
      const connectionId = (await createGraphConnection(roster, organizationId, { config: graphConfig(emulator, { schedule: quiet }), credentials: graphCredentials(emulator) })).id;
      assert.equal((await runEnded(roster, (await firstRun(roster, connectionId)).id)).status, 'completed');
      const subscriptions = await eventually('two subscriptions', async () => (emulator.control.subscriptions().length === 2 ? emulator.control.subscriptions() : undefined));
      assert.ok(subscriptions.every((s) => s.notificationUrl.startsWith(`${proxy.url}/push/`)), 'notifications go through the proxy');
      const runsBefore = (await runsOfConnection(roster, connectionId)).map((run) => run.id);

      const target = liveGraphUsers(emulator).find((user) => user.mail !== null && user.accountEnabled)!;
      emulator.control.updateUser(target.id, { department: 'Through a retry' });
      await eventually('the change through the retried notification', async () => ((await userByEmail(roster, organizationId, target.mail!))?.department === 'Through a retry' ? true : undefined), 10_000);

      assert.equal(proxy.refused.length, 1, 'the first notification was refused');
      assert.equal(JSON.parse(proxy.refused[0]!).value[0].resourceData.id, target.id);
      assert.deepEqual(proxy.forwarded, proxy.refused, 'the same notification, sent again, reached Roster');
      assert.deepEqual(emulator.control.notificationFailures().map((f) => [f.delivery.attempt, f.error, f.gaveUp]), [[1, 'answered 503', false]]);
      assert.deepEqual(emulator.control.deliveredNotifications().map((d) => [d.attempt, d.status]), [[1, 503], [2, 202]]);
      assert.deepEqual((await runsOfConnection(roster, connectionId)).map((run) => run.id), runsBefore, 'no sync run brought the change');
    } finally {
      await roster.close();
      await emulator.close();
      await proxy.close();
    }
  });
});
