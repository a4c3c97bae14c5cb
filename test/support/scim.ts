import assert from 'node:assert/strict';
import { ScimError, type ScimType } from '../../src/scim/scim-error.ts';
import { expectStatus } from './api.ts';
import type { TestResponse, TestRoster } from './roster.ts';

/** A SCIM connection as a test drives it: its base URL (path part) and bearer token. */
export interface ScimClient {
  connectionId: string;
  organizationId: string;
  /** Absolute base URL, `http://127.0.0.1:<port>/scim/v2/<connection id>`. */
  baseUrl: string;
  token: string;
  request<T = any>(method: string, path: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string>; raw?: string }): Promise<TestResponse<T>>;
}

export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export function patchOp(...operations: unknown[]) {
  return { schemas: [PATCH_OP], Operations: operations };
}

export async function createScimConnection(roster: TestRoster, organizationId: string, name = 'Okta SCIM'): Promise<ScimClient> {
  const created = expectStatus(await roster.request('POST', `/v1/organizations/${organizationId}/connections`, { type: 'scim', name }), 201);
  assert.ok(created.scim?.token, 'a SCIM connection answers its token');
  assert.equal(created.scim.base_url, `${roster.baseUrl.replace('127.0.0.1', 'localhost')}/scim/v2/${created.id}`);
  return scimClient(roster, created.id, organizationId, created.scim.token);
}

/** A client of one connection's SCIM base, as the IdP would be configured (the base URL Roster answered). */
export function scimClient(roster: TestRoster, connectionId: string, organizationId: string, token: string): ScimClient {
  const baseUrl = `${roster.baseUrl.replace('127.0.0.1', 'localhost')}/scim/v2/${connectionId}`;
  return {
    connectionId,
    organizationId,
    baseUrl,
    token,
    async request(method, path, body, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const bearer = options.token === undefined ? token : options.token;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
      if (payload !== undefined) headers['content-type'] ??= 'application/scim+json';
      const response = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
      const text = await response.text();
      const type = response.headers.get('content-type') ?? '';
      const parsed = text !== '' && /json/.test(type) ? JSON.parse(text) : text;
      return { status: response.status, body: parsed, text, headers: response.headers };
    },
  };
}

/** Asserts an RFC 7644 error body: status, scimType (or none), and a detail mentioning what is wrong. */
export function assertScimError(response: TestResponse, status: number, scimType: string | undefined, ...mentions: string[]): void {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/scim\+json/);
  assert.deepEqual(response.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
  assert.equal(response.body.status, String(status));
  assert.equal(response.body.scimType, scimType, `scimType in ${response.text}`);
  for (const mention of mentions) assert.ok(String(response.body.detail).includes(mention), `detail should mention '${mention}': ${response.body.detail}`);
}

/** Asserts that `run` throws a 400 ScimError of `scimType` whose message mentions each of `mentions`. */
export function assertThrowsScimError(run: () => unknown, scimType: ScimType, ...mentions: string[]): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ScimError, `expected a ScimError, got ${String(thrown)}`);
  assert.equal(thrown.scimType, scimType, thrown.message);
  assert.equal(thrown.status, 400);
  for (const mention of mentions) assert.ok(thrown.message.includes(mention), `'${thrown.message}' should mention '${mention}'`);
}
