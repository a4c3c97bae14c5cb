import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';
import { assertScimError, createScimConnection, ENTERPRISE, GROUP_SCHEMA, patchOp, USER_SCHEMA, type ScimClient } from './support/scim.ts';

/**
 * Okta's provisioning sequence as its SCIM client sends it (User-Agent `Okta SCIM Client 1.0.0`): existence
 * check, create with a placeholder password and `groups: []`, imports, PUT profile updates, PATCH
 * (de)activation without a path, group push with rename-on-every-update and member add/remove/replace.
 */
const OKTA = { 'user-agent': 'Okta SCIM Client 1.0.0' };

function oktaUser(userName: string, overrides: Record<string, unknown> = {}) {
  return {
    schemas: [USER_SCHEMA],
    userName,
    name: { givenName: 'Test', familyName: 'User' },
    emails: [{ primary: true, value: userName, type: 'work' }],
    displayName: 'Test User',
    locale: 'en-US',
    externalId: `00u${userName.length}okta`,
    groups: [],
    password: '1mz050nq',
    active: true,
    ...overrides,
  };
}

forEachEngine('SCIM: Okta', (engine) => {
  const roster = useTestRoster(engine);
  let okta: ScimClient;
  let userId: string;

  const canonicalUser = async () => {
    const page = expectStatus(await roster().request('GET', `/v1/users?organization_id=${okta.organizationId}&email=test.user@okta.local`), 200);
    assert.equal(page.data.length, 1, 'exactly one canonical person');
    return page.data[0];
  };

  test('existence check on an empty connection answers an empty ListResponse with integer counts', async () => {
    const organization = await createOrganization(roster(), 'Okta customer');
    okta = await createScimConnection(roster(), organization.id);
    const response = await okta.request('GET', `/Users?filter=${encodeURIComponent('userName eq "test.user@okta.local"')}&startIndex=1&count=100`, undefined, { headers: OKTA });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/scim\+json/);
    assert.deepEqual(response.body, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });

  test('create answers 201 with Location, meta and no password; the user appears in /v1/users with its event', async () => {
    const response = await okta.request('POST', '/Users', oktaUser('test.user@okta.local'), { headers: OKTA });
    assert.equal(response.status, 201, response.text);
    const user = response.body;
    userId = user.id;
    assert.equal(typeof userId, 'string');
    assert.equal(response.headers.get('location'), `${okta.baseUrl}/Users/${userId}`);
    assert.equal(user.meta.location, response.headers.get('location'));
    assert.equal(user.meta.resourceType, 'User');
    assert.equal(response.headers.get('etag'), user.meta.version);
    assert.ok(!('password' in user), 'the password is never returned');
    assert.equal(user.active, true);
    assert.equal(user.externalId, '00u20okta');
    assert.deepEqual(user.groups, []);

    const person = await canonicalUser();
    assert.equal(person.first_name, 'Test');
    assert.equal(person.username, 'test.user@okta.local');
    assert.equal(person.state, 'active');
    const created = (await eventsOf(roster(), okta.organizationId)).filter((e) => e.type === 'user.created');
    assert.equal(created.length, 1);
    assert.equal(created[0]!.source.connection_id, okta.connectionId);

    const stored = expectStatus(await roster().request('GET', `/v1/users/${person.id}?include=sources,raw`), 200);
    assert.ok(!JSON.stringify(stored.sources).includes('1mz050nq'), 'the password is not stored either');
  });

  test('the retried create is refused with 409 uniqueness (case-insensitive userName) and makes no twin', async () => {
    const retry = await okta.request('POST', '/Users', oktaUser('Test.User@OKTA.local'), { headers: OKTA });
    assertScimError(retry, 409, 'uniqueness', 'Test.User@OKTA.local');
    const found = await okta.request('GET', `/Users?filter=${encodeURIComponent('userName eq "TEST.USER@okta.local"')}&startIndex=1&count=100`);
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, userId);
  });

  test('imports page with startIndex and count', async () => {
    for (const n of [1, 2, 3]) expectStatus(await okta.request('POST', '/Users', oktaUser(`import.${n}@okta.local`)), 201);
    const first = expectStatus(await okta.request('GET', '/Users?startIndex=1&count=2'), 200);
    const second = expectStatus(await okta.request('GET', '/Users?startIndex=3&count=2'), 200);
    assert.equal(first.totalResults, 4);
    assert.equal(first.itemsPerPage, 2);
    assert.equal(second.startIndex, 3);
    assert.equal(second.itemsPerPage, 2);
    const ids = [...first.Resources, ...second.Resources].map((u: any) => u.id);
    assert.equal(new Set(ids).size, 4, 'pages do not overlap');
    assert.ok(ids.includes(userId));
  });

  test('a profile update by PUT replaces the resource and reaches the canonical user', async () => {
    const put = await okta.request('PUT', `/Users/${userId}`, oktaUser('test.user@okta.local', { id: userId, name: { givenName: 'Testa', familyName: 'User' }, title: 'Engineer' }));
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.name.givenName, 'Testa');
    assert.equal(put.body.title, 'Engineer');
    assert.equal(put.body.meta.version, 'W/"2"');
    const person = await canonicalUser();
    assert.equal(person.first_name, 'Testa');
    assert.equal(person.title, 'Engineer');
    // The same PUT again changes nothing, not even the version.
    const again = await okta.request('PUT', `/Users/${userId}`, oktaUser('test.user@okta.local', { name: { givenName: 'Testa', familyName: 'User' }, title: 'Engineer' }));
    assert.equal(again.body.meta.version, 'W/"2"');
  });

  test('deactivation by a path-less PATCH emits user.deactivated exactly once, even when Okta repeats it', async () => {
    const body = patchOp({ op: 'replace', value: { active: false } });
    for (let i = 0; i < 3; i++) {
      const response = await okta.request('PATCH', `/Users/${userId}`, body, { headers: OKTA });
      assert.equal(response.status, 204, response.text);
    }
    assert.equal(expectStatus(await okta.request('GET', `/Users/${userId}`), 200).active, false);
    const person = await canonicalUser();
    assert.equal(person.state, 'inactive');
    assert.equal(person.state_reason, 'deactivated_in_idp');
    const events = await eventsOf(roster(), okta.organizationId);
    assert.equal(events.filter((e) => e.type === 'user.deactivated').length, 1);

    // Asking for attributes gets the resource back (200) instead of 204.
    const reactivated = expectStatus(await okta.request('PATCH', `/Users/${userId}?attributes=active`, patchOp({ op: 'replace', value: { active: true } })), 200);
    assert.deepEqual(reactivated, { schemas: [USER_SCHEMA], id: userId, active: true });
    assert.equal((await canonicalUser()).state, 'active');
    assert.equal((await eventsOf(roster(), okta.organizationId)).filter((e) => e.type === 'user.reactivated').length, 1);
  });

  test('group push: create, rename with every update, add, remove and replace members, delete', async () => {
    const created = await okta.request('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Engineering', members: [] });
    assert.equal(created.status, 201, created.text);
    const groupId = created.body.id;
    assert.equal(created.headers.get('location'), `${okta.baseUrl}/Groups/${groupId}`);
    assert.deepEqual(created.body.members, []);

    const others = expectStatus(await okta.request('GET', `/Users?filter=${encodeURIComponent('userName sw "import."')}`), 200).Resources.map((u: any) => u.id);
    assert.equal(others.length, 3);

    const rename = (name: string) => ({ op: 'replace', value: { id: groupId, displayName: name } });
    const add = await okta.request('PATCH', `/Groups/${groupId}`, patchOp(rename('Engineering'), { op: 'add', path: 'members', value: [{ value: userId, display: 'test.user@okta.local' }, { value: others[0], display: 'import.1@okta.local' }] }));
    assert.equal(add.status, 204, add.text);
    let group = expectStatus(await okta.request('GET', `/Groups/${groupId}`), 200);
    assert.deepEqual(group.members.map((m: any) => m.value).sort(), [userId, others[0]].sort());
    assert.equal(group.members.find((m: any) => m.value === userId).display, 'test.user@okta.local');

    const users = expectStatus(await okta.request('GET', `/Users/${userId}`), 200);
    assert.deepEqual(users.groups.map((g: any) => [g.value, g.display]), [[groupId, 'Engineering']]);

    const remove = await okta.request('PATCH', `/Groups/${groupId}`, patchOp(rename('Engineers'), { op: 'remove', path: `members[value eq "${others[0]}"]` }));
    assert.equal(remove.status, 204, remove.text);
    group = expectStatus(await okta.request('GET', `/Groups/${groupId}`), 200);
    assert.equal(group.displayName, 'Engineers');
    assert.deepEqual(group.members.map((m: any) => m.value), [userId]);

    const replace = await okta.request('PATCH', `/Groups/${groupId}`, patchOp(rename('Engineers'), { op: 'replace', path: 'members', value: others.slice(1).map((id: string) => ({ value: id })) }));
    assert.equal(replace.status, 204, replace.text);
    group = expectStatus(await okta.request('GET', `/Groups/${groupId}`), 200);
    assert.deepEqual(group.members.map((m: any) => m.value).sort(), others.slice(1).sort());

    // The canonical group follows: renamed, with the replaced members.
    const canonical = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${okta.organizationId}`), 200).data;
    assert.equal(canonical.length, 1);
    assert.equal(canonical[0].name, 'Engineers');
    const members = expectStatus(await roster().request('GET', `/v1/groups/${canonical[0].id}/members`), 200).data;
    assert.equal(members.length, 2);
    const types = (await eventsOf(roster(), okta.organizationId)).map((e) => e.type);
    assert.equal(types.filter((t) => t === 'group.member_added').length, 4);
    assert.equal(types.filter((t) => t === 'group.member_removed').length, 2);

    const deleted = await okta.request('DELETE', `/Groups/${groupId}`);
    assert.equal(deleted.status, 204);
    assertScimError(await okta.request('GET', `/Groups/${groupId}`), 404, undefined, groupId);
    assert.equal(expectStatus(await roster().request('GET', `/v1/groups/${canonical[0].id}`), 200).state, 'deleted');
  });

  test('a SCIM user joins the HRIS record of the same person: one person, HRIS names, IdP login', async () => {
    const hris = expectStatus(
      await roster().request('POST', `/v1/organizations/${okta.organizationId}/connections`, { type: 'push', name: 'Workday', category: 'hris' }),
      201,
    );
    expectStatus(
      await roster().request('POST', `/v1/connections/${hris.id}/records`, {
        records: [{ kind: 'user', id: 'W-7', attributes: { employee_id: '7', first_name: 'Priya', department: 'Research', state: 'active' } }],
      }),
      200,
    );
    const scimUser = expectStatus(
      await okta.request('POST', '/Users', oktaUser('priya@okta.local', { name: { givenName: 'P.', familyName: 'Shah' }, [ENTERPRISE]: { employeeNumber: '7' } })),
      201,
    );
    const page = expectStatus(await roster().request('GET', `/v1/users?organization_id=${okta.organizationId}&email=priya@okta.local`), 200);
    assert.equal(page.data.length, 1);
    const person = expectStatus(await roster().request('GET', `/v1/users/${page.data[0].id}?include=sources`), 200);
    assert.equal(person.first_name, 'Priya', 'the HRIS owns names');
    assert.equal(person.department, 'Research');
    assert.equal(person.username, 'priya@okta.local', 'the IdP owns the login');
    assert.deepEqual(person.sources.map((s: any) => s.external_id).sort(), ['W-7', scimUser.id].sort());
  });

  test('memberships sent inside POST and PUT bodies are honoured (Group members, User groups)', async () => {
    const group = expectStatus(await okta.request('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Sales', members: [{ value: userId }] }), 201);
    assert.deepEqual(group.members.map((m: any) => m.value), [userId]);
    const newcomer = expectStatus(await okta.request('POST', '/Users', oktaUser('new.hire@okta.local', { groups: [{ value: group.id }] })), 201);
    assert.deepEqual(newcomer.groups.map((g: any) => g.value), [group.id]);
    const put = expectStatus(
      await okta.request('PUT', `/Groups/${group.id}`, { schemas: [GROUP_SCHEMA], displayName: 'Sales', members: [{ value: newcomer.id }] }),
      200,
    );
    assert.deepEqual(put.members.map((m: any) => m.value), [newcomer.id]);
    // A member id that names nothing is kept as the IdP stated it, and links no one.
    const ghosts = expectStatus(await okta.request('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Ghosts', members: [{ value: 'no-such-user' }] }), 201);
    assert.deepEqual(ghosts.members.map((m: any) => m.value), ['no-such-user']);
    const canonical = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${okta.organizationId}`), 200).data.find((g: any) => g.name === 'Ghosts');
    assert.equal(expectStatus(await roster().request('GET', `/v1/groups/${canonical.id}/members`), 200).data.length, 0);
  });
});
