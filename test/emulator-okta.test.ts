/**
 * The Okta emulator must behave like Okta where a connector can tell the difference: Link-header paging,
 * DEPROVISIONED users left out of the plain list, filters, the System Log in polling mode, event hook
 * verification and deliveries, API tokens and private_key_jwt service apps, rate-limit headers and 429s,
 * faults — checked over real HTTP, and through Okta's own Node SDK.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import okta from '@okta/okta-sdk-nodejs';
import { generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { runCli } from '../src/cli/program.ts';
import { generateOrg, READ_SCOPES, startOktaEmulator, type OktaEmulator, type OktaEmulatorOptions } from '../src/emulators/okta/index.ts';

const running: OktaEmulator[] = [];
const servers: Server[] = [];
after(async () => {
  for (const emulator of running) await emulator.close();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
});

async function start(options: OktaEmulatorOptions = {}): Promise<OktaEmulator> {
  const emulator = await startOktaEmulator({ users: 30, groups: 14, seed: 33, ...options });
  running.push(emulator);
  return emulator;
}

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function call(emulator: OktaEmulator, path: string, init: RequestInit & { auth?: string | null } = {}): Promise<Answer> {
  const auth = init.auth === undefined ? `SSWS ${emulator.apiToken}` : init.auth;
  const headers: Record<string, string> = { accept: 'application/json', ...(auth ? { authorization: auth } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(path.startsWith('http') ? path : `${emulator.url}${path}`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** The `rel` links of a response, from its (possibly several) Link headers. */
function links(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of (headers.get('link') ?? '').matchAll(/<([^>]+)>;\s*rel="([^"]+)"/g)) out[match[2]!] = match[1]!;
  return out;
}

async function listAll(emulator: OktaEmulator, path: string): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let url: string | undefined = path;
  let pages = 0;
  while (url) {
    const answer = await call(emulator, url);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    items.push(...answer.body);
    pages += 1;
    url = links(answer.headers).next;
  }
  return { items, pages };
}

/** A local HTTP endpoint that records what it is sent and answers as told. */
async function receiver(answer: (req: { method: string; headers: IncomingHttpHeaders; body: string }) => { status: number; body?: unknown; delayMs?: number }) {
  const received: Array<{ method: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const request = { method: req.method ?? 'GET', headers: req.headers, body };
      received.push(request);
      const reply = answer(request);
      setTimeout(() => {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const echo = (req: { headers: IncomingHttpHeaders }) => (req.headers['x-okta-verification-challenge'] ? { status: 200, body: { verification: req.headers['x-okta-verification-challenge'] } } : { status: 200 });

function hookBody(uri: string, items: string[] = ['user.account.update_profile', 'user.lifecycle.suspend']) {
  return { name: 'test hook', events: { type: 'EVENT_TYPE', items }, channel: { type: 'HTTP', version: '1.0.0', config: { uri, headers: [{ key: 'x-extra', value: 'yes' }], authScheme: { type: 'HEADER', key: 'Authorization', value: 'hook-secret' } } } };
}

async function signAssertion(emulator: OktaEmulator, overrides: { aud?: string; sub?: string; lifetime?: number; jti?: string; key?: CryptoKey } = {}): Promise<string> {
  const key = overrides.key ?? (await importPKCS8(emulator.serviceApp.privateKey, 'RS256'));
  const iat = Math.floor(emulator.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: emulator.serviceApp.keyId })
    .setIssuer(emulator.serviceApp.clientId)
    .setSubject(overrides.sub ?? emulator.serviceApp.clientId)
    .setAudience(overrides.aud ?? emulator.tokenUrl)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (overrides.lifetime ?? 300))
    .setJti(overrides.jti ?? randomUUID())
    .sign(key);
}

async function tokenRequest(emulator: OktaEmulator, assertion: string, scope = READ_SCOPES.join(' ')): Promise<Answer> {
  const res = await fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

describe('users', () => {
  test('pages by limit (≤ 200) and after, with self and next as two separate Link headers; no next on the last page', async () => {
    const emulator = await start({ users: 450 });
    const all = await listAll(emulator, '/api/v1/users?limit=100');
    const plain = emulator.org.userIds().map((id) => emulator.org.userById(id)!).filter((user) => user.status !== 'DEPROVISIONED');
    assert.equal(all.items.length, plain.length);
    assert.equal(all.pages, Math.ceil(plain.length / 100));
    assert.equal(new Set(all.items.map((user) => user.id)).size, all.items.length);
    assert.equal((await call(emulator, '/api/v1/users?limit=500')).body.length, 200, 'a page holds at most 200');
    assert.equal((await call(emulator, '/api/v1/users')).body.length, 200, 'and 200 by default');

    // Two header lines, not one comma-joined line.
    const raw = await new Promise<string[]>((resolve) => get(`${emulator.url}/api/v1/users?limit=5`, { headers: { authorization: `SSWS ${emulator.apiToken}` } }, (res) => {
      res.resume();
      resolve(res.rawHeaders.filter((_, i) => i % 2 === 0 && res.rawHeaders[i]!.toLowerCase() === 'link').map((_, i) => res.rawHeaders[i]!));
    }));
    assert.equal(raw.length, 2);
    const first = await call(emulator, '/api/v1/users?limit=5');
    const rel = links(first.headers);
    assert.equal(rel.self, `${emulator.url}/api/v1/users?limit=5`);
    assert.match(rel.next!, /[?&]after=00u/);
    const lastPage = await call(emulator, `/api/v1/users?limit=200&after=${all.items.at(-2).id}`);
    assert.equal(lastPage.body.length, 1);
    assert.equal(links(lastPage.headers).next, undefined);
  });

  test('DEPROVISIONED users are left out of the plain list and q, and listed by a filter or a search', async () => {
    const emulator = await start();
    const deprovisioned = emulator.org.userIds().map((id) => emulator.org.userById(id)!).filter((user) => user.status === 'DEPROVISIONED');
    assert.ok(deprovisioned.length > 0);
    const plain = (await listAll(emulator, '/api/v1/users')).items;
    assert.equal(plain.some((user) => user.status === 'DEPROVISIONED'), false);
    const filtered = (await call(emulator, `/api/v1/users?filter=${encodeURIComponent('status eq "DEPROVISIONED"')}`)).body;
    assert.deepEqual(filtered.map((user: any) => user.id).sort(), deprovisioned.map((user) => user.id).sort());
    const searched = (await call(emulator, `/api/v1/users?search=${encodeURIComponent('status eq "DEPROVISIONED"')}`)).body;
    assert.equal(searched.length, deprovisioned.length);
    const any = (await call(emulator, `/api/v1/users?filter=${encodeURIComponent('lastUpdated gt "2000-01-01T00:00:00.000Z"')}`)).body;
    assert.equal(any.length, emulator.org.userCount, 'a lastUpdated filter lists every status');
  });

  test('filter: status and profile fields by eq, lastUpdated by gt/ge/lt/le, and/or and parentheses; anything else is refused', async () => {
    const emulator = await start();
    const target = emulator.org.userById(emulator.org.userIds()[5]!)!;
    const since = new Date(emulator.now()).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    emulator.control.updateUser(target.id, { title: 'Changed' });
    const q = (filter: string) => call(emulator, `/api/v1/users?filter=${encodeURIComponent(filter)}`);
    assert.deepEqual((await q(`lastUpdated gt "${since}"`)).body.map((u: any) => u.id), [target.id]);
    assert.equal((await q(`lastUpdated lt "${since}"`)).body.length, emulator.org.userCount - 1);
    assert.deepEqual((await q(`profile.login eq "${target.profile.login.toUpperCase()}"`)).body.map((u: any) => u.id), [target.id], 'logins compare case-insensitively');
    const either = (await q(`(status eq "SUSPENDED" or status eq "LOCKED_OUT") and lastUpdated lt "${since}"`)).body;
    assert.ok(either.length > 0 && either.every((u: any) => u.status === 'SUSPENDED' || u.status === 'LOCKED_OUT'));
    for (const bad of ['profile.department eq "Sales"', 'lastUpdated eq "2020-01-01T00:00:00.000Z"', 'status sw "ACT"', 'status eq ACTIVE', 'status eq "ACTIVE" and']) {
      const answer = await q(bad);
      assert.equal(answer.status, 400, bad);
      assert.equal(answer.body.errorCode, 'E0000031', bad);
    }
    const search = await call(emulator, `/api/v1/users?search=${encodeURIComponent('profile.department eq "Sales"')}`);
    assert.equal(search.status, 200, 'search reaches any profile attribute');
  });

  test('a user by id or login; an unknown one is 404 E0000007; the user object has the fields Okta returns', async () => {
    const emulator = await start();
    const user = emulator.org.userById(emulator.org.userIds()[2]!)!;
    const byId = await call(emulator, `/api/v1/users/${user.id}`);
    const byLogin = await call(emulator, `/api/v1/users/${encodeURIComponent(user.profile.login)}`);
    assert.deepEqual(byLogin.body, byId.body);
    for (const field of ['id', 'status', 'created', 'activated', 'statusChanged', 'lastLogin', 'lastUpdated', 'passwordChanged', 'type', 'profile', 'credentials', '_links']) assert.ok(field in byId.body, field);
    assert.match(byId.body.id, /^00u[0-9A-Za-z]{17}$/);
    assert.equal(byId.body.profile.employeeNumber, user.profile.employeeNumber);
    const missing = await call(emulator, '/api/v1/users/00unothere');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.errorCode, 'E0000007');
    assert.match(missing.body.errorSummary, /Not found/);
    assert.ok(missing.body.errorId && Array.isArray(missing.body.errorCauses));
  });
});

describe('groups', () => {
  test('types, lastMembershipUpdated moving with membership, filters on it, members as full users, Everyone built in', async () => {
    const emulator = await start();
    const groups = (await listAll(emulator, '/api/v1/groups')).items;
    assert.deepEqual([...new Set(groups.map((g) => g.type))].sort(), ['APP_GROUP', 'BUILT_IN', 'OKTA_GROUP']);
    const everyone = groups.find((g) => g.type === 'BUILT_IN');
    assert.equal(everyone.profile.name, 'Everyone');
    assert.equal((await listAll(emulator, `/api/v1/groups/${everyone.id}/users`)).items.length, emulator.org.userCount);
    const synced = (await call(emulator, `/api/v1/groups?filter=${encodeURIComponent('type eq "OKTA_GROUP" or type eq "APP_GROUP"')}`)).body;
    assert.equal(synced.length, groups.length - 1);

    const group = groups.find((g) => g.type === 'OKTA_GROUP');
    const since = new Date(emulator.now()).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newcomer = emulator.org.userIds().find((id) => !emulator.org.memberIdsOf(group.id).includes(id))!;
    emulator.control.addMember(group.id, newcomer);
    const moved = (await call(emulator, `/api/v1/groups?filter=${encodeURIComponent(`lastMembershipUpdated gt "${since}"`)}`)).body;
    assert.deepEqual(moved.map((g: any) => g.id), [group.id]);
    assert.equal((await call(emulator, `/api/v1/groups?filter=${encodeURIComponent(`lastUpdated gt "${since}"`)}`)).body.length, 0, 'a membership is not a profile change');
    const members = (await listAll(emulator, `/api/v1/groups/${group.id}/users?limit=2`)).items;
    assert.ok(members.some((user) => user.id === newcomer));
    assert.ok(members[0].profile.login && members[0].status, 'members are full user objects');
    // A user created into a group moves the group's membership too.
    const later = new Date(emulator.now()).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const other = groups.find((g) => g.type === 'OKTA_GROUP' && g.id !== group.id);
    emulator.control.createUser({ profile: { login: 'joined@example.com', email: 'joined@example.com', firstName: 'Jo', lastName: 'Ined' }, groupIds: [other.id] });
    const movedAgain = (await call(emulator, `/api/v1/groups?filter=${encodeURIComponent(`lastMembershipUpdated gt "${later}"`)}`)).body;
    assert.deepEqual(movedAgain.map((g: any) => g.id).sort(), [everyone.id, other.id].sort());
    const appGroup = groups.find((g) => g.type === 'APP_GROUP');
    assert.throws(() => emulator.control.addMember(appGroup.id, newcomer), /APP_GROUP/);
    assert.equal((await call(emulator, '/api/v1/groups/00gmissing/users')).status, 404);
    assert.equal((await call(emulator, `/api/v1/groups/${group.id}?expand=stats`)).body._embedded.stats.usersCount, emulator.org.memberIdsOf(group.id).length);
  });
});

describe('System Log', () => {
  test('polling: ascending from since, a next link on every page (empty ones too), and every control change as its event', async () => {
    const emulator = await start();
    const since = new Date(emulator.now() - 1000).toISOString();
    const poll = await call(emulator, `/api/v1/logs?since=${encodeURIComponent(since)}`);
    assert.equal(poll.status, 200);
    assert.deepEqual(poll.body, []);
    let next = links(poll.headers).next;
    assert.ok(next, 'an empty page still has a next link');

    const user = emulator.org.userById(emulator.org.userIds().find((id) => emulator.org.userById(id)!.status === 'ACTIVE' && id !== emulator.org.userIds()[0])!)!;
    const group = emulator.control.createGroup({ name: 'Logged' });
    emulator.control.updateUser(user.id, { title: 'Logged' });
    emulator.control.suspendUser(user.id);
    emulator.control.unsuspendUser(user.id);
    emulator.control.addMember(group.id, user.id);
    emulator.control.removeMember(group.id, user.id);
    emulator.control.updateGroup(group.id, { description: 'changed' });
    emulator.control.deactivateUser(user.id);
    emulator.control.reactivateUser(user.id);
    emulator.control.deleteUser(user.id);
    emulator.control.deleteGroup(group.id);
    const created = emulator.control.createUser({ profile: { login: 'fresh@example.com', email: 'fresh@example.com' } });

    const types: string[] = [];
    let pages = 0;
    for (;;) {
      const page = await call(emulator, next!.replace('limit=100', 'limit=3'));
      pages += 1;
      types.push(...page.body.map((event: any) => event.eventType));
      if (page.body.length > 0) assert.deepEqual(page.body[0].target.map((t: any) => t.type).filter((t: string) => t === 'User' || t === 'UserGroup').length > 0, true);
      next = links(page.headers).next;
      assert.ok(next, 'polling never ends');
      if (page.body.length < 3) break;
    }
    assert.ok(pages >= 5);
    assert.deepEqual(types, [
      'group.lifecycle.create',
      'user.account.update_profile',
      'user.lifecycle.suspend',
      'user.lifecycle.unsuspend',
      'group.user_membership.add',
      'group.user_membership.remove',
      'group.profile.update',
      'user.lifecycle.deactivate',
      'user.lifecycle.reactivate',
      // Deleting a user who is not DEPROVISIONED deactivates them first.
      'user.lifecycle.deactivate',
      'user.lifecycle.delete.initiated',
      'user.lifecycle.delete.completed',
      'group.lifecycle.delete',
      'user.lifecycle.create',
      'user.lifecycle.activate',
    ]);
    const empty = await call(emulator, next!);
    assert.deepEqual(empty.body, []);
    assert.equal(links(empty.headers).next, next, 'nothing new: the same place to resume from');
    const event = emulator.control.logEvents().find((e) => e.target.some((t) => t.id === created.id))!;
    for (const field of ['uuid', 'published', 'eventType', 'actor', 'target', 'outcome', 'displayMessage', 'severity', 'client', 'transaction']) assert.ok(field in event, field);
  });

  test('filter by eventType, persistence lagging publication, bounded queries, 90 days of retention', async () => {
    const emulator = await start();
    const since = new Date(emulator.now() - 1000).toISOString();
    const user = emulator.org.userIds().find((id) => emulator.org.userById(id)!.status === 'ACTIVE' && id !== emulator.org.userIds()[0])!;
    emulator.control.updateUser(user, { title: 'a' });
    emulator.control.suspendUser(user);
    const filtered = await call(emulator, `/api/v1/logs?since=${encodeURIComponent(since)}&filter=${encodeURIComponent('eventType eq "user.lifecycle.suspend" or eventType eq "group.lifecycle.create"')}`);
    assert.deepEqual(filtered.body.map((e: any) => e.eventType), ['user.lifecycle.suspend']);
    assert.deepEqual((await call(emulator, `/api/v1/logs?since=${encodeURIComponent(since)}&filter=${encodeURIComponent(`target.id eq "${user}"`)}`)).body.length, 2);

    emulator.control.setLogPersistenceDelay(60_000);
    emulator.control.unsuspendUser(user);
    const before = await call(emulator, `/api/v1/logs?since=${encodeURIComponent(since)}`);
    assert.equal(before.body.length, 2, 'published, not yet readable');
    emulator.control.advanceTime(61_000);
    const later = await call(emulator, links(before.headers).next!);
    assert.deepEqual(later.body.map((e: any) => e.eventType), ['user.lifecycle.unsuspend']);

    const until = new Date(emulator.now()).toISOString();
    const bounded = await call(emulator, `/api/v1/logs?since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}&limit=2&sortOrder=DESCENDING`);
    assert.deepEqual(bounded.body.map((e: any) => e.eventType), ['user.lifecycle.unsuspend', 'user.lifecycle.suspend']);
    const rest = await call(emulator, links(bounded.headers).next!);
    assert.equal(rest.body.length, 1);
    assert.equal(links(rest.headers).next, undefined, 'a bounded query ends');
    const old = await call(emulator, `/api/v1/logs?since=${encodeURIComponent(new Date(emulator.now() - 91 * 24 * 3600_000).toISOString())}`);
    assert.equal(old.status, 400);
    assert.equal(old.body.errorCode, 'E0000001');
  });
});

describe('authentication', () => {
  test('API tokens: SSWS accepted, a revoked or unknown one 401 E0000011, a read-only admin cannot manage event hooks', async () => {
    const emulator = await start();
    assert.equal((await call(emulator, '/api/v1/users?limit=1')).status, 200);
    const readOnly = emulator.control.createApiToken({ readOnly: true });
    assert.equal((await call(emulator, '/api/v1/users?limit=1', { auth: `SSWS ${readOnly}` })).status, 200);
    const hooks = await call(emulator, '/api/v1/eventHooks', { method: 'POST', auth: `SSWS ${readOnly}`, body: JSON.stringify(hookBody('https://example.com/hook')) });
    assert.equal(hooks.status, 403);
    assert.equal(hooks.body.errorCode, 'E0000006');
    emulator.control.revokeApiToken(readOnly);
    const revoked = await call(emulator, '/api/v1/users?limit=1', { auth: `SSWS ${readOnly}` });
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.errorCode, 'E0000011');
    assert.equal((await call(emulator, '/api/v1/users', { auth: null })).status, 401);
  });

  test('service app: a private_key_jwt assertion gets a one-hour bearer token; wrong aud, sub, key, lifetime, a replayed jti or an ungranted scope do not', async () => {
    const emulator = await start({ serviceAppScopes: ['okta.users.read', 'okta.groups.read'] });
    const granted = await tokenRequest(emulator, await signAssertion(emulator), 'okta.users.read okta.groups.read');
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    assert.equal(granted.body.token_type, 'Bearer');
    assert.equal(granted.body.expires_in, 3600);
    assert.equal(granted.body.scope, 'okta.users.read okta.groups.read');
    assert.equal(granted.body.refresh_token, undefined);
    const bearer = `Bearer ${granted.body.access_token}`;
    assert.equal((await call(emulator, '/api/v1/users?limit=1', { auth: bearer })).status, 200);
    const noLogs = await call(emulator, '/api/v1/logs', { auth: bearer });
    assert.equal(noLogs.status, 403);
    assert.match(noLogs.headers.get('www-authenticate') ?? '', /insufficient_scope/);

    const { privateKey: stranger } = await generateKeyPair('RS256');
    const jti = randomUUID();
    assert.equal((await tokenRequest(emulator, await signAssertion(emulator, { jti }), 'okta.users.read')).status, 200);
    const refused: Array<[string, string]> = [
      [await signAssertion(emulator, { aud: `${emulator.url}/oauth2/default/v1/token` }), 'okta.users.read'],
      [await signAssertion(emulator, { sub: 'someone-else' }), 'okta.users.read'],
      [await signAssertion(emulator, { key: stranger }), 'okta.users.read'],
      [await signAssertion(emulator, { lifetime: 2 * 3600 }), 'okta.users.read'],
      [await signAssertion(emulator, { jti }), 'okta.users.read'],
    ];
    for (const [assertion, scope] of refused) {
      const answer = await tokenRequest(emulator, assertion, scope);
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_client');
    }
    const ungranted = await tokenRequest(emulator, await signAssertion(emulator), 'okta.users.read okta.logs.read');
    assert.equal(ungranted.status, 400);
    assert.equal(ungranted.body.error, 'invalid_scope');

    emulator.control.advanceTime(3601_000);
    assert.equal((await call(emulator, '/api/v1/users?limit=1', { auth: bearer })).status, 401, 'the token expired');
    emulator.control.deactivateServiceApp(emulator.serviceApp.clientId);
    assert.equal((await tokenRequest(emulator, await signAssertion(emulator), 'okta.users.read')).body.error, 'invalid_client');
  });
});

describe('rate limits', () => {
  test('X-Rate-Limit headers on every response, per bucket; 429 E0000047 once spent, until Reset; an org concurrency limit', async () => {
    const emulator = await start({ rateLimits: { users: { limit: 3, windowMs: 1500 } } });
    const remaining = async (path: string, auth?: string | null) => {
      const answer = await call(emulator, path, auth === undefined ? {} : { auth });
      return { status: answer.status, body: answer.body, limit: answer.headers.get('x-rate-limit-limit'), remaining: answer.headers.get('x-rate-limit-remaining'), reset: Number(answer.headers.get('x-rate-limit-reset')) };
    };
    const first = await remaining('/api/v1/users');
    assert.deepEqual([first.limit, first.remaining], ['3', '2']);
    assert.ok(first.reset * 1000 >= Date.now() && first.reset * 1000 <= Date.now() + 3000, 'Reset is in epoch seconds');
    assert.equal((await remaining('/api/v1/users', 'SSWS wrong')).remaining, '1', 'a refused token spends a call too');
    assert.equal((await remaining('/api/v1/groups')).limit, '500', 'groups have a bucket of their own');
    assert.equal((await remaining('/api/v1/users')).remaining, '0');
    const refused = await remaining('/api/v1/users');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.errorCode, 'E0000047');
    assert.equal(refused.body.errorSummary, 'API call exceeded rate limit due to too many requests.');
    assert.equal(refused.remaining, '0');
    await new Promise((resolve) => setTimeout(resolve, refused.reset * 1000 - Date.now() + 10));
    assert.equal((await remaining('/api/v1/users')).status, 200, 'the window turned at Reset');
    assert.equal(emulator.control.stats().throttled.users, 1);

    emulator.control.setConcurrencyLimit(1);
    emulator.control.setLatency(100);
    const both = await Promise.all([call(emulator, '/api/v1/groups'), call(emulator, '/api/v1/groups')]);
    assert.deepEqual(both.map((answer) => answer.status).sort(), [200, 429]);
  });
});

describe('event hooks', () => {
  test('created UNVERIFIED; verified by echoing the challenge within 3 s; not by a wrong echo or a slow endpoint; the secret is never read back', async () => {
    const emulator = await start({ hookTimeoutMs: 300 });
    const good = await receiver(echo);
    const created = await call(emulator, '/api/v1/eventHooks', { method: 'POST', body: JSON.stringify(hookBody(good.url)) });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.match(created.body.id, /^who/);
    assert.equal(created.body.status, 'ACTIVE');
    assert.equal(created.body.verificationStatus, 'UNVERIFIED');
    assert.equal(created.body.channel.config.authScheme.value, undefined);
    const verified = await call(emulator, `/api/v1/eventHooks/${created.body.id}/lifecycle/verify`, { method: 'POST' });
    assert.equal(verified.body.verificationStatus, 'VERIFIED');
    const challenge = good.received[0]!;
    assert.equal(challenge.method, 'GET');
    assert.ok(challenge.headers['x-okta-verification-challenge']);
    assert.equal(challenge.headers.authorization, 'hook-secret');

    const wrong = await receiver(() => ({ status: 200, body: { verification: 'nope' } }));
    const slow = await receiver((req) => ({ ...echo(req), delayMs: 600 }));
    for (const endpoint of [wrong, slow]) {
      const hook = (await call(emulator, '/api/v1/eventHooks', { method: 'POST', body: JSON.stringify(hookBody(endpoint.url)) })).body;
      const failed = await call(emulator, `/api/v1/eventHooks/${hook.id}/lifecycle/verify`, { method: 'POST' });
      assert.equal(failed.status, 400);
      assert.equal(failed.body.errorCode, 'E0000001');
      assert.equal((await call(emulator, `/api/v1/eventHooks/${hook.id}`)).body.verificationStatus, 'UNVERIFIED');
    }
    assert.equal((await call(emulator, '/api/v1/eventHooks', { method: 'POST', body: JSON.stringify({ name: 'x', events: { type: 'EVENT_TYPE', items: [] } }) })).status, 400);
    assert.equal((await call(emulator, `/api/v1/eventHooks/${created.body.id}`, { method: 'DELETE' })).status, 400, 'an ACTIVE hook is deactivated before it is deleted');
    await call(emulator, `/api/v1/eventHooks/${created.body.id}/lifecycle/deactivate`, { method: 'POST' });
    assert.equal((await call(emulator, `/api/v1/eventHooks/${created.body.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await call(emulator, `/api/v1/eventHooks/${created.body.id}`)).status, 404);
  });

  test('deliveries: the events of a moment in one POST with the configured Authorization, one retry on a 5xx, duplicate/reorder/drop switches', async () => {
    const emulator = await start();
    let failNext = 1;
    const endpoint = await receiver((req) => {
      if (req.headers['x-okta-verification-challenge']) return echo(req);
      if (failNext > 0) {
        failNext -= 1;
        return { status: 500 };
      }
      return { status: 200 };
    });
    const hook = (await call(emulator, '/api/v1/eventHooks', { method: 'POST', body: JSON.stringify(hookBody(endpoint.url)) })).body;
    await call(emulator, `/api/v1/eventHooks/${hook.id}/lifecycle/verify`, { method: 'POST' });
    const [a, b, c] = emulator.org.userIds().filter((id) => emulator.org.userById(id)!.status === 'ACTIVE');
    emulator.control.updateUser(a!, { title: 'x' });
    emulator.control.suspendUser(a!);
    emulator.control.createGroup({ name: 'not subscribed' });
    await emulator.control.deliveriesIdle();
    const posts = endpoint.received.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 2, 'a 500 is retried once');
    const body = JSON.parse(posts[1]!.body);
    assert.equal(body.eventType, 'com.okta.event_hook');
    assert.equal(body.eventTypeVersion, '1.0');
    assert.equal(body.cloudEventsVersion, '0.1');
    assert.ok(body.eventId && body.source);
    assert.deepEqual(body.data.events.map((e: any) => e.eventType), ['user.account.update_profile', 'user.lifecycle.suspend'], 'one batch, only the subscribed types');
    assert.equal(posts[1]!.headers.authorization, 'hook-secret');
    assert.equal(posts[1]!.headers['x-extra'], 'yes');

    emulator.control.setDeliverySwitches({ duplicate: { count: 1 }, reorder: { count: 1 } });
    emulator.control.updateUser(b!, { title: 'first' });
    await new Promise((resolve) => setImmediate(resolve));
    emulator.control.updateUser(c!, { title: 'second' });
    await emulator.control.deliveriesIdle();
    const later = endpoint.received.filter((r) => r.method === 'POST').slice(2).map((r) => JSON.parse(r.body).data.events[0].target[0].id);
    assert.deepEqual(later, [c, c, b], 'the first held back and sent after the second, which came twice');
    emulator.control.setDeliverySwitches({ drop: { count: 1 } });
    emulator.control.updateUser(b!, { title: 'dropped' });
    await emulator.control.deliveriesIdle();
    assert.equal(endpoint.received.filter((r) => r.method === 'POST').length, 5);
  });
});

describe('faults', () => {
  test('5xx for the next N requests (E0000009), a truncated body, a request that never answers', async () => {
    const emulator = await start();
    emulator.control.injectFault({ kind: 'server-error', count: 2 });
    assert.equal((await call(emulator, '/api/v1/users')).body.errorCode, 'E0000009');
    assert.equal((await call(emulator, '/api/v1/users')).status, 500);
    assert.equal((await call(emulator, '/api/v1/users')).status, 200);
    emulator.control.injectFault({ kind: 'truncated', count: 1 });
    const truncated = await fetch(`${emulator.url}/api/v1/users`, { headers: { authorization: `SSWS ${emulator.apiToken}` } });
    await assert.rejects(truncated.json());
    emulator.control.injectFault({ kind: 'timeout', count: 1, pathPrefix: '/api/v1/groups' });
    await assert.rejects(fetch(`${emulator.url}/api/v1/groups`, { headers: { authorization: `SSWS ${emulator.apiToken}` }, signal: AbortSignal.timeout(200) }));
    assert.equal((await call(emulator, '/api/v1/users?limit=1')).status, 200, 'other paths unaffected');
  });
});

describe('official client', () => {
  test('@okta/okta-sdk-nodejs with an API token pages users (following Link headers) and groups; with a service app it gets its own token', async () => {
    const emulator = await start({ users: 120 });
    const client = new okta.Client({ orgUrl: emulator.url, token: emulator.apiToken });
    const ids: string[] = [];
    for await (const user of await client.userApi.listUsers({ limit: 25 })) ids.push(user!.id!);
    const plain = emulator.org.userIds().filter((id) => emulator.org.userById(id)!.status !== 'DEPROVISIONED');
    assert.deepEqual(ids, plain);
    const groups: string[] = [];
    for await (const group of await client.groupApi.listGroups()) groups.push(group!.id!);
    assert.deepEqual(groups, [...emulator.org.groupIds()]);
    const one = await client.userApi.getUser({ userId: plain[3]! });
    assert.equal(one.profile?.login, emulator.org.userById(plain[3]!)!.profile.login);
    const members: string[] = [];
    for await (const user of await client.groupApi.listGroupUsers({ groupId: groups[1]! })) members.push(user!.id!);
    assert.deepEqual(members, emulator.org.memberIdsOf(groups[1]!));

    const app = new okta.Client({
      orgUrl: emulator.url,
      authorizationMode: 'PrivateKey',
      clientId: emulator.serviceApp.clientId,
      scopes: ['okta.users.read', 'okta.groups.read'],
      privateKey: emulator.serviceApp.privateKey,
      keyId: emulator.serviceApp.keyId,
    });
    let count = 0;
    for await (const _group of await app.groupApi.listGroups()) count += 1;
    assert.equal(count, emulator.org.groupCount);
  });
});

describe('generator, control API and CLI', () => {
  test('builds 20,000 users deterministically, in every status, with managers', () => {
    const started = Date.now();
    const org = generateOrg({ users: 20_000, groups: 100, seed: 7 });
    assert.ok(Date.now() - started < 5000);
    const again = generateOrg({ users: 20_000, groups: 100, seed: 7 });
    const statuses = new Set(org.userIds().map((id) => org.userById(id)!.status));
    assert.equal(statuses.size, 8);
    const sample = org.userById(org.userIds()[500]!)!;
    assert.equal(again.userById(again.userIds()[500]!)!.profile.email, sample.profile.email);
    assert.ok(org.userById(sample.profile.managerId as string));
  });

  test('the HTTP control API changes the org; roster emulate okta prints the URL, token and key file and serves until stopped', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const finished = runCli(['node', 'roster', 'emulate', 'okta', '--users', '25', '--groups', '3', '--port', '0'], { env: {}, stdout: (line) => lines.push(line), stderr: (line) => lines.push(line), signal: stop.signal });
    while (!lines.some((line) => line.includes('control API'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const text = lines.join('\n');
    const url = /listening on (http:\/\/\S+)/.exec(text)![1]!;
    const token = /SSWS (\S+)/.exec(text)![1]!;
    const keyFile = /private key in (\S+)\)/.exec(text)![1]!;
    const auth = { authorization: `SSWS ${token}`, 'content-type': 'application/json' };
    const created = await (await fetch(`${url}/_emulator/users`, { method: 'POST', headers: auth, body: JSON.stringify({ profile: { login: 'cli@example.com', email: 'cli@example.com' } }) })).json() as { id: string };
    await fetch(`${url}/_emulator/users/${created.id}/lifecycle/suspend`, { method: 'POST', headers: auth, body: '{}' });
    const user = await (await fetch(`${url}/api/v1/users/${created.id}`, { headers: auth })).json() as { status: string };
    assert.equal(user.status, 'SUSPENDED');
    const { readFile, rm } = await import('node:fs/promises');
    assert.match(await readFile(keyFile, 'utf8'), /BEGIN PRIVATE KEY/);
    stop.abort();
    assert.equal(await finished, 0);
    await rm(keyFile);
  });
});
