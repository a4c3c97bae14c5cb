/**
 * The JumpCloud connector against the emulator, without a Roster: its listings (offset pages anchored on
 * the previous page's last object) survive users coming and going mid-scan, which the plain offset pager
 * does not, resume from a checkpoint, and fail rather than end incomplete when the listing never holds
 * still; its mapping reads JumpCloud's states, empty strings and custom attributes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RecordPage } from '../src/connectors/connector.ts';
import { anchoredOffsetPages } from '../src/connectors/definition/anchored-offset-pager.ts';
import { loadProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';
import { pages, PagingError, type FetchJson, type PageCheckpoint } from '../src/connectors/definition/pager.ts';
import { jumpCloudConnector } from '../src/connectors/jumpcloud/jumpcloud.connection.ts';
import { jumpCloudDefinition } from '../src/connectors/jumpcloud/jumpcloud.definition.ts';
import { startJumpCloudEmulator, type JumpCloudEmulator } from '../src/emulators/jumpcloud/index.ts';

describe('JumpCloud listings under drift', () => {
  let emulator: JumpCloudEmulator;
  before(async () => {
    emulator = await startJumpCloudEmulator({ users: 0, groups: 0 });
  });
  after(async () => {
    await emulator?.close();
  });

  /** A fresh directory of `users` users and `groups` groups in the running emulator. */
  function reset(users: number, groups = 0): void {
    emulator.control.reset();
    for (const id of [...emulator.org.userIds()]) emulator.org.deleteUser(id);
    for (const group of emulator.org.listGroups()) emulator.org.deleteGroup(group.id);
    for (let i = 0; i < users; i += 1) emulator.control.createUser({ username: `user.${i}`, email: `user.${i}@example.com` });
    for (let g = 0; g < groups; g += 1) emulator.control.createGroup({ name: `Group ${g}` });
  }

  const definition = () => loadProviderDefinition({ ...jumpCloudDefinition, baseUrl: emulator.apiBaseUrl });
  const fetchJson: FetchJson = async (url, init) => {
    const res = await fetch(url, { headers: { ...init.headers, 'x-api-key': emulator.apiKey }, ...(init.signal ? { signal: init.signal } : {}) });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.json() };
  };
  const connector = (maxScans?: number) => jumpCloudConnector({ definition: definition(), settings: {}, fetchJson, ...(maxScans ? { maxScans } : {}) });

  async function collect(listing: AsyncIterable<RecordPage>): Promise<{ ids: string[]; checkpoints: Array<PageCheckpoint | null> }> {
    const ids: string[] = [];
    const checkpoints: Array<PageCheckpoint | null> = [];
    for await (const page of listing) {
      ids.push(...page.records.map((record) => record.external_id));
      checkpoints.push(page.checkpoint);
    }
    return { ids, checkpoints };
  }

  test('the plain offset pager skips users who stayed when users before its page leave', async () => {
    reset(250);
    emulator.control.drift({ beforeRequest: 2, remove: 5 });
    const seen: string[] = [];
    for await (const page of pages(definition(), 'users', { config: {} }, fetchJson)) seen.push(...page.items.map((item) => (item as { _id: string })._id));
    assert.equal(emulator.org.userIds().filter((id) => !seen.includes(id)).length, 5, 'what the connector must not do');
  });

  test('users removed mid-scan: every user who stayed is listed once (and those who left, as read before they left)', async () => {
    reset(250);
    const before = [...emulator.org.userIds()];
    emulator.control.drift({ beforeRequest: 2, remove: 5 });
    const { ids } = await collect(connector().pages('users'));
    assert.equal(new Set(ids).size, ids.length, 'nobody twice');
    assert.deepEqual(new Set(ids), new Set(before), 'the survivors and the five read before they left');
    assert.ok(emulator.org.userIds().every((id) => ids.includes(id)));
  });

  test('users added mid-scan before the page read: the scan ends with every user, newcomers included, nobody twice', async () => {
    reset(250);
    emulator.control.drift({ beforeRequest: 2, insert: 7, insertAt: 'start' });
    const { ids } = await collect(connector().pages('users'));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(new Set(ids), new Set(emulator.org.userIds()));
    assert.equal(ids.length, 257);
  });

  test('a resumed scan checks its anchor too: users who left while it was stopped do not make it skip anyone', async () => {
    reset(250);
    const listing = connector().pages('users')[Symbol.asyncIterator]();
    const first = (await listing.next()).value as RecordPage;
    await listing.return?.();
    assert.deepEqual({ ...first.checkpoint, anchor: undefined }, { resource: 'users', style: 'offset', offset: 100, anchor: undefined });
    assert.equal((first.checkpoint as { anchor?: string }).anchor, first.records.at(-1)!.external_id);
    for (const id of emulator.org.userIds().slice(10, 13)) emulator.control.deleteUser(id);
    const { ids } = await collect(connector().pages('users', { checkpoint: first.checkpoint }));
    const listed = new Set([...first.records.map((record) => record.external_id), ...ids]);
    assert.ok(emulator.org.userIds().every((id) => listed.has(id)), 'every user who stayed was listed');
  });

  test('a listing that moves under every scan fails after maxScans instead of ending incomplete', async () => {
    reset(250);
    emulator.control.drift({ beforeRequest: 2, remove: 1, times: 50 });
    await assert.rejects(collect(connector(2).pages('users')), (error: unknown) => error instanceof PagingError && /changed during 2 scans in a row/.test(error.message));
    emulator.control.clearDrift();
  });

  test('a whole scan is held to totalCount; a body without one is broken', async () => {
    reset(150);
    const def = definition();
    const lying: FetchJson = async (url, init) => {
      const response = await fetchJson(url, init);
      return { ...response, body: { ...(response.body as object), totalCount: 151 } };
    };
    const options = { idOf: (item: unknown) => (item as { _id: string })._id, totalPath: 'totalCount', maxScans: 2 };
    await assert.rejects(async () => {
      for await (const _page of anchoredOffsetPages(def, 'users', { config: {} }, lying, options));
    }, /a whole scan met 150 of the 151 stated/);
    const bare: FetchJson = async (url, init) => {
      const response = await fetchJson(url, init);
      const { totalCount: _dropped, ...rest } = response.body as { totalCount: number };
      return { ...response, body: rest };
    };
    await assert.rejects(async () => {
      for await (const _page of anchoredOffsetPages(def, 'users', { config: {} }, bare, options));
    }, /no count at "totalCount"/);
  });

  test('mapping: states, empty strings, names, custom attributes, the manager', async () => {
    reset(0);
    const boss = emulator.control.createUser({ username: 'boss', email: 'boss@example.com', firstname: 'Bo', displayname: '' });
    const staged = emulator.control.createUser({ username: 'new', email: 'new@example.com', state: 'STAGED', manager: boss._id, alternateEmail: 'new@home.example', attributes: [{ name: 'costCode', value: '42' }, { name: '', value: 'x' }] });
    const bare = emulator.control.createUser({ username: 'bare', email: 'bare@example.com' });
    const suspended = emulator.control.suspendUser(emulator.control.createUser({ username: 'away', email: 'away@example.com', lastname: 'Away' })._id);
    const legacy = emulator.control.createUser({ username: 'legacy', email: 'legacy@example.com' });
    // Records from before `state` existed say only whether the account was activated.
    emulator.control.updateUser(legacy._id, { account_locked: true });
    Object.assign(emulator.org.user(legacy._id)!, { state: undefined, activated: false });

    const read = async (id: string) => (await connector().fetchObject('user', id)) as any;
    assert.deepEqual((await read(boss._id)).attributes, {
      email: 'boss@example.com',
      emails: ['boss@example.com'],
      username: 'boss',
      employee_id: null,
      first_name: 'Bo',
      last_name: null,
      display_name: 'Bo',
      department: null,
      title: null,
      manager: null,
      state: 'active',
      custom_attributes: {},
    });
    const stagedAttributes = (await read(staged._id)).attributes;
    assert.equal(stagedAttributes.state, 'pending');
    assert.deepEqual(stagedAttributes.manager, { external_id: boss._id });
    assert.deepEqual(stagedAttributes.emails, ['new@example.com', 'new@home.example']);
    assert.deepEqual(stagedAttributes.custom_attributes, { costCode: '42' });
    assert.equal((await read(bare._id)).attributes.display_name, null);
    assert.equal((await read(suspended._id)).attributes.state, 'suspended');
    assert.equal((await read(legacy._id)).attributes.state, 'pending', 'never activated, and a lock is no state');
    const gone = await connector().fetchObject('user', '0'.repeat(24));
    assert.deepEqual(gone, { kind: 'user', external_id: '0'.repeat(24), deleted: true });
  });

  test('groups and members page the same way', async () => {
    reset(230, 130);
    const groupIds = emulator.org.listGroups().map((group) => group.id);
    emulator.control.drift({ resource: 'usergroups', beforeRequest: 2, remove: 3 });
    const groups = await collect(connector().pages('groups'));
    assert.deepEqual(new Set(groups.ids), new Set(groupIds), 'every group, the three removed as read before they went');
    const target = emulator.org.listGroups()[0]!;
    for (const id of emulator.org.userIds()) emulator.control.addMember(target.id, id);
    const members = await collect(connector().memberPages(target.id));
    assert.equal(members.ids.length, 230);
    assert.deepEqual(members.checkpoints.map((checkpoint) => checkpoint?.groupId ?? null), [target.id, target.id, null]);
  });
});
