import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEFAULT_POLICY } from '../src/core/policy.ts';
import { assertError, auditOf, createOrganization, expectStatus } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('HTTP organizations', (engine) => {
  const roster = useTestRoster(engine);

  it('creates an organization with the default policy, event sequence 0 and an audit entry', async () => {
    const org = await createOrganization(roster(), 'Acme');
    assert.match(org.id, /^org_[0-9a-z]{26}$/);
    assert.equal(org.name, 'Acme');
    assert.deepEqual(org.policy, DEFAULT_POLICY);
    assert.equal(org.created_at, org.updated_at);
    const row = await roster().database.db.selectFrom('organizations').selectAll().where('id', '=', org.id).executeTakeFirstOrThrow();
    assert.equal(row.event_sequence, 0);
    assert.deepEqual(JSON.parse(row.policy), {});
    const audit = await auditOf(roster(), org.id);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].action, 'organization.created');
    assert.equal(audit[0].actor, await adminKeyId());
    assert.equal(audit[0].target_id, org.id);
  });

  async function adminKeyId(): Promise<string> {
    const keys = expectStatus(await roster().request('GET', '/v1/api-keys'), 200);
    return keys.data.find((key: { organization_id: string | null; name: string }) => key.name.startsWith('bootstrap')).id;
  }

  it('stores the policy as written and answers the effective one', async () => {
    const policy = { deprovision_guard: { max_fraction: 0.25, min_count: 2 }, identity_join: ['email'] };
    const org = await createOrganization(roster(), 'Globex', policy);
    assert.deepEqual(org.policy.deprovision_guard, { max_fraction: 0.25, min_count: 2 });
    assert.deepEqual(org.policy.identity_join, ['email']);
    assert.deepEqual(org.policy.attribute_ownership, DEFAULT_POLICY.attribute_ownership);
    const stored = expectStatus(await roster().request('GET', `/v1/organizations/${org.id}/policy`), 200);
    assert.deepEqual(stored, { organization_id: org.id, input: policy, effective: org.policy });
  });

  it('gets one organization', async () => {
    const org = await createOrganization(roster(), 'Initech');
    assert.deepEqual(expectStatus(await roster().request('GET', `/v1/organizations/${org.id}`), 200), org);
  });

  it('lists organizations with cursor pagination', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await createOrganization(roster(), `Paged ${i}`)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = expectStatus(await roster().request('GET', `/v1/organizations${query}`), 200);
      assert.ok(page.data.length <= 2);
      seen.push(...page.data.map((org: { id: string }) => org.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null && pages < 100);
    for (const id of created) assert.ok(seen.includes(id));
    assert.equal(new Set(seen).size, seen.length, 'no organization appears twice');
    assert.deepEqual([...seen].sort(), seen, 'ordered by id');
    const all = expectStatus(await roster().request('GET', '/v1/organizations?limit=1000'), 200);
    assert.equal(all.next_cursor, null);
    assert.equal(all.data.length, seen.length);
  });

  it('renames an organization and audits the change', async () => {
    const org = await createOrganization(roster(), 'Old name');
    const renamed = expectStatus(await roster().request('PATCH', `/v1/organizations/${org.id}`, { name: '  New name ' }), 200);
    assert.equal(renamed.name, 'New name');
    assert.deepEqual(renamed.policy, org.policy);
    assert.ok(renamed.updated_at >= org.updated_at);
    const audit = await auditOf(roster(), org.id);
    assert.deepEqual(
      audit.map((entry) => entry.action),
      ['organization.created', 'organization.updated'],
    );
    assert.deepEqual(audit[1].details, { name: { from: 'Old name', to: 'New name' } });
  });

  it('replaces the policy through PATCH and PUT /policy, validating it', async () => {
    const org = await createOrganization(roster(), 'Policy Co');
    const patched = expectStatus(
      await roster().request('PATCH', `/v1/organizations/${org.id}`, { policy: { pending_until_start_date: false } }),
      200,
    );
    assert.equal(patched.policy.pending_until_start_date, false);
    const put = expectStatus(
      await roster().request('PUT', `/v1/organizations/${org.id}/policy`, {
        attribute_ownership: { department: { owners: ['workday'], fallback: [] } },
      }),
      200,
    );
    assert.deepEqual(put.input, { attribute_ownership: { department: { owners: ['workday'], fallback: [] } } });
    assert.deepEqual(put.effective.attribute_ownership.department, { owners: ['workday'], fallback: [] });
    // PUT replaces: the earlier pending_until_start_date override is gone.
    assert.equal(put.effective.pending_until_start_date, true);
    const bad = await roster().request('PUT', `/v1/organizations/${org.id}/policy`, { deprovision_guard: { max_fraction: 2, min_count: 1 } });
    assertError(bad, 400, 'invalid_request', 'body.deprovision_guard.max_fraction');
    const actions = (await auditOf(roster(), org.id)).map((entry) => entry.action);
    assert.deepEqual(actions, ['organization.created', 'organization.policy_updated', 'organization.policy_updated']);
  });

  it('refuses an empty patch', async () => {
    const org = await createOrganization(roster(), 'Empty patch');
    assertError(await roster().request('PATCH', `/v1/organizations/${org.id}`, {}), 400, 'invalid_request', 'name and/or policy');
  });

  it('answers 404 for policy routes of unknown organizations', async () => {
    assertError(await roster().request('GET', '/v1/organizations/org_01j00000000000000000000000/policy'), 404, 'organization_not_found');
    assertError(await roster().request('PUT', '/v1/organizations/nope/policy', {}), 404, 'organization_not_found');
    assertError(await roster().request('PATCH', '/v1/organizations/nope', { name: 'x' }), 404, 'organization_not_found');
  });
});
