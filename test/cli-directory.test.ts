import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../src/cli/program.ts';
import { createOrganization, createPushConnection } from './support/api.ts';
import { ingest, user } from './support/directory.ts';
import { startTestRoster } from './support/roster.ts';

test('roster users ls, conflicts ls and events tail read a running Roster', async () => {
  const roster = await startTestRoster('sqlite');
  try {
    const org = await createOrganization(roster, 'CLI Co');
    const hris = await createPushConnection(roster, org.id, { category: 'hris' });
    const idp = await createPushConnection(roster, org.id, { category: 'idp' });
    await ingest(roster, hris.id, [user('w1', { employee_id: '1', first_name: 'Ada', last_name: 'Lovelace', state: 'inactive' })]);
    await ingest(roster, idp.id, [user('o1', { employee_id: '1', email: 'ada@cli.test', state: 'active' })]);

    const run = async (args: string[], signal?: AbortSignal) => {
      const out: string[] = [];
      const err: string[] = [];
      const env = { ROSTER_URL: roster.baseUrl, ROSTER_API_KEY: roster.adminKey };
      const code = await runCli(['node', 'roster', ...args], { env, stdout: (l) => out.push(l), stderr: (l) => err.push(l), signal });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };

    const users = await run(['users', 'ls', '--org', org.id]);
    assert.equal(users.code, 0, users.err);
    assert.match(users.out, /ID\s+STATE\s+EMAIL/);
    assert.match(users.out, /inactive\s+ada@cli\.test\s+Ada Lovelace/);
    assert.match(users.out, /1 user$/);
    const json = await run(['users', 'ls', '--org', org.id, '--json']);
    assert.equal(JSON.parse(json.out).state_reason, 'terminated_in_hris');

    const conflicts = await run(['conflicts', 'ls', '--org', org.id]);
    assert.equal(conflicts.code, 0, conflicts.err);
    assert.match(conflicts.out, /attribute\s+user_\w+\s+state/);
    assert.ok(conflicts.out.includes(`${hris.id}="inactive"`));

    const bad = await run(['users', 'ls', '--state', 'gone']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /query\.state.*\[invalid_request\]/);
    const badKey = await runCli(['node', 'roster', 'users', 'ls'], {
      env: { ROSTER_URL: roster.baseUrl, ROSTER_API_KEY: 'rk_wrong' },
      stdout: () => undefined,
      stderr: (l) => assert.match(l, /unauthorized/),
    });
    assert.equal(badKey, 1);

    // tail starts at the end of the log and prints what is written after it.
    const stop = new AbortController();
    const lines = [] as string[];
    const tail = runCli(['node', 'roster', 'events', 'tail', '--org', org.id, '--interval', '50'], {
      env: { ROSTER_URL: roster.baseUrl, ROSTER_API_KEY: roster.adminKey },
      stdout: (l) => lines.push(l),
      stderr: (l) => lines.push(`ERR ${l}`),
      signal: stop.signal,
    });
    await sleep(200);
    assert.equal(lines.length, 0, 'nothing old is printed');
    await ingest(roster, idp.id, [user('o2', { email: 'grace@cli.test' })]);
    for (let i = 0; i < 40 && !lines.some((l) => l.includes('user.created')); i += 1) await sleep(50);
    stop.abort();
    assert.equal(await tail, 0);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, new RegExp(`${org.id}#\\d+  user\\.created  grace@cli\\.test`));
  } finally {
    await roster.close();
  }
});
