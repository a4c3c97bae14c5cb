/**
 * The Microsoft Graph emulator must behave like Graph where a connector can tell the difference: tokens,
 * default properties and $select, paging, delta rounds and their tokens, subscriptions and their
 * handshake, notifications, throttling and faults — checked over real HTTP.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { runCli } from '../src/cli/program.ts';
import { startGraphEmulator, type GraphEmulator, type GraphEmulatorOptions } from '../src/emulators/microsoft-graph/index.ts';

const running: GraphEmulator[] = [];
const servers: Server[] = [];
after(async () => {
  for (const emulator of running) await emulator.close();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
});

async function start(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const emulator = await startGraphEmulator({ users: 30, groups: 4, ...options });
  running.push(emulator);
  return emulator;
}

const SCOPE = 'https://graph.microsoft.com/.default';

async function tokenRequest(emulator: GraphEmulator, form: Record<string, string>, url = emulator.tokenUrl) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function token(emulator: GraphEmulator): Promise<string> {
  const answer = await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: emulator.app.clientSecret, scope: SCOPE });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.access_token as string;
}

interface Answer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

async function call(emulator: GraphEmulator, bearer: string | undefined, pathOrUrl: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers };
  const res = await fetch(pathOrUrl.startsWith('http') ? pathOrUrl : `${emulator.url}${pathOrUrl}`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {}, headers: res.headers };
}

async function walk(emulator: GraphEmulator, bearer: string, first: string): Promise<{ items: any[]; pages: number; deltaLink?: string }> {
  const items: any[] = [];
  let url: string | undefined = first;
  let pages = 0;
  let deltaLink: string | undefined;
  while (url) {
    const answer = await call(emulator, bearer, url);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    pages += 1;
    items.push(...answer.body.value);
    url = answer.body['@odata.nextLink'];
    deltaLink = answer.body['@odata.deltaLink'] ?? deltaLink;
  }
  return { items, pages, ...(deltaLink ? { deltaLink } : {}) };
}

/** A notification receiver: answers the validation handshake as told and records what it is sent. */
/**
 * How a receiver answers a notification POST: a status, or 202 only after `lateMs`. `times` counts the POSTs
 * of this very body so far, this one included (a retry is the same body again).
 */
type NotificationAnswer = (body: string, times: number) => number | { lateMs: number };

async function receiver(behaviour: { echo?: 'ok' | 'wrong' | 'html' | 'slow'; status?: number; answer?: NotificationAnswer } = {}) {
  const received: Array<{ query: URLSearchParams; body: string }> = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const body = Buffer.concat(chunks).toString('utf8');
    received.push({ query: url.searchParams, body });
    const token = url.searchParams.get('validationToken');
    if (token !== null) {
      if (behaviour.echo === 'slow') await new Promise((resolve) => setTimeout(resolve, 400));
      if (behaviour.echo === 'html') return void res.writeHead(200, { 'content-type': 'text/html' }).end(token);
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(behaviour.echo === 'wrong' ? 'nope' : token);
    }
    const answer = behaviour.answer?.(body, received.filter((r) => r.body === body).length) ?? behaviour.status ?? 202;
    if (typeof answer === 'number') return void res.writeHead(answer).end();
    setTimeout(() => res.writeHead(202).end(), answer.lateMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const inMinutes = (emulator: GraphEmulator, minutes: number) => new Date(emulator.now() + minutes * 60_000).toISOString();

/** A /users subscription delivering both change and lifecycle notifications to `url`. */
async function subscribeToUsers(emulator: GraphEmulator, url: string): Promise<{ id: string }> {
  const created = await call(emulator, await token(emulator), '/v1.0/subscriptions', {
    method: 'POST',
    body: JSON.stringify({ changeType: 'updated', notificationUrl: url, lifecycleNotificationUrl: url, resource: '/users', expirationDateTime: inMinutes(emulator, 120), clientState: 'retry-state' }),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body as { id: string };
}

/** The notification bodies a receiver got (not the validation handshakes), in order. */
const notificationBodies = (hook: { received: Array<{ query: URLSearchParams; body: string }> }) => hook.received.filter((r) => !r.query.has('validationToken')).map((r) => r.body);

describe('token endpoint', () => {
  test('client credentials: a Bearer token of 60–90 minutes; a wrong secret is 401 invalid_client; other mistakes are named', async () => {
    const emulator = await start();
    const good = await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: emulator.app.clientSecret, scope: SCOPE });
    assert.equal(good.body.token_type, 'Bearer');
    assert.ok(good.body.expires_in >= 3600 && good.body.expires_in <= 5400, String(good.body.expires_in));
    const byDomain = await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: emulator.app.clientSecret, scope: SCOPE }, `${emulator.url}/${emulator.tenant.domain}/oauth2/v2.0/token`);
    assert.equal(byDomain.status, 200);

    const wrong = await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: 'guess', scope: SCOPE });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    assert.match(wrong.body.error_description, /^AADSTS7000215/);
    const scope = await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: emulator.app.clientSecret, scope: 'User.Read.All' });
    assert.equal(scope.body.error, 'invalid_scope');
    const tenant = await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: emulator.app.clientSecret, scope: SCOPE }, `${emulator.url}/not-a-tenant/oauth2/v2.0/token`);
    assert.equal(tenant.body.error, 'invalid_tenant');
    const unknown = await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: 'someone-else', client_secret: 'x', scope: SCOPE });
    assert.equal(unknown.body.error, 'unauthorized_client');

    // A rotated secret refuses the old one; tokens already issued live until they expire.
    const bearer = good.body.access_token as string;
    emulator.control.rotateClientSecret();
    assert.equal((await tokenRequest(emulator, { grant_type: 'client_credentials', client_id: emulator.app.clientId, client_secret: emulator.app.clientSecret, scope: SCOPE })).status, 401);
    assert.equal((await call(emulator, bearer, '/v1.0/users')).status, 200);
    emulator.control.advanceTime(5401 * 1000);
    const expired = await call(emulator, bearer, '/v1.0/users');
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.code, 'InvalidAuthenticationToken');
    assert.equal((await call(emulator, undefined, '/v1.0/users')).body.error.message, 'Access token is empty.');
  });
});

describe('users, groups and members', () => {
  test('the default property set unless $select; $top up to 999; next links with $skiptoken; no $skip', async () => {
    const emulator = await start({ users: 1200 });
    const bearer = await token(emulator);
    const first = await call(emulator, bearer, '/v1.0/users');
    assert.equal(first.body.value.length, 100, '$top defaults to 100');
    assert.deepEqual(Object.keys(first.body.value[0]).sort(), ['businessPhones', 'displayName', 'givenName', 'id', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName']);
    assert.match(first.body['@odata.nextLink'], /\/v1\.0\/users\?\$skiptoken=/);
    const all = await walk(emulator, bearer, '/v1.0/users?$top=999&$select=id,accountEnabled,department,employeeId');
    assert.equal(all.pages, 2);
    assert.equal(new Set(all.items.map((u) => u.id)).size, 1200);
    assert.deepEqual(Object.keys(all.items[0]).sort(), ['accountEnabled', 'department', 'employeeId', 'id']);
    assert.equal((await call(emulator, bearer, '/v1.0/users?$top=1000')).status, 400);
    assert.equal((await call(emulator, bearer, '/v1.0/users?$skip=10')).status, 400);
    assert.equal((await call(emulator, bearer, '/v1.0/users?$select=shoeSize')).body.error.code, 'Request_BadRequest');
    assert.equal((await call(emulator, bearer, '/v1.0/users?$skiptoken=forged')).status, 400);

    // A page boundary survives a deletion and an insertion: nobody repeated, nobody skipped.
    const page = await call(emulator, bearer, '/v1.0/users?$top=500&$select=id');
    const seen: string[] = page.body.value.map((u: any) => u.id);
    emulator.control.deleteUser(emulator.tenant.userIds()[900]!);
    emulator.control.createUser({ userPrincipalName: `newcomer@${emulator.tenant.domain}` });
    seen.push(...(await walk(emulator, bearer, page.body['@odata.nextLink'])).items.map((u) => u.id));
    assert.equal(new Set(seen).size, seen.length);
  });

  test('$expand=manager, the manager navigation, and 404 for deleted users (soft and permanent)', async () => {
    const emulator = await start();
    const bearer = await token(emulator);
    const report = emulator.tenant.userIds().find((id) => emulator.tenant.managerOf(id))!;
    const boss = emulator.tenant.managerOf(report)!;
    const one = await call(emulator, bearer, `/v1.0/users/${report}?$select=id,displayName&$expand=manager($select=id)`);
    assert.deepEqual(one.body.manager, { '@odata.type': '#microsoft.graph.user', id: boss.id });
    assert.equal((await call(emulator, bearer, `/v1.0/users/${report}/manager`)).body.id, boss.id);
    const listed = await walk(emulator, bearer, '/v1.0/users?$select=id&$expand=manager');
    const root = listed.items.find((u) => !emulator.tenant.managerOf(u.id));
    assert.equal('manager' in root, false, 'no manager: no manager property');
    const byUpn = await call(emulator, bearer, `/v1.0/users/${encodeURIComponent(boss.userPrincipalName)}`);
    assert.equal(byUpn.body.id, boss.id);

    emulator.control.deleteUser(report);
    const gone = await call(emulator, bearer, `/v1.0/users/${report}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'Request_ResourceNotFound');
    emulator.control.restoreUser(report);
    assert.equal((await call(emulator, bearer, `/v1.0/users/${report}`)).status, 200);
    emulator.control.deleteUser(report, true);
    assert.equal((await call(emulator, bearer, `/v1.0/users/${report}`)).status, 404);
  });

  test('members are directoryObjects typed user or group (nested groups included); transitiveMembers flattens', async () => {
    const emulator = await start({ users: 40, groups: 12 });
    const bearer = await token(emulator);
    const groups = await walk(emulator, bearer, '/v1.0/groups');
    assert.equal(groups.items.length, 12);
    assert.deepEqual(Object.keys(groups.items[0]).sort(), ['description', 'displayName', 'groupTypes', 'id', 'mail', 'mailEnabled', 'mailNickname', 'membershipRule', 'onPremisesSyncEnabled', 'securityEnabled']);
    const parent = emulator.tenant.groupIds().find((id) => emulator.tenant.membersOf(id).some((m) => m.type === 'group'))!;
    const members = await walk(emulator, bearer, `/v1.0/groups/${parent}/members?$select=id`);
    const types = new Set(members.items.map((m) => m['@odata.type']));
    assert.ok(types.has('#microsoft.graph.user') && types.has('#microsoft.graph.group'), [...types].join());
    const child = members.items.find((m) => m['@odata.type'] === '#microsoft.graph.group')!.id;
    const transitive = await walk(emulator, bearer, `/v1.0/groups/${parent}/transitiveMembers?$select=id`);
    for (const inner of emulator.tenant.membersOf(child)) assert.ok(transitive.items.some((m) => m.id === inner.id));
    const stats = emulator.control.stats();
    assert.ok(stats.resourceUnits > 0);
  });

  test('a page with nothing live after it has no next link; member listings follow every change, between pages too', async () => {
    const emulator = await start({ users: 30, groups: 4 });
    const bearer = await token(emulator);
    // Only deleted users after the 20th live one: its page is the last.
    const ids = emulator.tenant.userIds();
    for (const id of ids.slice(20)) emulator.control.deleteUser(id);
    const last = await call(emulator, bearer, '/v1.0/users?$top=20&$select=id');
    assert.deepEqual(last.body.value.map((u: any) => u.id), ids.slice(0, 20));
    assert.equal(last.body['@odata.nextLink'], undefined);

    const group = emulator.tenant.groupIds().find((id) => emulator.tenant.membersOf(id).filter((m) => m.type === 'user').length >= 3)!;
    const live = () => emulator.tenant.membersOf(group).filter((m) => (m.type === 'user' ? emulator.tenant.findUser(m.id) : emulator.tenant.findGroup(m.id))).map((m) => m.id).sort();
    const first = await call(emulator, bearer, `/v1.0/groups/${group}/members?$select=id&$top=1`);
    assert.deepEqual(first.body.value.map((m: any) => m.id), live().slice(0, 1));
    // Between the pages of one listing: a member leaves, a newcomer joins; the rest of the listing says so.
    const leaving = live()[live().length - 1]!;
    emulator.control.removeMember(group, leaving);
    const newcomer = emulator.control.createUser({ userPrincipalName: `zz-newcomer@${emulator.tenant.domain}` });
    emulator.control.addMember(group, newcomer.id);
    const rest = await walk(emulator, bearer, first.body['@odata.nextLink']);
    const firstId = first.body.value[0].id as string;
    // The listing resumes after the first page's last id, so only members after it can still come.
    assert.deepEqual(rest.items.map((m: any) => m.id), live().filter((id) => id > firstId));
    assert.equal(rest.items.some((m: any) => m.id === leaving), false, 'the member who left is not listed after leaving');
    assert.equal(rest.items.some((m: any) => m.id === newcomer.id), newcomer.id > firstId, 'the newcomer is listed where it sorts');
    // A member deleted from the directory drops out of the group's listing.
    const deleted = live().find((id) => id !== newcomer.id && emulator.tenant.findUser(id))!;
    emulator.control.deleteUser(deleted);
    const again = await walk(emulator, bearer, `/v1.0/groups/${group}/members?$select=id`);
    assert.equal(again.items.some((m: any) => m.id === deleted), false);
  });
});

describe('delta queries', () => {
  test('an initial round pages to a deltaLink; members@delta of one group spread over pages; the next round has only changes', async () => {
    const emulator = await start({ users: 40, groups: 3, delta: { pageSize: 2, membersPerChunk: 3 } });
    const bearer = await token(emulator);
    const users = await walk(emulator, bearer, '/v1.0/users/delta?$select=id,displayName,accountEnabled,manager');
    assert.equal(users.items.length, 40);
    assert.ok(users.pages >= 20 && users.deltaLink?.includes('$deltatoken='));
    assert.ok(users.items.some((u) => Array.isArray(u['manager@delta'])), 'a selected manager is tracked');

    const groups = await walk(emulator, bearer, '/v1.0/groups/delta');
    const big = emulator.tenant.groupIds().reduce((a, b) => (emulator.tenant.membersOf(a).length >= emulator.tenant.membersOf(b).length ? a : b));
    const chunks = groups.items.filter((g) => g.id === big);
    assert.ok(chunks.length > 1, 'the group comes in several items');
    assert.equal(chunks.filter((g) => 'displayName' in g).length, 1, 'its properties on one of them');
    assert.equal(chunks.flatMap((g) => g['members@delta']).length, emulator.tenant.membersOf(big).length);

    const [changed, binned, purged] = emulator.tenant.userIds().slice(3, 6);
    emulator.control.updateUser(changed!, { department: 'Changed' });
    emulator.control.deleteUser(binned!);
    emulator.control.deleteUser(purged!, true);
    const next = await walk(emulator, bearer, users.deltaLink!);
    assert.deepEqual(next.items.find((u) => u.id === changed)!.displayName, emulator.tenant.findUser(changed!)!.displayName);
    assert.deepEqual(next.items.find((u) => u.id === binned)!['@removed'], { reason: 'changed' });
    assert.deepEqual(next.items.find((u) => u.id === purged)!['@removed'], { reason: 'deleted' });
    assert.equal(next.items.length, 3);
    emulator.control.restoreUser(binned!);
    const restored = await walk(emulator, bearer, next.deltaLink!);
    assert.equal(restored.items.length, 1);
    assert.equal('@removed' in restored.items[0], false, 'a restored object comes back without annotation');

    const member = emulator.tenant.membersOf(big).find((m) => m.type === 'user')!;
    emulator.control.removeMember(big, member.id);
    const groupRound = await walk(emulator, bearer, groups.deltaLink!);
    assert.deepEqual(groupRound.items[0]['members@delta'], [{ '@odata.type': '#microsoft.graph.user', id: member.id, '@removed': { reason: 'deleted' } }]);
  });

  test('$deltatoken=latest answers just a deltaLink; duplicates and replays on demand; unsupported options refused', async () => {
    const emulator = await start();
    const bearer = await token(emulator);
    const latest = await call(emulator, bearer, '/v1.0/users/delta?$select=id,jobTitle&$deltatoken=latest');
    assert.deepEqual(latest.body.value, []);
    const target = emulator.tenant.userIds()[2]!;
    emulator.control.updateUser(target, { jobTitle: 'Once' });
    emulator.control.setDeltaSwitches({ duplicate: { count: 1 }, replay: { count: 1 } });
    const round = await walk(emulator, bearer, latest.body['@odata.deltaLink']);
    assert.deepEqual(round.items, [{ id: target, jobTitle: 'Once' }, { id: target, jobTitle: 'Once' }], '$select is baked into the token; the item came twice');
    const replayed = await walk(emulator, bearer, round.deltaLink!);
    assert.deepEqual(replayed.items.map((u) => u.id), [target], 'the replayed round repeats what the last one said');
    assert.equal((await call(emulator, bearer, '/v1.0/users/delta?$top=5')).body.error.code, 'Request_UnsupportedQuery');
    assert.equal((await call(emulator, bearer, '/v1.0/users/delta?$expand=manager')).status, 400);
    const filtered = await walk(emulator, bearer, `/v1.0/users/delta?$filter=id eq '${target}'`);
    assert.deepEqual(filtered.items.map((u) => u.id), [target]);
  });

  test('expired tokens: 410 Gone with Location, or syncStateNotFound; tokens also expire after 7 days', async () => {
    const emulator = await start();
    const bearer = await token(emulator);
    const link = (await walk(emulator, bearer, '/v1.0/groups/delta?$select=id,displayName')).deltaLink!;
    emulator.control.expireDeltaTokens('gone');
    const gone = await call(emulator, bearer, link);
    assert.equal(gone.status, 410);
    assert.equal(gone.headers.get('location'), `${emulator.url}/v1.0/groups/delta?$select=id%2CdisplayName`);
    const fresh = (await walk(emulator, bearer, '/v1.0/groups/delta')).deltaLink!;
    emulator.control.expireDeltaTokens('syncStateNotFound');
    const notFound = await call(emulator, bearer, fresh);
    assert.equal(notFound.status, 400);
    assert.equal(notFound.body.error.code, 'syncStateNotFound');
    const week = (await walk(emulator, bearer, '/v1.0/users/delta')).deltaLink!;
    emulator.control.setAccessTokenTtl(30 * 24 * 3600);
    const longLived = await token(emulator);
    emulator.control.advanceTime(7 * 24 * 3600 * 1000 + 1000);
    assert.equal((await call(emulator, longLived, week)).body.error.code, 'syncStateNotFound');
  });
});

describe('subscriptions and notifications', () => {
  test('created only after both URLs echo the validation token as text/plain; limits on clientState and expiry', async () => {
    const emulator = await start({ validationTimeoutMs: 200 });
    const bearer = await token(emulator);
    const good = await receiver();
    const body = (url: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ changeType: 'updated', notificationUrl: url, lifecycleNotificationUrl: url, resource: '/users', expirationDateTime: inMinutes(emulator, 60), clientState: 'secret-state', ...extra });
    const created = await call(emulator, bearer, '/v1.0/subscriptions', { method: 'POST', body: body(good.url) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.clientState, 'secret-state');
    assert.equal(good.received.filter((r) => r.query.has('validationToken')).length, 2, 'both URLs validated');
    assert.equal(emulator.control.handshakes().every((h) => h.ok), true);

    for (const echo of ['wrong', 'html', 'slow'] as const) {
      const bad = await receiver({ echo });
      const refused = await call(emulator, bearer, '/v1.0/subscriptions', { method: 'POST', body: body(bad.url) });
      assert.equal(refused.status, 400, echo);
      assert.equal(refused.body.error.code, 'ValidationError');
    }
    assert.equal((await call(emulator, bearer, '/v1.0/subscriptions', { method: 'POST', body: body(good.url, { clientState: 'x'.repeat(129) }) })).status, 400);
    const tooLong = await call(emulator, bearer, '/v1.0/subscriptions', { method: 'POST', body: body(good.url, { expirationDateTime: inMinutes(emulator, 41_761) }) });
    assert.match(tooLong.body.error.message, /41760 minutes/);

    const renewed = await call(emulator, bearer, `/v1.0/subscriptions/${created.body.id}`, { method: 'PATCH', body: JSON.stringify({ expirationDateTime: inMinutes(emulator, 41_000) }) });
    assert.equal(renewed.status, 200);
    assert.equal(Date.parse(renewed.body.expirationDateTime) > Date.parse(created.body.expirationDateTime), true);
    assert.equal((await call(emulator, bearer, `/v1.0/subscriptions/${created.body.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await call(emulator, bearer, `/v1.0/subscriptions/${created.body.id}`, { method: 'DELETE' })).status, 404);
  });

  test('changes are POSTed with clientState and resourceData; drop, duplicate and reorder on demand; lifecycle events', async () => {
    const emulator = await start();
    const bearer = await token(emulator);
    const hook = await receiver();
    const subscribe = (resource: string) =>
      call(emulator, bearer, '/v1.0/subscriptions', {
        method: 'POST',
        body: JSON.stringify({ changeType: 'updated,deleted', notificationUrl: hook.url, lifecycleNotificationUrl: hook.url, resource, expirationDateTime: inMinutes(emulator, 120), clientState: 'state-1' }),
      });
    const users = (await subscribe('/users')).body;
    await subscribe('/groups');
    const notes = () => hook.received.filter((r) => r.body !== '').map((r) => JSON.parse(r.body).value[0]);

    const [a, b, c] = emulator.tenant.userIds();
    emulator.control.updateUser(a!, { department: 'N1' });
    await emulator.control.notificationsIdle();
    const first = notes()[0];
    assert.equal(first.subscriptionId, users.id);
    assert.equal(first.clientState, 'state-1');
    assert.equal(first.changeType, 'updated');
    assert.deepEqual(first.resourceData, { '@odata.type': '#Microsoft.Graph.User', '@odata.id': `Users/${a}`, id: a, organizationId: emulator.tenant.tenantId });

    emulator.control.setNotificationSwitches({ drop: { count: 1 } });
    emulator.control.updateUser(b!, { department: 'dropped' });
    emulator.control.setNotificationSwitches({ duplicate: { count: 1 }, reorder: { count: 1 } });
    emulator.control.updateUser(b!, { department: 'held' });
    emulator.control.updateUser(c!, { department: 'twice' });
    emulator.control.deleteUser(a!);
    await emulator.control.notificationsIdle();
    assert.deepEqual(notes().slice(1).map((n) => `${n.resourceData.id === b ? 'b' : n.resourceData.id === c ? 'c' : 'a'}:${n.changeType}`), ['c:updated', 'c:updated', 'b:updated', 'a:deleted']);

    const group = emulator.tenant.groupIds()[0]!;
    emulator.control.addMember(group, emulator.tenant.userIds().find((id) => emulator.tenant.findUser(id) && !emulator.tenant.membersOf(group).some((m) => m.id === id))!);
    await emulator.control.notificationsIdle();
    assert.equal(notes().at(-1).resourceData['@odata.type'], '#Microsoft.Graph.Group');

    emulator.control.lifecycle(users.id, 'reauthorizationRequired');
    await emulator.control.notificationsIdle();
    assert.equal(notes().at(-1).lifecycleEvent, 'reauthorizationRequired');
    assert.equal(emulator.control.awaitsReauthorization(users.id), true);
    assert.equal((await call(emulator, bearer, `/v1.0/subscriptions/${users.id}/reauthorize`, { method: 'POST' })).status, 204);
    assert.equal(emulator.control.awaitsReauthorization(users.id), false);
    emulator.control.lifecycle(users.id, 'subscriptionRemoved');
    await emulator.control.notificationsIdle();
    assert.equal(notes().at(-1).lifecycleEvent, 'subscriptionRemoved');
    assert.equal(emulator.control.subscriptions().some((s) => s.id === users.id), false, 'a removed subscription is gone');
  });
});

describe('notification retries', () => {
  test("Graph's rules by default: a 3 s acknowledgement window, retries for 4 hours", async () => {
    const emulator = await start();
    const settings = emulator.control.configureNotificationDelivery({});
    assert.equal(settings.ackTimeoutMs, 3_000);
    assert.equal(settings.retryWindowMs, 4 * 3600_000);
    assert.ok(settings.firstRetryDelayMs > 0 && settings.firstRetryDelayMs <= settings.maxRetryDelayMs);
  });

  test('reset brings delivery back to the settings the emulator started with', async () => {
    const emulator = await start({ notificationDelivery: { firstRetryDelayMs: 50 } });
    emulator.control.configureNotificationDelivery({ ackTimeoutMs: 150, firstRetryDelayMs: 30 });
    assert.equal((await call(emulator, undefined, '/_emulator/reset', { method: 'POST' })).status, 200);
    const settings = emulator.control.configureNotificationDelivery({});
    assert.equal(settings.ackTimeoutMs, 3_000, "Graph's window again");
    assert.equal(settings.firstRetryDelayMs, 50, 'the setting given at start stays');
  });

  test('a notification answered 503 is retried: the receiver gets the same body again, and both attempts are recorded', async () => {
    const emulator = await start({ notificationDelivery: { firstRetryDelayMs: 50 } });
    const hook = await receiver({ answer: (_body, times) => (times === 1 ? 503 : 202) });
    const subscription = await subscribeToUsers(emulator, hook.url);
    const user = emulator.tenant.userIds()[0]!;
    emulator.control.updateUser(user, { department: 'Retried' });
    await emulator.control.notificationsIdle();
    assert.equal(notificationBodies(hook).length, 1, 'idle() has the first attempt made, not the retry waiting for its backoff');
    await emulator.control.notificationsSettled();
    const [first, second] = notificationBodies(hook);
    assert.equal(notificationBodies(hook).length, 2);
    assert.equal(second, first, 'the retry is the same notification');
    assert.equal(JSON.parse(first!).value[0].resourceData.id, user);
    const failures = emulator.control.notificationFailures().map((f) => ({ attempt: f.delivery.attempt, status: f.delivery.status, error: f.error, retryInMs: f.retryInMs, gaveUp: f.gaveUp }));
    assert.deepEqual(failures, [{ attempt: 1, status: 503, error: 'answered 503', retryInMs: 50, gaveUp: false }]);
    assert.deepEqual(emulator.control.deliveredNotifications().map((d) => [d.kind, d.attempt, d.status]), [['change', 1, 503], ['change', 2, 202]]);

    // Lifecycle notifications are retried the same way.
    emulator.control.lifecycle(subscription.id, 'missed');
    await emulator.control.notificationsSettled();
    const lifecycle = notificationBodies(hook).filter((body) => JSON.parse(body).value[0].lifecycleEvent === 'missed');
    assert.equal(lifecycle.length, 2);
    assert.deepEqual(emulator.control.deliveredNotifications().filter((d) => d.kind === 'lifecycle').map((d) => [d.attempt, d.status]), [[1, 503], [2, 202]]);
  });

  test('a receiver that does not answer within the acknowledgement window has failed that attempt, and is retried', async () => {
    const emulator = await start();
    emulator.control.configureNotificationDelivery({ ackTimeoutMs: 150, firstRetryDelayMs: 30 });
    const hook = await receiver({ answer: (_body, times) => (times === 1 ? { lateMs: 600 } : 202) });
    await subscribeToUsers(emulator, hook.url);
    emulator.control.updateUser(emulator.tenant.userIds()[1]!, { department: 'Slow' });
    await emulator.control.notificationsSettled();
    assert.equal(notificationBodies(hook).length, 2);
    const [failure, ...others] = emulator.control.notificationFailures();
    assert.deepEqual(others, []);
    assert.equal(failure!.error, 'no answer within 150 ms');
    assert.equal(failure!.delivery.attempt, 1);
    assert.equal(failure!.delivery.status, undefined, 'the late 202 does not count');
    assert.ok(failure!.delivery.ms! >= 140 && failure!.delivery.ms! < 600, String(failure!.delivery.ms));
    assert.deepEqual(emulator.control.deliveredNotifications().map((d) => [d.attempt, d.status]), [[2, 202]]);
  });

  test('a receiver that always fails is given up once the retry window has passed; other notifications are delivered meanwhile and after', async () => {
    const emulator = await start();
    const put = (body: object) => call(emulator, undefined, '/_emulator/notifications/delivery', { method: 'PUT', body: JSON.stringify(body) });
    assert.equal((await put({ firstRetryDelayMs: 0 })).status, 400, 'a zero backoff would retry in a tight loop');
    assert.equal((await put({ retryWindow: 300 })).status, 400, 'an unknown setting is refused');
    const configured = await put({ firstRetryDelayMs: 20, maxRetryDelayMs: 40, retryWindowMs: 600 });
    assert.equal(configured.status, 200);
    assert.equal(configured.body.retryWindowMs, 600);

    const [doomed, meanwhile, later] = emulator.tenant.userIds();
    const hook = await receiver({ answer: (body) => (body.includes(doomed!) ? 500 : 202) });
    await subscribeToUsers(emulator, hook.url);
    const acknowledged = (user: string) => emulator.control.deliveredNotifications().some((d) => d.status === 202 && d.body.includes(user));
    emulator.control.updateUser(doomed!, { department: 'Never' });
    await emulator.control.notificationsIdle();
    emulator.control.updateUser(meanwhile!, { department: 'Meanwhile' });
    await emulator.control.notificationsIdle();
    assert.ok(acknowledged(meanwhile!), 'delivered while the failing one waits for its retry');
    assert.equal(emulator.control.notificationFailures().some((f) => f.gaveUp), false, 'not given up yet');

    await emulator.control.notificationsSettled();
    const failures = emulator.control.notificationFailures().filter((f) => f.delivery.body.includes(doomed!));
    assert.ok(failures.length >= 4, `retried until the window passed (${failures.length} attempts)`);
    assert.deepEqual(failures.map((f) => f.delivery.attempt), failures.map((_f, i) => i + 1));
    assert.deepEqual(failures.map((f) => f.gaveUp), failures.map((_f, i) => i === failures.length - 1), 'the last attempt is the one given up');
    assert.deepEqual(failures.slice(0, -1).map((f) => f.retryInMs), [20, ...failures.slice(2).map(() => 40)], 'the backoff doubles, up to its cap');
    assert.equal(failures.at(-1)!.retryInMs, undefined);
    const answered = emulator.control.deliveredNotifications().map((d) => (d.body.includes(doomed!) ? 'doomed' : d.body.includes(meanwhile!) ? 'meanwhile' : 'other'));
    assert.ok(answered.indexOf('meanwhile') < answered.lastIndexOf('doomed'), `the retries did not hold the other notification back (${answered.join(', ')})`);
    const posts = notificationBodies(hook).filter((body) => body.includes(doomed!)).length;
    assert.equal(posts, failures.length);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(notificationBodies(hook).filter((body) => body.includes(doomed!)).length, posts, 'nothing is sent once given up');

    emulator.control.updateUser(later!, { department: 'Later' });
    await emulator.control.notificationsSettled();
    assert.ok(acknowledged(later!), 'a later notification is delivered');
    const overHttp = await call(emulator, undefined, '/_emulator/notifications/failures');
    assert.equal((overHttp.body as unknown as unknown[]).length, failures.length);
  });

  test('the retry window runs on the emulator clock: past 4 hours, the next failed attempt is the last', async () => {
    const emulator = await start({ notificationDelivery: { firstRetryDelayMs: 30 } });
    const hook = await receiver({ status: 503 });
    await subscribeToUsers(emulator, hook.url);
    emulator.control.updateUser(emulator.tenant.userIds()[2]!, { department: 'Hours later' });
    await emulator.control.notificationsIdle();
    emulator.control.advanceTime(4 * 3600_000);
    await emulator.control.notificationsSettled();
    assert.deepEqual(emulator.control.notificationFailures().map((f) => [f.delivery.attempt, f.gaveUp]), [[1, false], [2, true]]);
  });
});

describe('throttling and faults', () => {
  test('a spent resource-unit bucket answers 429 TooManyRequests with Retry-After and the throttle scope; usage headers on success', async () => {
    const emulator = await start();
    const bearer = await token(emulator);
    const ok = await call(emulator, bearer, '/v1.0/users?$select=id');
    assert.equal(ok.headers.get('x-ms-resource-unit'), '1', 'a user read with $select costs 1 RU');
    assert.equal((await call(emulator, bearer, '/v1.0/users')).headers.get('x-ms-resource-unit'), '2');
    emulator.control.setThrottle({ capacity: 5, windowMs: 10_000 });
    const answers: Answer[] = [];
    for (const path of ['/v1.0/users', '/v1.0/users', '/v1.0/users?$select=id', '/v1.0/users']) answers.push(await call(emulator, bearer, path));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429]);
    assert.equal(answers[1]!.headers.get('x-ms-throttle-limit-percentage'), null, 'not above 80 %');
    assert.equal(answers[2]!.headers.get('x-ms-throttle-limit-percentage'), '1.0');
    const throttled = answers[3]!;
    assert.equal(throttled.body.error.code, 'TooManyRequests');
    assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
    assert.match(throttled.headers.get('x-ms-throttle-scope') ?? '', /^Tenant_Application\//);
    emulator.control.setThrottle(undefined);
    assert.equal((await call(emulator, bearer, '/v1.0/users')).status, 200);
  });

  test('server errors, truncated bodies and hung requests on demand', async () => {
    const emulator = await start();
    const bearer = await token(emulator);
    emulator.control.injectFault({ kind: 'server-error', count: 1 });
    const failed = await call(emulator, bearer, '/v1.0/users');
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error.code, 'serviceNotAvailable');
    emulator.control.injectFault({ kind: 'truncated', count: 1 });
    const res = await fetch(`${emulator.apiBaseUrl}/users`, { headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(res.status, 200);
    await assert.rejects(res.json());
    emulator.control.injectFault({ kind: 'timeout', count: 1 });
    await assert.rejects(fetch(`${emulator.apiBaseUrl}/users`, { headers: { authorization: `Bearer ${bearer}` }, signal: AbortSignal.timeout(200) }));
    assert.deepEqual(emulator.control.stats().faults, { 'server-error': 1, timeout: 1, truncated: 1 });
  });
});

describe('roster emulate graph', () => {
  test('serves a generated tenant and prints its app registration', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const finished = runCli(['node', 'roster', 'emulate', 'graph', '--users', '25', '--groups', '3', '--port', '0'], { env: {}, stdout: (line) => lines.push(line), stderr: (line) => lines.push(line), signal: stop.signal });
    while (!lines.some((line) => line.includes('control API'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const text = lines.join('\n');
    const tokenUrl = /token URL:\s+(\S+)/.exec(text)![1]!;
    const [, clientId, clientSecret] = /app \(client\):\s+(\S+) \/ (\S+)/.exec(text)!;
    const apiRoot = /API root:\s+(\S+)/.exec(text)![1]!;
    const answer = await fetch(tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId!, client_secret: clientSecret!, scope: SCOPE }) });
    const { access_token: bearer } = (await answer.json()) as { access_token: string };
    const users = (await (await fetch(`${apiRoot}users?$top=999`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as { value: unknown[] };
    assert.equal(users.value.length, 25);
    stop.abort();
    assert.equal(await finished, 0);
  });
});
