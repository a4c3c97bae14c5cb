import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';
import { assertScimError, createScimConnection, ENTERPRISE, GROUP_SCHEMA, patchOp, scimClient, USER_SCHEMA, type ScimClient } from './support/scim.ts';

const user = (userName: string, extra: Record<string, unknown> = {}) => ({ schemas: [USER_SCHEMA], userName, ...extra });
const q = (filter: string) => `filter=${encodeURIComponent(filter)}`;

forEachEngine('SCIM: connections, tokens and tenant isolation', (engine) => {
  const roster = useTestRoster(engine);
  let a: ScimClient;
  let b: ScimClient;
  let userOfA: any;

  test('a scim connection answers its base URL and a token once; the token is stored only as a hash', async () => {
    const orgA = await createOrganization(roster(), 'Tenant A');
    const created = expectStatus(await roster().request('POST', `/v1/organizations/${orgA.id}/connections`, { type: 'scim', name: 'Okta' }), 201);
    assert.equal(created.type, 'scim');
    assert.equal(created.category, 'idp');
    assert.equal(created.state, 'active');
    assert.equal(created.scim.base_url, `${roster().baseUrl.replace('127.0.0.1', 'localhost')}/scim/v2/${created.id}`);
    assert.match(created.scim.token, /^rscim_[A-Za-z0-9_-]{43}$/);
    const fetched = expectStatus(await roster().request('GET', `/v1/connections/${created.id}`), 200);
    assert.ok(!('scim' in fetched), 'the token is never shown again');
    const rows = await roster().database.db.selectFrom('scim_tokens').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(created.scim.token), 'only a hash is stored');
    a = scimClient(roster(), created.id, orgA.id, created.scim.token);

    const orgB = await createOrganization(roster(), 'Tenant B');
    b = await createScimConnection(roster(), orgB.id);
    userOfA = expectStatus(await a.request('POST', '/Users', user('alice@a.test')), 201);
  });

  test('a token of connection B never reads or writes connection A (401), nor does a missing or malformed token', async () => {
    const withTokenOfB = { token: b.token };
    for (const [method, path, body] of [
      ['GET', '/Users', undefined],
      ['GET', `/Users/${userOfA.id}`, undefined],
      ['PATCH', `/Users/${userOfA.id}`, patchOp({ op: 'replace', value: { active: false } })],
      ['DELETE', `/Users/${userOfA.id}`, undefined],
      ['POST', '/Users', user('mallory@a.test')],
      ['GET', '/ServiceProviderConfig', undefined],
    ] as const) {
      const response = await a.request(method, path, body, withTokenOfB);
      assertScimError(response, 401, undefined);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="roster-scim"');
    }
    assertScimError(await a.request('GET', '/Users', undefined, { token: null }), 401, undefined);
    assertScimError(await a.request('GET', '/Users', undefined, { token: `${a.token}x` }), 401, undefined);
    // B's own view holds nothing of A's, even by A's ids.
    assertScimError(await b.request('GET', `/Users/${userOfA.id}`), 404, undefined);
    assert.equal(expectStatus(await b.request('GET', '/Users'), 200).totalResults, 0);
    // The user is untouched.
    assert.equal(expectStatus(await a.request('GET', `/Users/${userOfA.id}`), 200).active, undefined);
  });

  test('SCIM tokens and API keys do not cross: neither opens the other API', async () => {
    assert.equal((await roster().request('GET', '/v1/organizations', undefined, { key: a.token })).status, 401);
    assertScimError(await a.request('GET', '/Users', undefined, { token: roster().adminKey }), 401, undefined);
    const push = await createPushConnection(roster(), a.organizationId);
    assertScimError(await scimClient(roster(), push.id, a.organizationId, a.token).request('GET', '/Users'), 401, undefined);
    const rotatePush = await roster().request('POST', `/v1/connections/${push.id}/scim-token`);
    assert.equal(rotatePush.status, 409);
    assert.equal(rotatePush.body.error.code, 'not_a_scim_connection');
  });

  test('rotating the token refuses the old one at once and audits the rotation', async () => {
    const rotated = expectStatus(await roster().request('POST', `/v1/connections/${a.connectionId}/scim-token`), 200);
    assert.notEqual(rotated.token, a.token);
    assertScimError(await a.request('GET', '/Users'), 401, undefined);
    a = scimClient(roster(), a.connectionId, a.organizationId, rotated.token);
    assert.equal(expectStatus(await a.request('GET', '/Users'), 200).totalResults, 1);
    const audit = expectStatus(await roster().request('GET', `/v1/audit-log?organization_id=${a.organizationId}`), 200).data;
    assert.ok(audit.some((entry: any) => entry.action === 'connection.scim_token_rotated' && entry.target_id === a.connectionId));
  });

  test('a paused or deleted connection accepts no SCIM writes', async () => {
    expectStatus(await roster().request('POST', `/v1/connections/${a.connectionId}/pause`), 200);
    assertScimError(await a.request('POST', '/Users', user('paused@a.test')), 409, undefined, 'paused');
    expectStatus(await roster().request('POST', `/v1/connections/${a.connectionId}/resume`), 200);
    expectStatus(await a.request('POST', '/Users', user('resumed@a.test')), 201);
    assert.equal((await roster().request('DELETE', `/v1/connections/${b.connectionId}`)).status, 204);
    assertScimError(await b.request('GET', '/Users'), 401, undefined);
  });
});

forEachEngine('SCIM: protocol', (engine) => {
  const roster = useTestRoster(engine, { config: { bodyLimitBytes: 64 * 1024 } });
  let scim: ScimClient;

  test('discovery documents describe what is supported, including the organization\'s own extension', async () => {
    const organization = await createOrganization(roster(), 'Extended', {
      scim_extension: { id: 'urn:ietf:params:scim:schemas:extension:acme:2.0:User', attributes: [{ name: 'badgeNumber' }, { name: 'remote', type: 'boolean' }] },
    });
    scim = await createScimConnection(roster(), organization.id);
    const config = expectStatus(await scim.request('GET', '/ServiceProviderConfig'), 200);
    assert.deepEqual([config.patch.supported, config.bulk.supported, config.filter.supported, config.sort.supported, config.etag.supported, config.changePassword.supported], [true, false, true, true, true, false]);
    assert.equal(config.filter.maxResults, 1000);
    assert.equal(config.authenticationSchemes[0].type, 'oauthbearertoken');

    const schemas = expectStatus(await scim.request('GET', '/Schemas'), 200);
    assert.deepEqual(schemas.Resources.map((s: any) => s.id).sort(), [
      'urn:ietf:params:scim:schemas:core:2.0:Group',
      'urn:ietf:params:scim:schemas:core:2.0:User',
      'urn:ietf:params:scim:schemas:extension:acme:2.0:User',
      ENTERPRISE,
    ]);
    const core = expectStatus(await scim.request('GET', `/Schemas/${USER_SCHEMA}`), 200);
    const userName = core.attributes.find((x: any) => x.name === 'userName');
    assert.deepEqual([userName.caseExact, userName.uniqueness, userName.required], [false, 'server', true]);
    assert.equal(core.attributes.find((x: any) => x.name === 'password').returned, 'never');

    const types = expectStatus(await scim.request('GET', '/ResourceTypes'), 200);
    assert.deepEqual(types.Resources.map((r: any) => [r.id, r.endpoint]), [['User', '/Users'], ['Group', '/Groups']]);
    const userType = expectStatus(await scim.request('GET', '/ResourceTypes/User'), 200);
    assert.deepEqual(userType.schemaExtensions.map((e: any) => e.schema), [ENTERPRISE, 'urn:ietf:params:scim:schemas:extension:acme:2.0:User']);
    assertScimError(await scim.request('GET', '/Schemas/urn:nope'), 404, undefined);
  });

  test('extension attributes become custom attributes of the person', async () => {
    const ext = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
    const created = expectStatus(await scim.request('POST', '/Users', { schemas: [USER_SCHEMA, ext], userName: 'ext@x.test', [ext]: { badgeNumber: 'B-7', remote: 'true', unknown: 1 } }), 201);
    assert.deepEqual(created[ext], { badgeNumber: 'B-7', remote: true });
    const people = expectStatus(await roster().request('GET', `/v1/users?organization_id=${scim.organizationId}`), 200).data;
    assert.deepEqual(people[0].custom_attributes, { badgeNumber: 'B-7', remote: true });
    const found = expectStatus(await scim.request('GET', `/Users?${q(`${ext}:badgeNumber eq "b-7"`)}`), 200);
    assert.equal(found.totalResults, 1);
  });

  test('ETag and If-Match: a stale version is refused with 412, the current one passes; If-None-Match answers 304', async () => {
    const created = await scim.request('POST', '/Users', user('etag@x.test'));
    const etag = created.headers.get('etag')!;
    assert.equal(etag, 'W/"1"');
    const notModified = await scim.request('GET', `/Users/${created.body.id}`, undefined, { headers: { 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    const ok = await scim.request('PATCH', `/Users/${created.body.id}`, patchOp({ op: 'add', path: 'title', value: 'A' }), { headers: { 'if-match': etag } });
    assert.equal(ok.status, 204, ok.text);
    assert.equal(ok.headers.get('etag'), 'W/"2"');
    const stale = await scim.request('PUT', `/Users/${created.body.id}`, user('etag@x.test'), { headers: { 'if-match': etag } });
    assertScimError(stale, 412, undefined, 'If-Match');
    assert.equal(expectStatus(await scim.request('GET', `/Users/${created.body.id}`), 200).title, 'A');
  });

  test('lists: filter, sort, paging, attributes and excludedAttributes, and POST /.search', async () => {
    for (const name of ['carol', 'bob', 'dave', 'alice']) {
      expectStatus(await scim.request('POST', '/Users', user(`${name}@list.test`, { name: { givenName: name }, title: name === 'bob' ? 'Boss' : 'Staff' })), 201);
    }
    const sorted = expectStatus(await scim.request('GET', `/Users?${q('userName ew "@list.test"')}&sortBy=userName&sortOrder=descending&count=3`), 200);
    assert.equal(sorted.totalResults, 4);
    assert.deepEqual(sorted.Resources.map((u: any) => u.userName), ['dave@list.test', 'carol@list.test', 'bob@list.test']);
    const page = expectStatus(await scim.request('GET', `/Users?${q('userName ew "@list.test"')}&sortBy=name.givenName&startIndex=4&count=3`), 200);
    assert.deepEqual(page.Resources.map((u: any) => u.userName), ['dave@list.test']);
    assert.equal(page.startIndex, 4);

    const some = expectStatus(await scim.request('GET', `/Users?${q('title eq "boss" or name.givenName sw "AL"')}&attributes=userName,name.givenName`), 200);
    assert.deepEqual(
      some.Resources.map((u: any) => Object.keys(u).sort()),
      [['id', 'name', 'schemas', 'userName'], ['id', 'name', 'schemas', 'userName']],
    );
    const without = expectStatus(await scim.request('GET', `/Users?${q('userName eq "bob@list.test"')}&excludedAttributes=name,meta`), 200);
    assert.ok(!('name' in without.Resources[0]) && !('meta' in without.Resources[0]) && without.Resources[0].title === 'Boss');

    const search = await scim.request('POST', '/Users/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: 'not (title eq "Staff") and userName co "list"',
      attributes: ['userName'],
      startIndex: 1,
      count: 10,
    });
    assert.equal(search.status, 200, search.text);
    assert.deepEqual(search.body.Resources.map((u: any) => u.userName), ['bob@list.test']);
    assert.equal(expectStatus(await scim.request('GET', '/Users?count=0'), 200).Resources.length, 0);
  });

  test('bad input answers 4xx with the right scimType and a precise detail, never a 500', async () => {
    const id = expectStatus(await scim.request('POST', '/Users', user('bad@x.test')), 201).id;
    assertScimError(await scim.request('GET', `/Users?${q('userName eq')}`), 400, 'invalidFilter');
    assertScimError(await scim.request('GET', `/Users?${q('(userName eq "x"')}`), 400, 'invalidFilter');
    assertScimError(await scim.request('GET', '/Users?startIndex=abc'), 400, 'invalidValue', 'startIndex');
    assertScimError(await scim.request('GET', '/Users?sortOrder=sideways'), 400, 'invalidValue', 'sortOrder');
    assertScimError(await scim.request('POST', '/Users', undefined, { raw: '{"userName":' }), 400, 'invalidSyntax');
    assertScimError(await scim.request('POST', '/Users', { schemas: [USER_SCHEMA] }), 400, 'invalidValue', 'userName');
    assertScimError(await scim.request('POST', '/Users', user('typed@x.test', { active: 'maybe' })), 400, 'invalidValue', 'active');
    assertScimError(await scim.request('POST', '/Users', [1, 2]), 400, 'invalidSyntax');
    assertScimError(await scim.request('POST', '/Groups', { schemas: [GROUP_SCHEMA] }), 400, 'invalidValue', 'displayName');
    assertScimError(await scim.request('PATCH', `/Users/${id}`, { Operations: [{ op: 'replace', path: 'active', value: false }] }), 400, 'invalidSyntax');
    assertScimError(await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'jump', path: 'active' })), 400, 'invalidSyntax');
    assertScimError(await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'replace', path: 'emails[type eq', value: 'x' })), 400, 'invalidPath');
    assertScimError(await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'replace', path: 'id', value: 'x' })), 400, 'mutability');
    assertScimError(await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'remove', path: 'userName' })), 400, 'mutability', 'userName');
    assertScimError(await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'remove' })), 400, 'noTarget', 'path');
    assertScimError(await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'replace', path: 'nickName', value: { a: 1 } })), 400, 'invalidValue', 'nickName');
    assertScimError(await scim.request('PATCH', '/Users/nope', patchOp({ op: 'replace', path: 'active', value: false })), 404, undefined, 'nope');
    assertScimError(await scim.request('DELETE', '/Users/nope'), 404, undefined);
    assertScimError(await scim.request('GET', '/Widgets'), 404, undefined);
    const huge = await scim.request('POST', '/Users', user('huge@x.test', { displayName: 'x'.repeat(70 * 1024) }));
    assertScimError(huge, 413, undefined);
    const wrongType = await scim.request('POST', '/Users', undefined, { raw: 'userName=x', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 415);
    assert.equal(wrongType.body.schemas[0], 'urn:ietf:params:scim:api:messages:2.0:Error');
  });

  test('garbage never gets a 500: random paths, filters, bodies and PATCH operations all answer 4xx or success', async () => {
    const id = expectStatus(await scim.request('POST', '/Users', user('fuzz@x.test')), 201).id;
    const pieces = ['userName', 'emails', '[', ']', '(', ')', '"', 'eq', 'and', 'not', 'pr', '.', 'value', 'urn:x:y', '\\', '%', 'ü', '$ref', ' ', '0', 'true', 'null'];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const garbage = (n: number) => Array.from({ length: n }, () => pieces[Math.floor(random() * pieces.length)]).join(random() < 0.5 ? ' ' : '');
    const values = [null, 1, 'x', true, [], {}, [{ value: 1 }], { value: [1] }, [[]], { '': '' }];
    for (let i = 0; i < 60; i++) {
      const value = values[Math.floor(random() * values.length)];
      const requests: Array<[string, string, unknown]> = [
        ['GET', `/Users?filter=${encodeURIComponent(garbage(1 + Math.floor(random() * 8)))}&sortBy=${encodeURIComponent(garbage(1))}`, undefined],
        ['GET', `/Users?attributes=${encodeURIComponent(garbage(2))}`, undefined],
        ['PATCH', `/Users/${id}`, patchOp({ op: ['add', 'replace', 'remove'][i % 3], path: garbage(1 + Math.floor(random() * 5)), value })],
        ['PATCH', `/Users/${id}`, patchOp({ op: 'replace', value: { [garbage(1)]: value } })],
        ['POST', '/Users', { schemas: [USER_SCHEMA], userName: `fuzz${i}@x.test`, [garbage(1)]: value, emails: value }],
        ['PUT', `/Users/${id}`, { userName: 'fuzz@x.test', name: value, [ENTERPRISE]: value }],
        ['POST', '/Groups', { displayName: `g${i}`, members: value }],
      ];
      for (const [method, path, body] of requests) {
        const response = await scim.request(method, path, body);
        assert.ok(response.status < 500, `${method} ${path} ${JSON.stringify(body)} → ${response.status} ${response.text}`);
      }
    }
  });

  test('concurrency: simultaneous member PATCHes to one group lose no member; racing identical POSTs make one user', async () => {
    const group = expectStatus(await scim.request('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Racers' }), 201);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(expectStatus(await scim.request('POST', '/Users', user(`racer${i}@x.test`)), 201).id);
    const results = await Promise.all(
      ids.map((id) => scim.request('PATCH', `/Groups/${group.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: id }] }))),
    );
    assert.deepEqual(results.map((r) => r.status), ids.map(() => 204));
    const members = expectStatus(await scim.request('GET', `/Groups/${group.id}`), 200).members.map((m: any) => m.value);
    assert.deepEqual(members.sort(), [...ids].sort());

    const posts = await Promise.all(Array.from({ length: 8 }, () => scim.request('POST', '/Users', user('twin@x.test'))));
    assert.deepEqual(posts.map((p) => p.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
    const people = expectStatus(await roster().request('GET', `/v1/users?organization_id=${scim.organizationId}&email=twin@x.test`), 200);
    assert.equal(expectStatus(await scim.request('GET', `/Users?${q('userName eq "twin@x.test"')}`), 200).totalResults, 1);
    assert.ok(people.data.length <= 1);
  });
});
