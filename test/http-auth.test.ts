import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError, createOrganization, createPushConnection, createScopedKey, expectStatus } from './support/api.ts';
import { createTestStorage, forEachEngine, newAdminKey, startTestRoster, useTestRoster, type TestStorage } from './support/roster.ts';

forEachEngine('HTTP API keys', (engine) => {
  const roster = useTestRoster(engine);

  it('creates a key shown once, stored only as a hash, listed without secrets', async () => {
    const created = expectStatus(await roster().request('POST', '/v1/api-keys', { name: 'ci' }), 201);
    assert.match(created.key, /^rk_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.prefix, created.key.slice(0, 9));
    assert.equal(created.organization_id, null);
    assert.equal(created.revoked_at, null);
    const row = await roster().database.db.selectFrom('api_keys').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.match(row.key_hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(row).includes(created.key), 'the key itself is not stored');
    const list = await roster().request('GET', '/v1/api-keys?limit=1000');
    const listed = expectStatus(list, 200).data.find((key: { id: string }) => key.id === created.id);
    assert.deepEqual(Object.keys(listed).sort(), ['created_at', 'id', 'last_used_at', 'name', 'organization_id', 'prefix', 'revoked_at']);
    assert.ok(!list.text.includes(created.key));
    assert.ok(!list.text.includes(row.key_hash));
  });

  it('revokes a key: it stops working, stays listed as revoked, and a second revoke is harmless', async () => {
    const created = expectStatus(await roster().request('POST', '/v1/api-keys', { name: 'temp' }), 201);
    assert.equal((await roster().request('DELETE', `/v1/api-keys/${created.id}`)).status, 204);
    assert.equal((await roster().request('DELETE', `/v1/api-keys/${created.id}`)).status, 204);
    assertError(await roster().request('GET', '/v1/organizations', undefined, { key: created.key }), 401, 'unauthorized');
    const listed = expectStatus(await roster().request('GET', '/v1/api-keys?limit=1000'), 200).data.find(
      (key: { id: string }) => key.id === created.id,
    );
    assert.notEqual(listed.revoked_at, null);
    const audit = expectStatus(await roster().request('GET', '/v1/audit-log?limit=1000'), 200).data;
    assert.equal(audit.filter((entry: any) => entry.action === 'api_key.revoked' && entry.target_id === created.id).length, 1);
    assertError(await roster().request('DELETE', '/v1/api-keys/key_01j00000000000000000000000'), 404, 'api_key_not_found');
  });

  it('refuses a scoped key for an organization that does not exist', async () => {
    const response = await roster().request('POST', '/v1/api-keys', { name: 'x', organization_id: 'org_01j00000000000000000000000' });
    assertError(response, 404, 'organization_not_found');
    const list = await roster().request('GET', '/v1/api-keys?organization_id=org_01j00000000000000000000000');
    assertError(list, 404, 'organization_not_found');
  });

  it('accepts the Bearer scheme in any case', async () => {
    const response = await roster().request('GET', '/v1/organizations', undefined, {
      key: null,
      headers: { authorization: `bearer ${roster().adminKey}` },
    });
    assert.equal(response.status, 200);
  });
});

forEachEngine('HTTP tenant isolation', (engine) => {
  const roster = useTestRoster(engine);
  let orgA: any;
  let orgB: any;
  let keyA: string;
  let connA: any;
  let connB: any;

  before(async () => {
    orgA = await createOrganization(roster(), 'Tenant A');
    orgB = await createOrganization(roster(), 'Tenant B');
    connA = await createPushConnection(roster(), orgA.id, { name: 'A idp' });
    connB = await createPushConnection(roster(), orgB.id, { name: 'B idp' });
    keyA = (await createScopedKey(roster(), orgA.id, 'A only')).key;
  });

  const asA = (method: string, path: string, body?: unknown) => roster().request(method, path, body, { key: keyA });

  it('reads and updates its own organization', async () => {
    assert.equal(expectStatus(await asA('GET', `/v1/organizations/${orgA.id}`), 200).id, orgA.id);
    assert.equal(expectStatus(await asA('PATCH', `/v1/organizations/${orgA.id}`, { name: 'Tenant A2' }), 200).name, 'Tenant A2');
    expectStatus(await asA('GET', `/v1/organizations/${orgA.id}/policy`), 200);
    expectStatus(await asA('PUT', `/v1/organizations/${orgA.id}/policy`, { identity_join: ['email'] }), 200);
  });

  it('sees only its own organization in lists', async () => {
    const page = expectStatus(await asA('GET', '/v1/organizations?limit=1000'), 200);
    assert.deepEqual(page.data.map((org: { id: string }) => org.id), [orgA.id]);
  });

  it('cannot see or touch another organization: 404 exactly as for an unknown one', async () => {
    const unknown = 'org_01j00000000000000000000000';
    for (const [method, path, body] of [
      ['GET', '/v1/organizations/ID', undefined],
      ['PATCH', '/v1/organizations/ID', { name: 'hijacked' }],
      ['GET', '/v1/organizations/ID/policy', undefined],
      ['PUT', '/v1/organizations/ID/policy', {}],
      ['POST', '/v1/organizations/ID/connections', { type: 'push', name: 'x', category: 'idp' }],
      ['GET', '/v1/connections?organization_id=ID', undefined],
      ['GET', '/v1/audit-log?organization_id=ID', undefined],
    ] as const) {
      const other = await asA(method, path.replace('ID', orgB.id), body);
      assertError(other, 404, 'organization_not_found', orgB.id);
      const missing = await asA(method, path.replace('ID', unknown), body);
      assertError(missing, 404, 'organization_not_found');
      assert.equal(other.body.error.message.replace(orgB.id, unknown), missing.body.error.message, `${method} ${path}`);
    }
    const b = expectStatus(await roster().request('GET', `/v1/organizations/${orgB.id}`), 200);
    assert.equal(b.name, 'Tenant B');
  });

  it('cannot see or touch another organization’s connections', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/connections/ID', undefined],
      ['PATCH', '/v1/connections/ID', { name: 'hijacked' }],
      ['POST', '/v1/connections/ID/pause', undefined],
      ['POST', '/v1/connections/ID/resume', undefined],
      ['DELETE', '/v1/connections/ID', undefined],
    ] as const) {
      assertError(await asA(method, path.replace('ID', connB.id), body), 404, 'connection_not_found', connB.id);
    }
    const untouched = expectStatus(await roster().request('GET', `/v1/connections/${connB.id}`), 200);
    assert.deepEqual(untouched, connB);
  });

  it('manages its own connections and lists only them', async () => {
    expectStatus(await asA('GET', `/v1/connections/${connA.id}`), 200);
    const created = expectStatus(await asA('POST', `/v1/organizations/${orgA.id}/connections`, { type: 'push', name: 'A hris', category: 'hris' }), 201);
    expectStatus(await asA('POST', `/v1/connections/${created.id}/pause`), 200);
    expectStatus(await asA('POST', `/v1/connections/${created.id}/resume`), 200);
    expectStatus(await asA('PATCH', `/v1/connections/${created.id}`, { name: 'A hris 2' }), 200);
    assert.equal((await asA('DELETE', `/v1/connections/${created.id}`)).status, 204);
    const list = expectStatus(await asA('GET', '/v1/connections?limit=1000'), 200);
    assert.deepEqual(list.data.map((connection: { id: string }) => connection.id), [connA.id]);
    expectStatus(await asA('GET', `/v1/connections?organization_id=${orgA.id}`), 200);
  });

  it('sees only its own organization’s audit entries, with itself as actor', async () => {
    const entries = expectStatus(await asA('GET', '/v1/audit-log?limit=1000'), 200).data;
    assert.ok(entries.length > 0);
    for (const entry of entries) assert.equal(entry.organization_id, orgA.id);
    const keys = expectStatus(await roster().request('GET', `/v1/api-keys?organization_id=${orgA.id}`), 200).data;
    assert.ok(entries.some((entry: { actor: string }) => entry.actor === keys[0].id));
  });

  it('cannot create organizations or manage API keys (403)', async () => {
    assertError(await asA('POST', '/v1/organizations', { name: 'Mine now' }), 403, 'forbidden', 'organizations');
    assertError(await asA('POST', '/v1/api-keys', { name: 'escalate' }), 403, 'forbidden', 'API keys');
    assertError(await asA('POST', '/v1/api-keys', { name: 'escalate', organization_id: orgA.id }), 403, 'forbidden');
    assertError(await asA('GET', '/v1/api-keys'), 403, 'forbidden');
    const keys = expectStatus(await roster().request('GET', '/v1/api-keys?limit=1000'), 200).data;
    assertError(await asA('DELETE', `/v1/api-keys/${keys[0].id}`), 403, 'forbidden');
  });
});

forEachEngine('HTTP ROSTER_API_KEY bootstrap', (engine) => {
  let storage: TestStorage;
  before(async () => {
    storage = await createTestStorage(engine);
  });
  after(async () => {
    await storage.destroy();
  });

  it('installs the key on first start only', async () => {
    const first = newAdminKey();
    const a = await startTestRoster(engine, { storage, config: { apiKey: first } });
    try {
      expectStatus(await a.request('GET', '/v1/organizations'), 200);
      const keys = expectStatus(await a.request('GET', '/v1/api-keys'), 200).data;
      assert.equal(keys.length, 1);
      assert.equal(keys[0].organization_id, null);
      assert.equal(keys[0].prefix, first.slice(0, 9));
    } finally {
      await a.close();
    }

    // Keys exist now: a different ROSTER_API_KEY is ignored, the same one is not duplicated.
    const second = newAdminKey();
    const b = await startTestRoster(engine, { storage, config: { apiKey: second } });
    try {
      assertError(await b.request('GET', '/v1/organizations'), 401, 'unauthorized');
      expectStatus(await b.request('GET', '/v1/organizations', undefined, { key: first }), 200);
    } finally {
      await b.close();
    }
    const c = await startTestRoster(engine, { storage, config: { apiKey: first } });
    try {
      assert.equal(expectStatus(await c.request('GET', '/v1/api-keys'), 200).data.length, 1);
    } finally {
      await c.close();
    }
  });
});

describe('HTTP API key last_used_at', () => {
  it('is written at most once a minute per key', async () => {
    let now = new Date('2030-01-01T00:00:00.000Z');
    const roster = await startTestRoster('sqlite', { clock: () => now });
    try {
      const lastUsed = async () => expectStatus(await roster.request('GET', '/v1/api-keys'), 200).data[0].last_used_at;
      assert.equal(await lastUsed(), '2030-01-01T00:00:00.000Z');
      now = new Date('2030-01-01T00:00:30.000Z');
      assert.equal(await lastUsed(), '2030-01-01T00:00:00.000Z');
      now = new Date('2030-01-01T00:01:01.000Z');
      assert.equal(await lastUsed(), '2030-01-01T00:01:01.000Z');
    } finally {
      await roster.close();
    }
  });
});
