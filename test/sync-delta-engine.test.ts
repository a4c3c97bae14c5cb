import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';
import { z } from 'zod';
import { CursorExpiredError, type ChangePage, type Connector, type RecordPage } from '../src/connectors/connector.ts';
import { googleWorkspaceType } from '../src/connectors/google/google.connection.ts';
import type { PullConnectionType } from '../src/connectors/pull-connection-type.ts';
import { PULL_CONNECTION_TYPES } from '../src/connectors/pull-connection-types.ts';
import { membershipKey, type IncomingRecord } from '../src/reconcile/incoming.ts';
import { ConnectionsRepo } from '../src/store/connections.repo.ts';
import { ConnectionSecretsRepo } from '../src/store/connection-secrets.repo.ts';
import { createAesGcmSecretBox } from '../src/security/secret-box.ts';
import { StaticHeaderStrategy } from '../src/sync/credentials/static-header.strategy.ts';
import { createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { eventually, fastSyncConfig, runEnded, userByEmail, usersOf } from './support/pull-sync.ts';
import { forEachEngine, useTestRoster, type TestRoster } from './support/roster.ts';

/**
 * The engine's delta rounds, with a scripted source behind the connector port (the provider emulators test
 * real delta protocols; this pins what the engine does with any of them): the cursor is stored with the
 * last batch, a round applies upserts and the source's own tombstones, a group stated in full loses the
 * memberships it no longer lists, and a missing or expired cursor turns the run into a full run by itself.
 */
interface ScriptedSource {
  users: Map<string, { email: string; department?: string }>;
  groups: Map<string, string[]>;
  /** What the next delta round reports, page by page; `expired` makes the cursor unknown. */
  next: { pages: Omit<ChangePage, 'cursor'>[]; expired?: boolean; gate?: Promise<void>; expiresAfterPages?: number };
  cursorsAsked: string[];
  latestCalls: number;
}

const source: ScriptedSource = { users: new Map(), groups: new Map(), next: { pages: [] }, cursorsAsked: [], latestCalls: 0 };
let cursorSerial = 0;

const user = (id: string): IncomingRecord => {
  const held = source.users.get(id)!;
  return { kind: 'user', external_id: id, deleted: false, attributes: { email: held.email, department: held.department ?? null, state: 'active' }, raw: { id } };
};
const member = (group: string, id: string): IncomingRecord => ({ kind: 'membership', external_id: membershipKey(group, id), deleted: false, group_external_id: group, user_external_id: id, raw: null });

const scriptedConnector: Connector = {
  async *pages(resource): AsyncIterable<RecordPage> {
    if (resource === 'users') yield { records: [...source.users.keys()].map(user), checkpoint: null };
    else yield { records: [...source.groups.keys()].map((id): IncomingRecord => ({ kind: 'group', external_id: id, deleted: false, attributes: { name: id }, raw: { id } })), checkpoint: null };
  },
  async *memberPages(group): AsyncIterable<RecordPage> {
    yield { records: (source.groups.get(group) ?? []).map((id) => member(group, id)), checkpoint: null };
  },
  fetchObject: async (kind, id) => (kind === 'user' && source.users.has(id) ? user(id) : { kind, external_id: id, deleted: true }),
  delta: {
    latest: async () => {
      source.latestCalls += 1;
      return `c${++cursorSerial}`;
    },
    async *changes(cursor) {
      source.cursorsAsked.push(cursor);
      if (source.next.expired) throw new CursorExpiredError('syncStateNotFound');
      await source.next.gate;
      const { pages, expiresAfterPages } = source.next;
      source.next = { pages: [] };
      if (pages.length === 0) yield { records: [], cursor: `c${++cursorSerial}` };
      for (const [n, page] of pages.entries()) {
        if (n === expiresAfterPages) throw new CursorExpiredError('syncStateNotFound');
        yield { ...page, cursor: `c${++cursorSerial}` };
      }
      if (expiresAfterPages === pages.length) throw new CursorExpiredError('syncStateNotFound');
    },
  },
};

const scriptedType: PullConnectionType = {
  ...googleWorkspaceType,
  type: 'scripted-delta',
  displayName: 'Scripted delta source',
  description: 'A scripted source behind the connector port, for engine tests.',
  supportsDelta: true,
  settingsSchema: z.strictObject({}),
  credentialsSchema: z.object({ key: z.string() }) as never,
  awaitsConsent: () => false,
  credentialStrategy: () => new StaticHeaderStrategy({ headerName: 'x-key', value: 'k' }),
  connector: () => scriptedConnector,
};
(PULL_CONNECTION_TYPES as Map<string, PullConnectionType>).set(scriptedType.type, scriptedType);

forEachEngine('delta rounds through the sync engine', (engine) => {
  const secretKey = randomBytes(32);
  // Every page applied as it comes (one record is a batch), as a long round's early pages are.
  const roster = useTestRoster(engine, { config: { ...fastSyncConfig({ applyBatch: 1 }), secretKey } });
  let organizationId: string;
  let connectionId: string;

  const sync = async (r: TestRoster, kind: string) => {
    const answer = expectStatus(await r.request('POST', `/v1/connections/${connectionId}/sync`, { kind }), 202) as any;
    return runEnded(r, answer.run.id);
  };
  const storedCursor = async () =>
    (await roster().database.db.selectFrom('sync_cursors').select('cursor').where('connection_id', '=', connectionId).executeTakeFirst())?.cursor;

  before(async () => {
    // One scripted source for every engine's suite: each starts it afresh.
    Object.assign(source, { next: { pages: [] }, cursorsAsked: [], latestCalls: 0 });
    source.users = new Map([
      ['u1', { email: 'ana@delta.test' }],
      ['u2', { email: 'ben@delta.test' }],
      ['u3', { email: 'cy@delta.test' }],
    ]);
    source.groups = new Map([['g1', ['u1', 'u2', 'u3']]]);
    // A guard small enough for a small directory: more than 30% and more than one person.
    organizationId = (await createOrganization(roster(), 'Delta', { deprovision_guard: { max_fraction: 0.3, min_count: 1 } })).id;
    // Created as the API would, but for a type only this test registers, so straight through the repositories.
    const created = await new ConnectionsRepo(roster().database).create(
      { organizationId, type: scriptedType.type, category: 'directory', name: 'Scripted', config: { push: false, api_base_url: 'http://127.0.0.1:9/unused', token_url: 'http://127.0.0.1:9/unused' }, state: 'active' },
      { actor: 'test', action: 'connection.created' },
      new Date().toISOString(),
    );
    connectionId = created.id;
    await new ConnectionSecretsRepo(roster().database.db, createAesGcmSecretBox(secretKey)).write(undefined, created, { key: 'unused' }, new Date().toISOString());
  });

  test('with no cursor yet, a delta request becomes a full run that leaves the latest cursor behind', async () => {
    const run = await sync(roster(), 'critical');
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.kind, 'full');
    assert.equal(run.progress.fallback, 'no_cursor');
    assert.equal((await usersOf(roster(), organizationId)).length, 3);
    assert.equal(source.latestCalls, 1);
    assert.equal(await storedCursor(), `c${cursorSerial}`, 'the cursor taken before listing is stored');
  });

  test('a delta round applies changes and the source’s tombstones, stores its last cursor, and removes memberships a complete group no longer lists', async () => {
    const before = await storedCursor();
    source.users.get('u1')!.department = 'Changed';
    source.users.set('u4', { email: 'dee@delta.test' });
    source.groups.set('g1', ['u1', 'u4']);
    source.next = {
      pages: [
        { records: [user('u1'), user('u4')] },
        { records: [{ kind: 'user', external_id: 'u3', deleted: true }, member('g1', 'u1'), member('g1', 'u4')], completeGroups: ['g1'] },
      ],
    };
    const run = await sync(roster(), 'critical');
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.kind, 'delta', 'a critical request on a delta source is a delta round');
    assert.equal(source.cursorsAsked.at(-1), before, 'the round started from the stored cursor');
    assert.equal(await storedCursor(), `c${cursorSerial}`, 'and left the last page’s cursor');

    assert.equal((await userByEmail(roster(), organizationId, 'ana@delta.test')).department, 'Changed');
    assert.equal((await userByEmail(roster(), organizationId, 'dee@delta.test')).state, 'active');
    const removed = await userByEmail(roster(), organizationId, 'cy@delta.test');
    assert.equal(removed.state, 'inactive');
    assert.equal(removed.state_reason, 'removed_from_source');
    const group = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}`), 200).data[0];
    const members = expectStatus(await roster().request('GET', `/v1/memberships?group_id=${group.id}`), 200).data as any[];
    const emails = await Promise.all(members.map(async (m) => expectStatus(await roster().request('GET', `/v1/users/${m.user_id}`), 200).email));
    assert.deepEqual(emails.sort(), ['ana@delta.test', 'dee@delta.test'], 'ben left g1: the complete list no longer has him');
  });

  test('an empty round changes nothing and still moves the cursor', async () => {
    const events = (await eventsOf(roster(), organizationId)).length;
    const run = await sync(roster(), 'delta');
    assert.equal(run.status, 'completed');
    const written = (await eventsOf(roster(), organizationId)).slice(events).map((e) => e.type);
    assert.deepEqual(written, ['sync.started', 'sync.completed']);
    assert.equal(await storedCursor(), `c${cursorSerial}`);
  });

  test('an expired cursor falls back to a full run by itself, which says so and takes a new cursor', async () => {
    source.next = { pages: [], expired: true };
    source.users.get('u2')!.department = 'Seen by the full run';
    const latest = source.latestCalls;
    const run = await sync(roster(), 'delta');
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.kind, 'full');
    assert.equal(run.progress.fallback, 'cursor_expired: syncStateNotFound');
    assert.equal(source.latestCalls, latest + 1);
    assert.equal((await userByEmail(roster(), organizationId, 'ben@delta.test')).department, 'Seen by the full run');
    source.next = { pages: [] };
    await eventually('a normal round again', async () => ((await sync(roster(), 'delta')).kind === 'delta' ? true : undefined));
  });

  test('a round reporting too many people gone is held for an admin; its other changes and its cursor stand', async () => {
    for (const id of ['u5', 'u6', 'u7', 'u8']) source.users.set(id, { email: `${id}@delta.test` });
    source.next = { pages: [{ records: ['u5', 'u6', 'u7', 'u8'].map(user) }] };
    assert.equal((await sync(roster(), 'delta')).status, 'completed');

    source.users.get('u1')!.department = 'Kept while held';
    source.next = { pages: [{ records: [user('u1'), ...['u5', 'u6', 'u7'].map((id): IncomingRecord => ({ kind: 'user', external_id: id, deleted: true }))] }] };
    const held = await sync(roster(), 'delta');
    assert.equal(held.status, 'held', JSON.stringify(held));
    assert.equal(held.held.would_deactivate, 3);
    for (const id of ['u5', 'u6', 'u7']) assert.equal((await userByEmail(roster(), organizationId, `${id}@delta.test`)).state, 'active', 'nobody removed while held');
    assert.equal((await userByEmail(roster(), organizationId, 'ana@delta.test')).department, 'Kept while held');
    assert.equal(await storedCursor(), `c${cursorSerial}`, 'the cursor moved on: the next round does not hold the same removals again');
    const types = (await eventsOf(roster(), organizationId)).map((e) => e.type);
    assert.ok(types.includes('sync.deprovision_held'));

    assert.equal((await sync(roster(), 'delta')).status, 'completed', 'the next round goes on');
    expectStatus(await roster().request('POST', `/v1/sync-runs/${held.id}/confirm`), 200);
    for (const id of ['u5', 'u6', 'u7']) {
      const person = await userByEmail(roster(), organizationId, `${id}@delta.test`);
      assert.equal(person.state, 'inactive');
      assert.equal(person.state_reason, 'deprovision_confirmed');
    }
    assert.equal((await userByEmail(roster(), organizationId, 'u8@delta.test')).state, 'active');
  });

  test('a push while a round runs is not lost: one more round follows when this one ends', async () => {
    let open!: () => void;
    source.next = { pages: [], gate: new Promise<void>((resolve) => (open = resolve)) };
    const first = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'delta' }), 202) as any;
    await eventually('the round to be running', async () => ((await roster().request('GET', `/v1/sync-runs/${first.run.id}`)).body.status === 'running' ? true : undefined));
    const pushed = await roster().roster.sync.runner.request(connectionId, 'critical', 'push');
    assert.equal(pushed.created, false, 'the running round answers');
    open();
    assert.equal((await runEnded(roster(), first.run.id)).status, 'completed');
    const next = await eventually('the follow-up round', async () => {
      const runs = expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${connectionId}`), 200).data as any[];
      return runs.find((run) => run.id > first.run.id && run.trigger === 'push');
    });
    assert.equal(next.kind, 'delta');
    assert.equal((await runEnded(roster(), next.id)).status, 'completed');
  });

  test('a round whose cursor expires part-way falls back to a full run that still removes what the listing no longer holds', async () => {
    source.users.set('u9', { email: 'nine@delta.test' });
    assert.equal((await sync(roster(), 'full')).status, 'completed');
    assert.equal((await userByEmail(roster(), organizationId, 'nine@delta.test')).state, 'active');
    // u9 leaves the directory; the round's first page still states it (it changed just before), then the cursor expires.
    const stated = user('u9');
    source.users.delete('u9');
    source.next = { pages: [{ records: [stated] }, { records: [] }], expiresAfterPages: 1 };
    const run = await sync(roster(), 'delta');
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.kind, 'full');
    assert.equal(run.progress.fallback, 'cursor_expired: syncStateNotFound');
    const gone = await userByEmail(roster(), organizationId, 'nine@delta.test');
    assert.equal(gone.state, 'inactive', 'what the round applied before it expired does not count as listed');
    assert.equal(gone.state_reason, 'removed_from_source');
  });
});
