import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRoster } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { allEvents, group, ingest, member, user, usersOf } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('deleting a connection', (engine) => {
  const roster = useTestRoster(engine);

  test('people known only through it become inactive with their last-known attributes; others are re-derived without it', async () => {
    const org = await createOrganization(roster(), 'Removal Co');
    const hris = await createPushConnection(roster(), org.id, { category: 'hris' });
    const idp = await createPushConnection(roster(), org.id, { category: 'idp' });
    await ingest(roster(), hris.id, [user('w1', { employee_id: '1', department: 'Research' })]);
    await ingest(roster(), idp.id, [
      user('o1', { employee_id: '1', email: 'both@acme.test' }),
      user('o2', { email: 'only-idp@acme.test', department: 'Ops' }),
      group('g', 'Everyone'),
      member('g', 'o1'),
    ]);
    expectStatus(await roster().request('DELETE', `/v1/connections/${idp.id}`), 204);

    const users = await usersOf(roster(), org.id);
    const onlyIdp = users.find((u) => u.email === 'only-idp@acme.test');
    assert.equal(onlyIdp.state, 'inactive');
    assert.equal(onlyIdp.state_reason, 'connection_deleted');
    assert.equal(onlyIdp.department, 'Ops', 'last-known attributes are kept');
    const both = users.find((u) => u.employee_id === '1');
    assert.equal(both.state, 'active', 'the HRIS still speaks for this person');
    assert.equal(both.email, 'both@acme.test', 'the last-known email stays');
    const groups = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${org.id}`), 200).data;
    assert.deepEqual(groups.map((g: any) => g.state), ['deleted']);
    const types = (await allEvents(roster(), org.id)).map((e) => e.type);
    assert.ok(types.includes('connection.deleted'));
    assert.equal(types.filter((t) => t === 'user.deactivated').length, 1);
    assert.equal(types.filter((t) => t === 'group.deleted').length, 1);
    assert.equal(types.filter((t) => t === 'group.member_removed').length, 1);
  });
});

test('a fresh instance without ROSTER_API_KEY writes its first admin key to a private file, once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-first-key-'));
  try {
    const config = loadConfig({ ROSTER_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' });
    const first = await createRoster(config, { logger: pino({ level: 'silent' }), processMetrics: false });
    const file = join(dataDir, 'first-admin-key');
    const key = readFileSync(file, 'utf8').trim();
    assert.match(key, /^rk_[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const url = await first.start();
    const response = await fetch(`${url}/v1/organizations`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(response.status, 200, 'the key works');
    await first.stop();

    rmSync(file);
    const second = await createRoster(config, { logger: pino({ level: 'silent' }), processMetrics: false });
    assert.throws(() => statSync(file), 'no second key is created once keys exist');
    await second.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
