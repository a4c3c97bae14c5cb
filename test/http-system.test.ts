import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { loggerOptions } from '../src/http/server.ts';
import { createOrganization, expectStatus } from './support/api.ts';
import { forEachEngine, startTestRoster, useTestRoster } from './support/roster.ts';

forEachEngine('HTTP health and metrics', (engine) => {
  const roster = useTestRoster(engine);

  it('answers /health without a key, after asking the database', async () => {
    const response = await roster().request('GET', '/health', undefined, { key: null });
    assert.deepEqual(expectStatus(response, 200), { status: 'ok', database: engine });
  });

  it('serves Prometheus text with the HTTP and engine metrics, without a key', async () => {
    await roster().request('GET', '/v1/organizations');
    await roster().request('GET', '/v1/nothing-here');
    await createOrganization(roster());
    const response = await roster().request('GET', '/metrics', undefined, { key: null });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = response.text;
    assert.match(text, /# TYPE roster_http_requests_total counter/);
    assert.match(text, /roster_http_requests_total\{method="GET",route="\/v1\/organizations",status="200"\} \d+/);
    assert.match(text, /roster_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
    assert.match(text, /# TYPE roster_http_request_duration_seconds histogram/);
    assert.match(text, /roster_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1\/organizations",status="200"\}/);
    assert.match(text, /# TYPE roster_records_ingested_total counter/);
    assert.match(text, /# TYPE roster_events_written_total counter/);
    assert.match(text, /# TYPE roster_reconcile_duration_seconds histogram/);
  });

  it('counts events written by connection changes', async () => {
    const org = await createOrganization(roster());
    await roster().request('POST', `/v1/organizations/${org.id}/connections`, { type: 'push', name: 'x', category: 'file' });
    const text = (await roster().request('GET', '/metrics', undefined, { key: null })).text;
    assert.match(text, /roster_events_written_total\{type="connection.activated"\} [1-9]/);
  });

  it('keeps metrics per instance: a second server in the same process starts from zero', async () => {
    // SQLite for the second one: the point is two servers in one process, whatever the engine.
    const other = await startTestRoster('sqlite');
    try {
      const text = (await other.request('GET', '/metrics', undefined, { key: null })).text;
      assert.doesNotMatch(text, /route="\/v1\/organizations"/);
    } finally {
      await other.close();
    }
  });
});

describe('HTTP OpenAPI document', () => {
  const roster = useTestRoster('sqlite');

  it('is a valid OpenAPI 3.1 document, served without a key', async () => {
    const response = await roster().request('GET', '/openapi.json', undefined, { key: null });
    const document = expectStatus(response, 200);
    assert.equal(document.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(document));
  });

  it('lists every path and method with its schemas, errors and security', async () => {
    const document = expectStatus(await roster().request('GET', '/openapi.json', undefined, { key: null }), 200);
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    for (const operation of [
      'GET /health',
      'GET /metrics',
      'POST /v1/organizations',
      'GET /v1/organizations',
      'GET /v1/organizations/{id}',
      'PATCH /v1/organizations/{id}',
      'GET /v1/organizations/{id}/policy',
      'PUT /v1/organizations/{id}/policy',
      'POST /v1/organizations/{id}/connections',
      'GET /v1/connections',
      'GET /v1/connections/{id}',
      'PATCH /v1/connections/{id}',
      'POST /v1/connections/{id}/pause',
      'POST /v1/connections/{id}/resume',
      'DELETE /v1/connections/{id}',
      'POST /v1/api-keys',
      'GET /v1/api-keys',
      'DELETE /v1/api-keys/{id}',
      'GET /v1/audit-log',
      'POST /v1/connections/{id}/records',
      'POST /v1/connections/{id}/snapshots',
      'POST /v1/connections/{id}/snapshots/{snapshot_id}/records',
      'POST /v1/connections/{id}/snapshots/{snapshot_id}/commit',
      'DELETE /v1/connections/{id}/snapshots/{snapshot_id}',
      'GET /v1/users',
      'GET /v1/users/{id}',
      'GET /v1/users/{id}/groups',
      'GET /v1/groups',
      'GET /v1/groups/{id}',
      'GET /v1/groups/{id}/members',
      'GET /v1/memberships',
      'GET /v1/conflicts',
      'GET /v1/conflicts/{id}',
      'POST /v1/conflicts/{id}/resolve',
      'GET /v1/sync-runs',
      'GET /v1/sync-runs/{id}',
      'POST /v1/sync-runs/{id}/confirm',
      'POST /v1/sync-runs/{id}/discard',
      'GET /v1/events',
      'GET /v1/events/head',
      'GET /v1/organizations/{id}/directory',
      'POST /v1/webhook-endpoints',
      'GET /v1/webhook-endpoints',
      'GET /v1/webhook-endpoints/{id}',
      'PATCH /v1/webhook-endpoints/{id}',
      'DELETE /v1/webhook-endpoints/{id}',
      'POST /v1/webhook-endpoints/{id}/rotate-secret',
      'GET /v1/webhook-endpoints/{id}/deliveries',
      'POST /v1/webhook-endpoints/{id}/redeliver',
      'POST /v1/webhook-endpoints/{id}/test',
    ]) {
      assert.ok(operations.includes(operation), `missing ${operation}`);
    }
    assert.ok(!operations.some((operation) => operation.includes('openapi.json')));
    for (const name of ['Organization', 'Connection', 'ApiKey', 'CreatedApiKey', 'AuditEntry', 'Error', 'EffectivePolicy', 'RecordBatchInput', 'User', 'Group', 'Conflict', 'SyncRun', 'Event', 'JsonValueInput', 'DirectorySnapshot']) {
      assert.ok(document.components.schemas[name], `missing component ${name}`);
    }
    const create = document.paths['/v1/organizations'].post;
    const body = create.requestBody.content['application/json'].schema;
    assert.equal(body.additionalProperties, false, 'request bodies are strict');
    assert.deepEqual(body.required, ['name']);
    assert.equal(create.responses['201'].content['application/json'].schema.$ref, '#/components/schemas/Organization');
    assert.equal(create.responses['400'].content['application/json'].schema.$ref, '#/components/schemas/Error');
    assert.match(document.paths['/v1/connections/{id}'].get.responses['404'].description, /do not parse/);
    assert.deepEqual(document.security, [{ bearerAuth: [] }]);
    assert.deepEqual(document.paths['/health'].get.security, []);
    const list = document.paths['/v1/connections'].get.parameters.map((parameter: { name: string }) => parameter.name);
    assert.deepEqual(list.sort(), ['cursor', 'limit', 'organization_id']);
  });
});

describe('HTTP logs', () => {
  it('are JSON lines that never contain an API key', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter((line) => line !== ''));
        done();
      },
    });
    const logger = pino(loggerOptions('trace'), sink) as FastifyBaseLogger;
    const roster = await startTestRoster('sqlite', { logger });
    try {
      const created = expectStatus(await roster.request('POST', '/v1/api-keys', { name: 'logged?' }), 201);
      await roster.request('GET', '/v1/organizations', undefined, { key: created.key });
      await roster.request('GET', '/v1/organizations', undefined, { key: 'rk_wrong-key-that-must-not-be-logged' });
      roster.roster.logger.info({ req: { headers: { authorization: `Bearer ${created.key}` } }, key: created.key }, 'probe');
    } finally {
      await roster.close();
    }
    assert.ok(lines.length > 5);
    for (const line of lines) JSON.parse(line);
    const all = lines.join('\n');
    assert.ok(!all.includes(roster.adminKey), 'admin key logged');
    assert.ok(!all.includes('rk_wrong-key-that-must-not-be-logged'), 'rejected key logged');
    assert.ok(!/rk_[A-Za-z0-9_-]{20,}/.test(all), 'some API key logged');
    assert.match(all, /"probe"/);
    assert.match(all, /\[redacted\]/);
  });
});
