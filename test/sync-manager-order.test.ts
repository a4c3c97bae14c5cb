import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGoogleEmulator, type GoogleEmulator, type GoogleUser } from '../src/emulators/google/index.ts';
import { Reconciler } from '../src/reconcile/reconciler.ts';
import { createOrganization, createPushConnection, eventsOf, expectStatus } from './support/api.ts';
import { ingest, user, usersOf } from './support/directory.ts';
import { createGoogleConnection, emulatorConfig, serviceAccountCredentials } from './support/google-sync.ts';
import { fastSyncConfig, firstRun, runEnded, userByEmail } from './support/pull-sync.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/**
 * A listing names people in its own order, not managers first. A full sync creates a user listed pages
 * before their manager once, with the manager, instead of creating them without one and updating them
 * later; a user whose manager is not in the listing at all is still created, when the listing ends, and
 * picks the manager up once the manager appears.
 */
forEachEngine('users listed before their manager', (engine) => {
  // A batch per page: the report and the manager are applied in different transactions.
  const roster = useTestRoster(engine, { config: fastSyncConfig({ applyBatch: 500 }) });
  let emulator: GoogleEmulator;
  let organizationId: string;
  let connectionId: string;
  let report: GoogleUser;
  let manager: GoogleUser;
  let orphan: GoogleUser;
  let absentManagerEmail: string;

  before(async () => {
    // Three pages of 500 users; the relations below put a manager two pages after their report.
    emulator = await startGoogleEmulator({ users: 1_100, groups: 3, seed: 17 });
    const users = emulator.org.userIds().map((id) => emulator.org.userById(id)!).filter((u) => !u.deletionTime);
    report = users[10]!;
    manager = users[1_050]!;
    orphan = users[20]!;
    absentManagerEmail = `not-yet-hired@${emulator.org.domain}`;
    emulator.org.updateUser(report.id, { relations: [{ type: 'manager', value: manager.primaryEmail }] });
    emulator.org.updateUser(orphan.id, { relations: [{ type: 'manager', value: absentManagerEmail }] });
  });
  after(async () => {
    await emulator?.close();
  });

  const sync = async () => {
    const answer = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'full' }), 202) as any;
    const run = await runEnded(roster(), answer.run.id);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    return run;
  };
  const userEvents = async (userId: string) => (await eventsOf(roster(), organizationId)).filter((e) => e.type.startsWith('user.') && e.data.id === userId);

  test('the report is created once, with the manager listed two pages later', async () => {
    organizationId = (await createOrganization(roster(), 'Managers last')).id;
    const created = await createGoogleConnection(roster(), organizationId, {
      config: emulatorConfig(emulator, { schedule: { critical_seconds: 3600, profile_seconds: 3600, full_seconds: 86_400 } }),
      credentials: serviceAccountCredentials(emulator),
    });
    connectionId = created.id;
    const first = await firstRun(roster(), connectionId);
    const run = await runEnded(roster(), first.id, 60_000);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.ok(run.progress.pages >= 3, 'the users came in several pages');

    const boss = await userByEmail(roster(), organizationId, manager.primaryEmail);
    const person = await userByEmail(roster(), organizationId, report.primaryEmail);
    assert.equal(person.manager_id, boss.id);
    const events = await userEvents(person.id);
    assert.deepEqual(events.map((e) => e.type), ['user.created'], 'one event for the report');
    assert.equal(events[0]!.data.manager_id, boss.id, 'created with the manager');

    const all = await eventsOf(roster(), organizationId);
    assert.equal(all.filter((e) => e.type === 'user.updated').length, 0, 'a first full sync updates nobody it created');
    assert.equal(run.counters.users_created, all.filter((e) => e.type === 'user.created').length, "the run counts the users it created, deferred ones included");
  });

  test('a user whose manager is not listed is created when the listing ends, and gets the manager once the manager appears', async () => {
    const person = await userByEmail(roster(), organizationId, orphan.primaryEmail);
    assert.ok(person, 'created without the manager');
    assert.equal(person.manager_id, null);
    assert.deepEqual((await userEvents(person.id)).map((e) => e.type), ['user.created']);

    const hired = emulator.org.createUser({ primaryEmail: absentManagerEmail, name: { givenName: 'Late', familyName: 'Hire' } });
    await sync();
    const boss = await userByEmail(roster(), organizationId, hired.primaryEmail);
    const now = await userByEmail(roster(), organizationId, orphan.primaryEmail);
    assert.equal(now.manager_id, boss.id, 'the manager resolved once listed');
    const events = await userEvents(person.id);
    assert.deepEqual(events.map((e) => e.type), ['user.created', 'user.updated']);
    assert.deepEqual(events[1]!.changes.manager_id, { from: null, to: boss.id });
  });
});

forEachEngine('users deferred by a listing that stopped', (engine) => {
  const roster = useTestRoster(engine);

  test("are created at the next run's end without their manager, and get the manager once it comes", async () => {
    const organization = await createOrganization(roster(), 'Stopped listing');
    const connection = await createPushConnection(roster(), organization.id);
    // What a listing's batch does; the listing then stops before the manager's page.
    const reconciler = new Reconciler({ database: roster().database });
    const report = { kind: 'user', external_id: 'u-report', deleted: false, attributes: { email: 'report@acme.test', manager: { external_id: 'u-boss' } }, raw: { id: 'u-report' } } as const;
    await reconciler.apply(connection.id, [report], { deferNewUsersAwaitingManager: true });
    assert.deepEqual(await usersOf(roster(), organization.id), [], 'held back while the manager is not known');

    const created = await reconciler.createDeferredUsers(connection.id);
    assert.equal(created.users_created, 1);
    const [person] = await usersOf(roster(), organization.id);
    assert.equal(person.email, 'report@acme.test');
    assert.equal(person.manager_id, null);
    assert.equal((await reconciler.createDeferredUsers(connection.id)).users_created, 0, 'nobody is left to create');

    await ingest(roster(), connection.id, [user('u-boss', { email: 'boss@acme.test' })]);
    const boss = (await usersOf(roster(), organization.id)).find((u) => u.email === 'boss@acme.test');
    const now = (await usersOf(roster(), organization.id)).find((u) => u.id === person.id);
    assert.equal(now.manager_id, boss.id, 'the reference it was created with still resolves');
    const events = (await eventsOf(roster(), organization.id)).filter((e) => e.data.id === person.id).map((e) => e.type);
    assert.deepEqual(events, ['user.created', 'user.updated']);
  });
});
