/**
 * The JumpCloud emulator must behave like the real API where a connector can tell the difference: API-key
 * and x-org-id authentication, v1 `{totalCount, results}` listings with limit/skip/sort/fields/filter, v2
 * bare arrays, graph members, errors, throttling, faults — and offset paging that drifts when the directory
 * changes mid-scan, exactly the hazard a connector has to survive. Checked over real HTTP.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { runCli } from '../src/cli/program.ts';
import { startJumpCloudEmulator, type JumpCloudEmulator, type JumpCloudEmulatorOptions } from '../src/emulators/jumpcloud/index.ts';

const running: JumpCloudEmulator[] = [];
after(async () => {
  for (const emulator of running) await emulator.close();
});

async function start(options: JumpCloudEmulatorOptions = {}): Promise<JumpCloudEmulator> {
  const emulator = await startJumpCloudEmulator({ users: 40, groups: 4, ...options });
  running.push(emulator);
  return emulator;
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function call(emulator: JumpCloudEmulator, path: string, headers: Record<string, string> = { 'x-api-key': emulator.apiKey }, signal?: AbortSignal): Promise<Answer> {
  const res = await fetch(`${emulator.url}${path}`, { headers: { accept: 'application/json', ...headers }, ...(signal ? { signal } : {}) });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

function assertJumpCloudError(answer: Answer, status: number, message: RegExp): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(typeof answer.body?.error, 'string');
  assert.match(answer.body.message, message);
}

/** Reads every user the way a naive client does: skip += limit until a short page. */
async function naiveScan(emulator: JumpCloudEmulator, limit: number): Promise<string[]> {
  const ids: string[] = [];
  for (let skip = 0; ; skip += limit) {
    const page = await call(emulator, `/api/systemusers?limit=${limit}&skip=${skip}&sort=_id`);
    assert.equal(page.status, 200);
    ids.push(...page.body.results.map((user: { _id: string }) => user._id));
    if (page.body.results.length < limit) return ids;
  }
}

describe('authentication', () => {
  test('x-api-key is required and checked; a reset key answers 401 like a wrong one', async () => {
    const emulator = await start();
    assertJumpCloudError(await call(emulator, '/api/systemusers', {}), 401, /^Unauthorized/);
    const wrong = await call(emulator, '/api/systemusers', { 'x-api-key': 'f'.repeat(40) });
    assertJumpCloudError(wrong, 401, /api key user not found/);
    assert.deepEqual(wrong.body, { error: 'Unauthorized', message: 'Unauthorized: api key user not found' });

    const key = emulator.control.issueApiKey();
    assert.match(key, /^[0-9a-f]{40}$/);
    assert.equal((await call(emulator, '/api/systemusers', { 'x-api-key': key })).status, 200);
    assert.equal(emulator.control.revokeApiKey(key), true);
    assertJumpCloudError(await call(emulator, '/api/systemusers', { 'x-api-key': key }), 401, /api key user not found/);
    // Nothing about routes is answered before the key is checked.
    assertJumpCloudError(await call(emulator, '/api/nothing-here', {}), 401, /^Unauthorized/);
    assertJumpCloudError(await call(emulator, '/api/nothing-here'), 404, /^Not Found/);
  });

  test('a multi-tenant admin key must name the organization in x-org-id', async () => {
    const emulator = await start();
    const key = emulator.multiTenantApiKey;
    assertJumpCloudError(await call(emulator, '/api/systemusers', { 'x-api-key': key }), 401, /no organization selected/);
    assertJumpCloudError(await call(emulator, '/api/systemusers', { 'x-api-key': key, 'x-org-id': 'not-an-id' }), 400, /Malformed ID/);
    assertJumpCloudError(await call(emulator, '/api/systemusers', { 'x-api-key': key, 'x-org-id': 'a'.repeat(24) }), 404, /Organization ID Not Found/);
    const ok = await call(emulator, '/api/systemusers', { 'x-api-key': key, 'x-org-id': emulator.orgId });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.totalCount, 40);
    // A single-tenant admin may send it or not; v2 checks it the same way.
    assert.equal((await call(emulator, '/api/v2/usergroups', { 'x-api-key': emulator.apiKey, 'x-org-id': emulator.orgId })).status, 200);
    assertJumpCloudError(await call(emulator, '/api/v2/usergroups', { 'x-api-key': key }), 401, /no organization selected/);

    // The rule is a switch: JumpCloud's own ([unverified] beyond the documented multi-tenant case).
    emulator.control.setOrgIdRule('always');
    assertJumpCloudError(await call(emulator, '/api/systemusers'), 401, /no organization selected/);
    emulator.control.setOrgIdRule('never');
    assert.equal((await call(emulator, '/api/systemusers', { 'x-api-key': key })).status, 200);
    emulator.control.setOrgIdRule('multi-tenant');
  });
});

describe('v1 systemusers', () => {
  test('lists {totalCount, results}: limit defaults to 10 and stops at 100, skip is an offset', async () => {
    const emulator = await start({ users: 230 });
    const first = await call(emulator, '/api/systemusers');
    assert.equal(first.status, 200);
    assert.deepEqual(Object.keys(first.body).sort(), ['results', 'totalCount']);
    assert.equal(first.body.totalCount, 230);
    assert.equal(first.body.results.length, 10, 'limit defaults to 10');
    assert.equal((await call(emulator, '/api/systemusers?limit=100&skip=200')).body.results.length, 30);
    assertJumpCloudError(await call(emulator, '/api/systemusers?limit=101'), 400, /limit/);
    assertJumpCloudError(await call(emulator, '/api/systemusers?skip=-1'), 400, /skip/);
    assertJumpCloudError(await call(emulator, '/api/systemusers?limit=ten'), 400, /limit/);

    const ids = await naiveScan(emulator, 100);
    assert.equal(ids.length, 230);
    assert.equal(new Set(ids).size, 230);
    assert.deepEqual(ids, [...ids].sort(), 'sort=_id is ascending ObjectId order');

    const clamped = await start({ users: 120, overLimit: 'clamp' });
    assert.equal((await call(clamped, '/api/systemusers?limit=500')).body.results.length, 100, 'the other reading of an over-limit request');
  });

  test('users carry JumpCloud field names: _id, username, state, suspended, employeeIdentifier, manager, attributes…', async () => {
    const emulator = await start();
    const page = await call(emulator, '/api/systemusers?limit=100');
    const users = page.body.results as any[];
    for (const field of ['_id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state', 'activated', 'suspended', 'account_locked', 'department', 'jobTitle', 'employeeIdentifier', 'manager', 'attributes', 'created', 'externally_managed']) {
      assert.ok(field in users[1], `${field} is present`);
    }
    assert.match(users[0]._id, /^[0-9a-f]{24}$/);
    assert.ok(users.some((user) => user.state === 'STAGED' && user.activated === false));
    assert.ok(users.some((user) => user.state === 'SUSPENDED' && user.suspended === true));
    assert.ok(users.every((user) => (user.state === 'SUSPENDED') === user.suspended));
    const report = users.find((user) => user.manager !== null)!;
    assert.ok(users.some((user) => user._id === report.manager), 'manager is a systemuser id');
    assert.deepEqual(users[0].attributes[0], { name: 'level', value: '1' });
    assert.equal(users[5].alternateEmail, '', 'unset text fields are empty strings');

    const one = await call(emulator, `/api/systemusers/${users[3]._id}`);
    assert.deepEqual(one.body, users[3]);
    assert.deepEqual(Object.keys((await call(emulator, `/api/systemusers/${users[3]._id}?fields=username email`)).body).sort(), ['_id', 'email', 'id', 'username']);
    assertJumpCloudError(await call(emulator, `/api/systemusers/${'0'.repeat(24)}`), 404, /^Not Found/);
    assertJumpCloudError(await call(emulator, '/api/systemusers/nope'), 400, /invalid/);
  });

  test('sort (space separated, - for descending), fields, filter field:$op:value, filter[n] and filter[or][n], search', async () => {
    const emulator = await start({ users: 60 });
    const desc = (await call(emulator, '/api/systemusers?limit=100&sort=-username')).body.results.map((user: any) => user.username);
    assert.deepEqual(desc, [...desc].sort().reverse());
    const multi = (await call(emulator, `/api/systemusers?limit=100&sort=${encodeURIComponent('department -username')}`)).body.results as any[];
    for (let i = 1; i < multi.length; i += 1) {
      const [a, b] = [multi[i - 1], multi[i]];
      assert.ok(a.department < b.department || (a.department === b.department && a.username >= b.username));
    }
    const projected = (await call(emulator, `/api/systemusers?fields=${encodeURIComponent('username state')}`)).body.results[0];
    assert.deepEqual(Object.keys(projected).sort(), ['_id', 'id', 'state', 'username']);

    const all = (await call(emulator, '/api/systemusers?limit=100')).body.results as any[];
    const sales = await call(emulator, `/api/systemusers?limit=100&filter=${encodeURIComponent('department:$eq:Sales')}`);
    assert.equal(sales.body.totalCount, all.filter((user) => user.department === 'Sales').length);
    assert.ok(sales.body.results.every((user: any) => user.department === 'Sales'));
    const staged = await call(emulator, `/api/systemusers?limit=100&filter[0]=${encodeURIComponent('state:$eq:STAGED')}&filter[1]=${encodeURIComponent('activated:$eq:false')}`);
    assert.equal(staged.body.totalCount, all.filter((user) => user.state === 'STAGED').length);
    const either = await call(emulator, `/api/systemusers?limit=100&filter[or][0]=${encodeURIComponent('department:$eq:Sales')}&filter[or][1]=${encodeURIComponent('department:$eq:Finance')}`);
    assert.equal(either.body.totalCount, all.filter((user) => ['Sales', 'Finance'].includes(user.department)).length);
    const notSales = await call(emulator, `/api/systemusers?limit=100&filter=${encodeURIComponent('department:$ne:Sales')}`);
    assert.equal(notSales.body.totalCount + sales.body.totalCount, 60);
    assertJumpCloudError(await call(emulator, `/api/systemusers?filter=${encodeURIComponent('department:eq:Sales')}`), 400, /operator/);
    assertJumpCloudError(await call(emulator, '/api/systemusers?filter=department'), 400, /filter/);

    const searched = await call(emulator, `/api/systemusers?search=${encodeURIComponent(all[7].lastname.toUpperCase())}`);
    assert.ok(searched.body.totalCount >= 1);
    assert.ok(searched.body.results.every((user: any) => JSON.stringify([user.username, user.email, user.firstname, user.lastname]).toLowerCase().includes(all[7].lastname.toLowerCase())));
  });
});

describe('v2 user groups and members', () => {
  test('usergroups answer a bare array with limit ≤ 100 and skip; one group by id; filter name:eq:…', async () => {
    const emulator = await start({ users: 30, groups: 25 });
    const first = await call(emulator, '/api/v2/usergroups');
    assert.ok(Array.isArray(first.body));
    assert.equal(first.body.length, 10);
    assert.deepEqual(Object.keys(first.body[0]).sort(), ['attributes', 'description', 'email', 'id', 'memberQuery', 'membershipMethod', 'name', 'type']);
    assert.equal(first.body[0].type, 'user_group');
    assert.equal((await call(emulator, '/api/v2/usergroups?limit=100&skip=20')).body.length, 5);
    assertJumpCloudError(await call(emulator, '/api/v2/usergroups?limit=101'), 400, /limit/);
    const named = await call(emulator, `/api/v2/usergroups?filter=${encodeURIComponent('name:eq:Sales team')}`);
    assert.deepEqual(named.body.map((group: any) => group.name), ['Sales team']);
    const searched = await call(emulator, `/api/v2/usergroups?limit=100&filter=${encodeURIComponent('name:search:project')}`);
    assert.equal(searched.body.length, 17);
    assertJumpCloudError(await call(emulator, `/api/v2/usergroups?filter=${encodeURIComponent('name:$eq:Sales team')}`), 400, /operator/);
    assert.deepEqual((await call(emulator, `/api/v2/usergroups/${first.body[2].id}`)).body, first.body[2]);
    assertJumpCloudError(await call(emulator, `/api/v2/usergroups/${'0'.repeat(24)}`), 404, /^Not Found/);
  });

  test('members are graph connections [{to:{id, type:"user"}}], paged; membership resolves them; a deleted user leaves its groups', async () => {
    const emulator = await start({ users: 150, groups: 0 });
    const group = emulator.control.createGroup({ name: 'Everyone' });
    // Added in an order that is not id order: members answer in the order they were added.
    const expected = [...emulator.org.userIds()].reverse().slice(0, 130);
    for (const id of expected) emulator.control.addMember(group.id, id);
    const firstPage = await call(emulator, `/api/v2/usergroups/${group.id}/members`);
    assert.equal(firstPage.body.length, 10);
    assert.deepEqual(firstPage.body[0], { attributes: null, to: { attributes: null, id: expected[0], type: 'user' } });
    const ids: string[] = [];
    for (let skip = 0; ; skip += 100) {
      const page = (await call(emulator, `/api/v2/usergroups/${group.id}/members?limit=100&skip=${skip}`)).body as any[];
      ids.push(...page.map((member) => member.to.id));
      if (page.length < 100) break;
    }
    assert.deepEqual(ids, [...expected]);
    const resolved = (await call(emulator, `/api/v2/usergroups/${group.id}/membership?limit=100`)).body as any[];
    assert.equal(resolved[0].id, expected[0]);
    assert.equal(resolved[0].type, 'user');
    assert.ok(Array.isArray(resolved[0].paths));
    const memberOf = (await call(emulator, `/api/v2/users/${expected[0]}/memberof`)).body as any[];
    assert.ok(memberOf.some((entry) => entry.id === group.id && entry.type === 'user_group'));

    emulator.control.deleteUser(expected[0]!);
    const after = (await call(emulator, `/api/v2/usergroups/${group.id}/members?limit=100`)).body as any[];
    assert.ok(!after.some((member) => member.to.id === expected[0]));
    assertJumpCloudError(await call(emulator, `/api/v2/usergroups/${'0'.repeat(24)}/members`), 404, /^Not Found/);
  });
});

describe('drift: the directory changing between two pages of one offset scan', () => {
  test('users removed before the page a scan is at make a naive offset scan skip as many users that stayed', async () => {
    const emulator = await start({ users: 250 });
    const victims = emulator.org.userIds().slice(0, 5);
    emulator.control.drift({ beforeRequest: 2, remove: 5 });
    const seen = await naiveScan(emulator, 100);
    const present = emulator.org.userIds();
    assert.equal(present.length, 245);
    const skipped = present.filter((id) => !seen.includes(id));
    assert.equal(skipped.length, 5, 'five users who never left were never listed');
    assert.deepEqual(emulator.control.driftHistory().at(-1), { resource: 'systemusers', request: 2, inserted: [], removed: victims });
  });

  test('users added before it make the scan repeat users and miss every newcomer', async () => {
    const emulator = await start({ users: 250 });
    emulator.control.drift({ beforeRequest: 2, insert: 4, insertAt: 'start' });
    const seen = await naiveScan(emulator, 100);
    const newcomers = emulator.control.driftHistory().at(-1)!.inserted;
    assert.equal(newcomers.length, 4);
    assert.ok(newcomers.every((id) => !seen.includes(id)), 'newcomers land on a page already read');
    assert.equal(seen.length - new Set(seen).size, 4, 'four users are listed twice');
    assert.equal((await call(emulator, '/api/systemusers')).body.totalCount, 254);
    // Newcomers with fresh ids land at the end, where a scan still finds them.
    emulator.control.drift({ beforeRequest: 2, insert: 2, insertAt: 'end' });
    const later = await naiveScan(emulator, 100);
    assert.ok(emulator.control.driftHistory().at(-1)!.inserted.every((id) => later.includes(id)));
  });

  test('a drift can repeat every few requests, target user groups, and is armed over HTTP too', async () => {
    const emulator = await start({ users: 30, groups: 30 });
    const armed = await fetch(`${emulator.url}/_emulator/drift`, { method: 'POST', body: JSON.stringify({ resource: 'usergroups', beforeRequest: 1, remove: 1, times: 2 }) });
    assert.equal(armed.status, 200);
    await call(emulator, '/api/v2/usergroups');
    await call(emulator, '/api/v2/usergroups');
    await call(emulator, '/api/v2/usergroups');
    assert.equal(emulator.org.groupCount, 28, 'applied twice, then disarmed');
    const history = (await (await fetch(`${emulator.url}/_emulator/drift`)).json()) as any[];
    assert.deepEqual(history.map((entry) => [entry.resource, entry.request]), [['usergroups', 1], ['usergroups', 2]]);
  });
});

describe('throttling, faults and latency', () => {
  test('throttling is a 429, with Retry-After only when the rule gives one; per-minute budgets count per key', async () => {
    const emulator = await start();
    emulator.control.setThrottle({ fraction: 1 });
    const refused = await call(emulator, '/api/systemusers');
    assertJumpCloudError(refused, 429, /Too Many Requests/);
    assert.equal(refused.headers.get('retry-after'), null);
    emulator.control.setThrottle({ fraction: 1, retryAfterSeconds: 2 });
    assert.equal((await call(emulator, '/api/systemusers')).headers.get('retry-after'), '2');
    emulator.control.setThrottle({ perMinute: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await call(emulator, '/api/v2/usergroups')).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const otherKey = emulator.control.issueApiKey();
    assert.equal((await call(emulator, '/api/v2/usergroups', { 'x-api-key': otherKey })).status, 200);
    emulator.control.setThrottle(undefined);
    assert.equal(emulator.control.stats().throttled, 4);
  });

  test('server errors, truncated bodies and requests that never answer', async () => {
    const emulator = await start();
    emulator.control.injectFault({ kind: 'server-error', count: 1, status: 502 });
    assertJumpCloudError(await call(emulator, '/api/systemusers'), 502, /^Bad Gateway/);
    assert.equal((await call(emulator, '/api/systemusers')).status, 200);
    emulator.control.injectFault({ kind: 'truncated', count: 1 });
    const truncated = await call(emulator, '/api/systemusers');
    assert.equal(truncated.status, 200);
    assert.throws(() => JSON.parse(truncated.text));
    emulator.control.injectFault({ kind: 'timeout', count: 1 });
    await assert.rejects(call(emulator, '/api/systemusers', { 'x-api-key': emulator.apiKey }, AbortSignal.timeout(300)));
    emulator.control.setLatency(150);
    const started = Date.now();
    assert.equal((await call(emulator, '/api/systemusers')).status, 200);
    assert.ok(Date.now() - started >= 140);
    const stats = emulator.control.stats();
    assert.deepEqual(stats.faults, { 'server-error': 1, timeout: 1, truncated: 1 });
    assert.ok(stats.requests['GET /api/systemusers']! >= 3);
    assert.deepEqual(stats.log.at(-1), { method: 'GET', path: '/api/systemusers', query: {} });
    emulator.control.reset();
    assert.deepEqual(emulator.control.stats().log, []);
  });
});

describe('roster emulate jumpcloud', () => {
  test('prints the API root and keys, and serves until stopped', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const finished = runCli(['node', 'roster', 'emulate', 'jumpcloud', '--users', '25', '--groups', '3', '--port', '0', '--api-key', 'c'.repeat(40)], {
      env: {},
      stdout: (line) => lines.push(line),
      stderr: (line) => lines.push(line),
      signal: stop.signal,
    });
    while (!lines.some((line) => line.includes('control API'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const apiRoot = /api_base_url\): (\S+)/.exec(lines.join('\n'))![1]!;
    assert.match(lines.join('\n'), /admin API key: +c{40}/);
    const res = await fetch(`${apiRoot}/systemusers?limit=100`, { headers: { 'x-api-key': 'c'.repeat(40) } });
    assert.equal(((await res.json()) as { totalCount: number }).totalCount, 25);
    stop.abort();
    assert.equal(await finished, 0);
  });
});
