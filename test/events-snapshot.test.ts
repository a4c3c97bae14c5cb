import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { group, ingest, member, removed, user } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/** A consumer's copy of a directory, kept by applying events to a snapshot. */
class DirectoryReplica {
  users = new Map<string, any>();
  groups = new Map<string, any>();
  memberships = new Set<string>();

  constructor(snapshot: any) {
    for (const u of snapshot.users) this.users.set(u.id, u);
    for (const g of snapshot.groups) this.groups.set(g.id, g);
    for (const m of snapshot.memberships) this.memberships.add(`${m.group_id}/${m.user_id}`);
  }

  apply(event: any): void {
    if (event.type.startsWith('user.')) this.users.set(event.data.id, event.data);
    else if (event.type === 'group.member_added') this.memberships.add(`${event.data.group_id}/${event.data.user_id}`);
    else if (event.type === 'group.member_removed') this.memberships.delete(`${event.data.group_id}/${event.data.user_id}`);
    else if (event.type.startsWith('group.')) this.groups.set(event.data.id, event.data);
  }
}

forEachEngine('directory snapshot and event cursor', (engine) => {
  const roster = useTestRoster(engine);

  test('a consumer that bootstraps from the snapshot while changes continue, then follows events, ends equal to the server', async () => {
    const org = await createOrganization(roster(), 'Bootstrap Co');
    const other = await createOrganization(roster(), 'Noise Co');
    const idp = await createPushConnection(roster(), org.id);
    const noise = await createPushConnection(roster(), other.id);
    const person = (i: number, title = 'Engineer') => user(`u${i}`, { email: `u${i}@acme.test`, title });
    await ingest(roster(), idp.id, [
      ...Array.from({ length: 40 }, (_, i) => person(i)),
      ...Array.from({ length: 4 }, (_, g) => group(`g${g}`, `Group ${g}`)),
      ...Array.from({ length: 40 }, (_, i) => member(`g${i % 4}`, `u${i}`)),
    ]);

    let snapshot: any;
    const writer = (async () => {
      for (let round = 0; round < 24; round += 1) {
        if (round === 6) snapshot = expectStatus(await roster().request('GET', `/v1/organizations/${org.id}/directory`), 200);
        const i = round % 40;
        await ingest(roster(), idp.id, [
          person(i, `Title ${round}`),
          person(100 + round),
          member(`g${round % 4}`, `u${100 + round}`),
          { kind: 'membership', group_id: `g${i % 4}`, user_id: `u${i}`, deleted: true },
          ...(round % 5 === 0 ? [removed('user', `u${39 - round}`)] : []),
          ...(round === 12 ? [removed('group', 'g3')] : []),
        ]);
        await ingest(roster(), noise.id, [user(`n${round}`, { email: `n${round}@noise.test` })]);
      }
    })();
    while (!snapshot) await new Promise((r) => setTimeout(r, 5));
    const replica = new DirectoryReplica(snapshot);
    assert.ok(snapshot.users.length >= 40);
    let after: string = snapshot.cursor;
    let writing = true;
    void writer.then(() => (writing = false));
    for (;;) {
      const done = !writing;
      const page = expectStatus(await roster().request('GET', `/v1/events?organization_id=${org.id}&after=${after}&limit=100`), 200);
      for (const event of page.data) replica.apply(event);
      after = page.next_cursor;
      if (done && page.data.length === 0) break;
    }
    await writer;

    const server = expectStatus(await roster().request('GET', `/v1/organizations/${org.id}/directory`), 200);
    assert.deepEqual([...replica.users.values()].sort((a, b) => a.id.localeCompare(b.id)), server.users);
    assert.deepEqual([...replica.groups.values()].sort((a, b) => a.id.localeCompare(b.id)), server.groups);
    assert.deepEqual([...replica.memberships].sort(), server.memberships.map((m: any) => `${m.group_id}/${m.user_id}`).sort());
    assert.ok(server.users.some((u: any) => u.state === 'inactive'), 'the run included deactivations');
    assert.ok(server.groups.some((g: any) => g.state === 'deleted'), 'and a group deletion');
    assert.ok(server.users.every((u: any) => u.organization_id === org.id), 'another organization never leaks in');
  });

  test('the snapshot is tenant-isolated and names unknown organizations as such', async () => {
    const a = await createOrganization(roster(), 'A');
    const b = await createOrganization(roster(), 'B');
    const key = expectStatus(await roster().request('POST', '/v1/api-keys', { name: 'a', organization_id: a.id }), 201).key;
    expectStatus(await roster().request('GET', `/v1/organizations/${a.id}/directory`, undefined, { key }), 200);
    assert.equal((await roster().request('GET', `/v1/organizations/${b.id}/directory`, undefined, { key })).status, 404);
    assert.equal((await roster().request('GET', `/v1/organizations/org_01jzzzzzzzzzzzzzzzzzzzzzzz/directory`)).status, 404);
  });
});

forEachEngine('event retention', (engine) => {
  let now = new Date('2026-01-01T00:00:00Z');
  const roster = useTestRoster(engine, { clock: () => now, config: { eventRetentionDays: 30 } });

  test('housekeeping purges events past the retention window; cursors stay valid', async () => {
    const org = await createOrganization(roster(), 'Retention Co');
    const idp = await createPushConnection(roster(), org.id);
    await ingest(roster(), idp.id, [user('old', { email: 'old@acme.test' })]);
    const head = expectStatus(await roster().request('GET', `/v1/events/head?organization_id=${org.id}`), 200).cursor;
    now = new Date('2026-01-20T00:00:00Z');
    await ingest(roster(), idp.id, [user('new', { email: 'new@acme.test' })]);

    now = new Date('2026-02-05T00:00:00Z');
    await roster().roster.housekeeping();
    const left = expectStatus(await roster().request('GET', `/v1/events?organization_id=${org.id}`), 200).data;
    assert.deepEqual(left.map((e: any) => e.data.email), ['new@acme.test'], 'only the event within 30 days is kept');
    const fromCursor = expectStatus(await roster().request('GET', `/v1/events?organization_id=${org.id}&after=${head}`), 200).data;
    assert.deepEqual(fromCursor.map((e: any) => e.data.email), ['new@acme.test'], 'a cursor taken before the purge still works');
    const users = expectStatus(await roster().request('GET', `/v1/users?organization_id=${org.id}`), 200).data;
    assert.equal(users.length, 2, 'the directory itself is untouched');
  });
});

test('event retention is configurable, and unlimited keeps everything', async () => {
  const { loadConfig } = await import('../src/config.ts');
  assert.equal(loadConfig({}).eventRetentionDays, 90);
  assert.equal(loadConfig({ ROSTER_EVENT_RETENTION_DAYS: 'unlimited' }).eventRetentionDays, null);
  assert.equal(loadConfig({ ROSTER_EVENT_RETENTION_DAYS: '7' }).eventRetentionDays, 7);
  assert.throws(() => loadConfig({ ROSTER_EVENT_RETENTION_DAYS: 'forever' }), /ROSTER_EVENT_RETENTION_DAYS: must be a number of days/);
});
