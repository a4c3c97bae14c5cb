import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGoogleEmulator, type GoogleEmulator, type GoogleUser } from '../src/emulators/google/index.ts';
import { createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { createGoogleConnection, emulatorConfig, eventually, fastSyncConfig, getConnection, runEnded, serviceAccountCredentials, userByEmail } from './support/google-sync.ts';
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
    await eventually('the connection to be active', async () => ((await getConnection(roster(), connectionId)).state === 'active' ? true : undefined));
    const first = await eventually('the activation run', async () => {
      const runs = expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${connectionId}`), 200).data as any[];
      return runs[0];
    });
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
