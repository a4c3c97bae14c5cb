import assert from 'node:assert/strict';
import { expectStatus } from './api.ts';
import type { TestRoster } from './roster.ts';

/** Posts a batch of records to a connection and returns the reconcile counters. */
export async function ingest(roster: TestRoster, connectionId: string, records: unknown[], key?: string): Promise<any> {
  const response = await roster.request('POST', `/v1/connections/${connectionId}/records`, { records }, key ? { key } : {});
  return expectStatus(response, 200).counters;
}

export async function usersOf(roster: TestRoster, organizationId: string, query = ''): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = expectStatus(
      await roster.request('GET', `/v1/users?organization_id=${organizationId}&limit=1000${query}${cursor ? `&cursor=${cursor}` : ''}`),
      200,
    );
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

export async function onlyUser(roster: TestRoster, organizationId: string): Promise<any> {
  const users = await usersOf(roster, organizationId);
  assert.equal(users.length, 1, `expected exactly one user, got ${users.length}: ${JSON.stringify(users.map((u) => u.id))}`);
  return users[0];
}

export async function conflictsOf(roster: TestRoster, organizationId: string, query = ''): Promise<any[]> {
  return expectStatus(await roster.request('GET', `/v1/conflicts?organization_id=${organizationId}${query}`), 200).data;
}

/** Every event of an organization through the events API, following the cursor. */
export async function allEvents(roster: TestRoster, organizationId: string, types?: string): Promise<any[]> {
  const out: any[] = [];
  let after: string | undefined;
  for (;;) {
    const query = `organization_id=${organizationId}&limit=500${types ? `&types=${types}` : ''}${after ? `&after=${after}` : ''}`;
    const page: any = expectStatus(await roster.request('GET', `/v1/events?${query}`), 200);
    out.push(...page.data);
    if (page.data.length === 0) return out;
    after = page.next_cursor;
  }
}

export const user = (id: string, attributes: Record<string, unknown>, raw: unknown = { id, ...attributes }) => ({
  kind: 'user',
  id,
  attributes,
  raw,
});
export const removed = (kind: 'user' | 'group', id: string) => ({ kind, id, deleted: true });
export const group = (id: string, name: string) => ({ kind: 'group', id, attributes: { name } });
export const member = (groupId: string, userId: string) => ({ kind: 'membership', group_id: groupId, user_id: userId });
