/**
 * The Google Directory emulator must behave like the real API where connectors can tell the difference:
 * paging, absent keys, errors, OAuth grants, throttling, faults and push channels — checked over real HTTP,
 * and once through Google's own client library.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { admin, auth } from '@googleapis/admin';
import { generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { runCli } from '../src/cli/program.ts';
import { DIRECTORY_SCOPES, generateOrg, startGoogleEmulator, type GoogleEmulator, type GoogleEmulatorOptions } from '../src/emulators/google/index.ts';

/** google-auth-library types the method as an enum it does not re-export through @googleapis/admin. */
type ChallengeMethod = NonNullable<Parameters<InstanceType<typeof auth.OAuth2>['generateAuthUrl']>[0]>['code_challenge_method'];
const SCOPES = [DIRECTORY_SCOPES.user[1], DIRECTORY_SCOPES.group[1], DIRECTORY_SCOPES.member[1]].join(' ');
const running: GoogleEmulator[] = [];
after(async () => {
  for (const emulator of running) await emulator.close();
});

async function start(options: GoogleEmulatorOptions = {}): Promise<GoogleEmulator> {
  const emulator = await startGoogleEmulator({ users: 30, groups: 4, ...options });
  running.push(emulator);
  return emulator;
}

async function signAssertion(emulator: GoogleEmulator, claims: Record<string, unknown> = {}, lifetime = 3600): Promise<string> {
  const key = await importPKCS8(emulator.serviceAccountKey.private_key, 'RS256');
  const iat = Math.floor(emulator.now() / 1000);
  return new SignJWT({ scope: SCOPES, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: emulator.serviceAccountKey.private_key_id })
    .setIssuer(emulator.serviceAccountKey.client_email)
    .setSubject(`admin@${emulator.org.domain}`)
    .setAudience(typeof claims.aud === 'string' ? claims.aud : emulator.tokenUrl)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetime)
    .sign(key);
}

async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function serviceToken(emulator: GoogleEmulator): Promise<string> {
  const { status, body } = await postForm(emulator.tokenUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await signAssertion(emulator) });
  assert.equal(status, 200, JSON.stringify(body));
  return body.access_token as string;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(emulator: GoogleEmulator, token: string | undefined, path: string, init: RequestInit = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(`${emulator.url}${path}`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function reasonOf(answer: Answer): string | undefined {
  const error = answer.body.error as { code: number; errors: { domain: string; reason: string }[] } | undefined;
  assert.equal(error?.code, answer.status);
  assert.equal(error?.errors[0]?.domain, 'global');
  return error?.errors[0]?.reason;
}

type ListedUser = { id: string; primaryEmail: string; deletionTime?: string; customSchemas?: unknown; etag: string };

async function listAllUsers(emulator: GoogleEmulator, token: string, params: string): Promise<{ users: ListedUser[]; pages: number }> {
  const users: ListedUser[] = [];
  let pageToken: string | undefined;
  let pages = 0;
  do {
    const answer = await call(emulator, token, `/admin/directory/v1/users?${params}${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    pages += 1;
    users.push(...((answer.body.users as ListedUser[] | undefined) ?? []));
    pageToken = answer.body.nextPageToken as string | undefined;
  } while (pageToken);
  return { users, pages };
}

describe('users.list', () => {
  test('pages through thousands of users with maxResults and page tokens, in any order, stable under changes', async () => {
    const emulator = await start({ users: 3000, groups: 2 });
    const token = await serviceToken(emulator);
    const all = await listAllUsers(emulator, token, 'customer=my_customer&maxResults=500');
    assert.equal(all.pages, 6);
    assert.equal(new Set(all.users.map((user) => user.id)).size, 3000);
    const byDefault = await listAllUsers(emulator, token, 'customer=my_customer');
    assert.equal(byDefault.pages, 30, 'maxResults defaults to 100');

    const sorted = await listAllUsers(emulator, token, `domain=${emulator.org.domain}&maxResults=437&orderBy=email&sortOrder=DESCENDING`);
    const emails = sorted.users.map((user) => user.primaryEmail);
    assert.deepEqual(emails, [...emails].sort().reverse());

    // A change between pages neither repeats nor skips the users that were there all along.
    const first = await call(emulator, token, '/admin/directory/v1/users?customer=my_customer&maxResults=500');
    const seen = (first.body.users as ListedUser[]).map((user) => user.id);
    const later = emulator.org.userById(emulator.org.userIds()[1500]!)!;
    emulator.control.deleteUser(later.id);
    emulator.control.createUser({ primaryEmail: `newcomer@${emulator.org.domain}` });
    let pageToken = first.body.nextPageToken as string | undefined;
    while (pageToken) {
      const page = await call(emulator, token, `/admin/directory/v1/users?customer=my_customer&maxResults=500&pageToken=${encodeURIComponent(pageToken)}`);
      seen.push(...(page.body.users as ListedUser[]).map((user) => user.id));
      pageToken = page.body.nextPageToken as string | undefined;
    }
    assert.equal(new Set(seen).size, seen.length, 'no user twice');
    assert.equal(seen.length, 3000, '2999 survivors and the newcomer');
    assert.ok(!seen.includes(later.id));

    const garbage = await call(emulator, token, '/admin/directory/v1/users?customer=my_customer&pageToken=not-a-token');
    assert.equal(garbage.status, 400);
    assert.equal(reasonOf(garbage), 'invalid');
    const other = await call(emulator, token, `/admin/directory/v1/users?customer=my_customer&orderBy=email&pageToken=${encodeURIComponent(first.body.nextPageToken as string)}`);
    assert.equal(other.status, 400, 'a token belongs to the listing that issued it');
    emulator.control.advanceTime(3 * 24 * 3600 * 1000 + 1000);
    const fresh = await serviceToken(emulator);
    const expired = await call(emulator, fresh, `/admin/directory/v1/users?customer=my_customer&maxResults=500&pageToken=${encodeURIComponent(first.body.nextPageToken as string)}`);
    assert.equal(expired.status, 400, 'page tokens last three days');
  });

  test('an empty result has no users key at all', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const none = await call(emulator, token, '/admin/directory/v1/users?customer=my_customer&showDeleted=true');
    assert.equal(none.status, 200);
    assert.equal(none.body.kind, 'admin#directory#users');
    assert.equal(typeof none.body.etag, 'string');
    assert.ok(!('users' in none.body));
    assert.ok(!('nextPageToken' in none.body));
    const noMatch = await call(emulator, token, '/admin/directory/v1/users?customer=my_customer&query=email:nobody*');
    assert.ok(!('users' in noMatch.body));
  });

  test('deleted users appear only with showDeleted set to the string "true"', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const victim = emulator.org.userById(emulator.org.userIds()[3]!)!;
    const etag = victim.etag;
    emulator.control.deleteUser(victim.primaryEmail);
    assert.notEqual(victim.etag, etag);
    const live = await listAllUsers(emulator, token, 'customer=my_customer');
    assert.equal(live.users.length, 29);
    assert.ok(!live.users.some((user) => user.id === victim.id));
    for (const notTrue of ['1', 'TRUE', 'yes']) {
      const answer = await listAllUsers(emulator, token, `customer=my_customer&showDeleted=${notTrue}`);
      assert.ok(!answer.users.some((user) => user.id === victim.id), notTrue);
    }
    const deleted = await listAllUsers(emulator, token, 'customer=my_customer&showDeleted=true');
    assert.deepEqual(deleted.users.map((user) => user.id), [victim.id]);
    assert.match(deleted.users[0]!.deletionTime!, /^\d{4}-\d\d-\d\dT/);
    const get = await call(emulator, token, `/admin/directory/v1/users/${victim.id}`);
    assert.equal(get.status, 404);
    // Past the recovery window a deleted user is listed nowhere and cannot be restored.
    emulator.control.purgeUser(victim.id);
    assert.deepEqual((await listAllUsers(emulator, token, 'customer=my_customer&showDeleted=true')).users, []);
    assert.throws(() => emulator.control.undeleteUser(victim.id), /Resource Not Found/);
  });

  test('customer or domain is required and maxResults must be 1–500, answered in Google error shape', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const missing = await call(emulator, token, '/admin/directory/v1/users');
    assert.equal(missing.status, 400);
    assert.equal(reasonOf(missing), 'badRequest');
    for (const bad of ['0', '501', 'abc', '-1', '2.5']) {
      const answer = await call(emulator, token, `/admin/directory/v1/users?customer=my_customer&maxResults=${bad}`);
      assert.equal(answer.status, 400, bad);
      assert.equal(reasonOf(answer), 'invalid');
    }
    assert.equal((await call(emulator, token, '/admin/directory/v1/users?customer=my_customer&maxResults=500')).status, 200);
    assert.equal((await call(emulator, token, '/admin/directory/v1/groups?customer=my_customer&maxResults=201')).status, 400);
    assert.equal((await call(emulator, token, '/admin/directory/v1/groups/nope@example.com/members?maxResults=200')).status, 404);
    assert.equal((await call(emulator, token, '/admin/directory/v1/groups/sales@example.com/members?maxResults=201')).status, 400);
  });

  test('projections: basic hides custom schemas, full shows them, custom needs a mask; users.get by id or email', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const withSchema = emulator.org.userById(emulator.org.userIds()[10]!)!;
    assert.ok(withSchema.customSchemas);
    const get = (query: string) => call(emulator, token, `/admin/directory/v1/users/${encodeURIComponent(withSchema.primaryEmail)}${query}`);
    assert.equal((await get('')).body.customSchemas, undefined);
    assert.deepEqual((await get('?projection=full')).body.customSchemas, withSchema.customSchemas);
    assert.deepEqual((await get('?projection=custom&customFieldMask=Employment')).body.customSchemas, withSchema.customSchemas);
    assert.equal((await get('?projection=custom&customFieldMask=Other')).body.customSchemas, undefined);
    assert.equal((await get('?projection=custom')).status, 400);
    const byId = await call(emulator, token, `/admin/directory/v1/users/${withSchema.id}`);
    assert.equal(byId.body.primaryEmail, withSchema.primaryEmail);
    const manager = (byId.body.relations as { type: string; value: string }[])[0]!;
    assert.equal(manager.type, 'manager');
    assert.ok(emulator.org.findUser(manager.value), 'the manager is an email of a real user');
    assert.equal((byId.body.externalIds as { type: string }[])[0]!.type, 'organization');
    assert.equal((await call(emulator, token, '/admin/directory/v1/users/nobody@example.com')).status, 404);
  });
});

describe('groups and members', () => {
  test('directMembersCount is a string, nested groups are members of type GROUP, hasMember sees through nesting', async () => {
    const emulator = await start({ users: 40, groups: 14 });
    const token = await serviceToken(emulator);
    const outer = emulator.control.createGroup({ email: 'outer@example.com' });
    const inner = emulator.control.createGroup({ email: 'inner@example.com' });
    const person = emulator.org.userById(emulator.org.userIds()[5]!)!;
    emulator.control.addMember('outer@example.com', 'inner@example.com');
    emulator.control.addMember(inner.id, person.primaryEmail, 'OWNER');
    const groups = await call(emulator, token, '/admin/directory/v1/groups?customer=my_customer&maxResults=5');
    assert.equal((groups.body.groups as unknown[]).length, 5);
    assert.ok(groups.body.nextPageToken);
    const got = await call(emulator, token, `/admin/directory/v1/groups/${outer.id}`);
    assert.equal(got.body.directMembersCount, '1');
    const members = await call(emulator, token, `/admin/directory/v1/groups/${outer.id}/members`);
    assert.deepEqual(members.body.members, [{ ...(members.body.members as object[])[0], id: inner.id, email: 'inner@example.com', role: 'MEMBER', type: 'GROUP', status: 'ACTIVE' }]);
    const derived = await call(emulator, token, `/admin/directory/v1/groups/${outer.id}/members?includeDerivedMembership=true`);
    assert.deepEqual((derived.body.members as { id: string }[]).map((m) => m.id).sort(), [inner.id, person.id].sort());
    const owners = await call(emulator, token, `/admin/directory/v1/groups/${inner.id}/members?roles=OWNER`);
    assert.equal((owners.body.members as { role: string }[])[0]!.role, 'OWNER');
    const has = await call(emulator, token, `/admin/directory/v1/groups/${outer.id}/hasMember/${encodeURIComponent(person.primaryEmail)}`);
    assert.deepEqual(has.body, { isMember: true });
    emulator.control.removeMember(inner.id, person.id);
    assert.deepEqual((await call(emulator, token, `/admin/directory/v1/groups/${outer.id}/hasMember/${person.id}`)).body, { isMember: false });
    const empty = await call(emulator, token, `/admin/directory/v1/groups/${inner.id}/members`);
    assert.ok(!('members' in empty.body));
  });
});

describe('generator', () => {
  test('builds 100,000 users and 2,000 groups in seconds, deterministically, with managers and departments', () => {
    const started = Date.now();
    const org = generateOrg({ users: 100_000, groups: 2_000, seed: 42 });
    assert.ok(Date.now() - started < 8_000, `took ${Date.now() - started} ms`);
    assert.equal(org.userCount, 100_000);
    assert.equal(org.groupCount, 2_000);
    const again = generateOrg({ users: 200, groups: 20, seed: 42 });
    const user = org.userById(org.userIds()[150]!)!;
    assert.equal(again.userById(again.userIds()[150]!)!.primaryEmail, user.primaryEmail);
    assert.ok(org.findUser(user.relations![0]!.value));
    assert.ok(user.organizations![0]!.department);
    const nested = org.groupIds().some((id) => org.membersOf(id).some((member) => member.type === 'GROUP'));
    assert.ok(nested);
  });
});

describe('OAuth', () => {
  test('JWT-bearer: a correctly signed assertion gets a bearer token; wrong audience, lifetime, key or scope do not', async () => {
    const emulator = await start();
    const grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
    const good = await postForm(emulator.tokenUrl, { grant_type: grant, assertion: await signAssertion(emulator) });
    assert.equal(good.status, 200);
    assert.equal(good.body.token_type, 'Bearer');
    assert.equal(good.body.expires_in, 3599);
    assert.ok(!('refresh_token' in good.body));
    assert.equal((await call(emulator, good.body.access_token as string, '/admin/directory/v1/users?customer=my_customer')).status, 200);

    const badAudience = await postForm(emulator.tokenUrl, { grant_type: grant, assertion: await signAssertion(emulator, { aud: 'https://oauth2.googleapis.com/token' }) });
    assert.deepEqual([badAudience.status, badAudience.body.error], [400, 'invalid_grant']);
    const tooLong = await postForm(emulator.tokenUrl, { grant_type: grant, assertion: await signAssertion(emulator, {}, 3601) });
    assert.deepEqual([tooLong.status, tooLong.body.error], [400, 'invalid_grant']);
    const { privateKey } = await generateKeyPair('RS256');
    const iat = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scope: SCOPES }).setProtectedHeader({ alg: 'RS256' }).setIssuer(emulator.serviceAccountKey.client_email).setAudience(emulator.tokenUrl).setIssuedAt(iat).setExpirationTime(iat + 600).sign(privateKey);
    const wrongKey = await postForm(emulator.tokenUrl, { grant_type: grant, assertion: forged });
    assert.deepEqual([wrongKey.status, wrongKey.body.error], [400, 'invalid_grant']);
    const garbage = await postForm(emulator.tokenUrl, { grant_type: grant, assertion: 'x.y.z' });
    assert.deepEqual([garbage.status, garbage.body.error], [400, 'invalid_grant']);

    // A token with only the user scope may not read groups.
    const userOnly = await postForm(emulator.tokenUrl, { grant_type: grant, assertion: await signAssertion(emulator, { scope: DIRECTORY_SCOPES.user[1] }) });
    const groups = await call(emulator, userOnly.body.access_token as string, '/admin/directory/v1/groups?customer=my_customer');
    assert.equal(groups.status, 403);
    assert.equal(reasonOf(groups), 'insufficientPermissions');
  });

  test('authorization code with PKCE, offline refresh, and invalid_grant once the refresh token is revoked', async () => {
    const emulator = await start();
    const { clientId, clientSecret } = emulator.oauthClient;
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirectUri = 'http://127.0.0.1:9/callback';
    const authorize = async (offline: boolean) => {
      const query = new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: SCOPES, state: 'st-123', code_challenge: challenge, code_challenge_method: 'S256', ...(offline ? { access_type: 'offline' } : {}) });
      const res = await fetch(`${emulator.url}/o/oauth2/v2/auth?${query}`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      const location = new URL(res.headers.get('location')!);
      assert.equal(`${location.origin}${location.pathname}`, redirectUri);
      assert.equal(location.searchParams.get('state'), 'st-123');
      return location.searchParams.get('code')!;
    };
    const exchange = (code: string, codeVerifier: string) =>
      postForm(emulator.tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId, client_secret: clientSecret, code_verifier: codeVerifier });

    const wrongVerifier = await exchange(await authorize(true), 'not-the-verifier');
    assert.deepEqual([wrongVerifier.status, wrongVerifier.body.error], [400, 'invalid_grant']);
    const online = await exchange(await authorize(false), verifier);
    assert.equal(online.status, 200);
    assert.ok(!('refresh_token' in online.body), 'no refresh token without access_type=offline');

    const code = await authorize(true);
    const tokens = await exchange(code, verifier);
    assert.equal(tokens.status, 200);
    const refreshToken = tokens.body.refresh_token as string;
    assert.ok(refreshToken);
    assert.equal((await exchange(code, verifier)).body.error, 'invalid_grant', 'a code is single use');

    const refresh = () => postForm(emulator.tokenUrl, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: clientSecret });
    const refreshed = await refresh();
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.access_token, tokens.body.access_token);
    assert.equal((await call(emulator, refreshed.body.access_token as string, '/admin/directory/v1/users?customer=my_customer')).status, 200);

    const revoke = await call(emulator, undefined, '/_emulator/refresh-tokens/revoke', { method: 'POST', body: JSON.stringify({ refresh_token: refreshToken }) });
    assert.deepEqual(revoke.body, { revoked: true });
    const revoked = await refresh();
    assert.equal(revoked.status, 400);
    assert.deepEqual(revoked.body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
  });

  test('API calls without a token or with an expired one answer 401', async () => {
    const emulator = await start({ accessTokenTtlSeconds: 60 });
    const token = await serviceToken(emulator);
    const none = await call(emulator, undefined, '/admin/directory/v1/users?customer=my_customer');
    assert.equal(none.status, 401);
    assert.equal(reasonOf(none), 'authError');
    assert.equal((await call(emulator, 'ya29.made-up', '/admin/directory/v1/users?customer=my_customer')).status, 401);
    assert.equal((await call(emulator, token, '/admin/directory/v1/users?customer=my_customer')).status, 200);
    emulator.control.advanceTime(61_000);
    const expired = await call(emulator, token, '/admin/directory/v1/users?customer=my_customer');
    assert.equal(expired.status, 401);
    assert.equal(reasonOf(expired), 'authError');
  });
});

describe('throttling and faults', () => {
  test('N requests per minute per user, then 403 userRateLimitExceeded until the minute passes', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    emulator.control.setThrottle({ perMinute: 5 });
    const statuses: number[] = [];
    let refusal: Answer | undefined;
    for (let i = 0; i < 8; i += 1) {
      const answer = await call(emulator, token, '/admin/directory/v1/users?customer=my_customer');
      statuses.push(answer.status);
      if (answer.status === 403) refusal = answer;
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 403, 403, 403]);
    assert.equal(reasonOf(refusal!), 'userRateLimitExceeded');
    emulator.control.advanceTime(61_000);
    assert.equal((await call(emulator, await serviceToken(emulator), '/admin/directory/v1/users?customer=my_customer')).status, 200);
  });

  test('a fraction of requests answered 403 quotaExceeded', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    emulator.control.setThrottle({ fraction: 0.3, reason: 'quotaExceeded' });
    let refused = 0;
    for (let i = 0; i < 200; i += 1) {
      const answer = await call(emulator, token, '/admin/directory/v1/groups?customer=my_customer');
      if (answer.status === 403) {
        refused += 1;
        assert.equal(reasonOf(answer), 'quotaExceeded');
      } else assert.equal(answer.status, 200);
    }
    assert.ok(refused > 35 && refused < 85, `refused ${refused} of 200`);
    emulator.control.reset();
    assert.equal((await call(emulator, token, '/admin/directory/v1/groups?customer=my_customer')).status, 200);
  });

  test('faults: 5xx for the next N requests, a truncated page, a hang', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const path = '/admin/directory/v1/users?customer=my_customer';
    await call(emulator, undefined, '/_emulator/faults', { method: 'POST', body: JSON.stringify({ kind: 'server-error', count: 2 }) });
    const first = await call(emulator, token, path);
    assert.equal(first.status, 503);
    assert.equal(reasonOf(first), 'serviceUnavailable');
    assert.equal((await call(emulator, token, path)).status, 503);
    assert.equal((await call(emulator, token, path)).status, 200);

    emulator.control.injectFault({ kind: 'server-error', count: 1, status: 500 });
    assert.equal((await call(emulator, token, path)).status, 500);

    emulator.control.injectFault({ kind: 'truncated', count: 1 });
    const res = await fetch(`${emulator.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.startsWith('{"kind":"admin#directory#users"'));
    assert.throws(() => JSON.parse(text));
    assert.equal((await call(emulator, token, path)).status, 200);

    emulator.control.injectFault({ kind: 'timeout', count: 1 });
    await assert.rejects(fetch(`${emulator.url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(300) }), /timeout|abort/i);
    assert.equal((await call(emulator, token, path)).status, 200);
    assert.deepEqual(emulator.control.stats().faults, { 'server-error': 3, truncated: 1, timeout: 1 });
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function startReceiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

async function watch(emulator: GoogleEmulator, token: string, address: string, id: string, event?: string, ttl?: string): Promise<Answer> {
  return call(emulator, token, `/admin/directory/v1/users/watch?customer=my_customer${event ? `&event=${event}` : ''}`, {
    method: 'POST',
    body: JSON.stringify({ id, type: 'web_hook', address, token: `secret-${id}`, ...(ttl ? { params: { ttl } } : {}) }),
  });
}

const stateOf = (item: Received) => item.headers['x-goog-resource-state'];
const numberOf = (item: Received) => Number(item.headers['x-goog-message-number']);

describe('watch channels', () => {
  test('notifications reach the address: sync first, then changes, with Google headers; stop ends them', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const receiver = await startReceiver();
    const created = await watch(emulator, token, receiver.url, 'chan-1', undefined, String(10 * 24 * 3600));
    assert.equal(created.status, 200);
    const channel = created.body as { kind: string; id: string; resourceId: string; resourceUri: string; token: string; expiration: string };
    assert.equal(channel.kind, 'api#channel');
    assert.equal(channel.token, 'secret-chan-1');
    const ttlMs = Number(channel.expiration) - emulator.now();
    assert.ok(ttlMs <= 2 * 24 * 3600 * 1000 && ttlMs > 2 * 24 * 3600 * 1000 - 60_000, 'ttl is capped at two days');
    const defaulted = (await watch(emulator, token, receiver.url, 'chan-default')).body as { expiration: string };
    assert.ok(Math.abs(Number(defaulted.expiration) - emulator.now() - 2 * 3600 * 1000) < 60_000, 'ttl defaults to two hours');
    await call(emulator, token, '/admin/directory_v1/channels/stop', { method: 'POST', body: JSON.stringify({ id: 'chan-default', resourceId: (defaulted as { resourceId?: string }).resourceId }) });
    await emulator.control.notificationsIdle();
    receiver.received.length = 0;

    const target = emulator.org.userById(emulator.org.userIds()[2]!)!;
    const updatedEtag = emulator.control.updateUser(target.id, { name: { familyName: 'Renamed' } }).etag;
    emulator.control.touchLastLogin(target.id);
    const added = emulator.control.createUser({ primaryEmail: 'fresh@example.com' });
    emulator.control.deleteUser(added.id);
    await emulator.control.notificationsIdle();
    const mine = receiver.received.filter((item) => item.headers['x-goog-channel-id'] === 'chan-1');
    assert.deepEqual(mine.map(stateOf), ['update', 'add', 'delete'], 'a login alone sends nothing');
    assert.deepEqual(mine.map(numberOf), [2, 3, 4], 'message 1 was the sync');
    const first = mine[0]!;
    assert.equal(first.headers['x-goog-channel-token'], 'secret-chan-1');
    assert.equal(first.headers['x-goog-resource-id'], channel.resourceId);
    assert.equal(first.headers['x-goog-resource-uri'], channel.resourceUri);
    assert.ok(first.headers['x-goog-channel-expiration']);
    assert.deepEqual(JSON.parse(first.body), { kind: 'admin#directory#user', id: target.id, etag: updatedEtag, primaryEmail: target.primaryEmail });

    const wrongStop = await call(emulator, token, '/admin/directory_v1/channels/stop', { method: 'POST', body: JSON.stringify({ id: 'chan-1', resourceId: 'other' }) });
    assert.equal(wrongStop.status, 404);
    const stop = await fetch(`${emulator.url}/admin/directory_v1/channels/stop`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'chan-1', resourceId: channel.resourceId }) });
    assert.equal(stop.status, 204);
    emulator.control.updateUser(target.id, { suspended: true });
    await emulator.control.notificationsIdle();
    assert.equal(receiver.received.filter((item) => item.headers['x-goog-channel-id'] === 'chan-1').length, 3);
  });

  test('the sync message comes first, and event= filters what a channel hears', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const receiver = await startReceiver();
    await watch(emulator, token, receiver.url, 'updates-only', 'update');
    await emulator.control.notificationsIdle();
    assert.equal(receiver.received.length, 1);
    assert.equal(stateOf(receiver.received[0]!), 'sync');
    assert.equal(numberOf(receiver.received[0]!), 1);
    assert.equal(receiver.received[0]!.headers['x-goog-channel-token'], 'secret-updates-only');
    emulator.control.createUser({ primaryEmail: 'ignored@example.com' });
    emulator.control.suspendUser('ignored@example.com');
    await emulator.control.notificationsIdle();
    assert.deepEqual(receiver.received.map(stateOf), ['sync', 'update']);
    const body = JSON.parse(receiver.received[1]!.body) as { etag: string; primaryEmail: string };
    assert.equal(body.primaryEmail, 'ignored@example.com');
    assert.equal(body.etag, emulator.org.findUser('ignored@example.com')!.etag);

    // There is no renewal: once the TTL has passed the channel is silent.
    await watch(emulator, token, receiver.url, 'short-lived', undefined, '10');
    await emulator.control.notificationsIdle();
    emulator.control.advanceTime(11_000);
    receiver.received.length = 0;
    emulator.control.updateUser('ignored@example.com', { suspended: false });
    await emulator.control.notificationsIdle();
    assert.deepEqual(receiver.received.map((item) => item.headers['x-goog-channel-id']), ['updates-only']);
  });

  test('drop, duplicate and reorder switches', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const receiver = await startReceiver();
    await watch(emulator, token, receiver.url, 'chaos', 'update');
    await emulator.control.notificationsIdle();
    const key = emulator.org.userIds()[1]!;
    const burst = async (switches: object) => {
      await call(emulator, undefined, '/_emulator/notifications', { method: 'PUT', body: JSON.stringify(switches) });
      receiver.received.length = 0;
      for (let i = 0; i < 3; i += 1) emulator.control.updateUser(key, { orgUnitPath: `/burst-${i}` });
      await emulator.control.notificationsIdle();
      return receiver.received.map(numberOf);
    };
    assert.deepEqual(await burst({ drop: { count: 1 } }), [3, 4], 'message 2 is lost');
    assert.deepEqual(await burst({ duplicate: { count: 1 } }), [5, 5, 6, 7]);
    assert.deepEqual(await burst({ reorder: { count: 1 } }), [9, 8, 10]);
    assert.deepEqual(await burst({}), [11, 12, 13]);
  });
});

describe('official client', () => {
  test('@googleapis/admin lists every user, group and member the emulator holds', { timeout: 60_000 }, async () => {
    const emulator = await start({ users: 1200, groups: 15 });
    const accessToken = await serviceToken(emulator);
    const client = new auth.OAuth2();
    client.setCredentials({ access_token: accessToken });
    const directory = admin({ version: 'directory_v1', rootUrl: `${emulator.url}/`, auth: client });

    const ids: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const res = await directory.users.list({ customer: 'my_customer', maxResults: 500, projection: 'full', ...(pageToken ? { pageToken } : {}) });
      pages += 1;
      for (const user of res.data.users ?? []) {
        const held = emulator.org.userById(user.id!)!;
        assert.equal(user.primaryEmail, held.primaryEmail);
        assert.equal(user.etag, held.etag);
        assert.deepEqual(user.organizations, held.organizations);
        ids.push(user.id!);
      }
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken);
    assert.equal(pages, 3);
    assert.deepEqual(ids, [...emulator.org.userIds()]);

    const groups = await directory.groups.list({ customer: 'my_customer' });
    assert.deepEqual(groups.data.groups?.map((group) => group.id), [...emulator.org.groupIds()]);
    const sales = groups.data.groups!.find((group) => group.email === 'sales@example.com')!;
    assert.equal(typeof sales.directMembersCount, 'string');
    const memberIds: string[] = [];
    let memberPage: string | undefined;
    do {
      const res = await directory.members.list({ groupKey: sales.id!, maxResults: 50, ...(memberPage ? { pageToken: memberPage } : {}) });
      memberIds.push(...(res.data.members ?? []).map((member) => member.id!));
      memberPage = res.data.nextPageToken ?? undefined;
    } while (memberPage);
    assert.equal(String(memberIds.length), sales.directMembersCount);
    assert.deepEqual(memberIds.sort(), emulator.org.membersOf(sales.id!).map((member) => member.id).sort());
    const user = await directory.users.get({ userKey: ids[7]! });
    assert.equal(user.data.id, ids[7]);
  });
  test('@googleapis/admin with its own OAuth2 client: PKCE consent, silent refresh, invalid_grant after revocation', async () => {
    const emulator = await start();
    const redirectUri = 'http://127.0.0.1:9/callback';
    const client = new auth.OAuth2({
      clientId: emulator.oauthClient.clientId,
      clientSecret: emulator.oauthClient.clientSecret,
      redirectUri,
      endpoints: { oauth2TokenUrl: emulator.tokenUrl, oauth2AuthBaseUrl: `${emulator.url}/o/oauth2/v2/auth` },
    });
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    const consentUrl = client.generateAuthUrl({ access_type: 'offline', scope: SCOPES.split(' '), code_challenge: codeChallenge!, code_challenge_method: 'S256' as ChallengeMethod, state: 'xyz' });
    const redirect = await fetch(consentUrl, { redirect: 'manual' });
    const code = new URL(redirect.headers.get('location')!).searchParams.get('code')!;
    const { tokens } = await client.getToken({ code, codeVerifier });
    assert.ok(tokens.refresh_token);
    // Only the refresh token: the library must fetch an access token from the emulator by itself.
    client.setCredentials({ refresh_token: tokens.refresh_token });
    const directory = admin({ version: 'directory_v1', rootUrl: `${emulator.url}/`, auth: client });
    const res = await directory.users.list({ customer: 'my_customer', maxResults: 10 });
    assert.equal(res.data.users?.length, 10);
    emulator.control.revokeRefreshToken(tokens.refresh_token);
    client.setCredentials({ refresh_token: tokens.refresh_token });
    await assert.rejects(directory.users.list({ customer: 'my_customer' }), /invalid_grant|expired or revoked/);
  });
});

describe('control API and CLI', () => {
  test('the HTTP control API mutates the org and every change bumps the etag', async () => {
    const emulator = await start();
    const token = await serviceToken(emulator);
    const created = await call(emulator, undefined, '/_emulator/users', { method: 'POST', body: JSON.stringify({ primaryEmail: 'new.hire@example.com', name: { givenName: 'New', familyName: 'Hire' } }) });
    const id = created.body.id as string;
    const etags = [created.body.etag];
    const patched = await call(emulator, undefined, `/_emulator/users/${id}`, { method: 'PATCH', body: JSON.stringify({ organizations: [{ department: 'Legal', primary: true }] }) });
    etags.push(patched.body.etag);
    etags.push((await call(emulator, undefined, `/_emulator/users/${id}/suspend`, { method: 'POST', body: '{}' })).body.etag);
    const beforeLogin = (await call(emulator, token, `/admin/directory/v1/users/${id}`)).body;
    etags.push((await call(emulator, undefined, `/_emulator/users/${id}/touch-login`, { method: 'POST', body: '{}' })).body.etag);
    const afterLogin = (await call(emulator, token, `/admin/directory/v1/users/${id}`)).body;
    assert.notEqual(afterLogin.lastLoginTime, beforeLogin.lastLoginTime);
    assert.deepEqual({ ...afterLogin, etag: 0, lastLoginTime: 0 }, { ...beforeLogin, etag: 0, lastLoginTime: 0 }, 'a login changes nothing else');
    assert.equal(afterLogin.suspended, true);
    assert.deepEqual((afterLogin.organizations as { department: string }[])[0]!.department, 'Legal');
    etags.push((await call(emulator, undefined, `/_emulator/users/${id}`, { method: 'DELETE' })).body.etag);
    assert.equal(new Set(etags).size, 5);
    assert.equal((await call(emulator, undefined, '/_emulator/users/nobody@example.com', { method: 'DELETE' })).status, 404);
    const group = await call(emulator, undefined, '/_emulator/groups/sales@example.com/members', { method: 'POST', body: JSON.stringify({ member: 'admin@example.com', role: 'OWNER' }) });
    assert.equal(group.body.role, 'OWNER');
    const has = await call(emulator, token, '/admin/directory/v1/groups/sales@example.com/hasMember/admin@example.com');
    assert.deepEqual(has.body, { isMember: true });
  });

  test('roster emulate google prints the URL and key file and serves until stopped', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const finished = runCli(['node', 'roster', 'emulate', 'google', '--users', '25', '--groups', '3', '--port', '0'], { env: {}, stdout: (line) => lines.push(line), stderr: (line) => lines.push(line), signal: stop.signal });
    while (!lines.some((line) => line.includes('control API'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const url = /listening on (http:\/\/\S+)/.exec(lines[0]!)![1]!;
    const keyFile = /service account key: (\S+)/.exec(lines.join('\n'))![1]!;
    const { readFile, rm } = await import('node:fs/promises');
    const key = JSON.parse(await readFile(keyFile, 'utf8')) as { client_email: string; private_key: string; token_uri: string };
    assert.equal(key.token_uri, `${url}/token`);
    const signer = await importPKCS8(key.private_key, 'RS256');
    const iat = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: SCOPES }).setProtectedHeader({ alg: 'RS256' }).setIssuer(key.client_email).setSubject('admin@example.com').setAudience(key.token_uri).setIssuedAt(iat).setExpirationTime(iat + 600).sign(signer);
    const token = await postForm(key.token_uri, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    const res = await fetch(`${url}/admin/directory/v1/users?customer=my_customer&maxResults=500`, { headers: { authorization: `Bearer ${token.body.access_token as string}` } });
    assert.equal(((await res.json()) as { users: unknown[] }).users.length, 25);
    stop.abort();
    assert.equal(await finished, 0);
    await rm(keyFile);
  });
});
