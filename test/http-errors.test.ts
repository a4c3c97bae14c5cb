import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertError, createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('HTTP error contract', (engine) => {
  const roster = useTestRoster(engine, { config: { bodyLimitBytes: 4096 } });

  it('answers malformed JSON with 400 malformed_json and where it broke', async () => {
    const response = await roster().request('POST', '/v1/organizations', undefined, { raw: '{"name": "Acme",' });
    assertError(response, 400, 'malformed_json', 'not valid JSON');
  });

  it('answers an empty JSON body with 400 malformed_json', async () => {
    const response = await roster().request('POST', '/v1/organizations', undefined, { raw: '' });
    assertError(response, 400, 'malformed_json', 'empty');
  });

  it('refuses prototype-poisoning keys as malformed JSON', async () => {
    const response = await roster().request('POST', '/v1/organizations', undefined, { raw: '{"name":"x","__proto__":{"admin":true}}' });
    assertError(response, 400, 'malformed_json', 'prototype');
  });

  it('names an unknown field', async () => {
    const response = await roster().request('POST', '/v1/organizations', { name: 'Acme', colour: 'blue' });
    assertError(response, 400, 'invalid_request', 'body.colour', 'Unknown field');
    assert.deepEqual(response.body.error.details.issues, [{ path: 'body.colour', message: 'Unknown field' }]);
  });

  it('names unknown fields nested in the policy', async () => {
    const response = await roster().request('POST', '/v1/organizations', {
      name: 'Acme',
      policy: { deprovision_guard: { max_fraction: 0.2, min_count: 3, extra: 1 } },
    });
    assertError(response, 400, 'invalid_request', 'body.policy.deprovision_guard.extra: Unknown field');
  });

  it('names a missing required field and every failing field', async () => {
    const response = await roster().request('POST', '/v1/organizations', { policy: { identity_join: ['phone'] } });
    assertError(response, 400, 'invalid_request', 'body.name: Required', 'body.policy.identity_join.0');
    const paths = response.body.error.details.issues.map((issue: { path: string }) => issue.path);
    assert.deepEqual(paths.sort(), ['body.name', 'body.policy.identity_join.0']);
  });

  it('names a field of the wrong type', async () => {
    const response = await roster().request('POST', '/v1/organizations', { name: 42 });
    assertError(response, 400, 'invalid_request', 'body.name', 'expected string');
  });

  it('refuses control characters and broken Unicode in names', async () => {
    const response = await roster().request('POST', '/v1/organizations', { name: 'Ac\u0000me' });
    assertError(response, 400, 'invalid_request', 'body.name', 'control characters');
    const surrogate = await roster().request('POST', '/v1/organizations', undefined, { raw: '{"name": "\\ud800"}' });
    assertError(surrogate, 400, 'invalid_request', 'body.name');
  });

  it('refuses a body that is not an object', async () => {
    assertError(await roster().request('POST', '/v1/organizations', [1, 2]), 400, 'invalid_request', 'body');
    assertError(await roster().request('POST', '/v1/organizations', null), 400, 'invalid_request', 'body');
  });

  it('refuses a POST without a body where one is required', async () => {
    const response = await roster().request('POST', '/v1/organizations');
    assertError(response, 400, 'invalid_request', 'body');
  });

  it('names bad query parameters, and unknown ones', async () => {
    assertError(await roster().request('GET', '/v1/organizations?limit=0'), 400, 'invalid_request', 'query.limit');
    assertError(await roster().request('GET', '/v1/organizations?limit=1001'), 400, 'invalid_request', 'query.limit');
    assertError(await roster().request('GET', '/v1/organizations?limit=ten'), 400, 'invalid_request', 'query.limit');
    assertError(await roster().request('GET', '/v1/organizations?limt=10'), 400, 'invalid_request', 'query.limt: Unknown field');
  });

  it('refuses a cursor it did not issue', async () => {
    assertError(await roster().request('GET', '/v1/organizations?cursor=%%%'), 400, 'invalid_cursor', 'query.cursor');
    assertError(await roster().request('GET', '/v1/organizations?cursor=AAEC'), 400, 'invalid_cursor', 'query.cursor');
  });

  it('answers a non-JSON content type with 415', async () => {
    const response = await roster().request('POST', '/v1/organizations', undefined, { raw: 'name=Acme', contentType: 'application/x-www-form-urlencoded' });
    assertError(response, 415, 'unsupported_media_type', 'application/x-www-form-urlencoded');
    const text = await roster().request('POST', '/v1/organizations', undefined, { raw: 'Acme', contentType: 'text/plain' });
    assertError(text, 415, 'unsupported_media_type', 'text/plain');
  });

  it('answers an oversize body with 413', async () => {
    const response = await roster().request('POST', '/v1/organizations', { name: 'x'.repeat(10_000) });
    assertError(response, 413, 'payload_too_large', '4096 bytes');
  });

  it('answers a missing key with 401 and a WWW-Authenticate challenge, before reading the body', async () => {
    const response = await roster().request('POST', '/v1/organizations', undefined, { key: null, raw: '{not json' });
    assertError(response, 401, 'unauthorized', 'Authorization');
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
  });

  it('answers a wrong scheme and an unknown key with 401', async () => {
    const basic = await roster().request('GET', '/v1/organizations', undefined, { key: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assertError(basic, 401, 'unauthorized', 'Bearer');
    const unknown = await roster().request('GET', '/v1/organizations', undefined, { key: 'rk_not-a-real-key' });
    assertError(unknown, 401, 'unauthorized', 'Invalid or revoked');
    assert.match(unknown.headers.get('www-authenticate') ?? '', /^Bearer/);
    const huge = await roster().request('GET', '/v1/organizations', undefined, { key: `rk_${'a'.repeat(4000)}` });
    assertError(huge, 401, 'unauthorized');
  });

  it('answers a revoked key with 401', async () => {
    const created = expectStatus(await roster().request('POST', '/v1/api-keys', { name: 'short-lived' }), 201);
    expectStatus(await roster().request('GET', '/v1/organizations', undefined, { key: created.key }), 200);
    expectStatus(await roster().request('DELETE', `/v1/api-keys/${created.id}`), 204);
    const response = await roster().request('GET', '/v1/organizations', undefined, { key: created.key });
    assertError(response, 401, 'unauthorized', 'revoked');
  });

  it('answers ids that do not parse with 404 <resource>_not_found', async () => {
    assertError(await roster().request('GET', '/v1/organizations/not-an-id'), 404, 'organization_not_found', 'not-an-id');
    assertError(await roster().request('GET', '/v1/connections/conn_nope'), 404, 'connection_not_found', 'conn_nope');
    assertError(await roster().request('GET', "/v1/connections/'%20or%201=1"), 404, 'connection_not_found');
    assertError(await roster().request('DELETE', '/v1/api-keys/..%2F..%2Fetc'), 404, 'api_key_not_found');
    const org = await createOrganization(roster());
    // A well-formed id of the wrong kind is as unknown as any other.
    assertError(await roster().request('GET', `/v1/connections/${org.id}`), 404, 'connection_not_found', org.id);
  });

  it('answers unknown ids with 404 naming the id', async () => {
    const id = 'org_01j00000000000000000000000';
    assertError(await roster().request('GET', `/v1/organizations/${id}`), 404, 'organization_not_found', id);
    assertError(await roster().request('POST', `/v1/organizations/${id}/connections`, { type: 'push', name: 'x', category: 'idp' }), 404, 'organization_not_found');
  });

  it('answers unknown routes with 404 route_not_found naming the path', async () => {
    assertError(await roster().request('GET', '/v1/unicorns'), 404, 'route_not_found', '/v1/unicorns');
    assertError(await roster().request('GET', '/nowhere', undefined, { key: null }), 404, 'route_not_found', '/nowhere');
  });

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const response = await roster().request('PUT', '/v1/organizations', { name: 'x' });
    assertError(response, 405, 'method_not_allowed', 'PUT', '/v1/organizations');
    assert.match(response.headers.get('allow') ?? '', /GET/);
    assert.match(response.headers.get('allow') ?? '', /POST/);
    const org = await createOrganization(roster());
    assertError(await roster().request('DELETE', `/v1/organizations/${org.id}`), 405, 'method_not_allowed');
  });

  it('answers an unknown connection type with 400 naming the field', async () => {
    const org = await createOrganization(roster());
    const response = await roster().request('POST', `/v1/organizations/${org.id}/connections`, { type: 'ldap', name: 'AD' });
    assertError(response, 400, 'invalid_request', 'body.type');
  });

  it('answers invalid state transitions with 409', async () => {
    const org = await createOrganization(roster());
    const connection = await createPushConnection(roster(), org.id);
    const resume = await roster().request('POST', `/v1/connections/${connection.id}/resume`);
    assertError(resume, 409, 'invalid_state_transition', 'not paused');
    expectStatus(await roster().request('POST', `/v1/connections/${connection.id}/pause`), 200);
    const again = await roster().request('POST', `/v1/connections/${connection.id}/pause`);
    assertError(again, 409, 'invalid_state_transition', "'paused' to 'paused'");
    assert.equal(again.body.error.details.from, 'paused');
  });

  it('never answers bad input with a 500', async () => {
    const org = await createOrganization(roster());
    const attempts: Array<[string, string, string | undefined]> = [
      ['POST', '/v1/organizations', '"just a string"'],
      ['POST', '/v1/organizations', '{"name": {"nested": true}}'],
      ['POST', '/v1/organizations', '{"name": "\\ud800"}'],
      ['PATCH', `/v1/organizations/${org.id}`, '{}'],
      ['PATCH', `/v1/organizations/${org.id}`, '{"policy": {"attribute_ownership": {"shoe_size": {"owners": []}}}}'],
      ['PUT', `/v1/organizations/${org.id}/policy`, '[]'],
      ['POST', `/v1/organizations/${org.id}/connections`, '{"type": "push", "name": "x", "category": "crm"}'],
      ['POST', `/v1/organizations/${org.id}/connections`, '{"type": "push", "name": "x", "category": "idp", "config": [1]}'],
      ['POST', '/v1/api-keys', '{"name": "k", "organization_id": 7}'],
      ['GET', '/v1/connections?organization_id=&limit=-1', undefined],
      ['GET', '/v1/audit-log?limit=1&limit=2', undefined],
      ['GET', '/v1/organizations/%E0%A4%A', undefined],
    ];
    for (const [method, path, raw] of attempts) {
      const response = await roster().request(method, path, undefined, raw === undefined ? {} : { raw });
      assert.ok(response.status >= 400 && response.status < 500, `${method} ${path} ${raw ?? ''} → ${response.status} ${response.text}`);
      assert.equal(typeof response.body.error?.code, 'string', response.text);
    }
  });
});
