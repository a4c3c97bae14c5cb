import assert from 'node:assert/strict';
import type { TestResponse, TestRoster } from './roster.ts';

/** Asserts the error contract: status, `error.code`, and that the message names what is wrong. */
export function assertError(response: TestResponse, status: number, code: string, ...mentions: Array<string | RegExp>): void {
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${response.text}`);
  const error = response.body?.error;
  assert.ok(error && typeof error === 'object', `expected an {error} body, got: ${response.text}`);
  assert.equal(error.code, code, `unexpected code in ${response.text}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.details && typeof error.details === 'object', 'error.details must be an object');
  for (const mention of mentions) {
    if (typeof mention === 'string') assert.ok(error.message.includes(mention), `message should mention '${mention}': ${error.message}`);
    else assert.match(error.message, mention);
  }
  assert.doesNotMatch(response.text, /\bat .+\.ts:\d+/, 'no stack trace in error bodies');
}

export function expectStatus<T>(response: TestResponse<T>, status: number): T {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.text}`);
  return response.body;
}

export async function createOrganization(roster: TestRoster, name = 'Acme', policy?: unknown): Promise<any> {
  return expectStatus(await roster.request('POST', '/v1/organizations', { name, ...(policy ? { policy } : {}) }), 201);
}

export async function createPushConnection(roster: TestRoster, organizationId: string, body: Record<string, unknown> = {}): Promise<any> {
  const response = await roster.request('POST', `/v1/organizations/${organizationId}/connections`, {
    type: 'push',
    name: 'Okta push',
    category: 'idp',
    ...body,
  });
  return expectStatus(response, 201);
}

/** A key limited to one organization. */
export async function createScopedKey(roster: TestRoster, organizationId: string, name = 'scoped'): Promise<any> {
  return expectStatus(await roster.request('POST', '/v1/api-keys', { name, organization_id: organizationId }), 201);
}

/** Events of an organization straight from the table, in sequence order (the events API is separate). */
export async function eventsOf(roster: TestRoster, organizationId: string) {
  const rows = await roster.database.db
    .selectFrom('events')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('sequence')
    .execute();
  return rows.map((row) => ({
    ...row,
    data: JSON.parse(row.data),
    changes: row.changes === null ? null : JSON.parse(row.changes),
    source: row.source === null ? null : JSON.parse(row.source),
  }));
}

export async function auditOf(roster: TestRoster, organizationId: string): Promise<any[]> {
  return expectStatus(await roster.request('GET', `/v1/audit-log?organization_id=${organizationId}`), 200).data as any[];
}
